//! The nightly sweep: for every patient on treatment (or about to start), what the program and the monitoring
//! schedule say is due, overdue or about to lapse today, from the engine's window guard and monitoring schedule.
//! The result is stored as tasks, each with the days it holds (derived data, replaced when the patient is judged
//! again); lists read the tasks of the last sweep's date. A record the engine cannot read is a task too
//! (`record.invalid`, state `blocked`): the sweep fails closed, it never skips a patient silently.

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

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Patients in the registry.
    pub patients: usize,
    /// Whether every patient was judged (the first sweep, a new rule pack or engine, a date before the last
    /// sweep, or `--full`), rather than only those whose file changed or whose day came.
    pub full: bool,
    /// Patients judged (their files read and their tasks replaced) by this sweep.
    pub judged: usize,
    /// Of those, patients not discontinued.
    pub swept: usize,
    /// Tasks stored after the sweep, for every patient.
    pub tasks: usize,
    /// Of those, records the engine could not judge.
    pub blocked: usize,
}

/// One judged patient: the first day its stored tasks no longer cover (it is judged again that night, or earlier
/// if a command changes its file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub patient: String,
    pub until: Date,
}

/// A task over the days it holds: from `from` through the day before `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub task: Task,
    pub from: Date,
    /// The first day on which it no longer holds.
    pub to: Date,
}

/// A page of the sweep's result, stored in one transaction: the judged patients' tasks from `on` replace their
/// old ones from that day (the old ones still answer for the days before, until the sweep finishes), their next
/// day to judge is kept, and their change marks read before their files were read are cleared
/// (a mark that moved since, by a command during the sweep, stays: the patient is judged again next time).
#[derive(Debug, Clone, Copy)]
pub struct SweptPage<'a> {
    pub on: Date,
    pub judged: &'a [Judged],
    pub tasks: &'a [Planned],
    pub marks: &'a [(String, i64)],
}

/// What the last sweep was judged with, to tell whether an incremental sweep may keep its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepMeta {
    /// The rule pack and the engine the stored answers come from.
    pub fingerprint: String,
    /// The date of the last sweep.
    pub on: Date,
}

impl SweepMeta {
    /// From its stored row (fingerprint, date as ISO text).
    pub fn from_row((fingerprint, on): (String, String)) -> Result<SweepMeta, StorageError> {
        Ok(SweepMeta {
            fingerprint,
            on: crate::codec::date(&on, "sweep_meta.swept_on")?,
        })
    }
}

/// A database count as a `usize` (a count is never negative).
pub fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The patients an incremental sweep judges: the ones a command marked (with their mark), the ones whose stored
/// days have run out, and any patient with no stored answer at all; with the stored next day of those that have
/// one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    pub marked: Vec<(String, i64)>,
    pub due: Vec<String>,
    pub until: Vec<(String, Date)>,
}

impl Due {
    /// From the backends' rows: the marks with the marked patients' stored next day (if any), the patients whose
    /// next day has come with that day, and the patients with no stored answer. Dates are ISO text.
    pub fn from_rows(
        marked: Vec<(String, i64, Option<String>)>,
        due: Vec<(String, String)>,
        unjudged: Vec<String>,
    ) -> Result<Due, StorageError> {
        let mut out = Due::default();
        for (patient, mark, until) in marked {
            if let Some(u) = until {
                out.until.push((
                    patient.clone(),
                    crate::codec::date(&u, "sweep_state.until")?,
                ));
            }
            out.marked.push((patient, mark));
        }
        for (patient, until) in due {
            out.until.push((
                patient.clone(),
                crate::codec::date(&until, "sweep_state.until")?,
            ));
            out.due.push(patient);
        }
        out.due.extend(unjudged);
        Ok(out)
    }
}

/// How many days ahead a judged patient's tasks are stored: a patient whose file does not change is judged
/// again after this many days. The engine's share of a judgement is small beside reading the file and writing
/// the rows, so a long horizon costs little and spares judgements.
pub const HORIZON_DAYS: i64 = 56;

/// How many days ahead to store a patient's tasks, so that the patients judged on one night are one run of ids.
///
/// A full sweep, which reads the patients in id order, gives the `index`th of `count` patients 1 to
/// [`HORIZON_DAYS`] days by its place: each following night's sweep then judges one run of about one patient in
/// [`HORIZON_DAYS`], whose rows lie together. A patient judged again keeps its night: its stored next day
/// `until` moves on by whole horizons (a marked patient judged early gets the days left to that night). A patient
/// with no stored answer gets the whole horizon.
pub fn horizon(on: Date, until: Option<Date>, place: Option<(usize, usize)>) -> i64 {
    if let Some((index, count)) = place {
        let h = usize::try_from(HORIZON_DAYS).unwrap_or(1);
        let step = index.saturating_mul(h) / count.max(1);
        return 1 + i64::try_from(step.min(h - 1)).unwrap_or(0);
    }
    match until {
        Some(u) if u > on => i64::from((u - on).get_days()).min(HORIZON_DAYS),
        Some(u) => HORIZON_DAYS - i64::from((on - u).get_days()).rem_euclid(HORIZON_DAYS),
        None => HORIZON_DAYS,
    }
}

/// Bumped when the sweep's logic changes in a way the rule pack does not show, so that a stored answer from an
/// earlier engine is judged again.
const ENGINE: &str = concat!(env!("CARGO_PKG_VERSION"), "/sweep-2");

/// The fingerprint of the rule pack and engine: stored answers from another pack or engine are not kept.
pub fn fingerprint(pack: &RulePack) -> String {
    let body = serde_json::to_vec(pack).unwrap_or_default();
    crate::canonical::sha256_hex(&[ENGINE.as_bytes(), &body])
}

/// The tasks of one patient today (none for a discontinued treatment).
pub fn tasks_for(file: &PatientFile, pack: &RulePack, on: Date) -> Vec<Task> {
    let snap = engine::snapshot(file);
    tasks_of(file, snap.as_ref(), pack, on)
}

/// The tasks of one patient on each of `days` days from `on`, and the first day they no longer cover. The engine
/// is pure and reads the date only through its `today`, so the patient is judged for each day: the days on which
/// a task starts or ends are exact, not estimates from the rules' intervals.
pub fn judge(file: &PatientFile, pack: &RulePack, on: Date, days: i64) -> (Vec<Planned>, Date) {
    let snap = engine::snapshot(file);
    let mut prev = tasks_of(file, snap.as_ref(), pack, on);
    let mut open: Vec<(Task, Date)> = prev.iter().map(|t| (t.clone(), on)).collect();
    let mut done = Vec::new();
    let mut day = on;
    for _ in 1..days {
        let Ok(next) = day.tomorrow() else { break };
        day = next;
        let now = tasks_of(file, snap.as_ref(), pack, day);
        if now == prev {
            continue;
        }
        let mut i = 0;
        while i < open.len() {
            if now.contains(&open[i].0) {
                i += 1;
            } else {
                let (task, from) = open.swap_remove(i);
                done.push(Planned {
                    task,
                    from,
                    to: day,
                });
            }
        }
        for t in &now {
            if !open.iter().any(|(o, _)| o == t) {
                open.push((t.clone(), day));
            }
        }
        prev = now;
    }
    let until = day.tomorrow().unwrap_or(day);
    done.extend(open.into_iter().map(|(task, from)| Planned {
        task,
        from,
        to: until,
    }));
    (done, until)
}

fn tasks_of(
    file: &PatientFile,
    snap: Result<&lenaguard_domain::snapshot::Snapshot, &StorageError>,
    pack: &RulePack,
    on: Date,
) -> Vec<Task> {
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
    let snap = match snap {
        Ok(s) => s,
        Err(e) => return blocked(e.to_string()),
    };
    let checked = match engine::check(snap, pack, on) {
        Ok(c) => c,
        Err(e) => return blocked(e.to_string()),
    };
    let mut out = Vec::new();
    // The authorization and confirmation windows close when the authorization is dispensed against.
    let used = file
        .authorizations
        .last()
        .is_some_and(|a| a.status == AuthorizationStatus::Used);
    for w in program::window_guard(snap, &checked, pack, on) {
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
    for m in monitoring::schedule(snap, pack, on, &[]) {
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

/// The tasks and next days of these patients, in their order, judged on every core (the engine is pure: each
/// patient's answer is the one [`judge`] gives alone).
pub fn judge_parallel(
    files: &[(PatientFile, i64)],
    pack: &RulePack,
    on: Date,
) -> (Vec<Planned>, Vec<Judged>) {
    let one = |part: &[(PatientFile, i64)]| {
        let mut tasks = Vec::new();
        let mut judged = Vec::with_capacity(part.len());
        for (f, days) in part {
            let (t, until) = judge(f, pack, on, *days);
            tasks.extend(t);
            judged.push(Judged {
                patient: f.patient.id.clone(),
                until,
            });
        }
        (tasks, judged)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || files.len() < 64 {
        return one(files);
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || one(part)))
            .collect();
        let mut all = (Vec::new(), Vec::with_capacity(files.len()));
        for h in handles {
            let (t, j) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            all.0.extend(t);
            all.1.extend(j);
        }
        all
    })
}

/// Which patients to read next.
enum Pages {
    /// Every patient, a page at a time in id order.
    All { after: String },
    /// These patients (sorted), a page at a time.
    Listed { ids: Vec<String>, next: usize },
}

impl Pages {
    async fn next(
        &mut self,
        store: &dyn Store,
        page: i64,
    ) -> Result<Vec<PatientFile>, StorageError> {
        match self {
            Pages::All { after } => {
                let files = store.patient_files(after, page).await?;
                if let Some(last) = files.last() {
                    after.clone_from(&last.patient.id);
                }
                Ok(files)
            }
            Pages::Listed { ids, next } => {
                let end = (*next + usize::try_from(page).unwrap_or(1)).min(ids.len());
                let files = if *next < end {
                    store.patient_files_of(&ids[*next..end]).await?
                } else {
                    Vec::new()
                };
                *next = end;
                Ok(files)
            }
        }
    }
}

/// Sweep the registry, a page at a time; `progress(done, total)` after each page.
///
/// Each judged patient's tasks are stored for the days ahead ([`judge`], [`horizon`]), with the first day they no
/// longer cover, and every command that writes a patient's file marks the patient in the same transaction. So a
/// sweep need not judge every patient every night: after a full sweep with the same rule pack and engine, a sweep
/// on a later date judges only the patients marked since, the ones whose stored days have run out and any with no
/// stored answer; the others' stored tasks for that date are the ones a full sweep would give
/// (`tests-storage/tests/sweep_incremental.rs` checks this day by day). The first sweep, a sweep with another pack
/// or engine, a sweep on a date before the last one, and `full` judge every patient. The next page is read while
/// the current one is judged (on its own threads).
pub async fn sweep(
    store: &dyn Store,
    pack: &Arc<RulePack>,
    on: Date,
    page: i64,
    full: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SweepReport, StorageError> {
    let fingerprint = fingerprint(pack);
    let last = store.sweep_meta().await?;
    let full = full
        || last
            .as_ref()
            .is_none_or(|m| m.fingerprint != fingerprint || m.on > on);
    let patients = store.patient_count().await?;
    // Marks are read before any file: a command after this moves its patient's mark, which is then kept.
    let (mut pages, marks, total, until) = if full {
        let marks = store.sweep_due(None).await?.marked;
        (
            Pages::All {
                after: String::new(),
            },
            marks,
            patients,
            Vec::new(),
        )
    } else {
        let due = store.sweep_due(Some(on)).await?;
        let mut ids: Vec<String> = due
            .marked
            .iter()
            .map(|(p, _)| p.clone())
            .chain(due.due)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let total = ids.len();
        (Pages::Listed { ids, next: 0 }, due.marked, total, due.until)
    };
    let marks: std::collections::HashMap<String, i64> = marks.into_iter().collect();
    let until: std::collections::HashMap<String, Date> = until.into_iter().collect();
    let mut report = SweepReport {
        patients,
        full,
        ..Default::default()
    };
    let mut files = pages.next(store, page).await?;
    while !files.is_empty() {
        report.judged += files.len();
        report.swept += files
            .iter()
            .filter(|f| f.patient.status != TreatmentStatus::Discontinued)
            .count();
        let page_marks: Vec<(String, i64)> = files
            .iter()
            .filter_map(|f| marks.get(&f.patient.id).map(|m| (f.patient.id.clone(), *m)))
            .collect();
        let first = report.judged - files.len();
        let paged: Vec<(PatientFile, i64)> = files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let place = full.then_some((first + i, patients));
                let days = horizon(on, until.get(&f.patient.id).copied(), place);
                (f, days)
            })
            .collect();
        let work = {
            let pack = Arc::clone(pack);
            tokio::task::spawn_blocking(move || judge_parallel(&paged, &pack, on))
        };
        let (next, judged) = tokio::join!(pages.next(store, page), work);
        let (tasks, judged) = match judged {
            Ok(j) => j,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(StorageError::Database(format!("sweep worker: {e}"))),
        };
        store
            .record_sweep(&SweptPage {
                on,
                judged: &judged,
                tasks: &tasks,
                marks: &page_marks,
            })
            .await?;
        progress(report.judged, total);
        files = next?;
    }
    store.finish_sweep(&SweepMeta { fingerprint, on }).await?;
    (report.tasks, report.blocked) = store.task_counts().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;

    fn day(n: i64) -> Date {
        jiff::civil::date(2026, 11, 26)
            .checked_add(n.days())
            .expect("a date")
    }

    #[test]
    fn a_full_sweep_spreads_its_patients_over_the_horizon_in_id_order() {
        for count in [1, 2, 55, 56, 57, 1000, 100_003] {
            let days: Vec<i64> = (0..count)
                .map(|i| horizon(day(0), Some(day(3)), Some((i, count))))
                .collect();
            assert!(
                days.iter().all(|d| (1..=HORIZON_DAYS).contains(d)),
                "{count}"
            );
            assert!(
                days.windows(2).all(|w| w[0] <= w[1]),
                "{count}: not in id order"
            );
            assert_eq!(days[0], 1);
            if count >= HORIZON_DAYS as usize {
                // Every night of the horizon gets its run, none more than its share (rounded up).
                for n in 1..=HORIZON_DAYS {
                    let run = days.iter().filter(|d| **d == n).count();
                    let most = count.div_ceil(HORIZON_DAYS as usize);
                    assert!((1..=most).contains(&run), "{count}: night {n} has {run}");
                }
            }
        }
    }

    #[test]
    fn a_patient_judged_again_keeps_its_night() {
        for gap in -HORIZON_DAYS..=3 * HORIZON_DAYS {
            let until = day(0);
            let on = day(gap);
            let days = horizon(on, Some(until), None);
            assert!((1..=HORIZON_DAYS).contains(&days), "gap {gap}: {days}");
            let next = (on.checked_add(days.days()).expect("a date") - until).get_days();
            if gap < 0 {
                // Judged early (marked): back to the stored night.
                assert_eq!(next, 0, "gap {gap}");
            } else {
                // On the night or later (a night without a sweep): the first whole horizon after today.
                assert_eq!(
                    i64::from(next),
                    (gap / HORIZON_DAYS + 1) * HORIZON_DAYS,
                    "gap {gap}"
                );
            }
        }
        assert_eq!(horizon(day(0), None, None), HORIZON_DAYS);
    }
}
