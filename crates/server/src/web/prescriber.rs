//! The prescriber's pages: my patients with their status at a glance, and one patient's regimen, today's action
//! and why, REMS eligibility with every missing step, and the next 28 days.

use super::forms::Posted;
use super::html::{Viewer, day, e, page};
use super::{WebResult, admit, html_response, only, prescribe, seen, signed_in};
use crate::api::ApiState;
use crate::api::identity::Caller;
use crate::api::patients::{eligibility_of, file, judged, snapshot};
use crate::api::problem::ApiError;
use crate::api::routes::Object;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_domain::assess;
use lenaguard_domain::assessment::Action;
use lenaguard_domain::calendar::{Calendar, EventKind, calendar};
use lenaguard_domain::snapshot::TreatmentStatus;
use lenaguard_domain::units::Analyte;
use lenaguard_storage::PatientFile;
use lenaguard_storage::accounts::{AccountRole, PatientScope};
use lenaguard_storage::records::AuthorizationStatus;
use std::collections::BTreeMap;
use std::fmt::Write;

const READERS: &[AccountRole] = &[
    AccountRole::Prescriber,
    AccountRole::ProgramStaff,
    AccountRole::Auditor,
];

pub fn status_name(s: TreatmentStatus) -> &'static str {
    match s {
        TreatmentStatus::NotStarted => "not started",
        TreatmentStatus::Active => "on treatment",
        TreatmentStatus::Interrupted => "interrupted",
        TreatmentStatus::Discontinued => "discontinued",
    }
}

/// The calendar of `days` days from today.
pub fn ahead(state: &ApiState, f: &PatientFile, days: i64) -> Result<Calendar, ApiError> {
    let snap = snapshot(f)?;
    let today = state.today();
    let to = today.checked_add((days - 1).days()).unwrap_or(today);
    judged(calendar(&snap, &state.pack, today, today, to))
}

/// The day the next pregnancy test is due, within `days` days: a test the program is missing now (from the
/// eligibility report, on the first day it may be done) or the next one on the calendar, whichever comes first.
/// The calendar alone does not say it: a test due before the first prescription is on it only as a deadline.
pub async fn next_test(
    state: &ApiState,
    f: &PatientFile,
    days: i64,
) -> Result<Option<Date>, ApiError> {
    if !f.patient.category.can_get_pregnant() {
        return Ok(None);
    }
    let today = state.today();
    let missing = eligibility_of(state, f, None)
        .await?
        .missing
        .iter()
        .filter(|m| m.code.starts_with("pregnancy_test.") && !m.final_stop)
        .map(|m| m.earliest.map_or(today, |d| d.max(today)))
        .min();
    let planned = ahead(state, f, days)?
        .events
        .iter()
        .find(|ev| ev.kind == EventKind::PregnancyTest)
        .map(|ev| ev.date);
    Ok(missing.into_iter().chain(planned).min())
}

/// The latest ANC and platelet count on file, as recorded (value, unit, date), or a dash.
pub fn last_counts(f: &PatientFile) -> Result<String, ApiError> {
    let snap = snapshot(f)?;
    let mut parts = Vec::new();
    for analyte in [Analyte::Anc, Analyte::Platelets] {
        if let Some(l) = snap
            .labs
            .iter()
            .filter(|l| l.code == analyte)
            .max_by_key(|l| l.date)
        {
            parts.push(format!(
                "{} {} {} <span class=\"muted\">({})</span>",
                e(analyte.label()),
                e(l.value),
                e(&l.unit),
                e(day(l.date))
            ));
        }
    }
    Ok(if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join("<br>")
    })
}

/// The authorization not yet dispensed against that lasts longest, if any.
pub fn open_authorization(
    f: &PatientFile,
) -> Option<&lenaguard_storage::records::AuthorizationRow> {
    f.authorizations
        .iter()
        .filter(|a| a.status == AuthorizationStatus::Active)
        .max_by_key(|a| a.valid_through)
}

pub async fn list(
    State(state): State<ApiState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/patients").await?;
    only(&caller, &[AccountRole::Prescriber])?;
    let after = super::list_after(&q);
    let mut rows = state
        .store
        .patient_list(
            &PatientScope::Prescriber(caller.subject().to_string()),
            &after,
            super::PAGE + 1,
        )
        .await
        .map_err(ApiError::from)?;
    let next = super::next_page(&mut rows, |p| p.id.as_str());
    let today = state.today();
    let mut table = String::new();
    for p in &rows {
        let f = file(&state, &p.id).await?;
        let test = next_test(&state, &f, 35)
            .await?
            .map(|d| e(day(d)))
            .unwrap_or_else(|| "—".into());
        let auth = match open_authorization(&f) {
            Some(a) if a.valid_through < today => format!("lapsed {}", e(day(a.valid_through))),
            Some(a) => format!("until {}", e(day(a.valid_through))),
            None => "none open".into(),
        };
        let counts = last_counts(&f)?;
        let _ = write!(
            table,
            r#"<tr><td><a href="/app/patients/{id}">{id}</a></td><td>{cat}</td><td>{status}</td><td>{test}</td><td>{auth}</td><td>{counts}</td></tr>"#,
            id = e(&p.id),
            cat = e(p.category),
            status = e(status_name(p.status)),
        );
    }
    for p in &rows {
        seen(&state, &caller, "web.patients.list", Some(p.id.clone())).await?;
    }
    let mut body = String::from(
        r#"<p><a class="button" href="/app/patients/new" id="enroll-link">Enroll a patient</a></p>"#,
    );
    body += &if rows.is_empty() && after.is_empty() {
        r#"<p class="notice">You have no enrolled patients.</p>"#.to_string()
    } else {
        format!(
            r#"<table class="stack"><thead><tr><th>Patient</th><th>Category</th><th>Treatment</th><th>Next pregnancy test</th><th>Authorization</th><th>Last counts</th></tr></thead><tbody>{table}</tbody></table>"#
        )
    };
    body += &super::pager("/app/patients", &after, next.as_deref());
    let viewer = Viewer {
        caller: &caller,
        csrf: &csrf,
    };
    Ok(html_response(
        StatusCode::OK,
        page("My patients", Some(&viewer), &body),
    ))
}

/// Today's action in plain words.
pub fn action_words(a: &Action) -> String {
    match a {
        Action::Start { schedule } => format!("Start: {schedule}"),
        Action::Continue { schedule } => format!("Continue: {schedule}"),
        Action::Defer { until } => format!("Do not start yet; start when {until}"),
        Action::Interrupt { until, then } => match then {
            Some(s) => format!("Interrupt now; resume when {until}, at {s}"),
            None => format!("Interrupt now; resume when {until}"),
        },
        Action::StayInterrupted { until, then } => match then {
            Some(s) => format!("Stay interrupted; resume when {until}, at {s}"),
            None => format!("Stay interrupted; resume when {until}"),
        },
        Action::Resume { schedule } => format!("Resume: {schedule}"),
        Action::Review { why } => format!("Prescriber review: {why}"),
        Action::Discontinue { why } => format!("Discontinue: {why}"),
        Action::Blocked { why } => format!("Cannot decide: {why}"),
    }
}

/// The calendar's days as a table: one row per day, its events.
pub fn calendar_table(cal: &Calendar) -> String {
    let mut out = String::from(
        r#"<table class="stack"><thead><tr><th>Day</th><th>What</th></tr></thead><tbody>"#,
    );
    let mut i = 0;
    while i < cal.events.len() {
        let d = cal.events[i].date;
        let mut what = String::new();
        while i < cal.events.len() && cal.events[i].date == d {
            let ev = &cal.events[i];
            let _ = write!(what, "<div>{}", e(&ev.title));
            if !ev.detail.is_empty() {
                let _ = write!(what, r#" <span class="muted">{}</span>"#, e(&ev.detail));
            }
            what.push_str("</div>");
            i += 1;
        }
        let _ = write!(out, "<tr><td>{}</td><td>{what}</td></tr>", e(day(d)));
    }
    out.push_str("</tbody></table>");
    out
}

pub async fn patient(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, &format!("/app/patients/{id}")).await?;
    render(
        &state,
        &caller,
        &csrf,
        &id,
        q.get("done").map(String::as_str),
        None,
    )
    .await
}

/// The patient page: the facts, today's action and why, REMS eligibility with every missing step (each linked to
/// the form that records it), the next 28 days, and for the prescriber the prescriptions and the forms. `done`
/// names a form just recorded; `posted` is a form sent back with its errors or the program's refusal.
pub async fn render(
    state: &ApiState,
    caller: &Caller,
    csrf: &str,
    id: &str,
    done: Option<&str>,
    posted: Option<&Posted>,
) -> WebResult {
    let patient = admit(
        state,
        caller,
        READERS,
        "web.patients.read",
        Object::Patient,
        id,
    )
    .await?;
    let f = file(state, id).await?;
    let snap = snapshot(&f)?;
    let today = state.today();
    let assessment = judged(assess(&snap, &state.pack, today))?;
    let report = eligibility_of(state, &f, None).await?;
    let cal = ahead(state, &f, 28)?;
    let prescriber = caller.role == AccountRole::Prescriber;
    let mut body = String::new();
    if let Some(notice) = done.and_then(prescribe::done_notice) {
        body.push_str(&notice);
    }
    let _ = write!(
        body,
        r#"<dl class="facts"><dt>Category</dt><dd>{cat}</dd><dt>Regimen</dt><dd>{reg}</dd><dt>Treatment</dt><dd>{status}</dd><dt>Next pregnancy test</dt><dd>{test}</dd><dt>Authorization</dt><dd>{auth}</dd></dl>"#,
        cat = e(f.patient.category),
        reg = e(&assessment.regimen_name),
        status = e(status_name(f.patient.status)),
        test = next_test(state, &f, 35)
            .await?
            .map(|d| e(day(d)))
            .unwrap_or_else(|| "—".into()),
        auth = match open_authorization(&f) {
            Some(a) => format!("{} valid through {}", e(&a.number), e(day(a.valid_through))),
            None => "none open".into(),
        },
    );
    let _ = write!(
        body,
        r#"<h2>Today ({today})</h2><p class="verdict {cls}" id="action"><strong>{action}</strong></p><p>{summary}</p>"#,
        today = e(day(today)),
        cls = match assessment.action {
            Action::Start { .. } | Action::Continue { .. } | Action::Resume { .. } => "yes",
            _ => "no",
        },
        action = e(action_words(&assessment.action)),
        summary = e(&assessment.summary),
    );
    if !assessment.findings.is_empty() {
        body.push_str(r#"<h3>Why</h3><ul class="steps">"#);
        for finding in &assessment.findings {
            let _ = write!(
                body,
                "<li>{}{}</li>",
                e(&finding.message),
                if finding.blocking {
                    " <strong>(blocking)</strong>"
                } else {
                    ""
                }
            );
        }
        body.push_str("</ul>");
    }
    body.push_str(&super::charts::lab_trends(&snap, &state.pack, today));
    body.push_str("<h2>REMS eligibility</h2>");
    if report.eligible {
        body.push_str(r#"<p class="verdict yes" id="eligibility"><strong>Eligible</strong>: nothing is missing.</p>"#);
    } else {
        body.push_str(r#"<p class="verdict no" id="eligibility"><strong>Not eligible yet</strong>: every missing step:</p><ul class="steps">"#);
        for m in &report.missing {
            let _ = write!(
                body,
                r#"<li><strong>{what}</strong><br><span class="fix">Fix: {fix}.</span>{from}{by}{link}</li>"#,
                what = e(&m.what),
                fix = e(m.fix.trim_end_matches('.')),
                link = match prescribe::fix_anchor(&m.code) {
                    Some(a) if prescriber => format!(r##" <a href="#{a}">Record it</a>"##),
                    _ => String::new(),
                },
                from = m
                    .earliest
                    .map(|d| format!(" From {}.", e(day(d))))
                    .unwrap_or_default(),
                by = m
                    .latest
                    .map(|d| format!(" Last day: {}.", e(day(d))))
                    .unwrap_or_default(),
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>The next 28 days</h2>");
    body.push_str(&calendar_table(&cal));
    body.push_str(&format!(
        r#"<p><a href="/app/patients/{}/handout.pdf" id="handout">The patient's handout to print (PDF)</a></p>"#,
        e(super::url_encode(id))
    ));
    if prescriber {
        body.push_str(&prescribe::sections(state, &f, &assessment.action, csrf, posted).await?);
    }
    seen(state, caller, "web.patients.read", patient).await?;
    let viewer = Viewer { caller, csrf };
    let status = Posted::status(posted);
    Ok(html_response(
        status,
        page(&format!("Patient {id}"), Some(&viewer), &body),
    ))
}
