//! Sessions, CSRF, the login throttle and API token expiry over real HTTP; and two servers on one PostgreSQL
//! behaving as one service (a session and an idempotency key working across both).

mod common;

use anyhow::{Context, Result};
use common::world::{self, PASSWORD};
use lenaguard_server::api::ApiSettings;
use lenaguard_server::api::identity;
use lenaguard_storage::Store;
use lenaguard_storage::accounts::{AccountRole, BackoffPolicy};
use serde_json::{Value, json};
use std::sync::Arc;

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// Log in; the session cookie (`name=value`) and the CSRF token.
async fn login(
    base: &str,
    login: &str,
    password: &str,
) -> Result<(u16, Option<(String, String)>, reqwest::header::HeaderMap)> {
    let res = client()
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    if status != 200 {
        return Ok((status, None, headers));
    }
    let cookie = headers
        .get("set-cookie")
        .context("set-cookie")?
        .to_str()?
        .split(';')
        .next()
        .context("cookie")?
        .to_string();
    let body: Value = res.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("csrf_token")?
        .to_string();
    Ok((status, Some((cookie, csrf)), headers))
}

fn lab(value: f64) -> Value {
    json!({"code": "anc", "value": value, "unit": "10*9/L", "date": "2026-11-26"})
}

async fn sessions(store: Arc<dyn Store>) -> Result<()> {
    world::world(store.clone()).await?;
    let api = ApiSettings {
        session_idle_ms: 1_500,
        backoff: BackoffPolicy {
            free_failures: 3,
            base_ms: 60_000,
            max_ms: 600_000,
        },
        ..ApiSettings::default()
    };
    let (base, _stop) = world::start(world::settings(store.clone(), api)).await?;
    let http = client();

    // Login: the cookie is HttpOnly and SameSite=Strict; the session works for reads.
    let (status, session, headers) = login(&base, "dr-a", PASSWORD).await?;
    assert_eq!(status, 200);
    let set_cookie = headers["set-cookie"].to_str()?;
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"), "no Secure without TLS");
    let (cookie, csrf) = session.context("session")?;
    let me = http
        .get(format!("{base}/api/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await?["role"], "prescriber");

    // A state-changing request with the cookie but without the CSRF token is refused before anything is written.
    let before = store.audit_rows(0, 100_000).await?.len();
    let url = format!("{base}/api/v1/patients/pat-a/labs");
    let no_csrf = http
        .post(&url)
        .header("cookie", &cookie)
        .header("idempotency-key", "s1")
        .json(&lab(2.0))
        .send()
        .await?;
    assert_eq!(no_csrf.status(), 403);
    assert_eq!(
        no_csrf.json::<Value>().await?["type"],
        "urn:lenaguard:problem:csrf"
    );
    let wrong_csrf = http
        .post(&url)
        .header("cookie", &cookie)
        .header("x-csrf-token", "nope")
        .header("idempotency-key", "s1")
        .json(&lab(2.0))
        .send()
        .await?;
    assert_eq!(wrong_csrf.status(), 403);
    assert_eq!(store.audit_rows(0, 100_000).await?.len(), before);
    let with_csrf = http
        .post(&url)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("idempotency-key", "s1")
        .json(&lab(2.0))
        .send()
        .await?;
    assert_eq!(with_csrf.status(), 200, "{}", with_csrf.text().await?);

    // Idle longer than the limit: the session is over.
    tokio::time::sleep(std::time::Duration::from_millis(1_800)).await;
    let idle = http
        .get(format!("{base}/api/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(idle.status(), 401);

    // Logout ends the session everywhere.
    let (_, session, _) = login(&base, "dr-a", PASSWORD).await?;
    let (cookie, csrf) = session.context("session")?;
    let out = http
        .delete(format!("{base}/api/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await?;
    assert_eq!(out.status(), 204);
    let after = http
        .get(format!("{base}/api/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(after.status(), 401);

    // The throttle: three free failures, then the account's login is locked (even for the right password).
    for _ in 0..4 {
        let (status, _, _) = login(&base, "ph-a", "wrong password!!").await?;
        assert_eq!(status, 401);
    }
    let (status, _, headers) = login(&base, "ph-a", PASSWORD).await?;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    // Another account is not affected; an unknown login is refused like a wrong password.
    assert_eq!(login(&base, "st", PASSWORD).await?.0, 200);
    assert_eq!(login(&base, "nobody", PASSWORD).await?.0, 401);
    Ok(())
}

async fn tokens(store: Arc<dyn Store>) -> Result<()> {
    let w = world::world(store.clone()).await?;
    let (base, _stop) =
        world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    let http = client();
    let get = |token: String| {
        let http = http.clone();
        let url = format!("{base}/api/v1/patients");
        async move {
            Ok::<u16, anyhow::Error>(
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await?
                    .status()
                    .as_u16(),
            )
        }
    };
    // Expired.
    let (expired, t) =
        identity::new_token("dr-a", "old", vec!["read".into()], identity::now_ms() - 1)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.create_api_token(&t).await?;
    assert_eq!(get(expired).await?, 401);
    // Read-only: reads pass, writes are refused.
    let (read_only, t) = identity::new_token(
        "dr-a",
        "ro",
        vec!["read".into()],
        identity::now_ms() + 60_000,
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.create_api_token(&t).await?;
    assert_eq!(get(read_only.clone()).await?, 200);
    let write = http
        .post(format!("{base}/api/v1/patients/pat-a/labs"))
        .bearer_auth(&read_only)
        .header("idempotency-key", "t1")
        .json(&lab(2.0))
        .send()
        .await?;
    assert_eq!(write.status(), 403);
    // Revoked through the API by the admin.
    let admin = &w.tokens[&AccountRole::Admin];
    let issued: Value = http.post(format!("{base}/api/v1/tokens")).bearer_auth(admin)
        .json(&json!({"login": "ph-a", "name": "pharmacy system", "scopes": ["read"], "expires_in_days": 30}))
        .send().await?.json().await?;
    let token = issued["token"]
        .as_str()
        .context(format!("{issued}"))?
        .to_string();
    assert_eq!(get(token.clone()).await?, 200);
    let id = issued["id"].as_str().context("id")?;
    let revoke = http
        .delete(format!("{base}/api/v1/tokens/{id}"))
        .bearer_auth(admin)
        .send()
        .await?;
    assert_eq!(revoke.status(), 204);
    assert_eq!(get(token).await?, 401);
    // A disabled account's tokens stop working.
    let disable = http
        .put(format!("{base}/api/v1/accounts/dr-a/status"))
        .bearer_auth(admin)
        .json(&json!({"disabled": true}))
        .send()
        .await?;
    assert_eq!(disable.status(), 200);
    assert_eq!(get(w.tokens[&AccountRole::Prescriber].clone()).await?, 401);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_csrf_and_throttle_sqlite() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    sessions(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_csrf_and_throttle_postgres() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let r = sessions(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_scope_and_revocation_sqlite() -> Result<()> {
    let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
    tokens(Arc::new(store)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_scope_and_revocation_postgres() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let r = tokens(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    r
}

/// Two servers, each with its own connection pool, on one PostgreSQL database: a session made on one works on
/// the other, a retried command answers the first answer whichever server takes the retry, and the login
/// throttle counts failures from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_are_one_service() -> Result<()> {
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let result = async {
        world::world(Arc::new(store.clone())).await?;
        let second: Arc<dyn Store> =
            Arc::new(lenaguard_storage_postgres::PostgresStore::open(&db.url).await?);
        let api = ApiSettings {
            backoff: BackoffPolicy {
                free_failures: 2,
                base_ms: 60_000,
                max_ms: 60_000,
            },
            ..ApiSettings::default()
        };
        let (one, _s1) =
            world::start(world::settings(Arc::new(store.clone()), api.clone())).await?;
        let (two, _s2) = world::start(world::settings(second, api)).await?;
        let http = client();
        let (_, session, _) = login(&one, "dr-a", PASSWORD).await?;
        let (cookie, csrf) = session.context("session")?;
        let me = http
            .get(format!("{two}/api/v1/session"))
            .header("cookie", &cookie)
            .send()
            .await?;
        assert_eq!(
            me.status(),
            200,
            "the session made on one server works on the other"
        );
        let first: Value = http
            .post(format!("{one}/api/v1/patients/pat-a/labs"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "twice")
            .json(&lab(1.9))
            .send()
            .await?
            .json()
            .await?;
        let retry: Value = http
            .post(format!("{two}/api/v1/patients/pat-a/labs"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "twice")
            .json(&lab(1.9))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(first["replayed"], false, "{first}");
        assert_eq!(retry["replayed"], true, "{retry}");
        assert_eq!(first["audit_seq"], retry["audit_seq"]);
        // Failures on both servers count together.
        assert_eq!(login(&one, "ph-a", "wrong password!!").await?.0, 401);
        assert_eq!(login(&two, "ph-a", "wrong password!!").await?.0, 401);
        assert_eq!(login(&one, "ph-a", "wrong password!!").await?.0, 401);
        assert_eq!(login(&two, "ph-a", PASSWORD).await?.0, 429);
        // Logging out on the second ends the session on the first.
        http.delete(format!("{two}/api/v1/session"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await?;
        let gone = http
            .get(format!("{one}/api/v1/session"))
            .header("cookie", &cookie)
            .send()
            .await?;
        assert_eq!(gone.status(), 401);
        Ok::<(), anyhow::Error>(())
    }
    .await;
    db.drop_database(store).await?;
    result
}
