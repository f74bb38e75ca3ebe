//! One story of the program workflow, run against SQLite and PostgreSQL: a female who can get pregnant from
//! enrollment to a first dispense, every refusal on the way, retries, and the audit chain.

use anyhow::{Context, Result, ensure};
use lenaguard_storage::command::{ADMIN, Command};
use lenaguard_storage::{Answer, Outcome, StorageError, Store, verify_audit};
use lenaguard_tests_storage::*;
use std::sync::Arc;

fn refused_codes(out: &lenaguard_storage::CommandOutcome) -> Vec<String> {
    match &out.outcome {
        Outcome::Refused { reasons } => reasons.iter().map(|r| r.code.clone()).collect(),
        Outcome::Accepted { .. } => vec![],
    }
}

async fn story(store: Arc<dyn Store>) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;

    // Enrollment; the same identity cannot enroll twice.
    ok(
        &wf,
        "dr-ada",
        days(DAY, -40),
        Command::Enroll(enrollment("pat-1")),
    )
    .await?;
    let mut twin = enrollment("pat-1b");
    twin.identity = enrollment("pat-1").identity;
    let out = run(&wf, "dr-ada", days(DAY, -40), Command::Enroll(twin)).await?;
    ensure!(refused_codes(&out) == ["enrollment.exists"], "{out:?}");

    // A prescription before any test or contraception is refused with every missing step.
    let mut early = prescription("pat-1", "rx-early", 28);
    if let Command::WritePrescription(p) = &mut early {
        p.date = days(DAY, -40);
    }
    let out = run(&wf, "dr-ada", days(DAY, -40), early).await?;
    let codes = refused_codes(&out);
    for step in [
        "pregnancy_test.first",
        "pregnancy_test.second",
        "contraception",
        "survey",
    ] {
        ensure!(
            codes.iter().any(|c| c == step),
            "missing {step} in {codes:?}"
        );
    }

    ok(
        &wf,
        "dr-ada",
        days(DAY, -35),
        Command::AttestContraception {
            patient: "pat-1".into(),
            attestation: lenaguard_storage::command::ContraceptionAttestation {
                start: days(DAY, -35),
                end: None,
                methods: vec!["iud".into(), "male_condom".into()],
                abstinence: false,
            },
        },
    )
    .await?;
    ok(
        &wf,
        "dr-ada",
        days(DAY, -12),
        pregnancy_test("pat-1", days(DAY, -12)),
    )
    .await?;
    ok(&wf, "dr-ada", DAY, pregnancy_test("pat-1", DAY)).await?;

    // A survey answer that breaks a rule blocks and names the rule; nothing is stored but the refusal.
    let out = run(&wf, "dr-ada", DAY, survey("pat-1", false)).await?;
    ensure!(refused_codes(&out) == ["survey.answer"], "{out:?}");
    let Outcome::Refused { reasons } = &out.outcome else {
        unreachable!()
    };
    ensure!(
        reasons[0].rules == ["program.pregnancy.positive"],
        "{reasons:?}"
    );
    ok(&wf, "dr-ada", DAY, survey("pat-1", true)).await?;

    // Every program step is done, but without a creatinine and a weight the engine cannot check the starting
    // dose: the prescription is refused, saying what is missing, and nothing is written but the refusal.
    let out = run(&wf, "dr-ada", DAY, prescription("pat-1", "rx-0", 28)).await?;
    ensure!(refused_codes(&out) == ["prescription.unjudged"], "{out:?}");
    let Outcome::Refused { reasons } = &out.outcome else {
        unreachable!()
    };
    ensure!(reasons[0].what.contains("creatinine"), "{reasons:?}");
    ensure!(
        store
            .patient_file("pat-1")
            .await?
            .context("stored")?
            .prescriptions
            .is_empty(),
        "a refused prescription is not written"
    );
    baseline(&wf, "pat-1", DAY).await?;

    // More than the pack's maximum supply is refused with the rule.
    let out = run(&wf, "dr-ada", DAY, prescription("pat-1", "rx-35", 35)).await?;
    ensure!(refused_codes(&out) == ["prescription.supply"], "{out:?}");

    ok(&wf, "dr-ada", DAY, prescription("pat-1", "rx-1", 28)).await?;
    let Answer::Authorization {
        number: auth,
        valid_through,
        unverified_rules,
        ..
    } = ok(
        &wf,
        "dr-ada",
        DAY,
        Command::RequestAuthorization {
            prescription: "rx-1".into(),
        },
    )
    .await?
    else {
        anyhow::bail!("not an authorization")
    };
    // The pack's 7 days for a female who can get pregnant, counted from the last negative test (today).
    ensure!(
        valid_through == days(DAY, 6),
        "valid through {valid_through}"
    );
    ensure!(
        unverified_rules
            .iter()
            .any(|r| r == "program.authorization.validity")
    );
    // One active authorization per prescription.
    let out = run(
        &wf,
        "dr-ada",
        DAY,
        Command::RequestAuthorization {
            prescription: "rx-1".into(),
        },
    )
    .await?;
    ensure!(refused_codes(&out) == ["authorization.active"], "{out:?}");

    // Dispensing without a confirmation number is refused; with one, and with the checklist, it is accepted.
    let out = run(&wf, "ph-bo", DAY, dispense(&auth, "LC-NONE")).await?;
    ensure!(refused_codes(&out) == ["confirmation.unknown"], "{out:?}");
    let Answer::Confirmation { number: conf, .. } = ok(
        &wf,
        "ph-bo",
        DAY,
        Command::RequestConfirmation {
            authorization: auth.clone(),
        },
    )
    .await?
    else {
        anyhow::bail!("not a confirmation")
    };
    let mut no_checklist = dispense(&auth, &conf);
    if let Command::Dispense { counselling, .. } = &mut no_checklist {
        counselling.checklist_completed = false;
    }
    let out = run(&wf, "ph-bo", DAY, no_checklist).await?;
    ensure!(refused_codes(&out) == ["counselling.checklist"], "{out:?}");

    let first = lenaguard_storage::CommandRequest {
        idempotency_key: "dispense-pat-1-first".into(),
        actor: "ph-bo".into(),
        on: DAY,
        command: dispense(&auth, &conf),
    };
    let done = wf.execute(first.clone()).await?;
    ensure!(
        matches!(done.accepted(), Some(Answer::Dispensed { .. })),
        "{done:?}"
    );

    // A retry with the same key returns the first answer, and does not dispense again.
    let again = wf.execute(first.clone()).await?;
    ensure!(again.replayed && again.audit_seq == done.audit_seq && again.outcome == done.outcome);
    // The same key with another body is refused outright.
    let mut other = first.clone();
    other.command = dispense(&auth, "LC-OTHER");
    match wf.execute(other).await {
        Err(StorageError::IdempotencyConflict { first_command, .. }) => {
            ensure!(first_command == "dispense")
        }
        r => anyhow::bail!("expected an idempotency conflict, got {r:?}"),
    }

    // A second dispense on the same authorization is refused; the refusal is audited and nothing else changes.
    let before = store.audit_rows(0, 1_000_000).await?.len();
    let out = run(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await?;
    ensure!(refused_codes(&out) == ["authorization.used"], "{out:?}");
    ensure!(store.audit_rows(0, 1_000_000).await?.len() == before + 1);
    let out = run(
        &wf,
        "ph-bo",
        DAY,
        Command::RequestConfirmation {
            authorization: auth.clone(),
        },
    )
    .await?;
    ensure!(refused_codes(&out) == ["authorization.used"], "{out:?}");
    let file = store.patient_file("pat-1").await?.expect("patient stored");
    ensure!(file.dispenses.len() == 1, "{:?}", file.dispenses);
    ensure!(file.patient.status == lenaguard_domain::snapshot::TreatmentStatus::Active);
    ensure!(file.patient.start_date == Some(DAY));

    // Malformed input is an error naming the field, and writes nothing (not even an audit event).
    let before = store.audit_rows(0, 1_000_000).await?.len();
    let bad = run(
        &wf,
        "dr-ada",
        DAY,
        Command::Resume {
            patient: "pat 1; DROP".into(),
        },
    )
    .await;
    match bad {
        Err(e) => ensure!(
            e.to_string().contains("patient") && e.to_string().contains("A-Z a-z 0-9"),
            "{e}"
        ),
        Ok(o) => anyhow::bail!("accepted malformed input: {o:?}"),
    }
    ensure!(store.audit_rows(0, 1_000_000).await?.len() == before);

    // Admin cannot record patient data; an unknown actor is refused.
    let out = run(&wf, ADMIN, DAY, pregnancy_test("pat-1", DAY)).await?;
    ensure!(refused_codes(&out) == ["actor.admin"], "{out:?}");

    // After discontinuation nothing more is prescribed, confirmed or dispensed.
    ok(
        &wf,
        "dr-ada",
        DAY,
        Command::Discontinue {
            patient: "pat-1".into(),
            reason: "patient choice".into(),
        },
    )
    .await?;
    let out = run(&wf, "dr-ada", DAY, prescription("pat-1", "rx-2", 28)).await?;
    ensure!(refused_codes(&out) == ["treatment.discontinued"], "{out:?}");
    let file = store.patient_file("pat-1").await?.expect("patient stored");
    ensure!(file.patient.last_dose == Some(DAY));
    let (auth2, conf2) = authorized(&wf, "pat-2").await?;
    ok(
        &wf,
        "dr-ada",
        DAY,
        Command::Discontinue {
            patient: "pat-2".into(),
            reason: "adverse event".into(),
        },
    )
    .await?;
    let out = run(&wf, "ph-bo", DAY, dispense(&auth2, &conf2)).await?;
    ensure!(refused_codes(&out) == ["treatment.discontinued"], "{out:?}");

    let report = verify_audit(store.as_ref()).await?;
    ensure!(report.intact(), "{report:?}");
    ensure!(report.events == store.audit_rows(0, 1_000_000).await?.len() as i64);
    Ok(())
}

#[tokio::test]
async fn story_on_sqlite() -> Result<()> {
    let (store, _dir) = sqlite().await?;
    story(Arc::new(store)).await
}

#[tokio::test]
async fn story_on_postgres() -> Result<()> {
    let Some((store, db)) = postgres().await? else {
        return Ok(());
    };
    let result = story(Arc::new(store.clone())).await;
    db.drop_database(store).await?;
    result
}
