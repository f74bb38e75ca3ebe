//! The patient's page, made for a phone first: my next test, my authorization, my calendar in plain words and
//! my survey (answered as myself: the workflow accepts `patient:<id>` for that command and that patient only).

use super::html::{Viewer, day, e, hidden, page};
use super::prescriber::{ahead, next_test, open_authorization};
use super::{FormData, WebResult, admit, form_caller, form_key, html_response, seen, signed_in};
use crate::api::ApiState;
use crate::api::identity::Caller;
use crate::api::patients::file;
use crate::api::program;
use crate::api::routes::Object;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use lenaguard_domain::calendar::EventKind;
use lenaguard_storage::accounts::AccountRole;
use lenaguard_storage::command::{Command, SurveySubmission};
use lenaguard_storage::records::AuthorizationStatus;
use lenaguard_storage::{Outcome, Reason, survey};
use std::collections::BTreeMap;
use std::fmt::Write;

const PATIENT: &[AccountRole] = &[AccountRole::Patient];

#[derive(Debug, Default)]
struct SurveyForm {
    key: Option<String>,
    answers: BTreeMap<String, bool>,
    missing: Vec<String>,
    refused: Vec<Reason>,
}

/// An event in plain words. Before the first supply (`supplied` false) the dose and rest days are only the plan:
/// a patient without capsules, or not yet authorized, must not read "take your lenalidomide".
pub fn plain(kind: EventKind, supplied: bool) -> &'static str {
    match kind {
        EventKind::Dose if !supplied => "Planned lenalidomide day",
        EventKind::Rest if !supplied => "Planned rest day",
        EventKind::Dose => "Take your lenalidomide",
        EventKind::Rest => "Rest day: no lenalidomide",
        EventKind::Held => "Do not take lenalidomide today (paused by your doctor)",
        EventKind::Dexamethasone => "Take your dexamethasone",
        EventKind::Lab => "Blood test",
        EventKind::PregnancyTest => "Pregnancy test",
        EventKind::Survey => "Answer your survey",
        EventKind::Deadline => "Deadline",
    }
}

/// Said above the days before the first supply.
pub const NOT_STARTED: &str = "Your treatment has not started yet: the days below are the plan. Take lenalidomide only once the pharmacy has given you your capsules, and as your doctor tells you.";

async fn render(
    state: &ApiState,
    caller: &Caller,
    csrf: &str,
    done: bool,
    form: SurveyForm,
) -> WebResult {
    let id = caller.subject().to_string();
    let patient = admit(state, caller, PATIENT, "web.me", Object::Patient, &id).await?;
    let f = file(state, &id).await?;
    let today = state.today();
    let mut body = String::new();
    if done {
        body.push_str(r#"<p class="done" role="status" id="survey-done">Thank you: your answers were recorded.</p>"#);
    }
    body.push_str("<h2>My next test</h2>");
    match next_test(state, &f, 60).await? {
        Some(d) if d == today => {
            body.push_str(r#"<p id="next-test">Your pregnancy test is <strong>today</strong>.</p>"#)
        }
        Some(d) => {
            let _ = write!(
                body,
                r#"<p id="next-test">Your next pregnancy test is on <strong>{}</strong>.</p>"#,
                e(day(d))
            );
        }
        None if f.patient.category.can_get_pregnant() => body.push_str(
            r#"<p id="next-test">No pregnancy test is planned in the next two months.</p>"#,
        ),
        None => body.push_str(r#"<p id="next-test">You do not need pregnancy tests.</p>"#),
    }
    body.push_str("<h2>My prescription</h2>");
    let used = f
        .authorizations
        .iter()
        .filter(|a| a.status == AuthorizationStatus::Used)
        .max_by_key(|a| a.issued_on);
    match (open_authorization(&f), used) {
        (Some(a), _) if a.valid_through >= today => {
            let _ = write!(
                body,
                r#"<p id="authorization">Your prescription is authorized. The pharmacy can give you your capsules until <strong>{}</strong>.</p>"#,
                e(day(a.valid_through))
            );
        }
        (Some(_), _) => body.push_str(r#"<p id="authorization">Your authorization has lapsed. Your doctor will ask for a new one.</p>"#),
        (None, Some(a)) => {
            let _ = write!(
                body,
                r#"<p id="authorization">Your last supply was given against authorization {}. Your doctor asks for the next one.</p>"#,
                e(&a.number)
            );
        }
        (None, None) => body.push_str(r#"<p id="authorization">Your prescription is not authorized yet.</p>"#),
    }
    body.push_str("<h2>My survey</h2>");
    if !form.refused.is_empty() {
        body.push_str(r#"<div class="verdict no" role="alert"><p>Your answers mean you cannot receive lenalidomide now:</p><ul class="steps">"#);
        for r in &form.refused {
            let _ = write!(
                body,
                r#"<li>{}<br><span class="fix">{}</span></li>"#,
                e(&r.what),
                e(&r.fix)
            );
        }
        body.push_str("</ul></div>");
    }
    let key = match form.key {
        Some(k) => k,
        None => form_key()?,
    };
    let _ = write!(
        body,
        r#"<form method="post" action="/app/me/survey" id="survey-form" novalidate>{}{}"#,
        hidden("csrf", csrf),
        hidden("key", key)
    );
    for q in survey::questions(f.patient.category) {
        let answer = form.answers.get(q.id).copied();
        let missing = form.missing.iter().any(|m| m == q.id);
        let err_id = format!("{}-error", q.id);
        let _ = write!(
            body,
            r#"<fieldset{described}><legend>{text}</legend>{err}
<label><input type="radio" name="{id}" value="yes" id="{id}-yes"{yes}> Yes</label>
<label><input type="radio" name="{id}" value="no" id="{id}-no"{no}> No</label></fieldset>"#,
            described = if missing {
                format!(r#" aria-describedby="{}""#, e(&err_id))
            } else {
                String::new()
            },
            text = e(q.text),
            err = if missing {
                format!(
                    r#"<span class="error" id="{}">Answer this question.</span>"#,
                    e(&err_id)
                )
            } else {
                String::new()
            },
            id = e(q.id),
            yes = if answer == Some(true) { " checked" } else { "" },
            no = if answer == Some(false) {
                " checked"
            } else {
                ""
            },
        );
    }
    body.push_str(r#"<button type="submit" id="send-survey">Send my answers</button></form>"#);
    body.push_str(r#"<h2>My next two weeks</h2>"#);
    let supplied = !f.dispenses.is_empty();
    if !supplied {
        let _ = write!(
            body,
            r#"<p class="notice" id="not-started">{}</p>"#,
            e(NOT_STARTED)
        );
    }
    body.push_str(r#"<ol class="days">"#);
    let cal = ahead(state, &f, 14)?;
    for (label, items) in super::handout::days(&cal, today, supplied) {
        let _ = write!(
            body,
            r#"<li><span class="date">{}</span>{}</li>"#,
            e(label),
            e(items)
        );
    }
    body.push_str("</ol>");
    body.push_str(
        r#"<p><a href="/app/me/handout.pdf" id="handout">My handout to print (PDF)</a></p>"#,
    );
    seen(state, caller, "web.me", patient).await?;
    let viewer = Viewer { caller, csrf };
    let status = super::forms::form_status(!form.missing.is_empty(), !form.refused.is_empty());
    Ok(html_response(
        status,
        page("My treatment", Some(&viewer), &body),
    ))
}

pub async fn me(
    State(state): State<ApiState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/me").await?;
    let done = q.get("done").map(String::as_str) == Some("survey");
    render(&state, &caller, &csrf, done, SurveyForm::default()).await
}

pub async fn survey(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let form = FormData::parse(&body);
    let caller = form_caller(&state, &headers, &form, "/app/me", "/app/me/survey").await?;
    let id = caller.subject().to_string();
    admit(
        &state,
        &caller,
        PATIENT,
        "web.me.survey",
        Object::Patient,
        &id,
    )
    .await?;
    let csrf = form.get("csrf").unwrap_or("").to_string();
    let f = file(&state, &id).await?;
    let mut sf = SurveyForm {
        key: form.get("key").map(str::to_string),
        ..SurveyForm::default()
    };
    for q in survey::questions(f.patient.category) {
        match form.get(q.id) {
            Some("yes") => {
                sf.answers.insert(q.id.to_string(), true);
            }
            Some("no") => {
                sf.answers.insert(q.id.to_string(), false);
            }
            _ => sf.missing.push(q.id.to_string()),
        }
    }
    if !sf.missing.is_empty() {
        return render(&state, &caller, &csrf, false, sf).await;
    }
    let out = program::run(
        &state,
        &caller,
        form.get("key"),
        Command::SubmitSurvey {
            patient: id,
            survey: SurveySubmission {
                date: state.today(),
                questionnaire: survey::QUESTIONNAIRE.to_string(),
                answers: sf.answers.clone(),
            },
        },
    )
    .await?;
    match out.outcome {
        Outcome::Accepted { .. } => Ok(Redirect::to("/app/me?done=survey").into_response()),
        Outcome::Refused { reasons } => {
            sf.refused = reasons;
            render(&state, &caller, &csrf, false, sf).await
        }
    }
}
