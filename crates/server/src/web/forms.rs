//! Form fields that keep what was typed and show each error next to its field, and the server-side checks
//! that produce those errors. A page may hold several forms; a field's id is `{form}-{name}`, so ids stay unique
//! and a test or a screen reader can find the field and its error.

use super::FormData;
use super::html::e;
use jiff::civil::Date;
use lenaguard_storage::Reason;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::str::FromStr;

/// The status of a page showing a form sent back: 422 when fields are wrong, 409 when the program refused the
/// command, else 200.
pub fn form_status(field_errors: bool, refused: bool) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    if field_errors {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if refused {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    }
}

/// A form that was sent and is shown again: what was typed, the errors by field, and the program's refusal.
#[derive(Debug, Default)]
pub struct Posted {
    /// Which form of the page was sent.
    pub form: &'static str,
    pub values: BTreeMap<String, String>,
    pub errors: BTreeMap<String, String>,
    pub refused: Vec<Reason>,
    /// The idempotency key the form was sent with: sent again, it runs the command at most once.
    pub key: Option<String>,
}

impl Posted {
    /// The status of a page showing `posted` (see [`form_status`]).
    pub fn status(posted: Option<&Posted>) -> axum::http::StatusCode {
        posted.map_or(axum::http::StatusCode::OK, |p| {
            form_status(!p.errors.is_empty(), !p.refused.is_empty())
        })
    }

    /// A form sent with `data`, checked by `check`.
    pub fn new(form: &'static str, data: &FormData, check: Check) -> Posted {
        Posted {
            form,
            values: data
                .0
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "key"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            errors: check.errors,
            refused: Vec::new(),
            key: data.get("key").map(str::to_string),
        }
    }
}

/// The fields of one form, filled from what was sent when it is that form that comes back.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    form: &'static str,
    posted: Option<&'a Posted>,
}

impl<'a> Fields<'a> {
    pub fn new(form: &'static str, posted: Option<&'a Posted>) -> Fields<'a> {
        Fields {
            form,
            posted: posted.filter(|p| p.form == form),
        }
    }

    /// The form this was sent back with, if it is this one.
    pub fn posted(&self) -> Option<&'a Posted> {
        self.posted
    }

    /// The field's id: the form and the name, with every character but letters and digits made `-` (a
    /// contraception method's name may hold spaces, which an id may not).
    pub fn id(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}-{name}", self.form)
    }

    /// What was typed, or `default` on a fresh form.
    pub fn value(&self, name: &str, default: &str) -> String {
        match self.posted {
            Some(p) => p.values.get(name).cloned().unwrap_or_default(),
            None => default.to_string(),
        }
    }

    fn error(&self, name: &str) -> Option<&'a str> {
        self.posted
            .and_then(|p| p.errors.get(name))
            .map(String::as_str)
    }

    /// The error after a field, and the attributes that tie the field to it.
    fn error_parts(&self, name: &str) -> (String, String) {
        match self.error(name) {
            Some(msg) => {
                let err_id = format!("{}-error", self.id(name));
                (
                    format!(
                        r#"<span class="error" id="{}">{}</span>"#,
                        e(&err_id),
                        e(msg)
                    ),
                    format!(r#" aria-describedby="{}" aria-invalid="true""#, e(&err_id)),
                )
            }
            None => (String::new(), String::new()),
        }
    }

    /// An `<input>` with its label; `kind` is the input type, `extra` more attributes (already escaped).
    pub fn input(&self, kind: &str, name: &str, label: &str, default: &str, extra: &str) -> String {
        let (err, described) = self.error_parts(name);
        format!(
            r#"<label for="{id}">{label}</label><input type="{kind}" id="{id}" name="{name}" value="{value}"{extra}{described}>{err}"#,
            id = e(self.id(name)),
            label = e(label),
            kind = e(kind),
            name = e(name),
            value = e(self.value(name, default)),
        )
    }

    /// A `<select>` of `(value, label)` options with its label; a fresh form selects `default`.
    pub fn select(
        &self,
        name: &str,
        label: &str,
        options: &[(String, String)],
        default: &str,
    ) -> String {
        let (err, described) = self.error_parts(name);
        let chosen = self.value(name, default);
        let mut opts = String::new();
        for (value, text) in options {
            let _ = write!(
                opts,
                r#"<option value="{}"{}>{}</option>"#,
                e(value),
                if *value == chosen { " selected" } else { "" },
                e(text)
            );
        }
        format!(
            r#"<label for="{id}">{label}</label><select id="{id}" name="{name}"{described}>{opts}</select>{err}"#,
            id = e(self.id(name)),
            label = e(label),
            name = e(name),
        )
    }

    /// Yes/no radio buttons in a fieldset whose legend is the question.
    pub fn yes_no(&self, name: &str, question: &str) -> String {
        let (err, described) = self.error_parts(name);
        let v = self.value(name, "");
        let id = self.id(name);
        format!(
            r#"<fieldset{described}><legend>{q}</legend>{err}
<label><input type="radio" name="{name}" value="yes" id="{id}-yes"{yes}> Yes</label>
<label><input type="radio" name="{name}" value="no" id="{id}-no"{no}> No</label></fieldset>"#,
            q = e(question),
            name = e(name),
            id = e(&id),
            yes = if v == "yes" { " checked" } else { "" },
            no = if v == "no" { " checked" } else { "" },
        )
    }

    /// A checkbox named `name` with the value `yes`.
    pub fn checkbox(&self, name: &str, label: &str) -> String {
        let (err, described) = self.error_parts(name);
        format!(
            r#"<label><input type="checkbox" name="{name}" value="yes" id="{id}"{checked}{described}> {label}</label>{err}"#,
            name = e(name),
            id = e(self.id(name)),
            checked = if self.value(name, "") == "yes" {
                " checked"
            } else {
                ""
            },
            label = e(label),
        )
    }

    /// The program's refusal of this form's command: every reason and what fixes it.
    pub fn refusal(&self) -> String {
        let Some(p) = self.posted.filter(|p| !p.refused.is_empty()) else {
            return String::new();
        };
        let mut out = format!(
            r#"<div class="verdict no" role="alert" id="{}-refused"><p><strong>The program refused this</strong>:</p><ul class="steps">"#,
            e(self.form)
        );
        for r in &p.refused {
            let _ = write!(
                out,
                r#"<li><strong>{}</strong><br><span class="fix">Fix: {}.</span></li>"#,
                e(&r.what),
                e(r.fix.trim_end_matches('.'))
            );
        }
        out.push_str("</ul></div>");
        out
    }
}

/// The server-side check of a sent form: each field read with its rule, every error collected by field.
#[derive(Debug)]
pub struct Check<'a> {
    data: &'a FormData,
    pub errors: BTreeMap<String, String>,
}

impl<'a> Check<'a> {
    pub fn new(data: &'a FormData) -> Check<'a> {
        Check {
            data,
            errors: BTreeMap::new(),
        }
    }

    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .entry(name.to_string())
            .or_insert(message.into());
    }

    fn raw(&self, name: &str) -> &'a str {
        self.data.get(name).unwrap_or("").trim()
    }

    /// Required text of at most 200 characters.
    pub fn text(&mut self, name: &str, what: &str) -> Option<String> {
        match self.raw(name) {
            "" => {
                self.fail(name, format!("Enter {what}."));
                None
            }
            v if v.chars().count() > 200 || v.chars().any(char::is_control) => {
                self.fail(
                    name,
                    format!("Enter {what}: at most 200 characters, one line."),
                );
                None
            }
            v => Some(v.to_string()),
        }
    }

    /// Optional text: `None` when left empty.
    pub fn optional_text(&mut self, name: &str, what: &str) -> Option<String> {
        if self.raw(name).is_empty() {
            None
        } else {
            self.text(name, what)
        }
    }

    /// A required date, as a date field sends it.
    pub fn date(&mut self, name: &str) -> Option<Date> {
        let raw = self.raw(name);
        if raw.is_empty() {
            self.fail(name, "Enter a date (YYYY-MM-DD).");
            return None;
        }
        self.parse_date(name, raw)
    }

    /// An optional date: `None` when left empty.
    pub fn optional_date(&mut self, name: &str) -> Option<Date> {
        match self.raw(name) {
            "" => None,
            raw => self.parse_date(name, raw),
        }
    }

    fn parse_date(&mut self, name: &str, raw: &str) -> Option<Date> {
        match raw.parse::<Date>() {
            Ok(d) if raw.len() == 10 => Some(d),
            _ => {
                self.fail(
                    name,
                    format!(
                        "{raw:?} is not a date: enter it as YYYY-MM-DD, for example 2026-11-26."
                    ),
                );
                None
            }
        }
    }

    /// A required number in `range` (as people read it, for example "1 to 366").
    pub fn number<T: FromStr + PartialOrd + Copy>(
        &mut self,
        name: &str,
        min: T,
        max: T,
        range: &str,
    ) -> Option<T> {
        let raw = self.raw(name);
        match raw.parse::<T>() {
            Ok(v) if v >= min && v <= max => Some(v),
            _ if raw.is_empty() => {
                self.fail(name, format!("Enter a number from {range}."));
                None
            }
            _ => {
                self.fail(
                    name,
                    format!("{raw:?} is not accepted: enter a number from {range}."),
                );
                None
            }
        }
    }

    /// One of a closed list, read as its wire name (as the API takes it).
    pub fn choice<T: DeserializeOwned>(&mut self, name: &str, accepted: &str) -> Option<T> {
        let raw = self.raw(name);
        match serde_json::from_value(serde_json::Value::String(raw.to_string())) {
            Ok(v) => Some(v),
            Err(_) if raw.is_empty() => {
                self.fail(name, format!("Choose {accepted}."));
                None
            }
            Err(_) => {
                self.fail(name, format!("{raw:?} is not accepted: choose {accepted}."));
                None
            }
        }
    }

    /// A yes/no radio pair: `None` (and an error) when neither was chosen.
    pub fn yes_no(&mut self, name: &str) -> Option<bool> {
        match self.raw(name) {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                self.fail(name, "Answer this question.");
                None
            }
        }
    }

    /// A checkbox: ticked or not.
    pub fn ticked(&self, name: &str) -> bool {
        self.raw(name) == "yes"
    }
}

/// The `(wire name, label)` options of a closed list of values.
pub fn options<T: serde::Serialize + Copy>(
    all: &[T],
    label: impl Fn(T) -> String,
) -> Vec<(String, String)> {
    all.iter()
        .filter_map(|v| match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => Some((s, label(*v))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn each_bad_field_gets_its_own_error_naming_the_value_and_the_form_accepted() {
        let d = data(&[
            ("on", "26/11/2026"),
            ("n", "0"),
            ("kind", "saliva"),
            ("name", "  "),
        ]);
        let mut c = Check::new(&d);
        assert_eq!(c.date("on"), None);
        assert_eq!(c.number::<u16>("n", 1, 366, "1 to 366"), None);
        assert_eq!(
            c.choice::<lenaguard_storage::command::Specimen>("kind", "urine or serum"),
            None
        );
        assert_eq!(c.text("name", "a name"), None);
        assert_eq!(c.yes_no("q"), None);
        assert!(c.errors["on"].contains("\"26/11/2026\"") && c.errors["on"].contains("YYYY-MM-DD"));
        assert!(c.errors["n"].contains("\"0\"") && c.errors["n"].contains("1 to 366"));
        assert!(
            c.errors["kind"].contains("\"saliva\"") && c.errors["kind"].contains("urine or serum")
        );
        assert_eq!(c.errors["name"], "Enter a name.");
        assert_eq!(c.errors["q"], "Answer this question.");
    }

    #[test]
    fn good_fields_are_read_as_typed() {
        let d = data(&[
            ("on", "2026-11-26"),
            ("n", "28"),
            ("kind", "serum"),
            ("q", "no"),
            ("t", "yes"),
        ]);
        let mut c = Check::new(&d);
        assert_eq!(c.date("on"), Some(jiff::civil::date(2026, 11, 26)));
        assert_eq!(c.optional_date("none"), None);
        assert_eq!(c.number::<u16>("n", 1, 366, "1 to 366"), Some(28));
        assert_eq!(
            c.choice::<lenaguard_storage::command::Specimen>("kind", "urine or serum"),
            Some(lenaguard_storage::command::Specimen::Serum)
        );
        assert_eq!(c.yes_no("q"), Some(false));
        assert!(c.ticked("t") && !c.ticked("u"));
        assert!(c.ok());
    }

    #[test]
    fn a_field_sent_back_keeps_what_was_typed_and_points_at_its_error() {
        let d = data(&[("csrf", "secret"), ("key", "k1"), ("dose", "<25>")]);
        let mut c = Check::new(&d);
        c.number::<f64>("dose", 0.1, 100.0, "0.1 to 100");
        let posted = Posted::new("rx", &d, c);
        assert!(!posted.values.contains_key("csrf"), "the token is not kept");
        assert_eq!(posted.key.as_deref(), Some("k1"));
        let f = Fields::new("rx", Some(&posted));
        let html = f.input("text", "dose", "Dose (mg)", "10", "");
        assert!(html.contains(r#"value="&lt;25&gt;""#), "{html}");
        assert!(
            html.contains(r#"aria-describedby="rx-dose-error""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="error" id="rx-dose-error">"#),
            "{html}"
        );
        // Another form of the same page is fresh.
        let other = Fields::new("lab", Some(&posted));
        assert!(
            other
                .input("text", "dose", "Dose", "10", "")
                .contains(r#"value="10""#)
        );
    }
}
