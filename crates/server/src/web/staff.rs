//! The program staff's page (program staff and auditors): what is overdue or lapsing (the tasks of the last
//! sweep, most urgent first), the audit trail with a search by patient or actor and the check of its hash chain,
//! and the override statistics of the CDS cards.

use super::html::{Viewer, day, e, page};
use super::{WebResult, html_response, only, seen, signed_in};
use crate::api::ApiState;
use crate::api::problem::ApiError;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use lenaguard_storage::accounts::AccountRole;
use lenaguard_storage::sweep::Task;
use lenaguard_storage::{AuditEvent, Command, Outcome};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The roles this page is for (the API's oversight routes).
pub const STAFF: &[AccountRole] = &[AccountRole::ProgramStaff, AccountRole::Auditor];

/// The roles that may open the prescriber's patient page (a task links to it only for them).
const PATIENT_PAGE: &[AccountRole] = &[
    AccountRole::Prescriber,
    AccountRole::ProgramStaff,
    AccountRole::Auditor,
];

/// How many tasks the page lists at most.
const TASKS: i64 = 1000;
/// How many of the latest audit events a search looks through.
const SEARCHED: i64 = 2000;
/// How many matching events the page shows, newest first.
const SHOWN: usize = 50;

const ACTION: &str = "web.staff";

/// How urgent a task's state is: a blocked record or a lapsed window first, what is only coming due last.
fn urgency(state: &str) -> u8 {
    match state {
        "blocked" => 0,
        "lapsed" => 1,
        "overdue" => 2,
        "due" => 3,
        "closing" => 4,
        "due_soon" => 5,
        _ => 6,
    }
}

/// The tasks, most urgent first (by state, then the earliest due date; the store's order otherwise).
pub fn most_urgent_first(mut tasks: Vec<Task>) -> Vec<Task> {
    tasks.sort_by(|a, b| {
        urgency(&a.state)
            .cmp(&urgency(&b.state))
            .then(a.due.cmp(&b.due))
    });
    tasks
}

/// The patient an audit event is about, when its command names one (an enrollment names the patient it creates).
pub fn event_patient(ev: &AuditEvent) -> Option<&str> {
    match &ev.command {
        Command::Enroll(en) => Some(en.patient.as_str()),
        c => c.named_patient(),
    }
}

/// The patients of audit events, including those whose command reaches its patient only through a prescription
/// or an authorization number (authorization, confirmation, dispense): those are looked up once each.
#[derive(Default)]
struct Patients {
    via: std::collections::HashMap<String, Option<String>>,
}

impl Patients {
    async fn of(&mut self, state: &ApiState, ev: &AuditEvent) -> Result<Option<String>, ApiError> {
        if let Some(p) = event_patient(ev) {
            return Ok(Some(p.to_string()));
        }
        let (key, prescription) = match &ev.command {
            Command::RequestAuthorization { prescription } => (prescription, true),
            Command::RequestConfirmation { authorization }
            | Command::Dispense { authorization, .. } => (authorization, false),
            _ => return Ok(None),
        };
        let cache = format!("{}:{key}", if prescription { "rx" } else { "auth" });
        if let Some(p) = self.via.get(&cache) {
            return Ok(p.clone());
        }
        let rel = if prescription {
            state.store.prescription_relations(key).await?
        } else {
            state.store.authorization_relations(key).await?
        };
        let patient = rel.map(|r| r.patient);
        self.via.insert(cache, patient.clone());
        Ok(patient)
    }
}

/// The search of the audit trail: both filters must match when both are given (exact ids, spaces trimmed).
#[derive(Debug, Default)]
pub struct Search {
    pub patient: String,
    pub actor: String,
}

impl Search {
    fn from_query(q: &BTreeMap<String, String>) -> Search {
        let take = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Search {
            patient: take("patient"),
            actor: take("actor"),
        }
    }

    fn matches(&self, ev: &AuditEvent, patient: Option<&str>) -> bool {
        (self.patient.is_empty() || patient == Some(self.patient.as_str()))
            && (self.actor.is_empty() || ev.actor == self.actor)
    }
}

/// The latest events that match, newest first, at most [`SHOWN`], from the last [`SEARCHED`] events.
async fn search_audit(
    state: &ApiState,
    total: i64,
    search: &Search,
    patients: &mut Patients,
) -> Result<Vec<(AuditEvent, Option<String>)>, ApiError> {
    let mut cursor = (total - SEARCHED).max(0);
    let mut found = Vec::new();
    loop {
        let rows = state.store.audit_rows(cursor, 1000).await?;
        let Some(last) = rows.last() else { break };
        cursor = last.seq;
        for r in rows {
            let ev: AuditEvent = serde_json::from_str(&r.event)
                .map_err(|err| ApiError::Internal(format!("audit row {}: {err}", r.seq)))?;
            // Only the events a search could show need their patient looked up.
            if !search.actor.is_empty() && ev.actor != search.actor {
                continue;
            }
            let patient = patients.of(state, &ev).await?;
            if search.matches(&ev, patient.as_deref()) {
                found.push((ev, patient));
            }
        }
    }
    found.reverse();
    found.truncate(SHOWN);
    Ok(found)
}

fn state_words(state: &str) -> &str {
    match state {
        "due_soon" => "due soon",
        s => s,
    }
}

pub async fn page_view(
    State(state): State<ApiState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/staff").await?;
    if let Err(refused) = only(&caller, STAFF) {
        state.record_access(&caller, ACTION, None, 403).await?;
        return Err(refused);
    }
    let link = PATIENT_PAGE.contains(&caller.role);
    let patient_cell = |id: &str| {
        if link {
            format!(
                r#"<a href="/app/patients/{id}">{id}</a>"#,
                id = e(super::url_encode(id))
            )
        } else {
            e(id)
        }
    };
    let mut shown: BTreeSet<String> = BTreeSet::new();
    let mut body = String::from(
        r##"<nav aria-label="On this page"><a href="#tasks">Overdue and lapsing</a> <a href="#audit">Audit trail</a> <a href="#cds">CDS overrides</a></nav>"##,
    );

    // Overdue and lapsing.
    let tasks = most_urgent_first(state.store.tasks(TASKS).await.map_err(ApiError::from)?);
    body.push_str(r#"<h2 id="tasks">Overdue and lapsing</h2>"#);
    if tasks.is_empty() {
        body.push_str(
            r#"<p class="done">Nothing is due, overdue or lapsing (as of the last sweep).</p>"#,
        );
    } else {
        let _ = write!(
            body,
            r#"<p id="task-count">{n} task{s}{cap}, most urgent first (as of the last sweep).</p><table class="stack"><thead><tr><th>State</th><th>Due</th><th>Patient</th><th>What to do</th><th>Rule</th></tr></thead><tbody>"#,
            n = tasks.len(),
            s = if tasks.len() == 1 { "" } else { "s" },
            cap = if tasks.len() as i64 >= TASKS {
                format!(" (the first {TASKS} only)")
            } else {
                String::new()
            },
        );
        for t in &tasks {
            let _ = write!(
                body,
                r#"<tr><td><strong>{st}</strong></td><td>{due}</td><td>{patient}</td><td>{act}</td><td><code>{rule}</code> <span class="muted">{kind}</span></td></tr>"#,
                st = e(state_words(&t.state)),
                due = e(day(t.due)),
                patient = patient_cell(&t.patient),
                act = e(&t.act),
                rule = e(&t.rule),
                kind = e(&t.kind),
            );
            shown.insert(t.patient.clone());
        }
        body.push_str("</tbody></table>");
    }

    // The audit trail.
    let search = Search::from_query(&q);
    let total = state.store.audit_last_seq().await.map_err(ApiError::from)?;
    let events = search_audit(&state, total, &search, &mut Patients::default()).await?;
    body.push_str(r#"<h2 id="audit">Audit trail</h2>"#);
    // The check reads the whole trail, so it runs when asked for, not on every visit.
    if q.get("verify").map(String::as_str) == Some("1") {
        let report = lenaguard_storage::verify_audit(state.store.as_ref())
            .await
            .map_err(ApiError::from)?;
        match &report.broken {
            None => {
                let _ = write!(
                    body,
                    r#"<p class="verdict yes" id="chain"><strong>Chain intact</strong>: {} events, every hash follows.</p>"#,
                    report.events
                );
            }
            Some(b) => {
                let _ = write!(
                    body,
                    r#"<p class="verdict no" id="chain" role="alert"><strong>Chain broken at event {}</strong>: the trail was changed from there on.</p>"#,
                    b.seq
                );
            }
        }
    } else {
        let _ = write!(
            body,
            r#"<form method="get" action="/app/staff#audit" id="verify-form"><p>{total} events. <input type="hidden" name="verify" value="1"><button type="submit" id="verify-chain">Check the hash chain</button></p></form>"#
        );
    }
    let _ = write!(
        body,
        r#"<form method="get" action="/app/staff#audit" class="search"><label for="patient">Patient id</label><input type="text" id="patient" name="patient" value="{patient}"><label for="actor">Actor</label><input type="text" id="actor" name="actor" value="{actor}"><p><button type="submit">Search</button> <a href="/app/staff#audit">Clear</a></p></form>"#,
        patient = e(&search.patient),
        actor = e(&search.actor),
    );
    let filtered = !search.patient.is_empty() || !search.actor.is_empty();
    let _ = write!(
        body,
        r#"<p id="audit-count">{what} of the last {n} events, newest first{more}.</p>"#,
        what = if filtered {
            format!("{} matching", events.len())
        } else {
            format!("The latest {}", events.len())
        },
        n = total.min(SEARCHED),
        more = if events.len() >= SHOWN {
            format!(" (at most {SHOWN} shown)")
        } else {
            String::new()
        },
    );
    if !events.is_empty() {
        body.push_str(r#"<table class="stack" id="audit-events"><thead><tr><th>Seq</th><th>Date</th><th>Actor</th><th>Command</th><th>Patient</th><th>Outcome</th></tr></thead><tbody>"#);
        for (ev, patient) in &events {
            let patient = patient.as_deref();
            let _ = write!(
                body,
                r#"<tr><td>{seq}</td><td>{on}</td><td>{actor}</td><td><code>{cmd}</code></td><td>{patient}</td><td>{outcome}</td></tr>"#,
                seq = ev.seq,
                on = e(day(ev.on)),
                actor = e(&ev.actor),
                cmd = e(ev.command.name()),
                patient = patient.map(patient_cell).unwrap_or_else(|| "—".into()),
                outcome = match &ev.outcome {
                    Outcome::Accepted { .. } => "accepted".to_string(),
                    Outcome::Refused { reasons } => format!(
                        "<strong>refused</strong>{}",
                        reasons
                            .first()
                            .map(|r| format!(r#" <span class="muted">{}</span>"#, e(&r.code)))
                            .unwrap_or_default()
                    ),
                },
            );
            if let Some(p) = patient {
                shown.insert(p.to_string());
            }
        }
        body.push_str("</tbody></table>");
    }

    // CDS overrides.
    let stats = state.store.override_stats().await.map_err(ApiError::from)?;
    body.push_str(r#"<h2 id="cds">CDS overrides</h2>"#);
    if stats.is_empty() {
        body.push_str(r#"<p class="notice">No CDS card was issued yet.</p>"#);
    } else {
        body.push_str(r#"<table class="stack" id="cds-stats"><thead><tr><th>Rule</th><th>Issued</th><th>Accepted</th><th>Overridden</th><th>Override rate</th><th>Top reasons</th></tr></thead><tbody>"#);
        for s in &stats {
            let reasons = if s.top_override_reasons.is_empty() {
                "—".to_string()
            } else {
                s.top_override_reasons
                    .iter()
                    .map(|r| format!("{} ({})", e(&r.code), r.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = write!(
                body,
                r#"<tr><td><code>{rule}</code></td><td>{issued}</td><td>{accepted}</td><td>{overridden}</td><td>{rate}</td><td>{reasons}</td></tr>"#,
                rule = e(&s.rule),
                issued = s.issued,
                accepted = s.accepted,
                overridden = s.overridden,
                rate = s
                    .override_rate
                    .map(|r| format!("{:.0}%", r * 100.0))
                    .unwrap_or_else(|| "—".into()),
            );
        }
        body.push_str("</tbody></table>");
    }

    // Every patient named on the page is in the access log before it is sent.
    if shown.is_empty() {
        seen(&state, &caller, ACTION, None).await?;
    }
    for p in shown {
        seen(&state, &caller, ACTION, Some(p)).await?;
    }
    let viewer = Viewer {
        caller: &caller,
        csrf: &csrf,
    };
    Ok(html_response(
        StatusCode::OK,
        page("Program oversight", Some(&viewer), &body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: &str, due: i8) -> Task {
        Task {
            patient: "p".into(),
            kind: "window.authorization".into(),
            state: state.into(),
            due: jiff::civil::date(2026, 11, due),
            act: String::new(),
            rule: String::new(),
        }
    }

    #[test]
    fn what_has_lapsed_comes_before_what_is_only_coming_due() {
        let sorted = most_urgent_first(vec![
            task("due_soon", 1),
            task("closing", 2),
            task("lapsed", 20),
            task("overdue", 3),
            task("lapsed", 10),
            task("blocked", 26),
        ]);
        let order: Vec<(&str, i8)> = sorted
            .iter()
            .map(|t| (t.state.as_str(), t.due.day()))
            .collect();
        assert_eq!(
            order,
            [
                ("blocked", 26),
                ("lapsed", 10),
                ("lapsed", 20),
                ("overdue", 3),
                ("closing", 2),
                ("due_soon", 1)
            ]
        );
    }
}
