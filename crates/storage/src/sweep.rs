//! The nightly sweep: for every patient on treatment (or about to start), what the program and the monitoring
//! schedule say is due, overdue or about to lapse today, from the engine's window guard and monitoring schedule.
//! The result is stored as tasks (derived data, replaced by each sweep). A record the engine cannot read is a
//! task too (`record.invalid`, state `blocked`): the sweep fails closed, it never skips a patient silently.

use crate::engine;
use crate::error::StorageError;
use crate::records::{AuthorizationStatus, PatientFile};
use crate::store::Store;
use jiff::civil::Date;
use lenaguard_domain::monitoring::{self, DueStatus};
use lenaguard_domain::pack::RulePack;
use lenaguard_domain::program::{self, WindowKind, WindowState};
use lenaguard_domain::snapshot::TreatmentStatus;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One thing to do for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    pub patient: String,
    /// `window.<kind>`, `monitoring.<kind>` or `record.invalid`.
    pub kind: String,
    /// `closing`, `lapsed`, `due_soon`, `due`, `overdue` or `blocked`.
    pub state: String,
    /// The last valid day, or the due date.
    #[schemars(with = "crate::schema::IsoDate")]
    pub due: Date,
    pub act: String,
    pub rule: String,
}

/// Counts of one sweep: patients in the registry, patients not discontinued (swept), tasks, blocked records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub patients: usize,
    pub swept: usize,
    pub tasks: usize,
    pub blocked: usize,
}

/// The tasks of one patient today (none for a discontinued treatment).
pub fn tasks_for(file: &PatientFile, pack: &RulePack, on: Date) -> Vec<Task> {
    let p = &file.patient;
    if p.status == TreatmentStatus::Discontinued {
        return Vec::new();
    }
    let blocked = |why: String| {
        vec![Task {
            patient: p.id.clone(),
            kind: "record.invalid".into(),
            state: "blocked".into(),
            due: on,
            act: format!("the engine cannot judge this record: {why}"),
            rule: "input".into(),
        }]
    };
    let snap = match engine::snapshot(file) {
        Ok(s) => s,
        Err(e) => return blocked(e.to_string()),
    };
    let checked = match engine::check(&snap, pack, on) {
        Ok(c) => c,
        Err(e) => return blocked(e.to_string()),
    };
    let mut out = Vec::new();
    // The authorization and confirmation windows close when the authorization is dispensed against.
    let used = file
        .authorizations
        .last()
        .is_some_and(|a| a.status == AuthorizationStatus::Used);
    for w in program::window_guard(&snap, &checked, pack, on) {
        if used && matches!(w.kind, WindowKind::Authorization | WindowKind::Confirmation) {
            continue;
        }
        let state = match w.state {
            WindowState::Open => continue,
            WindowState::Closing => "closing",
            WindowState::Lapsed => "lapsed",
        };
        out.push(Task {
            patient: p.id.clone(),
            kind: format!("window.{}", w.kind.as_str()),
            state: state.into(),
            due: w.last_valid_day,
            act: w.act,
            rule: w.rule,
        });
    }
    for m in monitoring::schedule(&snap, pack, on, &[]) {
        let state = match m.status {
            DueStatus::Scheduled => continue,
            DueStatus::DueSoon => "due_soon",
            DueStatus::Due => "due",
            DueStatus::Overdue => "overdue",
        };
        out.push(Task {
            patient: p.id.clone(),
            kind: format!("monitoring.{}", m.kind.as_str()),
            state: state.into(),
            due: m.due,
            act: m.reason,
            rule: m.rule,
        });
    }
    // One task per kind: the most urgent (windows of one kind can repeat, e.g. two surveys).
    out.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.due.cmp(&b.due)));
    out.dedup_by(|b, a| a.kind == b.kind);
    out
}

/// The tasks of these patients, in their order, judged on every core (the engine is pure: each patient's answer
/// is the one [`tasks_for`] gives alone).
pub fn tasks_parallel(files: &[PatientFile], pack: &RulePack, on: Date) -> Vec<Task> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || files.len() < 64 {
        return files.iter().flat_map(|f| tasks_for(f, pack, on)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .flat_map(|f| tasks_for(f, pack, on))
                        .collect::<Vec<Task>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Sweep every patient, a page at a time; `progress(done, total)` after each page. The next page is read while
/// the current one is judged (on its own threads), so reading and judging overlap.
pub async fn sweep(
    store: &dyn Store,
    pack: &Arc<RulePack>,
    on: Date,
    page: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SweepReport, StorageError> {
    let total = store.patient_ids().await?.len();
    let mut report = SweepReport {
        patients: total,
        ..Default::default()
    };
    let mut done = 0;
    let mut files = store.patient_files("", page).await?;
    while let Some(last) = files.last() {
        let after = last.patient.id.clone();
        let ids: Vec<String> = files.iter().map(|f| f.patient.id.clone()).collect();
        report.swept += files
            .iter()
            .filter(|f| f.patient.status != TreatmentStatus::Discontinued)
            .count();
        let judge = {
            let pack = Arc::clone(pack);
            tokio::task::spawn_blocking(move || tasks_parallel(&files, &pack, on))
        };
        let (next, judged) = tokio::join!(store.patient_files(&after, page), judge);
        let tasks = match judged {
            Ok(tasks) => tasks,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(StorageError::Database(format!("sweep worker: {e}"))),
        };
        report.blocked += tasks.iter().filter(|t| t.state == "blocked").count();
        report.tasks += tasks.len();
        store.replace_tasks(&ids, &tasks, on).await?;
        done += ids.len();
        progress(done, total);
        files = next?;
    }
    Ok(report)
}
