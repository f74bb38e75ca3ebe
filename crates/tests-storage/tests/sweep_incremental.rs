//! The incremental sweep on both backends: over forty days of a synthetic registry with a day's work on a few
//! patients each day, the tasks stored after each night's sweep are exactly those of judging every patient that
//! day, while the sweep judges only a fraction of them; a command during a sweep keeps its patient marked; a
//! patient with no stored answer is judged; a new rule pack or an earlier date makes the sweep judge everyone.

use anyhow::{Result, ensure};
use lenaguard_storage::command::{ADMIN, Command, CommandRequest};
use lenaguard_storage::sweep::{Judged, SweptPage, Task, sweep, tasks_for};
use lenaguard_storage::synth::PRESCRIBER;
use lenaguard_storage::{Store, Workflow};
use lenaguard_tests_storage::*;
use std::sync::Arc;

const PATIENTS: u32 = 200;
const NIGHTS: i64 = 40;

fn patient(i: i64) -> String {
    format!("syn-{:07}", i.rem_euclid(i64::from(PATIENTS)))
}

fn sorted(mut tasks: Vec<Task>) -> Vec<Task> {
    tasks.sort_by(|a, b| (&a.patient, &a.kind).cmp(&(&b.patient, &b.kind)));
    tasks
}

/// Every patient judged on `on` from the one-patient loader.
async fn judged_alone(wf: &Workflow, on: jiff::civil::Date) -> Result<Vec<Task>> {
    let mut all = Vec::new();
    for id in wf.store().patient_ids().await? {
        let file = wf.store().patient_file(&id).await?;
        let file = file.ok_or_else(|| anyhow::anyhow!("no file for {id}"))?;
        all.extend(tasks_for(&file, wf.pack(), on));
    }
    Ok(sorted(all))
}

/// A day's work: counts for one patient, a pregnancy test for another, now and then a discontinuation. Some are
/// refused (a test for a patient who cannot get pregnant, say), which writes nothing to the patient's file.
async fn days_work(wf: &Workflow, d: i64, on: jiff::civil::Date) -> Result<()> {
    let lab = serde_json::from_value(serde_json::json!({
        "command": "record_lab", "patient": patient(d * 7),
        "lab": {"code": "anc", "value": 1.9, "unit": "10*9/L", "date": on}
    }))?;
    run(wf, PRESCRIBER, on, lab).await?;
    run(wf, PRESCRIBER, on, pregnancy_test(&patient(d * 13 + 1), on)).await?;
    if d % 9 == 4 {
        let stop = Command::Discontinue {
            patient: patient(d * 5 + 2),
            reason: "progression".into(),
        };
        run(wf, PRESCRIBER, on, stop).await?;
    }
    Ok(())
}

async fn story(store: Arc<dyn Store>, raw: Raw) -> Result<()> {
    let wf = workflow(store.clone());
    let pack = pack();
    synthetic_registry(&wf).await?;
    let batch = CommandRequest {
        idempotency_key: "synth-11".into(),
        actor: ADMIN.into(),
        on: DAY,
        command: Command::SynthesizeRegistry {
            seed: 11,
            first: 0,
            count: PATIENTS,
        },
    };
    ensure!(wf.execute(batch).await?.accepted().is_some());

    let mut judged = 0;
    for d in 0..NIGHTS {
        let on = days(DAY, d);
        if d > 0 {
            days_work(&wf, d, on).await?;
        }
        let report = sweep(store.as_ref(), &pack, on, 64, false, &mut |_, _| {}).await?;
        ensure!(report.full == (d == 0), "night {d}: {report:?}");
        ensure!(report.patients == PATIENTS as usize);
        if d > 0 {
            judged += report.judged;
        }
        let stored = sorted(store.tasks(100_000).await?);
        let alone = judged_alone(&wf, on).await?;
        ensure!(
            report.tasks == stored.len() && report.blocked == 0,
            "night {d}: {report:?}"
        );
        if stored != alone {
            let differ = stored
                .iter()
                .zip(&alone)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("stored {a:?}\n judged {b:?}"));
            anyhow::bail!(
                "night {d}: {} stored tasks, {} judged; first difference: {differ:?}",
                stored.len(),
                alone.len()
            );
        }
    }
    // The nights after the first judged far fewer patients than a full sweep would have.
    let every = (NIGHTS as usize - 1) * PATIENTS as usize;
    ensure!(
        judged > 0 && judged * 3 < every,
        "{judged} judgements in {} nights of {PATIENTS} patients",
        NIGHTS - 1
    );

    // A command that lands while a sweep is judging its patient moves the mark, which the sweep then leaves.
    let on = days(DAY, NIGHTS);
    let p = patient(3);
    run(&wf, PRESCRIBER, on, pregnancy_test(&p, on)).await?;
    let lab = serde_json::from_value(serde_json::json!({
        "command": "record_lab", "patient": p,
        "lab": {"code": "platelets", "value": 140.0, "unit": "10*9/L", "date": on}
    }))?;
    ok(&wf, PRESCRIBER, on, lab).await?;
    let read = store.sweep_due(None).await?.marked;
    let mark = read.iter().find(|(x, _)| *x == p).map(|(_, m)| *m);
    ensure!(mark.is_some(), "{p} not marked: {read:?}");
    let mark = mark.unwrap_or_default();
    let later = serde_json::from_value(serde_json::json!({
        "command": "record_lab", "patient": p,
        "lab": {"code": "anc", "value": 1.2, "unit": "10*9/L", "date": on}
    }))?;
    ok(&wf, PRESCRIBER, on, later).await?;
    store
        .record_sweep(&SweptPage {
            on,
            judged: &[Judged {
                patient: p.clone(),
                until: days(on, 5),
            }],
            tasks: &[],
            marks: &[(p.clone(), mark)],
        })
        .await?;
    let after = store.sweep_due(None).await?.marked;
    ensure!(
        after.iter().any(|(x, m)| *x == p && *m == mark + 1),
        "{p}: the mark read before the later command was cleared: {after:?}"
    );
    let report = sweep(store.as_ref(), &pack, on, 64, false, &mut |_, _| {}).await?;
    ensure!(!report.full && report.judged >= 1);
    ensure!(sorted(store.tasks(100_000).await?) == judged_alone(&wf, on).await?);
    ensure!(store.sweep_due(None).await?.marked.is_empty());

    // Nights without a sweep: the next one judges every patient whose stored days ran out in between, and its
    // tasks are still those of judging everyone.
    let on = days(on, 5);
    let report = sweep(store.as_ref(), &pack, on, 64, false, &mut |_, _| {}).await?;
    ensure!(!report.full && report.judged > 0, "{report:?}");
    ensure!(sorted(store.tasks(100_000).await?) == judged_alone(&wf, on).await?);

    // A patient whose stored answer is gone (a row deleted by hand) is judged, though nothing marked it.
    let gone = patient(17);
    let deleted = raw
        .exec(&format!("DELETE FROM sweep_state WHERE patient = '{gone}'"))
        .await?;
    ensure!(deleted == 1);
    let found = store.sweep_due(Some(on)).await?.due;
    ensure!(found.contains(&gone), "{gone} not due: {found:?}");
    let report = sweep(store.as_ref(), &pack, on, 64, false, &mut |_, _| {}).await?;
    ensure!(!report.full && report.judged == 1, "{report:?}");
    ensure!(!store.sweep_due(Some(on)).await?.due.contains(&gone));

    // A date before the last sweep, or another rule pack, judges every patient.
    let back = sweep(
        store.as_ref(),
        &pack,
        days(on, -1),
        64,
        false,
        &mut |_, _| {},
    )
    .await?;
    ensure!(back.full && back.judged == PATIENTS as usize, "{back:?}");
    let mut other = (*pack).clone();
    other.meta.version.push_str("-local");
    let other = Arc::new(other);
    let again = sweep(store.as_ref(), &other, on, 64, false, &mut |_, _| {}).await?;
    ensure!(again.full && again.judged == PATIENTS as usize, "{again:?}");
    let same = sweep(store.as_ref(), &other, on, 64, false, &mut |_, _| {}).await?;
    ensure!(!same.full && same.judged == 0, "{same:?}");
    Ok(())
}

#[tokio::test]
async fn incremental_sweep_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    let raw = Raw::Sqlite(store.pool().clone());
    story(Arc::new(store), raw).await
}

#[tokio::test]
async fn incremental_sweep_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let raw = Raw::Pg(store.pool().clone());
    let r = story(Arc::new(store.clone()), raw).await;
    db.drop_database(store).await?;
    r
}
