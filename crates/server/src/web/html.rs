//! HTML by hand: every value goes through [`e`] (text and attribute values alike), and every page through
//! [`page`], which gives it the document frame, the navigation for the caller's role and the logout form.

use crate::api::identity::Caller;
use jiff::civil::Date;
use lenaguard_storage::accounts::AccountRole;
use std::fmt::{Display, Write};

/// The stylesheet's path; the version in it changes with every release, so the file can be cached for a year.
pub const STYLE_PATH: &str = concat!("/app/static/style-", env!("CARGO_PKG_VERSION"), ".css");
pub const STYLE: &str = include_str!("style.css");

/// Escape a value for HTML text or a quoted attribute value.
pub fn e(value: impl Display) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A date as people read it: "Thu 26 Nov 2026".
pub fn day(d: Date) -> String {
    d.strftime("%a %-d %b %Y").to_string()
}

/// The signed-in caller, for the navigation and the logout form.
#[derive(Debug, Clone)]
pub struct Viewer<'a> {
    pub caller: &'a Caller,
    pub csrf: &'a str,
}

/// A hidden form field.
pub fn hidden(name: &str, value: impl Display) -> String {
    format!(
        r#"<input type="hidden" name="{}" value="{}">"#,
        e(name),
        e(value)
    )
}

fn nav(v: &Viewer<'_>) -> String {
    let mut links = String::new();
    let items: &[(&str, &str)] = match v.caller.role {
        AccountRole::Pharmacist => &[("/app/pharmacy", "To dispense")],
        AccountRole::Prescriber => &[("/app/patients", "My patients")],
        AccountRole::Patient => &[("/app/me", "My treatment")],
        AccountRole::ProgramStaff | AccountRole::Auditor => &[("/app/staff", "Program oversight")],
        AccountRole::Admin | AccountRole::EhrClient => &[],
    };
    for (href, label) in items {
        let _ = write!(links, r#"<a href="{}">{}</a>"#, e(href), e(label));
    }
    format!(
        r#"<nav aria-label="Main">{links}</nav>
<form class="logout" method="post" action="/app/logout">{csrf}<span class="who">{login} ({role})</span> <button type="submit">Log out</button></form>"#,
        csrf = hidden("csrf", v.csrf),
        login = e(&v.caller.login),
        role = e(role_name(v.caller.role)),
    )
}

pub fn role_name(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Prescriber => "prescriber",
        AccountRole::Pharmacist => "pharmacist",
        AccountRole::Patient => "patient",
        AccountRole::ProgramStaff => "program staff",
        AccountRole::Auditor => "auditor",
        AccountRole::Admin => "administrator",
        AccountRole::EhrClient => "EHR client",
    }
}

/// A whole page. `body` is HTML built with [`e`].
pub fn page(title: &str, viewer: Option<&Viewer<'_>>, body: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Lenaguard</title>
<link rel="stylesheet" href="{style}">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top"><a class="brand" href="/app/">Lenaguard</a>{nav}</header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"##,
        title = e(title),
        style = STYLE_PATH,
        nav = viewer.map(nav).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_could_open_markup_is_escaped() {
        assert_eq!(
            e(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn dates_read_plainly() {
        assert_eq!(day(jiff::civil::date(2026, 11, 26)), "Thu 26 Nov 2026");
    }
}
