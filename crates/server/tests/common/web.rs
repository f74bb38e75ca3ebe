//! The web app's tests share a plain HTTP client that does not follow redirects (a test checks where a page
//! sends the browser) and the login form.

use super::world::PASSWORD;
use anyhow::{Context, Result, ensure};

/// A client that shows redirects instead of following them.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Log in through the form: the `Cookie` header value for later requests.
pub async fn form_login(base: &str, login: &str) -> Result<String> {
    let res = http()
        .post(format!("{base}/app/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "login={login}&password={}&next=%2Fapp%2F",
            encode(PASSWORD)
        ))
        .send()
        .await?;
    ensure!(res.status().as_u16() == 303, "login: {}", res.status());
    let cookie = res
        .headers()
        .get("set-cookie")
        .context("a session cookie")?
        .to_str()?;
    Ok(cookie.split(';').next().unwrap_or("").to_string())
}

/// A form value, encoded as a browser sends it.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
