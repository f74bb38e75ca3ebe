//! The web app (`/app/...`) on SQLite: plain HTTP checks of its refusals (no session, a wrong CSRF token,
//! another pharmacy's authorization, a page for another role) and of a form sent twice, then the pages in a real
//! headless Chromium (Debian's `chromium` and `chromium-driver`) driven over WebDriver: a pharmacist confirms and
//! dispenses, sees the reasons another authorization cannot be dispensed and is refused another pharmacy's; a
//! prescriber opens a patient; program staff open the oversight page and search the audit trail; a patient
//! answers the survey on a phone-sized screen.
//!
//! Without chromium or chromedriver the browser test prints a NOTICE and passes, unless
//! `LENAGUARD_BROWSER=required`. With `LENAGUARD_SCREENSHOTS=DIR` it saves screenshots of the main pages there;
//! with `LENAGUARD_AXE` (the path of axe-core's `axe.min.js`) every page it visits is checked for WCAG 2 A/AA
//! violations.

mod common;

use common::until;
use common::web::{encode, form_login, http};

use anyhow::{Context, Result, bail, ensure};
use common::world::{self, DAY, PASSWORD, World, run};
use lenaguard_server::api::ApiSettings;
use lenaguard_storage::{Answer, Store, Workflow};
use serde_json::json;
use std::sync::Arc;

/// A second patient of side A's prescriber, authorized at side A's pharmacy: its check says what is missing.
async fn second_patient(store: Arc<dyn Store>) -> Result<String> {
    let wf = Workflow::new(store, world::pack());
    let (dr, patient, rx) = ("dr-a", "pat-a2", "rx-a2");
    run(&wf, dr, world::day(-2), json!({"command": "enroll", "patient": patient, "identity": "clinic-a:MRN-a2", "sex": "male",
        "birth_date": "1950-01-02", "category": "adult_male", "agreement_signed_on": world::day(-2), "prescriber": dr, "regimen": "mm_rd", "planned_start": world::day(1)})).await?;
    for (code, value, unit) in [
        ("anc", 2.5, "10*9/L"),
        ("platelets", 180.0, "10*9/L"),
        ("creatinine", 0.9, "mg/dL"),
    ] {
        run(&wf, dr, world::day(-1), json!({"command": "record_lab", "patient": patient, "lab": {"code": code, "value": value, "unit": unit, "date": world::day(-1)}})).await?;
    }
    run(&wf, dr, world::day(-1), json!({"command": "record_measurement", "patient": patient, "measurement": {"date": world::day(-1), "weight_kg": 78.0}})).await?;
    run(&wf, dr, DAY, json!({"command": "write_prescription", "prescription": rx, "patient": patient, "date": DAY,
        "schedule": {"dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28},
        "quantity": 21, "days_supply": 28, "pharmacy": "pharm-a"})).await?;
    let Answer::Authorization { number, .. } = run(
        &wf,
        dr,
        DAY,
        json!({"command": "request_authorization", "prescription": rx}),
    )
    .await?
    else {
        bail!("not an authorization");
    };
    Ok(number)
}

struct Site {
    store: Arc<dyn Store>,
    world: World,
    second: String,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: Option<tempfile::TempDir>,
}

async fn site() -> Result<Site> {
    let (store, dir) = lenaguard_tests_storage::sqlite().await?;
    site_on(Arc::new(store), Some(dir)).await
}

async fn site_on(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>) -> Result<Site> {
    let w = world::world(store.clone()).await?;
    let second = second_patient(store.clone()).await?;
    let (base, stop) = world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    Ok(Site {
        store,
        world: w,
        second,
        base,
        _stop: stop,
        _dir: dir,
    })
}

/// The dispenses stored against `authorization`.
async fn dispenses(store: &Arc<dyn Store>, patient: &str, authorization: &str) -> Result<usize> {
    let f = store.patient_file(patient).await?.context("the patient")?;
    Ok(f.dispenses
        .iter()
        .filter(|d| d.authorization == authorization)
        .count())
}

// ---- Plain HTTP ----------------------------------------------------------------------------------------------

async fn get(base: &str, cookie: &str, path: &str) -> Result<(u16, String)> {
    let res = http()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await?;
    Ok((res.status().as_u16(), res.text().await?))
}

/// A form sent with the session `cookie`: the answer as it comes (redirects not followed).
async fn post_form(
    base: &str,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    Ok(http()
        .post(format!("{base}{path}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
        .send()
        .await?)
}

async fn post(
    base: &str,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<(u16, String)> {
    let res = post_form(base, cookie, path, fields).await?;
    Ok((res.status().as_u16(), res.text().await?))
}

/// The value of the form field `name` in a page (the first one).
fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"name="{name}" value=""#))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_refuses_what_the_api_refuses() -> Result<()> {
    let s = site().await?;
    let own = s.world.own.clone();
    // No session: to the login page, and back afterwards.
    let res = http()
        .get(format!("{}/app/pharmacy", s.base))
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"].to_str()?,
        "/app/login?next=/app/pharmacy"
    );
    let res = http().get(format!("{}/", s.base)).send().await?;
    assert_eq!(res.headers()["location"].to_str()?, "/app/");
    // A wrong password is refused on the form, the login kept, the markup escaped.
    let res = http()
        .post(format!("{}/app/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("login=%3Cb%3Eph-a&password=nope")
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 401);
    let page = res.text().await?;
    assert!(
        page.contains("&lt;b&gt;ph-a") && !page.contains("<b>ph-a"),
        "{page}"
    );
    // A login form sent from another site is refused.
    let res = http()
        .post(format!("{}/app/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://evil.example")
        .body(format!(
            "login=ph-a&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().get("set-cookie").is_none());
    // The stylesheet is cached for long.
    let css = http()
        .get(format!(
            "{}/app/static/style-{}.css",
            s.base,
            env!("CARGO_PKG_VERSION")
        ))
        .send()
        .await?;
    assert_eq!(css.status().as_u16(), 200);
    assert!(
        css.headers()["cache-control"]
            .to_str()?
            .contains("immutable")
    );

    let ph = form_login(&s.base, "ph-a").await?;
    // Another pharmacy's authorization: 403, with a page that says so.
    let (status, page) = get(
        &s.base,
        &ph,
        &format!("/app/pharmacy/{}", s.world.other.authorization),
    )
    .await?;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("may not see this authorization"), "{page}");
    // A prescriber's page: not for a pharmacist.
    let (status, _) = get(&s.base, &ph, &format!("/app/patients/{}", own.patient)).await?;
    assert_eq!(status, 403);
    let (status, _) = get(&s.base, &ph, "/app/me").await?;
    assert_eq!(status, 403);

    // The confirmation through the form, then the dispense form.
    let here = format!("/app/pharmacy/{}", own.authorization);
    let (status, page) = get(&s.base, &ph, &here).await?;
    assert_eq!(status, 200, "{page}");
    let csrf = field(&page, "csrf").context("csrf")?;
    let key = field(&page, "key").context("key")?;
    // Without the CSRF token, or with another one: refused, nothing written.
    for token in ["", "forged"] {
        let (status, page) = post(
            &s.base,
            &ph,
            &format!("{here}/confirmation"),
            &[("csrf", token), ("key", &key)],
        )
        .await?;
        assert_eq!(status, 403, "{page}");
    }
    let (status, _) = post(
        &s.base,
        &ph,
        &format!("{here}/confirmation"),
        &[("csrf", &csrf), ("key", &key)],
    )
    .await?;
    assert_eq!(status, 303);
    let (_, page) = get(&s.base, &ph, &here).await?;
    let confirmation = field(&page, "confirmation").context("the dispense form")?;
    let key = field(&page, "key").context("key")?;
    // The checklist unchecked: the error next to the field, nothing dispensed.
    let (status, page) = post(
        &s.base,
        &ph,
        &format!("{here}/dispense"),
        &[
            ("csrf", &csrf),
            ("key", &key),
            ("confirmation", &confirmation),
        ],
    )
    .await?;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="checklist-error""#), "{page}");
    assert_eq!(
        dispenses(&s.store, &own.patient, &own.authorization).await?,
        0
    );
    // Sent twice with the same key: dispensed once, both answered alike.
    let form = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("confirmation", confirmation.as_str()),
        ("checklist_completed", "yes"),
        ("medication_guide_given", "yes"),
    ];
    for _ in 0..2 {
        let (status, page) = post(&s.base, &ph, &format!("{here}/dispense"), &form).await?;
        assert_eq!(status, 303, "{page}");
    }
    assert_eq!(
        dispenses(&s.store, &own.patient, &own.authorization).await?,
        1
    );
    // Every page shown about a patient is in the access log.
    let rows = s.store.access_rows(0, 10_000).await?;
    assert!(rows.iter().any(|r| r.event.action == "web.pharmacy.check"
        && r.event.status == 200
        && r.event.patient.as_deref() == Some(own.patient.as_str())));
    assert!(
        rows.iter()
            .any(|r| r.event.action == "web.pharmacy.check" && r.event.status == 403)
    );
    // A patient sees only their own page.
    let pat = form_login(&s.base, "pat-a").await?;
    let (status, _) = get(&s.base, &pat, &format!("/app/patients/{}", own.patient)).await?;
    assert_eq!(status, 403);
    let (status, page) = get(&s.base, &pat, "/app/me").await?;
    assert_eq!(status, 200, "{page}");
    // The session ends while the survey is being filled in: the login page keeps the answers (not the CSRF
    // token), and after logging in again they are offered to send under the new session.
    let pat_csrf = field(&page, "csrf").context("csrf")?;
    let pat_key = field(&page, "key").context("key")?;
    let (status, _) = post(&s.base, &pat, "/app/logout", &[("csrf", &pat_csrf)]).await?;
    assert_eq!(status, 303);
    let answers = [
        ("key", pat_key.as_str()),
        ("using_condom_with_partner_who_can_get_pregnant", "yes"),
        ("donating_sperm", "no"),
        ("donating_blood", "no"),
    ];
    let mut sent = vec![("csrf", pat_csrf.as_str())];
    sent.extend(answers);
    let (status, page) = post(&s.base, &pat, "/app/me/survey", &sent).await?;
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains(r#"name="keep:donating_blood" value="no""#),
        "{page}"
    );
    assert!(!page.contains(&pat_csrf), "{page}");
    let mut login = vec![
        ("login", "pat-a"),
        ("password", PASSWORD),
        ("next", "/app/me"),
        ("keep_action", "/app/me/survey"),
    ];
    let kept: Vec<(String, &str)> = answers
        .iter()
        .map(|(k, v)| (format!("keep:{k}"), *v))
        .collect();
    login.extend(kept.iter().map(|(k, v)| (k.as_str(), *v)));
    let res = http()
        .post(format!("{}/app/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            login
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await?;
    assert_eq!(res.status().as_u16(), 200);
    let pat = res.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let page = res.text().await?;
    assert!(page.contains(r#"action="/app/me/survey""#), "{page}");
    let new_csrf = field(&page, "csrf").context("csrf")?;
    assert_ne!(new_csrf, pat_csrf);
    let mut resend = vec![("csrf", new_csrf.as_str())];
    resend.extend(answers);
    let (status, page) = post(&s.base, &pat, "/app/me/survey", &resend).await?;
    assert_eq!(status, 303, "{page}");
    // Logged out: the session is gone.
    let (status, _) = post(&s.base, &ph, "/app/logout", &[("csrf", &csrf)]).await?;
    assert_eq!(status, 303);
    let (status, _) = get(&s.base, &ph, &here).await?;
    assert_eq!(status, 303);
    let _ = &s.second;
    Ok(())
}

/// The part of a page from the element with `id` to the next `<h2`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"id="{id}""#)).unwrap_or(html.len());
    let rest = &html[start..];
    let end = rest[1..].find("<h2").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_staff_see_tasks_the_audit_trail_and_overrides() -> Result<()> {
    let s = site().await?;
    let (own, other) = (s.world.own.patient.clone(), s.world.other.patient.clone());
    // The sweep's tasks, and one written by hand (with markup in it, to be escaped).
    lenaguard_storage::sweep::sweep(
        s.store.as_ref(),
        &world::pack(),
        DAY,
        100,
        false,
        &mut |_, _| {},
    )
    .await?;
    let hand = lenaguard_storage::sweep::Task {
        patient: other.clone(),
        kind: "window.authorization".into(),
        state: "lapsed".into(),
        due: world::day(-1),
        act: "<b>call</b> the prescriber".into(),
        rule: "rems.authorization.valid".into(),
    };
    s.store
        .record_sweep(&lenaguard_storage::sweep::SweptPage {
            on: DAY,
            judged: &[lenaguard_storage::sweep::Judged {
                patient: other.clone(),
                until: world::day(1),
            }],
            tasks: &[lenaguard_storage::sweep::Planned {
                task: hand,
                from: DAY,
                to: world::day(1),
            }],
            marks: &[],
        })
        .await?;
    let before = s.store.access_rows(0, 10_000).await?.len();

    for login in ["st", "au"] {
        let c = form_login(&s.base, login).await?;
        // The start page sends these roles to the oversight page.
        let res = http()
            .get(format!("{}/app/", s.base))
            .header("cookie", &c)
            .send()
            .await?;
        assert_eq!(res.headers()["location"].to_str()?, "/app/staff");
        let (status, page) = get(&s.base, &c, "/app/staff").await?;
        assert_eq!(status, 200, "{page}");
        let tasks = section(&page, "tasks");
        assert!(tasks.contains(r#"id="task-count""#), "{tasks}");
        assert!(
            tasks.contains("&lt;b&gt;call&lt;/b&gt; the prescriber") && !tasks.contains("<b>call"),
            "{tasks}"
        );
        // A link to the patient page, which these roles may open.
        assert!(tasks.contains(&format!(r#"<a href="/app/patients/{other}">{other}</a>"#)));
        let (status, _) = get(&s.base, &c, &format!("/app/patients/{other}")).await?;
        assert_eq!(status, 200);
        // The chain is checked when asked for: it reads the whole trail.
        assert!(
            page.contains(r#"id="verify-chain""#) && !page.contains("Chain intact"),
            "{page}"
        );
        let (_, checked) = get(&s.base, &c, "/app/staff?verify=1").await?;
        assert!(
            checked.contains(r#"id="chain""#) && checked.contains("Chain intact"),
            "{checked}"
        );
        assert!(section(&page, "cds").contains("CDS overrides"));
        // The whole trail names both patients; a search by patient only that one's events.
        let audit = section(&page, "audit");
        assert!(audit.contains(&own) && audit.contains(&other), "{audit}");
        let (status, page) = get(&s.base, &c, &format!("/app/staff?patient={own}")).await?;
        assert_eq!(status, 200, "{page}");
        let audit = section(&page, "audit");
        assert!(audit.contains("matching"), "{audit}");
        assert!(audit.contains("<code>enroll</code>"), "{audit}");
        // Commands that name the patient only through a prescription or an authorization are found too.
        assert!(
            audit.contains("<code>request_authorization</code>"),
            "{audit}"
        );
        assert!(audit.contains(&own) && !audit.contains(&other), "{audit}");
        // By actor.
        let (_, page) = get(&s.base, &c, "/app/staff?actor=dr-b").await?;
        let audit = section(&page, "audit");
        assert!(
            audit.contains(&other) && !audit.contains(&format!(">{own}<")),
            "{audit}"
        );
        // Nothing matches: no table, the search kept in the form (escaped).
        let (_, page) = get(&s.base, &c, "/app/staff?actor=%3Cnobody%3E").await?;
        let audit = section(&page, "audit");
        assert!(
            audit.contains("0 matching") && !audit.contains("audit-events"),
            "{audit}"
        );
        assert!(audit.contains(r#"value="&lt;nobody&gt;""#), "{audit}");
    }
    // Not for a pharmacist, a prescriber or a patient; the refusals are in the access log too.
    for login in ["ph-a", "dr-a", "pat-a"] {
        let c = form_login(&s.base, login).await?;
        let (status, page) = get(&s.base, &c, "/app/staff").await?;
        assert_eq!(status, 403, "{login}: {page}");
    }
    let rows = s.store.access_rows(0, 10_000).await?;
    let new = &rows[before..];
    for login in ["st", "au"] {
        assert!(new.iter().any(|r| r.event.action == "web.staff"
            && r.event.login == login
            && r.event.status == 200
            && r.event.patient.as_deref() == Some(other.as_str())));
    }
    assert_eq!(
        new.iter()
            .filter(|r| r.event.action == "web.staff" && r.event.status == 403)
            .count(),
        3
    );
    Ok(())
}

/// The value of the field `name` inside the form whose id is `form`.
fn form_field(html: &str, form: &str, name: &str) -> Option<String> {
    let start = html.find(&format!(r#"id="{form}""#))?;
    let rest = &html[start..];
    field(&rest[..rest.find("</form>")?], name)
}

/// Send a form of a page: its CSRF token and idempotency key from the page, then `fields`. The status and where
/// it redirects to.
async fn send_form(
    base: &str,
    cookie: &str,
    page: &str,
    form: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Result<(u16, Option<String>, String)> {
    let csrf = form_field(page, form, "csrf").with_context(|| format!("the token of {form}"))?;
    let key = form_field(page, form, "key").with_context(|| format!("the key of {form}"))?;
    let mut all = vec![("csrf", csrf.as_str()), ("key", key.as_str())];
    all.extend_from_slice(fields);
    let res = post_form(base, cookie, action, &all).await?;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, location, res.text().await?))
}

/// The survey answers the program requires, as the form sends them.
fn required_answers(
    category: lenaguard_domain::program::RiskCategory,
) -> Vec<(&'static str, &'static str)> {
    lenaguard_storage::survey::questions(category)
        .into_iter()
        .map(|q| (q.id, if q.required { "yes" } else { "no" }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescriber_enrolls_records_and_requests_an_authorization_through_the_forms() -> Result<()>
{
    let s = site().await?;
    let base = &s.base;
    let dr = form_login(base, "dr-a").await?;
    let (status, list) = get(base, &dr, "/app/patients").await?;
    ensure!(
        status == 200 && list.contains(r#"href="/app/patients/new""#),
        "{list}"
    );

    // Enrollment: the form checked field by field; what was typed is kept and nothing is stored.
    let (status, new) = get(base, &dr, "/app/patients/new").await?;
    ensure!(status == 200, "{new}");
    let pid = form_field(&new, "enroll-form", "patient").context("the new patient's id")?;
    let category = "adult_female_can_get_pregnant";
    let mut enrollment = vec![
        ("patient", pid.as_str()),
        ("identity", ""),
        ("sex", "female"),
        ("birth_date", "14/03/1990"),
        ("category", category),
        ("regimen", "mm_rd"),
        ("guardian", ""),
        ("nrp_reason", ""),
        ("nrp_since", ""),
    ];
    let tomorrow = world::day(1).to_string();
    enrollment.push(("planned_start", tomorrow.as_str()));
    let forty_ago = world::day(-40).to_string();
    enrollment.push(("agreement_signed_on", forty_ago.as_str()));
    let (status, _, page) = send_form(
        base,
        &dr,
        &new,
        "enroll-form",
        "/app/patients/new",
        &enrollment,
    )
    .await?;
    ensure!(status == 422, "{status}: {page}");
    ensure!(page.contains(r#"id="enroll-identity-error""#), "{page}");
    ensure!(
        page.contains(r#"id="enroll-birth-date-error""#)
            && page.contains("&quot;14/03/1990&quot; is not a date"),
        "{page}"
    );
    ensure!(
        page.contains(r#"aria-describedby="enroll-birth-date-error""#),
        "{page}"
    );
    ensure!(
        page.contains(&format!(r#"<option value="{category}" selected>"#)),
        "{page}"
    );
    ensure!(
        s.store.patient_file(&pid).await?.is_none(),
        "nothing stored"
    );

    // Sent right, twice (as a double click would): one patient, and the same answer.
    enrollment[1] = ("identity", "clinic-a:MRN-web-1");
    enrollment[3] = ("birth_date", "1990-03-14");
    for _ in 0..2 {
        let (status, to, page) = send_form(
            base,
            &dr,
            &new,
            "enroll-form",
            "/app/patients/new",
            &enrollment,
        )
        .await?;
        ensure!(status == 303, "{status}: {page}");
        ensure!(
            to == Some(format!("/app/patients/{pid}?done=enrolled")),
            "{to:?}"
        );
    }
    let enrolled = s.store.patient_file(&pid).await?.context("enrolled")?;
    ensure!(
        enrolled.patient.prescriber == "dr-a" && enrolled.patient.identity == "clinic-a:MRN-web-1"
    );
    let here = format!("/app/patients/{pid}");
    let (status, page) = get(base, &dr, &format!("{here}?done=enrolled")).await?;
    ensure!(status == 200 && page.contains(r#"id="done""#), "{page}");
    ensure!(
        page.contains("Not eligible yet")
            && page.contains(r##"<a href="#pregnancy-test">Record it</a>"##),
        "{page}"
    );
    for form in [
        "contraception-form",
        "pregnancy-test-form",
        "lab-form",
        "survey-form",
        "prescription-form",
    ] {
        ensure!(page.contains(&format!(r#"id="{form}""#)), "{form}: {page}");
    }

    // A prescription before the tests and the survey: refused with every missing step, and not stored.
    let rx = vec![
        ("dose_mg", "25"),
        ("frequency", "once_daily"),
        ("first_day", "1"),
        ("last_day", "21"),
        ("cycle_days", "28"),
        ("quantity", "21"),
        ("days_supply", "28"),
        ("pharmacy", "pharm-a"),
    ];
    let mut with_id = rx.clone();
    let rx_id = form_field(&page, "prescription-form", "prescription").context("the rx id")?;
    with_id.push(("prescription", rx_id.as_str()));
    let (status, _, refused) = send_form(
        base,
        &dr,
        &page,
        "prescription-form",
        &format!("{here}/prescription"),
        &with_id,
    )
    .await?;
    ensure!(status == 409, "{status}: {refused}");
    let at = refused
        .find(r#"id="prescription-refused""#)
        .context("the refusal")?;
    let block = &refused[at..at + refused[at..].find("</div>").context("its end")?];
    ensure!(
        block.contains("pregnancy test") && block.contains("survey"),
        "{block}"
    );
    ensure!(
        s.store
            .patient_file(&pid)
            .await?
            .context("file")?
            .prescriptions
            .is_empty()
    );

    // A bad field of a record form: the error next to it.
    let (status, _, bad) = send_form(
        base,
        &dr,
        &page,
        "lab-form",
        &format!("{here}/lab"),
        &[
            ("code", "creatinine"),
            ("value", "0.9"),
            ("unit", "furlongs"),
            ("date", "2026-11-25"),
        ],
    )
    .await?;
    ensure!(
        status == 422 && bad.contains(r#"id="lab-unit-error""#) && bad.contains("mg/dL"),
        "{status}: {bad}"
    );

    // Every step the program needs, each through its form.
    let methods = &world::pack().program.contraception_methods.value;
    let (m1, m2) = (
        format!("method:{}", methods.highly_effective[0]),
        format!("method:{}", methods.additional[0]),
    );
    let since = world::day(-35).to_string();
    let (twelve, today) = (world::day(-12).to_string(), DAY.to_string());
    let yesterday = world::day(-1).to_string();
    let answers =
        required_answers(lenaguard_domain::program::RiskCategory::AdultFemaleCanGetPregnant);
    let steps: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "contraception",
            vec![
                ("start", since.as_str()),
                ("end", ""),
                (m1.as_str(), "yes"),
                (m2.as_str(), "yes"),
            ],
        ),
        (
            "pregnancy-test",
            vec![
                ("date", twelve.as_str()),
                ("specimen", "urine"),
                ("sensitivity", "25"),
                ("result", "negative"),
                ("setting", "lab"),
            ],
        ),
        (
            "pregnancy-test",
            vec![
                ("date", today.as_str()),
                ("specimen", "serum"),
                ("sensitivity", "25"),
                ("result", "negative"),
                ("setting", "lab"),
            ],
        ),
        ("survey", answers.clone()),
        (
            "lab",
            vec![
                ("code", "anc"),
                ("value", "2.5"),
                ("unit", "10*9/L"),
                ("date", yesterday.as_str()),
            ],
        ),
        (
            "lab",
            vec![
                ("code", "platelets"),
                ("value", "180"),
                ("unit", "10*9/L"),
                ("date", yesterday.as_str()),
            ],
        ),
        (
            "lab",
            vec![
                ("code", "creatinine"),
                ("value", "0.9"),
                ("unit", "mg/dL"),
                ("date", yesterday.as_str()),
            ],
        ),
        (
            "measurement",
            vec![
                ("weight_kg", "68"),
                ("height_cm", "165"),
                ("date", yesterday.as_str()),
            ],
        ),
    ];
    for (what, fields) in &steps {
        let (_, page) = get(base, &dr, &here).await?;
        let (status, to, body) = send_form(
            base,
            &dr,
            &page,
            &format!("{what}-form"),
            &format!("{here}/{what}"),
            fields,
        )
        .await?;
        ensure!(status == 303, "{what}: {status}: {body}");
        ensure!(
            to == Some(format!("{here}?done={what}#{what}")),
            "{what}: {to:?}"
        );
    }

    // The list shows the last counts at a glance.
    let (_, list) = get(base, &dr, "/app/patients").await?;
    let row = &list[list.find(&format!(">{pid}</a>")).context("the row")?..];
    let row = &row[..row.find("</tr>").context("its end")?];
    ensure!(
        row.contains("ANC 2.5 10*9/L") && row.contains("platelets 180 10*9/L"),
        "{row}"
    );

    // A weight out of the pack's range: refused with the range, nothing stored.
    let (_, page) = get(base, &dr, &here).await?;
    let (status, _, body) = send_form(
        base,
        &dr,
        &page,
        "measurement-form",
        &format!("{here}/measurement"),
        &[
            ("weight_kg", "700"),
            ("height_cm", ""),
            ("date", yesterday.as_str()),
        ],
    )
    .await?;
    let at = body
        .find(r#"id="measurement-refused""#)
        .context("the refusal")?;
    let block = &body[at..at + body[at..].find("</div>").context("its end")?];
    ensure!(
        status == 409 && block.contains("700") && block.contains("kg"),
        "{status}: {block}"
    );

    // The prescription, proposed from today's recommendation now that the weight gives a CrCl; then its
    // authorization.
    let (_, page) = get(base, &dr, &here).await?;
    ensure!(page.contains("Eligible</strong>"), "{page}");
    ensure!(
        page.contains("Proposed from today's recommendation")
            && !page.contains("prescription-unchecked"),
        "{page}"
    );
    let rx_id = form_field(&page, "prescription-form", "prescription").context("the rx id")?;
    let mut with_id = rx.clone();
    with_id.push(("prescription", rx_id.as_str()));
    let (status, _, body) = send_form(
        base,
        &dr,
        &page,
        "prescription-form",
        &format!("{here}/prescription"),
        &with_id,
    )
    .await?;
    ensure!(status == 303, "{status}: {body}");
    let (_, page) = get(base, &dr, &here).await?;
    let (status, to, body) = send_form(
        base,
        &dr,
        &page,
        &format!("authorize-form-{rx_id}"),
        &format!("/app/prescriptions/{rx_id}/authorization"),
        &[("prescription", rx_id.as_str())],
    )
    .await?;
    ensure!(status == 303, "{status}: {body}");
    let f = s.store.patient_file(&pid).await?.context("file")?;
    let auth = f
        .authorizations
        .iter()
        .find(|a| a.prescription == rx_id)
        .context("an authorization")?;
    ensure!(
        to == Some(format!(
            "{here}?done=authorized#authorization-{}",
            auth.number
        )),
        "{to:?}"
    );
    let (_, page) = get(base, &dr, &format!("{here}?done=authorized")).await?;
    ensure!(
        page.contains(&auth.number) && page.contains("The authorization is obtained"),
        "{page}"
    );

    // Refusals: a form for another prescriber's patient, another role, a form that does not exist.
    let other = &s.world.other.patient;
    let records = s
        .store
        .patient_file(other)
        .await?
        .context("other")?
        .records
        .len();
    let (_, page) = get(base, &dr, &here).await?;
    let (status, _, body) = send_form(
        base,
        &dr,
        &page,
        "lab-form",
        &format!("/app/patients/{other}/lab"),
        &[
            ("code", "anc"),
            ("value", "2"),
            ("unit", "10*9/L"),
            ("date", yesterday.as_str()),
        ],
    )
    .await?;
    ensure!(status == 403, "{status}: {body}");
    let ph = form_login(base, "ph-a").await?;
    let (_, ph_page) = get(base, &ph, "/app/pharmacy").await?;
    let csrf = field(&ph_page, "csrf").context("csrf")?;
    let (status, _) = post(
        base,
        &ph,
        &format!("{here}/lab"),
        &[
            ("csrf", &csrf),
            ("key", "k-ph"),
            ("code", "anc"),
            ("value", "2"),
            ("unit", "10*9/L"),
            ("date", &yesterday),
        ],
    )
    .await?;
    ensure!(status == 403, "a pharmacist records a lab: {status}");
    let (status, _) = post(base, &dr, &format!("{here}/nonsense"), &[("csrf", &csrf)]).await?;
    ensure!(status == 404, "an unknown form: {status}");
    ensure!(
        s.store
            .patient_file(other)
            .await?
            .context("other")?
            .records
            .len()
            == records
    );
    let f = s.store.patient_file(&pid).await?.context("file")?;
    ensure!(
        f.prescriptions.len() == 1,
        "one prescription: {:?}",
        f.prescriptions
    );
    Ok(())
}

// ---- The browser ---------------------------------------------------------------------------------------------

use common::browser::{browser, browser_tools, chromedriver};
use fantoccini::{Client, Locator};

/// The element, once it is there (after a navigation the page may still be loading).
async fn wait_for(c: &Client, id: &str) -> Result<fantoccini::elements::Element> {
    Ok(c.wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await?)
}

/// Wait until the browser is on `path`.
async fn wait_path(c: &Client, path: &str) -> Result<()> {
    until(&format!("on {path}"), || async {
        Ok(c.current_url().await?.path() == path)
    })
    .await
}

async fn text(c: &Client) -> Result<String> {
    Ok(c.find(Locator::Css("body")).await?.text().await?)
}

async fn browser_login(c: &Client, base: &str, login: &str) -> Result<()> {
    c.goto(&format!("{base}/app/")).await?;
    ensure!(
        c.current_url().await?.path() == "/app/login",
        "not sent to the login page"
    );
    accessibility(c, "the login page").await?;
    c.find(Locator::Id("login")).await?.send_keys(login).await?;
    c.find(Locator::Id("password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    c.find(Locator::Css("main form button[type=submit]"))
        .await?
        .click()
        .await?;
    Ok(())
}

/// With `LENAGUARD_AXE` (the path of axe-core's `axe.min.js`, from npm): the page has no WCAG 2 A or AA
/// violation that axe-core finds.
async fn accessibility(c: &Client, what: &str) -> Result<()> {
    let Some(path) = std::env::var_os("LENAGUARD_AXE") else {
        return Ok(());
    };
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("LENAGUARD_AXE={}", path.to_string_lossy()))?;
    c.execute(&format!("{source}\nreturn typeof axe;"), vec![])
        .await?;
    let violations = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => n.target.join(' '))}))))
               .catch(e => done([{id: 'axe-error', help: String(e)}]));",
            vec![],
        )
        .await?;
    ensure!(
        violations.as_array().is_some_and(|v| v.is_empty()),
        "accessibility of {what}: {violations:#}"
    );
    Ok(())
}

fn screenshot(name: &str, png: &[u8]) -> Result<()> {
    if let Some(dir) = std::env::var_os("LENAGUARD_SCREENSHOTS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), png)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pharmacist_prescriber_and_patient_in_a_real_browser() -> Result<()> {
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    let s = site().await?;
    let own = s.world.own.clone();
    let driver = chromedriver(&driver_program).await?;
    let profiles = tempfile::tempdir()?;

    // The pharmacist: confirm, then dispense with the checklist.
    let c = browser(&driver, &profiles.path().join("ph"), false).await?;
    let outcome = async {
        browser_login(&c, &s.base, "ph-a").await?;
        wait_path(&c, "/app/pharmacy").await?;
        let list = text(&c).await?;
        ensure!(
            list.contains(&own.authorization) && list.contains(&s.second),
            "{list}"
        );
        ensure!(!list.contains(&s.world.other.authorization), "{list}");
        c.find(Locator::LinkText(&own.authorization))
            .await?
            .click()
            .await?;
        wait_for(&c, "verdict").await?;
        let page = text(&c).await?;
        ensure!(page.contains("NOT YET"), "{page}");
        c.find(Locator::Css("form[action$='/confirmation'] button"))
            .await?
            .click()
            .await?;
        wait_for(&c, "done").await?;
        let page = text(&c).await?;
        ensure!(
            page.contains("Confirmation obtained") && page.contains("YES"),
            "{page}"
        );
        screenshot("pharmacist-dispense-check.png", &c.screenshot().await?)?;
        accessibility(&c, "the dispense check").await?;
        // The checklist left unchecked: the error next to the field.
        c.find(Locator::Id("dispense")).await?.click().await?;
        let err = wait_for(&c, "checklist-error").await?.text().await?;
        ensure!(err.contains("counselling checklist"), "{err}");
        accessibility(&c, "the dispense form with an error").await?;
        c.find(Locator::Id("checklist_completed"))
            .await?
            .click()
            .await?;
        c.find(Locator::Id("medication_guide_given"))
            .await?
            .click()
            .await?;
        // The same form sent twice: once behind the browser's back (as if its answer were lost), then clicked.
        let cookie = c
            .get_all_cookies()
            .await?
            .into_iter()
            .find(|k| k.name() == "lenaguard_session")
            .map(|k| format!("lenaguard_session={}", k.value()))
            .context("the session cookie")?;
        let mut fields = Vec::new();
        for name in ["csrf", "key", "confirmation"] {
            let v = c
                .find(Locator::Css(&format!("#dispense-form input[name={name}]")))
                .await?
                .attr("value")
                .await?
                .unwrap_or_default();
            fields.push((name, v));
        }
        fields.push(("checklist_completed", "yes".into()));
        fields.push(("medication_guide_given", "yes".into()));
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let action = c
            .find(Locator::Id("dispense-form"))
            .await?
            .attr("action")
            .await?
            .context("the form's action")?;
        let (status, _) = post(&s.base, &cookie, &action, &f).await?;
        ensure!(status == 303, "first submission: {status}");
        c.find(Locator::Id("dispense")).await?.click().await?;
        wait_for(&c, "done").await?;
        let page = text(&c).await?;
        ensure!(page.contains("Dispensed."), "{page}");
        ensure!(
            dispenses(&s.store, &own.patient, &own.authorization).await? == 1,
            "dispensed more than once"
        );
        // Another authorization at this pharmacy, not dispensable: every missing step with its fix.
        c.goto(&format!("{}/app/pharmacy/{}", s.base, s.second))
            .await?;
        let page = text(&c).await?;
        ensure!(page.contains("NOT YET") && page.contains("Fix:"), "{page}");
        // Another pharmacy's: refused, with a page saying so.
        c.goto(&format!(
            "{}/app/pharmacy/{}",
            s.base, s.world.other.authorization
        ))
        .await?;
        let page = text(&c).await?;
        ensure!(
            page.contains("Not allowed") && page.contains("may not see this authorization"),
            "{page}"
        );
        accessibility(&c, "the refusal page").await?;
        Ok(())
    }
    .await;
    c.close().await?;
    outcome?;

    // The prescriber: my patients, then one patient's page.
    let c = browser(&driver, &profiles.path().join("dr"), false).await?;
    let outcome = async {
        browser_login(&c, &s.base, "dr-a").await?;
        wait_path(&c, "/app/patients").await?;
        accessibility(&c, "my patients").await?;
        c.find(Locator::LinkText(&own.patient))
            .await?
            .click()
            .await?;
        wait_for(&c, "eligibility").await?;
        let page = text(&c).await?;
        for part in ["REMS eligibility", "The next 28 days", "Today"] {
            ensure!(page.contains(part), "{part}: {page}");
        }
        screenshot("prescriber-patient.png", &c.screenshot().await?)?;
        accessibility(&c, "the patient page").await?;
        Ok(())
    }
    .await;
    c.close().await?;
    outcome?;

    // Program staff: the oversight page, then an audit search by patient.
    let c = browser(&driver, &profiles.path().join("st"), false).await?;
    let outcome = async {
        browser_login(&c, &s.base, "st").await?;
        wait_path(&c, "/app/staff").await?;
        wait_for(&c, "verify-chain").await?.click().await?;
        wait_for(&c, "chain").await?;
        accessibility(&c, "the program oversight page").await?;
        c.find(Locator::Id("patient"))
            .await?
            .send_keys(&own.patient)
            .await?;
        c.find(Locator::Css("form.search button"))
            .await?
            .click()
            .await?;
        // The same path again: wait for the search's answer rather than for the page.
        until("the search's answer", || async {
            Ok(match c.find(Locator::Id("audit-count")).await {
                Ok(el) => el.text().await.is_ok_and(|t| t.contains("matching")),
                Err(_) => false,
            })
        })
        .await?;
        wait_for(&c, "audit-events").await?;
        accessibility(&c, "the audit search").await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    c.close().await?;
    outcome?;

    // The patient, on a phone-sized screen: the page fits, and the survey is answered.
    let c = browser(&driver, &profiles.path().join("pat"), true).await?;
    let outcome = async {
        browser_login(&c, &s.base, "pat-a").await?;
        wait_path(&c, "/app/me").await?;
        let width = c
            .execute("return document.documentElement.scrollWidth", vec![])
            .await?;
        ensure!(
            width.as_u64().is_some_and(|w| w <= 390),
            "wider than the phone: {width}"
        );
        screenshot("patient-phone.png", &c.screenshot().await?)?;
        accessibility(&c, "the patient page on a phone").await?;
        c.find(Locator::Id(
            "using_condom_with_partner_who_can_get_pregnant-yes",
        ))
        .await?
        .click()
        .await?;
        c.find(Locator::Id("donating_sperm-no"))
            .await?
            .click()
            .await?;
        // One question left out: the error next to it.
        c.find(Locator::Id("send-survey")).await?.click().await?;
        let err = wait_for(&c, "donating_blood-error").await?.text().await?;
        ensure!(err.contains("Answer this question"), "{err}");
        accessibility(&c, "the survey with an error").await?;
        c.find(Locator::Id("donating_blood-no"))
            .await?
            .click()
            .await?;
        c.find(Locator::Id("send-survey")).await?.click().await?;
        let done = wait_for(&c, "survey-done").await?.text().await?;
        ensure!(done.contains("recorded"), "{done}");
        Ok(())
    }
    .await;
    c.close().await?;
    outcome?;
    let f = s
        .store
        .patient_file(&own.patient)
        .await?
        .context("patient")?;
    let surveys = serde_json::to_string(&f.records)?;
    ensure!(surveys.contains("donating_blood"), "no survey stored");
    Ok(())
}

/// Set a field's value as a date picker or a list would (their widgets differ between browsers and locales).
async fn set(c: &Client, id: &str, value: &str) -> Result<()> {
    c.execute(
        "const el = document.getElementById(arguments[0]); if (!el) { return false; } el.value = arguments[1]; return el.value === arguments[1];",
        vec![json!(id), json!(value)],
    )
    .await?
    .as_bool()
    .filter(|ok| *ok)
    .with_context(|| format!("set {id} to {value}"))?;
    Ok(())
}

/// Click the button with id `button` and wait until the page it leads to has `query` in its address.
async fn submit(c: &Client, button: &str, query: &str) -> Result<()> {
    submit_at(c, Locator::Id(button), query).await
}

/// Click the button `at` and wait until the page it leads to has `query` in its address.
async fn submit_at(c: &Client, at: Locator<'_>, query: &str) -> Result<()> {
    // The page before the click is marked, so that a new page at the same address (a form sent twice in a
    // row) is told from the old one.
    c.execute("window.lenaguardOld = true;", vec![]).await?;
    c.find(at).await?.click().await?;
    until(&format!("a new page with {query}"), || async {
        let loaded = c
            .execute(
                "return !window.lenaguardOld && document.readyState === 'complete';",
                vec![],
            )
            .await?
            .as_bool()
            == Some(true);
        Ok(loaded
            && c.current_url()
                .await?
                .query()
                .is_some_and(|q| q.contains(query)))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_enrollment_to_a_dispense_in_a_real_browser() -> Result<()> {
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    full_path(&site().await?, &driver_program).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_enrollment_to_a_dispense_in_a_real_browser_on_postgres() -> Result<()> {
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
        return Ok(());
    };
    let s = site_on(Arc::new(store.clone()), None).await?;
    let outcome = full_path(&s, &driver_program).await;
    drop(s);
    db.drop_database(store).await?;
    outcome
}

/// A prescriber enrolls a woman who can get pregnant and walks her to an authorization; a pharmacist dispenses.
async fn full_path(s: &Site, driver_program: &std::path::Path) -> Result<()> {
    let driver = chromedriver(driver_program).await?;
    let profiles = tempfile::tempdir()?;
    let methods = world::pack().program.contraception_methods.value.clone();
    let answers =
        required_answers(lenaguard_domain::program::RiskCategory::AdultFemaleCanGetPregnant);

    // The prescriber enrolls a woman who can get pregnant, records every step and obtains the authorization.
    let c = browser(&driver, &profiles.path().join("dr"), false).await?;
    let prescriber = async {
        browser_login(&c, &s.base, "dr-a").await?;
        wait_path(&c, "/app/patients").await?;
        c.find(Locator::Id("enroll-link")).await?.click().await?;
        wait_for(&c, "enroll-form").await?;
        accessibility(&c, "the enrollment form").await?;
        let pid = c.find(Locator::Id("new-patient-id")).await?.text().await?;
        c.find(Locator::Id("enroll-identity"))
            .await?
            .send_keys("clinic-a:MRN-browser-1")
            .await?;
        set(&c, "enroll-birth-date", "1991-05-02").await?;
        set(&c, "enroll-category", "adult_female_can_get_pregnant").await?;
        set(&c, "enroll-regimen", "mm_rd").await?;
        set(
            &c,
            "enroll-agreement-signed-on",
            &world::day(-40).to_string(),
        )
        .await?;
        set(&c, "enroll-planned-start", &world::day(1).to_string()).await?;
        screenshot("prescriber-enroll.png", &c.screenshot().await?)?;
        submit(&c, "enroll", "done=enrolled").await?;
        let page = text(&c).await?;
        ensure!(page.contains("Not eligible yet"), "{page}");
        accessibility(&c, "the patient page with its forms").await?;

        set(&c, "contraception-start", &world::day(-35).to_string()).await?;
        for m in [&methods.highly_effective[0], &methods.additional[0]] {
            c.find(Locator::Id(&format!(
                "contraception-method-{}",
                m.replace('_', "-")
            )))
            .await?
            .click()
            .await?;
        }
        submit(&c, "record-contraception", "done=contraception").await?;
        for (date, specimen) in [(world::day(-12), "urine"), (DAY, "serum")] {
            set(&c, "pregnancy-test-date", &date.to_string()).await?;
            set(&c, "pregnancy-test-specimen", specimen).await?;
            c.find(Locator::Id("pregnancy-test-sensitivity"))
                .await?
                .send_keys("25")
                .await?;
            submit(&c, "record-pregnancy-test", "done=pregnancy-test").await?;
        }
        for (id, answer) in &answers {
            c.find(Locator::Id(&format!(
                "survey-{}-{answer}",
                id.replace('_', "-")
            )))
            .await?
            .click()
            .await?;
        }
        submit(&c, "record-survey", "done=survey").await?;
        for (code, value, unit) in [
            ("anc", "2.5", "10*9/L"),
            ("platelets", "180", "10*9/L"),
            ("creatinine", "0.9", "mg/dL"),
        ] {
            set(&c, "lab-code", code).await?;
            c.find(Locator::Id("lab-value"))
                .await?
                .send_keys(value)
                .await?;
            c.find(Locator::Id("lab-unit"))
                .await?
                .send_keys(unit)
                .await?;
            set(&c, "lab-date", &world::day(-1).to_string()).await?;
            submit(&c, "record-lab", "done=lab").await?;
        }
        c.find(Locator::Id("measurement-weight-kg"))
            .await?
            .send_keys("68")
            .await?;
        submit(&c, "record-measurement", "done=measurement").await?;
        let page = text(&c).await?;
        ensure!(page.contains("Eligible: nothing is missing"), "{page}");
        // The labs just recorded, charted with the engine's thresholds.
        let anc = c.find(Locator::Id("chart-anc")).await?;
        ensure!(anc.find(Locator::Css("svg")).await.is_ok(), "no ANC chart");
        screenshot("prescriber-lab-trends.png", &anc.screenshot().await?)?;
        set(&c, "prescription-pharmacy", "pharm-a").await?;
        submit(&c, "write-prescription", "done=prescription").await?;
        submit_at(
            &c,
            Locator::Css("form[id^='authorize-form-'] button"),
            "done=authorized",
        )
        .await?;
        let number = wait_for_css(&c, ".authorization-number")
            .await?
            .text()
            .await?;
        screenshot("prescriber-authorized.png", &c.screenshot().await?)?;
        accessibility(&c, "the patient page after the authorization").await?;
        Ok::<_, anyhow::Error>((pid, number))
    }
    .await;
    c.close().await?;
    let (pid, number) = prescriber?;

    // The pharmacist confirms and dispenses against it.
    let c = browser(&driver, &profiles.path().join("ph"), false).await?;
    let pharmacist = async {
        browser_login(&c, &s.base, "ph-a").await?;
        wait_path(&c, "/app/pharmacy").await?;
        c.find(Locator::LinkText(&number)).await?.click().await?;
        wait_for(&c, "verdict").await?;
        c.find(Locator::Css("form[action$='/confirmation'] button"))
            .await?
            .click()
            .await?;
        wait_for(&c, "confirmation").await?;
        c.find(Locator::Id("checklist_completed"))
            .await?
            .click()
            .await?;
        c.find(Locator::Id("medication_guide_given"))
            .await?
            .click()
            .await?;
        submit(&c, "dispense", "done=dispensed").await?;
        let page = text(&c).await?;
        ensure!(page.contains("Dispensed"), "{page}");
        Ok(())
    }
    .await;
    c.close().await?;
    pharmacist?;
    ensure!(
        dispenses(&s.store, &pid, &number).await? == 1,
        "one dispense"
    );
    Ok(())
}

async fn wait_for_css(c: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    Ok(c.wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await?)
}

/// Press Tab until the element `id` has the focus (at most `max` presses): it is reachable by keyboard, in order.
async fn tab_to(c: &Client, id: &str, max: usize) -> Result<()> {
    use fantoccini::key::Key;
    for _ in 0..max {
        c.active_element()
            .await?
            .send_keys(&Key::Tab.to_string())
            .await?;
        let focused = c
            .execute(
                "return document.activeElement ? document.activeElement.id : '';",
                vec![],
            )
            .await?;
        if focused.as_str() == Some(id) {
            return Ok(());
        }
    }
    bail!("{id} not reached with {max} presses of Tab")
}

/// Send keys to whatever has the focus.
async fn press(c: &Client, keys: &str) -> Result<()> {
    c.active_element().await?.send_keys(keys).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacist_logs_in_confirms_and_dispenses_by_keyboard_alone() -> Result<()> {
    use fantoccini::key::Key;
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    let s = site().await?;
    let own = s.world.own.clone();
    let driver = chromedriver(&driver_program).await?;
    let profiles = tempfile::tempdir()?;
    let c = browser(&driver, &profiles.path().join("kb"), false).await?;
    let enter = Key::Enter.to_string();
    let outcome = async {
        // The login form: the login field has the focus; Tab to the password; Enter sends.
        c.goto(&format!(
            "{}/app/login?next=/app/pharmacy/{}",
            s.base, own.authorization
        ))
        .await?;
        wait_for(&c, "login").await?;
        press(&c, "ph-a").await?;
        tab_to(&c, "password", 3).await?;
        press(&c, &format!("{PASSWORD}{enter}")).await?;
        wait_for(&c, "verdict").await?;
        // Request the confirmation: Tab to the button, Enter.
        tab_to(&c, "request-confirmation", 40).await?;
        press(&c, &enter).await?;
        wait_for(&c, "confirmation").await?;
        // The checklist: Tab to each box, Space ticks it; Enter on the button dispenses.
        for id in ["checklist_completed", "medication_guide_given"] {
            tab_to(&c, id, 40).await?;
            press(&c, " ").await?;
        }
        tab_to(&c, "dispense", 10).await?;
        press(&c, &enter).await?;
        until("dispensed", || async {
            Ok(text(&c).await.is_ok_and(|t| t.contains("Dispensed.")))
        })
        .await
    }
    .await;
    c.close().await?;
    outcome?;
    ensure!(dispenses(&s.store, &own.patient, &own.authorization).await? == 1);
    Ok(())
}

/// Every page and form of the web app against every role: the roles it is for get it (or their form's own
/// answer: an error by field, a refusal), every other role a `403` page, and no session the login page. Deny
/// unless allowed, checked route by route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_form_against_every_role() -> Result<()> {
    use lenaguard_storage::accounts::AccountRole::{self, *};
    let s = site().await?;
    let (p, rx, auth) = (
        s.world.own.patient.clone(),
        s.world.own.prescription.clone(),
        s.world.own.authorization.clone(),
    );
    let pages: Vec<(&str, String, &[AccountRole])> = vec![
        ("GET", "/app/pharmacy".into(), &[Pharmacist]),
        ("GET", format!("/app/pharmacy/{auth}"), &[Pharmacist]),
        (
            "POST",
            format!("/app/pharmacy/{auth}/dispense"),
            &[Pharmacist],
        ),
        ("GET", "/app/patients".into(), &[Prescriber]),
        ("GET", "/app/patients/new".into(), &[Prescriber]),
        ("POST", "/app/patients/new".into(), &[Prescriber]),
        (
            "GET",
            format!("/app/patients/{p}"),
            &[Prescriber, ProgramStaff, Auditor],
        ),
        (
            "GET",
            format!("/app/patients/{p}/handout.pdf"),
            &[Prescriber, ProgramStaff, Auditor],
        ),
        ("POST", format!("/app/patients/{p}/lab"), &[Prescriber]),
        (
            "POST",
            format!("/app/patients/{p}/pregnancy-test"),
            &[Prescriber],
        ),
        (
            "POST",
            format!("/app/patients/{p}/contraception"),
            &[Prescriber],
        ),
        ("POST", format!("/app/patients/{p}/survey"), &[Prescriber]),
        (
            "POST",
            format!("/app/patients/{p}/measurement"),
            &[Prescriber],
        ),
        (
            "POST",
            format!("/app/patients/{p}/prescription"),
            &[Prescriber],
        ),
        (
            "POST",
            format!("/app/prescriptions/{rx}/authorization"),
            &[Prescriber],
        ),
        ("GET", "/app/staff".into(), &[ProgramStaff, Auditor]),
        ("GET", "/app/me".into(), &[Patient]),
        ("POST", "/app/me/survey".into(), &[Patient]),
        ("GET", "/app/me/handout.pdf".into(), &[Patient]),
    ];
    let roles = [
        Pharmacist,
        Prescriber,
        Patient,
        ProgramStaff,
        Auditor,
        Admin,
    ];
    let mut sessions = Vec::new();
    for role in roles {
        let login = s.world.logins[&role].clone();
        let cookie = form_login(&s.base, &login).await?;
        let (_, home) = get(&s.base, &cookie, "/app/").await?;
        let (_, page) = if home.is_empty() {
            // Sent on to the role's page: its logout form carries the token.
            let res = http()
                .get(format!("{}/app/", s.base))
                .header("cookie", &cookie)
                .send()
                .await?;
            let to = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("/app/")
                .to_string();
            get(&s.base, &cookie, &to).await?
        } else {
            (200, home)
        };
        let csrf = field(&page, "csrf").with_context(|| format!("{login}'s token"))?;
        sessions.push((role, cookie, csrf));
    }
    let mut cells = 0;
    for (method, path, allowed) in &pages {
        for (role, cookie, csrf) in &sessions {
            let (status, body) = if *method == "GET" {
                get(&s.base, cookie, path).await?
            } else {
                post(
                    &s.base,
                    cookie,
                    path,
                    &[("csrf", csrf), ("key", &format!("matrix-{cells}"))],
                )
                .await?
            };
            if allowed.contains(role) {
                ensure!(
                    status != 403 && status < 500,
                    "{method} {path} as {role:?}: {status}: {body}"
                );
            } else {
                ensure!(
                    status == 403,
                    "{method} {path} as {role:?}: {status}, not 403"
                );
            }
            cells += 1;
        }
        // No session: to the login page (a GET), or the login page keeping the form (a POST).
        let res = if *method == "GET" {
            http().get(format!("{}{path}", s.base)).send().await?
        } else {
            http()
                .post(format!("{}{path}", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf=x")
                .send()
                .await?
        };
        let status = res.status().as_u16();
        let to = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        ensure!(
            (status == 303 && to.starts_with("/app/login"))
                || (status == 401 && res.text().await?.contains("Log in again")),
            "{method} {path} without a session: {status} {to}"
        );
    }
    ensure!(cells == pages.len() * roles.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_patient_list_comes_a_page_at_a_time() -> Result<()> {
    let s = site().await?;
    let wf = Workflow::new(s.store.clone(), world::pack());
    // 60 more patients of side A's prescriber, besides the two it has.
    for i in 0..60 {
        run(&wf, "dr-a", DAY, json!({"command": "enroll", "patient": format!("pat-page-{i:02}"), "identity": format!("clinic-a:MRN-page-{i}"),
            "sex": "male", "birth_date": "1950-01-02", "category": "adult_male", "agreement_signed_on": DAY, "prescriber": "dr-a",
            "regimen": "mm_rd", "planned_start": world::day(1)})).await?;
    }
    let dr = form_login(&s.base, "dr-a").await?;
    let rows = |html: &str| -> Vec<String> {
        html.match_indices(r#"<tr><td><a href="/app/patients/"#)
            .map(|(at, _)| {
                let rest = &html[at + 33..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .collect()
    };
    let (status, first) = get(&s.base, &dr, "/app/patients").await?;
    ensure!(status == 200, "{first}");
    let one = rows(&first);
    ensure!(one.len() == 50, "{} rows", one.len());
    let next = first
        .find(r#"id="next-page""#)
        .and_then(|_| first.split(r#"href="/app/patients?after="#).nth(1))
        .and_then(|r| r.split('"').next())
        .context("a next page")?
        .to_string();
    let (_, second) = get(&s.base, &dr, &format!("/app/patients?after={next}")).await?;
    let two = rows(&second);
    ensure!(two.len() == 12, "{} rows", two.len());
    ensure!(!second.contains(r#"id="next-page""#) && second.contains(r#"id="first-page""#));
    let mut all: Vec<String> = one.into_iter().chain(two).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    ensure!(all.len() == n && n == 62, "every patient once: {all:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_first_supply_the_patient_reads_a_plan_not_take_your_lenalidomide() -> Result<()>
{
    let s = site().await?;
    let own = s.world.own.clone();
    let pat = form_login(&s.base, "pat-a").await?;
    let (status, page) = get(&s.base, &pat, "/app/me").await?;
    ensure!(status == 200, "{page}");
    ensure!(
        page.contains(r#"id="not-started""#)
            && page.contains("Planned lenalidomide day")
            && !page.contains("Take your lenalidomide"),
        "{page}"
    );
    // The pharmacy confirms and dispenses: from then on the days say what to do.
    let wf = Workflow::new(s.store.clone(), world::pack());
    let lenaguard_storage::Answer::Confirmation { number, .. } = run(
        &wf,
        "ph-a",
        DAY,
        json!({"command": "request_confirmation", "authorization": own.authorization}),
    )
    .await?
    else {
        bail!("not a confirmation");
    };
    run(&wf, "ph-a", DAY, json!({"command": "dispense", "authorization": own.authorization, "confirmation": number,
        "days_supply": 28, "quantity": 21, "counselling": {"checklist_completed": true, "medication_guide_given": true}})).await?;
    let (_, page) = get(&s.base, &pat, "/app/me").await?;
    ensure!(
        !page.contains(r#"id="not-started""#) && page.contains("Take your lenalidomide"),
        "{page}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_logs_in_and_out_in_a_real_browser() -> Result<()> {
    use lenaguard_storage::accounts::AccountRole::*;
    let Some(driver_program) = browser_tools()? else {
        return Ok(());
    };
    let s = site().await?;
    let driver = chromedriver(&driver_program).await?;
    let profiles = tempfile::tempdir()?;
    let c = browser(&driver, &profiles.path().join("roles"), false).await?;
    let outcome = async {
        for (role, home) in [
            (Pharmacist, "/app/pharmacy"),
            (Prescriber, "/app/patients"),
            (Patient, "/app/me"),
            (ProgramStaff, "/app/staff"),
            (Auditor, "/app/staff"),
            (Admin, "/app/"),
        ] {
            let login = &s.world.logins[&role];
            browser_login(&c, &s.base, login).await?;
            wait_path(&c, home).await?;
            let page = text(&c).await?;
            ensure!(page.contains(&format!("{login} (")), "{role:?}: {page}");
            accessibility(&c, &format!("the landing page of {role:?}")).await?;
            c.find(Locator::Css("form.logout button"))
                .await?
                .click()
                .await?;
            wait_path(&c, "/app/login").await?;
        }
        Ok(())
    }
    .await;
    c.close().await?;
    outcome
}
