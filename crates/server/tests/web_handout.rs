//! The printable handout (`/app/me/handout.pdf`, `/app/patients/{id}/handout.pdf`) and the lab trend charts of
//! the prescriber's patient page, over plain HTTP on SQLite: the PDF's headers and its text (the next test, the
//! calendar's days and the program's rules, as the pages show them), the refusals (no session, another
//! prescriber's patient, a page for another role) and the access log.
//!
//! The PDF's text is read with `pdftotext` (Debian's poppler-utils). Without it those checks print a NOTICE and
//! are skipped, unless `LENAGUARD_BROWSER=required` (which CI sets for the web app's tools). With
//! `LENAGUARD_HANDOUT_SAMPLE=FILE` the patient's handout is also written to FILE.

mod common;

use common::web::{form_login, http};

use anyhow::{Context, Result, bail, ensure};
use common::world::{self, DAY, PASSWORD, World, run};
use lenaguard_server::api::{ApiSettings, identity};
use lenaguard_storage::Store;
use lenaguard_storage::Workflow;
use lenaguard_storage::accounts::{Account, AccountRole};
use serde_json::json;
use std::sync::Arc;

/// A patient of side A's prescriber who can get pregnant, with a first negative test and labs over a month,
/// and her login.
const FRP: &str = "pat-f";

async fn frp_patient(store: Arc<dyn Store>) -> Result<()> {
    let wf = Workflow::new(store.clone(), world::pack());
    let dr = "dr-a";
    run(&wf, dr, world::day(-40), json!({"command": "enroll", "patient": FRP, "identity": "clinic-a:MRN-f", "sex": "female",
        "birth_date": "1991-04-02", "category": "adult_female_can_get_pregnant", "agreement_signed_on": world::day(-40),
        "prescriber": dr, "regimen": "mm_rd", "planned_start": DAY})).await?;
    run(
        &wf,
        dr,
        world::day(-35),
        json!({"command": "attest_contraception", "patient": FRP,
        "attestation": {"start": world::day(-35), "methods": ["iud", "male_condom"]}}),
    )
    .await?;
    run(&wf, dr, world::day(-12), json!({"command": "record_pregnancy_test", "patient": FRP,
        "test": {"date": world::day(-12), "specimen": "serum", "sensitivity_miu_ml": 25, "result": "negative"}})).await?;
    for (on, anc, platelets, creatinine) in [
        (-30, 1.8, 160.0, 0.8),
        (-15, 2.1, 175.0, 0.9),
        (-1, 2.6, 190.0, 0.85),
    ] {
        for (code, value, unit) in [
            ("anc", anc, "10*9/L"),
            ("platelets", platelets, "10*9/L"),
            ("creatinine", creatinine, "mg/dL"),
        ] {
            run(
                &wf,
                dr,
                world::day(-1),
                json!({"command": "record_lab", "patient": FRP,
                "lab": {"code": code, "value": value, "unit": unit, "date": world::day(on)}}),
            )
            .await?;
        }
    }
    let hash = identity::hash_password(PASSWORD.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    ensure!(
        store
            .create_account(&Account {
                login: FRP.into(),
                role: AccountRole::Patient,
                subject: Some(FRP.into()),
                organisation: None,
                password_hash: Some(hash),
                disabled: false,
                created_at_ms: identity::now_ms(),
            })
            .await?
    );
    Ok(())
}

struct Site {
    store: Arc<dyn Store>,
    world: World,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn site() -> Result<Site> {
    let (store, dir) = lenaguard_tests_storage::sqlite().await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let w = world::world(store.clone()).await?;
    frp_patient(store.clone()).await?;
    let (base, stop) = world::start(world::settings(store.clone(), ApiSettings::default())).await?;
    Ok(Site {
        store,
        world: w,
        base,
        _stop: stop,
        _dir: dir,
    })
}

async fn get(base: &str, cookie: &str, path: &str) -> Result<reqwest::Response> {
    Ok(http()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await?)
}

/// A PDF answer: its headers checked, its bytes.
async fn pdf(base: &str, cookie: &str, path: &str) -> Result<Vec<u8>> {
    let res = get(base, cookie, path).await?;
    ensure!(res.status().as_u16() == 200, "{path}: {}", res.status());
    let h = res.headers();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        r#"inline; filename="lenaguard-handout.pdf""#
    );
    assert_eq!(h["cache-control"], "no-store");
    let body = res.bytes().await?.to_vec();
    ensure!(body.starts_with(b"%PDF-"), "not a PDF");
    Ok(body)
}

/// The text of a PDF by `pdftotext`, whitespace collapsed; `None` when the tool is missing and not required.
fn pdf_text(pdf: &[u8]) -> Result<Option<String>> {
    let required = std::env::var("LENAGUARD_BROWSER").as_deref() == Ok("required");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("handout.pdf");
    std::fs::write(&file, pdf)?;
    match std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) => {
            ensure!(
                out.status.success(),
                "pdftotext failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout)?;
            Ok(Some(text.split_whitespace().collect::<Vec<_>>().join(" ")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if required {
                bail!(
                    "LENAGUARD_BROWSER=required, but pdftotext is missing (apt-get install poppler-utils)"
                );
            }
            println!(
                "NOTICE: pdftotext is missing: the handout's text was not checked (apt-get install poppler-utils)"
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The text between `open` (the first after `from`) and the next `close`.
fn between<'a>(html: &'a str, from: &str, open: &str, close: &str) -> Option<&'a str> {
    let start = html.find(from)?;
    let rest = &html[start..];
    let at = rest.find(open)? + open.len();
    let end = rest[at..].find(close)?;
    Some(&rest[at..at + end])
}

/// Every match of `<open>...<close>` in `html`, tags inside removed.
fn all_between(html: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        let tail = &rest[at + open.len()..];
        let Some(end) = tail.find(close) else { break };
        out.push(strip(&tail[..end]));
        rest = &tail[end..];
    }
    out
}

fn strip(html: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for c in html.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&#39;", "'").replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_prints_her_handout_with_what_the_pages_show() -> Result<()> {
    let s = site().await?;
    // No session: to the login page, and back afterwards.
    for path in [
        "/app/me/handout.pdf".to_string(),
        format!("/app/patients/{FRP}/handout.pdf"),
    ] {
        let res = http().get(format!("{}{path}", s.base)).send().await?;
        assert_eq!(res.status().as_u16(), 303, "{path}");
        assert_eq!(
            res.headers()["location"].to_str()?,
            format!("/app/login?next={path}")
        );
    }

    let pat = form_login(&s.base, FRP).await?;
    let page = get(&s.base, &pat, "/app/me").await?.text().await?;
    assert!(page.contains(r#"href="/app/me/handout.pdf""#), "{page}");
    let next_test = strip(between(&page, r#"id="next-test""#, ">", "</p>").context("next test")?);
    let dates = all_between(&page, r#"<span class="date">"#, "</span>");
    ensure!(!dates.is_empty(), "the page shows days: {page}");
    let handout = pdf(&s.base, &pat, "/app/me/handout.pdf").await?;
    if let Ok(path) = std::env::var("LENAGUARD_HANDOUT_SAMPLE") {
        std::fs::write(path, &handout)?;
    }
    if let Some(text) = pdf_text(&handout)? {
        assert!(text.contains(&next_test), "{next_test:?} in {text}");
        for d in &dates {
            assert!(text.contains(d.as_str()), "{d:?} in {text}");
        }
        // The 28 days reach beyond the page's two weeks.
        let last = jiff::civil::Date::strftime(&world::day(27), "%a %-d %b %Y").to_string();
        assert!(text.contains(&last), "{last} in {text}");
        for rule in [
            "Pregnancy tests: two negative tests",
            "Birth control: use 2 methods at the same time",
            "Do not donate blood during treatment and for 4 weeks after you stop",
            "Do not share your capsules",
            "Sources",
            "program.blood_donation",
            &format!("Generated on {}", DAY.strftime("%a %-d %b %Y")),
        ] {
            assert!(text.contains(rule), "{rule:?} in {text}");
        }
        assert!(!text.contains("condom every time"), "{text}");
    }
    // The patient's own file only: another patient's handout is a prescriber's page.
    let res = get(&s.base, &pat, &format!("/app/patients/{FRP}/handout.pdf")).await?;
    assert_eq!(res.status().as_u16(), 403);
    let rows = s.store.access_rows(0, 10_000).await?;
    assert!(rows.iter().any(|r| r.event.action == "web.me.handout"
        && r.event.status == 200
        && r.event.patient.as_deref() == Some(FRP)));
    assert!(rows.iter().any(|r| r.event.action == "web.patients.handout"
        && r.event.status == 403
        && r.event.login == FRP));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prescriber_prints_a_handout_and_sees_the_lab_trends() -> Result<()> {
    let s = site().await?;
    let other = s.world.other.patient.clone();
    let dr = form_login(&s.base, "dr-a").await?;
    let page = get(&s.base, &dr, &format!("/app/patients/{FRP}"))
        .await?
        .text()
        .await?;
    assert!(
        page.contains(&format!(r#"href="/app/patients/{FRP}/handout.pdf""#)),
        "{page}"
    );
    // The lab trends: labelled images with their values as tables, no inline style. The store keeps no body
    // weight, so the engine has no Cockcroft-Gault clearance and the chart says so instead of drawing one.
    for id in ["chart-anc", "chart-platelets"] {
        assert!(
            page.contains(&format!(r#"aria-labelledby="{id}-title {id}-desc""#)),
            "{id}: {page}"
        );
    }
    assert!(page.contains("<td>2,600</td>"), "{page}");
    assert!(page.contains("Resume at"), "{page}");
    assert!(
        page.contains("Cockcroft-Gault needs the body weight, which is not on file."),
        "{page}"
    );
    assert!(!page.contains("style="), "{page}");
    let days = all_between(
        between(&page, "The next 28 days", "<tbody>", "</tbody>").context("calendar")?,
        "<tr><td>",
        "</td>",
    );
    ensure!(!days.is_empty(), "the calendar has days");
    let handout = pdf(&s.base, &dr, &format!("/app/patients/{FRP}/handout.pdf")).await?;
    if let Some(text) = pdf_text(&handout)? {
        for d in &days {
            assert!(text.contains(d.as_str()), "{d:?} in {text}");
        }
        assert!(text.contains("Do not share your capsules"), "{text}");
    }
    // A male patient's handout has his rules, not those about pregnancy.
    let male = pdf(
        &s.base,
        &dr,
        &format!("/app/patients/{}/handout.pdf", s.world.own.patient),
    )
    .await?;
    if let Some(text) = pdf_text(&male)? {
        assert!(text.contains("You do not need pregnancy tests."), "{text}");
        assert!(text.contains("condom every time"), "{text}");
        assert!(!text.contains("Birth control"), "{text}");
    }

    // Another prescriber's patient: refused, and the refusal is in the access log.
    let res = get(&s.base, &dr, &format!("/app/patients/{other}/handout.pdf")).await?;
    assert_eq!(res.status().as_u16(), 403);
    assert!(
        res.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    // A pharmacist has no handout pages.
    let ph = form_login(&s.base, "ph-a").await?;
    let res = get(&s.base, &ph, &format!("/app/patients/{FRP}/handout.pdf")).await?;
    assert_eq!(res.status().as_u16(), 403);
    let res = get(&s.base, &ph, "/app/me/handout.pdf").await?;
    assert_eq!(res.status().as_u16(), 403);
    // An unknown patient is refused or not found, never a server error.
    let res = get(&s.base, &dr, "/app/patients/%3Cnobody%3E/handout.pdf").await?;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );

    let rows = s.store.access_rows(0, 10_000).await?;
    assert!(rows.iter().any(|r| r.event.action == "web.patients.handout"
        && r.event.status == 403
        && r.event.login == "dr-a"
        && r.event.patient.as_deref() == Some(other.as_str())));
    assert!(rows.iter().any(|r| r.event.action == "web.patients.handout"
        && r.event.status == 200
        && r.event.patient.as_deref() == Some(FRP)));
    assert!(rows.iter().any(|r| r.event.action == "web.patients.handout"
        && r.event.status == 403
        && r.event.login == "ph-a"));
    Ok(())
}
