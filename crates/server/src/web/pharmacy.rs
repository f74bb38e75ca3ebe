//! The pharmacist's pages: the authorizations routed to my pharmacy and not yet dispensed, and for one of them
//! the dispense check (a clear yes, or every missing step with its fix and last day), the confirmation request
//! and the dispense with the counselling checklist.

use super::html::{Viewer, day, e, hidden, page};
use super::{
    FormData, WebError, WebResult, admit, form_caller, form_key, html_response, only, seen,
    signed_in,
};
use crate::api::patients::{DispenseCheck, check_dispense, file};
use crate::api::program;
use crate::api::routes::Object;
use crate::api::{ApiState, identity::Caller};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use lenaguard_storage::accounts::{AccountRole, PatientScope};
use lenaguard_storage::command::{Command, Counselling};
use lenaguard_storage::records::AuthorizationStatus;
use lenaguard_storage::{Outcome, PatientFile, Reason};
use std::collections::BTreeMap;
use std::fmt::Write;

const PHARMACIST: &[AccountRole] = &[AccountRole::Pharmacist];

pub async fn list(
    State(state): State<ApiState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/pharmacy").await?;
    only(&caller, PHARMACIST)?;
    let org = caller.organisation.clone().unwrap_or_default();
    let after = super::list_after(&q);
    let mut patients = state
        .store
        .patient_list(
            &PatientScope::Pharmacy(org.clone()),
            &after,
            super::PAGE + 1,
        )
        .await
        .map_err(crate::api::problem::ApiError::from)?;
    let next = super::next_page(&mut patients, |p| p.id.as_str());
    let today = state.today();
    let mut rows = String::new();
    let mut shown = Vec::new();
    for p in patients {
        let f = file(&state, &p.id).await?;
        for a in f
            .authorizations
            .iter()
            .filter(|a| a.status == AuthorizationStatus::Active)
        {
            let routed_here = f
                .prescriptions
                .iter()
                .any(|rx| rx.id == a.prescription && rx.pharmacy.as_deref() == Some(org.as_str()));
            if !routed_here {
                continue;
            }
            let lapsed = if a.valid_through < today {
                r#" <strong class="error">lapsed</strong>"#
            } else {
                ""
            };
            let _ = write!(
                rows,
                r#"<tr><td><a href="/app/pharmacy/{n}">{n}</a></td><td>{patient}</td><td>{rx}</td><td>{through}{lapsed}</td></tr>"#,
                n = e(&a.number),
                patient = e(&a.patient),
                rx = e(&a.prescription),
                through = e(day(a.valid_through)),
            );
            if !shown.contains(&a.patient) {
                shown.push(a.patient.clone());
            }
        }
    }
    for patient in shown.iter() {
        seen(&state, &caller, "web.pharmacy.list", Some(patient.clone())).await?;
    }
    let mut body = if rows.is_empty() && after.is_empty() && next.is_none() {
        r#"<p class="notice">No authorization routed to your pharmacy is waiting to be dispensed.</p>"#
            .to_string()
    } else if rows.is_empty() {
        r#"<p class="notice">No authorization is waiting for the patients of this page.</p>"#
            .to_string()
    } else {
        format!(
            r#"<p>Authorizations routed to {org} and not yet dispensed:</p>
<table class="stack"><thead><tr><th>Authorization</th><th>Patient</th><th>Prescription</th><th>Valid through</th></tr></thead><tbody>{rows}</tbody></table>"#,
            org = e(&org)
        )
    };
    body += &super::pager("/app/pharmacy", &after, next.as_deref());
    let viewer = Viewer {
        caller: &caller,
        csrf: &csrf,
    };
    Ok(html_response(
        StatusCode::OK,
        page("To dispense", Some(&viewer), &body),
    ))
}

/// The last day a missing step can be fixed, from the eligibility report behind the check.
fn last_day(check: &DispenseCheck, r: &Reason) -> Option<jiff::civil::Date> {
    check
        .eligibility
        .missing
        .iter()
        .find(|m| m.code == r.code)
        .and_then(|m| m.latest)
}

fn reasons_html(reasons: &[Reason], last: impl Fn(&Reason) -> Option<jiff::civil::Date>) -> String {
    let mut out = String::from(r#"<ul class="steps">"#);
    for r in reasons {
        let by = last(r)
            .map(|d| format!(r#" <span class="by">Last day: {}.</span>"#, e(day(d))))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<li><strong>{what}</strong><br><span class="fix">Fix: {fix}.</span>{by}</li>"#,
            what = e(&r.what),
            fix = e(r.fix.trim_end_matches('.')),
        );
    }
    out.push_str("</ul>");
    out
}

/// Errors of the dispense form, by field.
#[derive(Debug, Default)]
struct DispenseForm {
    key: Option<String>,
    errors: BTreeMap<&'static str, &'static str>,
    checklist: bool,
    guide: bool,
    refused: Vec<Reason>,
}

async fn render(
    state: &ApiState,
    caller: &Caller,
    csrf: &str,
    authorization: &str,
    done: Option<&str>,
    form: DispenseForm,
) -> WebResult {
    let patient = admit(
        state,
        caller,
        PHARMACIST,
        "web.pharmacy.check",
        Object::Authorization,
        authorization,
    )
    .await?;
    let check = check_dispense(state, authorization).await?;
    let f: PatientFile = file(state, &check.patient).await?;
    let today = state.today();
    let here = format!("/app/pharmacy/{authorization}");
    let mut body = String::new();
    match done {
        Some("confirmed") => {
            body.push_str(r#"<p class="done" role="status" id="done">Confirmation obtained.</p>"#)
        }
        Some("dispensed") => body.push_str(
            r#"<p class="done" role="status" id="done">Dispensed. The dispense is recorded.</p>"#,
        ),
        _ => {}
    }
    let rx = f.prescriptions.iter().find(|p| p.id == check.prescription);
    let _ = write!(
        body,
        r#"<dl class="facts"><dt>Patient</dt><dd>{patient}</dd><dt>Prescription</dt><dd>{rx}</dd><dt>Authorization</dt><dd>{a}</dd><dt>Valid through</dt><dd>{through}</dd>{sched}<dt>Checked on</dt><dd>{on}</dd></dl>"#,
        patient = e(&check.patient),
        rx = e(&check.prescription),
        a = e(&check.authorization),
        through = e(day(check.valid_through)),
        sched = rx
            .map(|p| format!(
                "<dt>Supply</dt><dd>{} capsules, {} days ({})</dd>",
                p.quantity,
                p.days_supply,
                e(p.schedule)
            ))
            .unwrap_or_default(),
        on = e(day(check.on)),
    );
    let dispensed = f
        .dispenses
        .iter()
        .find(|d| d.authorization == check.authorization);
    if let Some(d) = dispensed {
        let _ = write!(
            body,
            r#"<p class="notice">Dispensed on {date} by {by}: {q} capsules for {days} days.</p>"#,
            date = e(day(d.date)),
            by = e(&d.pharmacist),
            q = d.quantity,
            days = d.days_supply
        );
    }
    if dispensed.is_some() {
        body.push_str(r#"<p class="verdict no" id="verdict"><strong>ALREADY DISPENSED</strong>: one dispense per authorization; the prescriber obtains a new one for the next supply.</p>"#);
    } else if check.dispensable {
        body.push_str(r#"<p class="verdict yes" id="verdict"><strong>YES</strong>: you may dispense against this authorization today.</p>"#);
    } else {
        let _ = write!(
            body,
            r#"<div class="verdict no" id="verdict"><p><strong>NOT YET</strong>: {n} step{s} missing before this can be dispensed.</p></div>{list}"#,
            n = check.missing.len(),
            s = if check.missing.len() == 1 {
                " is"
            } else {
                "s are"
            },
            list = reasons_html(&check.missing, |r| last_day(&check, r)),
        );
    }
    if !form.refused.is_empty() {
        let _ = write!(
            body,
            r#"<div role="alert"><h2>The program refused</h2>{}</div>"#,
            reasons_html(&form.refused, |_| None)
        );
    }
    let confirmation = f
        .confirmations
        .iter()
        .rev()
        .find(|c| c.authorization == check.authorization && c.valid_through >= today);
    let open = dispensed.is_none()
        && check.valid_through >= today
        && f.authorizations
            .iter()
            .any(|a| a.number == check.authorization && a.status == AuthorizationStatus::Active);
    if open {
        match confirmation {
            None => {
                let _ = write!(
                    body,
                    r#"<h2>Confirmation</h2><p>Obtain the dispense confirmation number from the program.</p>
<form method="post" action="{here}/confirmation">{csrf}{key}<button type="submit" id="request-confirmation">Request confirmation</button></form>"#,
                    here = e(&here),
                    csrf = hidden("csrf", csrf),
                    key = hidden("key", form_key()?),
                );
            }
            Some(c) => {
                let key = match form.key {
                    Some(k) => k,
                    None => form_key()?,
                };
                let err = |field: &str, id: &str| {
                    form.errors
                        .get(field)
                        .map(|m| format!(r#"<span class="error" id="{id}">{}</span>"#, e(m)))
                        .unwrap_or_default()
                };
                let described = |field: &str, id: &str| {
                    if form.errors.contains_key(field) {
                        format!(r#" aria-describedby="{id}" aria-invalid="true""#)
                    } else {
                        String::new()
                    }
                };
                let checked = |on: bool| if on { " checked" } else { "" };
                let (q, days) = rx.map(|p| (p.quantity, p.days_supply)).unwrap_or((0, 0));
                let _ = write!(
                    body,
                    r#"<h2>Dispense</h2><p>Confirmation <strong id="confirmation">{cn}</strong>, valid through {cthrough}.</p>
<form method="post" action="{here}/dispense" id="dispense-form" novalidate>{csrf}{key}{conf}
<fieldset><legend>Counselling checklist</legend>
<label><input type="checkbox" name="checklist_completed" value="yes" id="checklist_completed"{c1}{d1}> I completed the counselling checklist with the patient.</label>{e1}
<label><input type="checkbox" name="medication_guide_given" value="yes" id="medication_guide_given"{c2}{d2}> I gave the patient the Medication Guide.</label>{e2}
</fieldset>
<p>Supply: {q} capsules for {days} days, as prescribed.</p>
<button type="submit" id="dispense">Dispense</button></form>"#,
                    cn = e(&c.number),
                    cthrough = e(day(c.valid_through)),
                    here = e(&here),
                    csrf = hidden("csrf", csrf),
                    key = hidden("key", key),
                    conf = hidden("confirmation", &c.number),
                    c1 = checked(form.checklist),
                    d1 = described("checklist_completed", "checklist-error"),
                    e1 = err("checklist_completed", "checklist-error"),
                    c2 = checked(form.guide),
                    d2 = described("medication_guide_given", "guide-error"),
                    e2 = err("medication_guide_given", "guide-error"),
                );
            }
        }
    }
    body.push_str(r#"<p><a href="/app/pharmacy">Back to the list</a></p>"#);
    seen(state, caller, "web.pharmacy.check", patient).await?;
    let viewer = Viewer { caller, csrf };
    let status = super::forms::form_status(!form.errors.is_empty(), !form.refused.is_empty());
    Ok(html_response(
        status,
        page(
            &format!("Dispense check: {authorization}"),
            Some(&viewer),
            &body,
        ),
    ))
}

pub async fn check(
    State(state): State<ApiState>,
    Path(authorization): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let here = format!("/app/pharmacy/{authorization}");
    let (caller, csrf) = signed_in(&state, &headers, &here).await?;
    render(
        &state,
        &caller,
        &csrf,
        &authorization,
        q.get("done").map(String::as_str),
        DispenseForm::default(),
    )
    .await
}

pub async fn confirm(
    State(state): State<ApiState>,
    Path(authorization): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let here = format!("/app/pharmacy/{authorization}");
    let form = FormData::parse(&body);
    let caller = form_caller(
        &state,
        &headers,
        &form,
        &here,
        &format!("{here}/confirmation"),
    )
    .await?;
    admit(
        &state,
        &caller,
        PHARMACIST,
        "web.pharmacy.confirm",
        Object::Authorization,
        &authorization,
    )
    .await?;
    let out = program::run(
        &state,
        &caller,
        form.get("key"),
        Command::RequestConfirmation {
            authorization: authorization.clone(),
        },
    )
    .await?;
    match out.outcome {
        Outcome::Accepted { .. } => {
            Ok(Redirect::to(&format!("{here}?done=confirmed")).into_response())
        }
        Outcome::Refused { reasons } => {
            let csrf = form.get("csrf").unwrap_or("").to_string();
            render(
                &state,
                &caller,
                &csrf,
                &authorization,
                None,
                DispenseForm {
                    refused: reasons,
                    ..DispenseForm::default()
                },
            )
            .await
        }
    }
}

pub async fn dispense(
    State(state): State<ApiState>,
    Path(authorization): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let here = format!("/app/pharmacy/{authorization}");
    let form = FormData::parse(&body);
    let caller = form_caller(&state, &headers, &form, &here, &format!("{here}/dispense")).await?;
    admit(
        &state,
        &caller,
        PHARMACIST,
        "web.pharmacy.dispense",
        Object::Authorization,
        &authorization,
    )
    .await?;
    let csrf = form.get("csrf").unwrap_or("").to_string();
    let mut f = DispenseForm {
        key: form.get("key").map(str::to_string),
        checklist: form.get("checklist_completed") == Some("yes"),
        guide: form.get("medication_guide_given") == Some("yes"),
        ..DispenseForm::default()
    };
    if !f.checklist {
        f.errors.insert(
            "checklist_completed",
            "Complete the counselling checklist with the patient before dispensing.",
        );
    }
    if !f.guide {
        f.errors.insert(
            "medication_guide_given",
            "Give the patient the Medication Guide before dispensing.",
        );
    }
    if !f.errors.is_empty() {
        return render(&state, &caller, &csrf, &authorization, None, f).await;
    }
    let rel = state
        .store
        .authorization_relations(&authorization)
        .await
        .map_err(crate::api::problem::ApiError::from)?
        .ok_or_else(|| {
            WebError::from(crate::api::problem::ApiError::NotFound {
                what: "authorization",
                id: authorization.clone(),
            })
        })?;
    let pf = file(&state, &rel.patient).await?;
    let auth = pf.authorizations.iter().find(|a| a.number == authorization);
    let rx = auth.and_then(|a| pf.prescriptions.iter().find(|p| p.id == a.prescription));
    let Some(rx) = rx else {
        return Err(crate::api::problem::ApiError::NotFound {
            what: "prescription",
            id: authorization.clone(),
        }
        .into());
    };
    let out = program::run(
        &state,
        &caller,
        form.get("key"),
        Command::Dispense {
            authorization: authorization.clone(),
            confirmation: form.get("confirmation").unwrap_or("").to_string(),
            days_supply: rx.days_supply,
            quantity: rx.quantity,
            counselling: Counselling {
                checklist_completed: true,
                medication_guide_given: true,
            },
        },
    )
    .await?;
    match out.outcome {
        Outcome::Accepted { .. } => {
            Ok(Redirect::to(&format!("{here}?done=dispensed")).into_response())
        }
        Outcome::Refused { reasons } => {
            f.refused = reasons;
            render(&state, &caller, &csrf, &authorization, None, f).await
        }
    }
}
