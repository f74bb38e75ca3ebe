//! Test harness for the storage story: fresh backends (SQLite in a temporary directory; PostgreSQL as a new
//! database with a random name, dropped after) and the commands of one patient's walk to a first dispense.
//!
//! PostgreSQL is at `LENAGUARD_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`). When it is
//! unreachable the PostgreSQL half is skipped with a notice, unless `LENAGUARD_TEST_PG=required` (CI), in which
//! case the test fails.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use jiff::civil::{Date, date};
use lenaguard_domain::RulePack;
use lenaguard_storage::command::{
    ADMIN, Command, CommandOutcome, CommandRequest, ContraceptionAttestation, Counselling,
    Enrollment, OrganisationKind, PregnancyTestReport, PrescriptionOrder, Role, Specimen,
    SurveySubmission,
};
use lenaguard_storage::{Answer, Store, Workflow};
use lenaguard_storage_postgres::PostgresStore;
use lenaguard_storage_sqlite::SqliteStore;
use std::sync::Arc;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The day of the first prescription and dispense in the story.
pub const DAY: Date = date(2026, 11, 26);

pub fn pack() -> Arc<RulePack> {
    Arc::new(RulePack::builtin().expect("the built-in pack loads"))
}

/// A fresh SQLite store in its own temporary directory (kept alive by the returned guard).
pub async fn sqlite() -> Result<(SqliteStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("lenaguard.db");
    let store = SqliteStore::open(&path.to_string_lossy()).await?;
    Ok((store, dir))
}

/// A fresh PostgreSQL database. Call [`PgDatabase::drop_database`] at the end of the test.
#[derive(Debug)]
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn drop_database(self, store: PostgresStore) -> Result<()> {
        store.pool().close().await;
        let admin = sqlx::PgPool::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Ok(())
    }
}

/// Whether CI demands PostgreSQL.
pub fn pg_required() -> bool {
    std::env::var("LENAGUARD_TEST_PG").is_ok_and(|v| v == "required")
}

/// A fresh PostgreSQL store, `None` (with a notice) when PostgreSQL is unreachable and not required.
pub async fn postgres() -> Result<Option<(PostgresStore, PgDatabase)>> {
    let admin_url =
        std::env::var("LENAGUARD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin_url)
        .await
    {
        Ok(p) => p,
        Err(e) if !pg_required() => {
            eprintln!(
                "NOTICE: PostgreSQL at {admin_url} is unreachable ({e}); the PostgreSQL half is skipped. Set LENAGUARD_TEST_PG=required to fail instead."
            );
            return Ok(None);
        }
        Err(e) => {
            bail!("LENAGUARD_TEST_PG=required but PostgreSQL at {admin_url} is unreachable: {e}")
        }
    };
    let name = format!("lenaguard_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .context("CREATE DATABASE")?;
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .context("the PostgreSQL URL has no database part")?;
    let url = format!("{base}/{name}");
    let store = PostgresStore::open(&url).await?;
    Ok(Some((
        store,
        PgDatabase {
            url,
            admin_url,
            name,
        },
    )))
}

/// Issue a command with a fresh idempotency key.
pub async fn run(wf: &Workflow, actor: &str, on: Date, command: Command) -> Result<CommandOutcome> {
    Ok(wf
        .execute(CommandRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            actor: actor.into(),
            on,
            command,
        })
        .await?)
}

/// Issue a command that must be accepted.
pub async fn ok(wf: &Workflow, actor: &str, on: Date, command: Command) -> Result<Answer> {
    let name = command.name();
    let out = run(wf, actor, on, command).await?;
    match out.accepted() {
        Some(a) => Ok(a.clone()),
        None => bail!("{name} was refused: {:?}", out.outcome),
    }
}

pub fn days(d: Date, n: i64) -> Date {
    use jiff::ToSpan;
    d.checked_add(n.days()).expect("date in range")
}

/// Clinic, pharmacy, a certified prescriber (`dr-ada`) and a pharmacist (`ph-bo`) of a certified pharmacy.
pub async fn registry(wf: &Workflow) -> Result<()> {
    let on = days(DAY, -60);
    ok(
        wf,
        ADMIN,
        on,
        Command::RegisterOrganisation {
            organisation: "clinic-1".into(),
            kind: OrganisationKind::Clinic,
            name: "Hematology Clinic".into(),
        },
    )
    .await?;
    ok(
        wf,
        ADMIN,
        on,
        Command::RegisterOrganisation {
            organisation: "pharm-1".into(),
            kind: OrganisationKind::Pharmacy,
            name: "Specialty Pharmacy".into(),
        },
    )
    .await?;
    ok(
        wf,
        ADMIN,
        on,
        Command::RegisterUser {
            user: "dr-ada".into(),
            organisation: "clinic-1".into(),
            name: "Dr Ada".into(),
            role: Role::Prescriber,
        },
    )
    .await?;
    ok(
        wf,
        ADMIN,
        on,
        Command::RegisterUser {
            user: "ph-bo".into(),
            organisation: "pharm-1".into(),
            name: "Bo, PharmD".into(),
            role: Role::Pharmacist,
        },
    )
    .await?;
    ok(
        wf,
        ADMIN,
        on,
        Command::CertifyPrescriber {
            user: "dr-ada".into(),
            expires_on: days(DAY, 365),
        },
    )
    .await?;
    ok(
        wf,
        ADMIN,
        on,
        Command::CertifyPharmacy {
            organisation: "pharm-1".into(),
            expires_on: days(DAY, 365),
        },
    )
    .await?;
    Ok(())
}

/// A female who can get pregnant, enrolled, with contraception, the first negative test 12 days before
/// [`DAY`], counts, a creatinine and a weight 3 days before, and on [`DAY`] the second test and the survey:
/// ready for a first prescription.
pub async fn ready_patient(wf: &Workflow, patient: &str) -> Result<()> {
    program_steps(wf, patient, true).await
}

/// The program's steps of [`ready_patient`] without the counts, creatinine and weight: every REMS step done,
/// and a dose the engine cannot check yet.
pub async fn rems_ready_patient(wf: &Workflow, patient: &str) -> Result<()> {
    program_steps(wf, patient, false).await
}

async fn program_steps(wf: &Workflow, patient: &str, with_baseline: bool) -> Result<()> {
    ok(
        wf,
        "dr-ada",
        days(DAY, -40),
        Command::Enroll(enrollment(patient)),
    )
    .await?;
    ok(
        wf,
        "dr-ada",
        days(DAY, -35),
        Command::AttestContraception {
            patient: patient.into(),
            attestation: ContraceptionAttestation {
                start: days(DAY, -35),
                end: None,
                methods: vec!["iud".into(), "male_condom".into()],
                abstinence: false,
            },
        },
    )
    .await?;
    ok(
        wf,
        "dr-ada",
        days(DAY, -12),
        pregnancy_test(patient, days(DAY, -12)),
    )
    .await?;
    if with_baseline {
        baseline(wf, patient, days(DAY, -3)).await?;
    }
    ok(wf, "dr-ada", DAY, pregnancy_test(patient, DAY)).await?;
    ok(wf, "dr-ada", DAY, survey(patient, true)).await?;
    Ok(())
}

/// Counts, a creatinine and a weight that put the patient (born 1991, 62 kg, creatinine 0.8 mg/dL) at the full
/// starting dose: the workflow refuses a prescription whose dose the engine cannot check.
pub async fn baseline(wf: &Workflow, patient: &str, on: Date) -> Result<()> {
    labs_and_weight(
        wf,
        patient,
        on,
        &[
            ("anc", 2.8, "10*9/L"),
            ("platelets", 210.0, "10*9/L"),
            ("creatinine", 0.8, "mg/dL"),
        ],
        62.0,
    )
    .await
}

/// These labs (code, value, unit) and a weight, all dated `on`, recorded by `dr-ada` on `on`.
pub async fn labs_and_weight(
    wf: &Workflow,
    patient: &str,
    on: Date,
    labs: &[(&str, f64, &str)],
    weight_kg: f64,
) -> Result<()> {
    for (code, value, unit) in labs {
        let lab = serde_json::from_value(serde_json::json!({
            "command": "record_lab", "patient": patient,
            "lab": {"code": code, "value": value, "unit": unit, "date": on}
        }))?;
        ok(wf, "dr-ada", on, lab).await?;
    }
    let weight = serde_json::from_value(serde_json::json!({
        "command": "record_measurement", "patient": patient,
        "measurement": {"date": on, "weight_kg": weight_kg}
    }))?;
    ok(wf, "dr-ada", on, weight).await?;
    Ok(())
}

pub fn enrollment(patient: &str) -> Enrollment {
    serde_json::from_value(serde_json::json!({
        "patient": patient,
        "identity": format!("clinic-1:MRN-{patient}"),
        "sex": "female",
        "birth_date": "1991-04-02",
        "category": "adult_female_can_get_pregnant",
        "agreement_signed_on": days(DAY, -40),
        "prescriber": "dr-ada",
        "regimen": "mm_rd",
        "planned_start": DAY,
    }))
    .expect("enrollment JSON")
}

pub fn pregnancy_test(patient: &str, on: Date) -> Command {
    Command::RecordPregnancyTest {
        patient: patient.into(),
        test: PregnancyTestReport {
            date: on,
            specimen: Specimen::Serum,
            sensitivity_miu_ml: 25.0,
            result: lenaguard_domain::program::TestResult::Negative,
            setting: Default::default(),
        },
    }
}

/// The survey of a female who can get pregnant; `honest = false` answers that she may be pregnant.
pub fn survey(patient: &str, honest: bool) -> Command {
    let answers = [
        ("pregnant_or_possibly_pregnant".to_string(), !honest),
        ("using_required_contraception".to_string(), true),
        ("donating_blood".to_string(), false),
    ]
    .into_iter()
    .collect();
    Command::SubmitSurvey {
        patient: patient.into(),
        survey: SurveySubmission {
            date: DAY,
            questionnaire: lenaguard_storage::survey::QUESTIONNAIRE.into(),
            answers,
        },
    }
}

pub fn prescription(patient: &str, id: &str, days_supply: u16) -> Command {
    Command::WritePrescription(PrescriptionOrder {
        prescription: id.into(),
        patient: patient.into(),
        date: DAY,
        schedule: serde_json::from_value(serde_json::json!(
            { "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 }
        ))
        .expect("schedule JSON"),
        quantity: 21,
        days_supply,
        refills: 0,
        telephone: false,
        pharmacy: None,
    })
}

pub fn dispense(authorization: &str, confirmation: &str) -> Command {
    Command::Dispense {
        authorization: authorization.into(),
        confirmation: confirmation.into(),
        days_supply: 28,
        quantity: 21,
        counselling: Counselling {
            checklist_completed: true,
            medication_guide_given: true,
        },
    }
}

/// Walk `patient` to an authorization and a confirmation on [`DAY`]; returns their numbers.
pub async fn authorized(wf: &Workflow, patient: &str) -> Result<(String, String)> {
    registry_if_needed(wf).await?;
    ready_patient(wf, patient).await?;
    let rx = format!("rx-{patient}");
    ok(wf, "dr-ada", DAY, prescription(patient, &rx, 28)).await?;
    let Answer::Authorization { number: auth, .. } = ok(
        wf,
        "dr-ada",
        DAY,
        Command::RequestAuthorization { prescription: rx },
    )
    .await?
    else {
        bail!("not an authorization answer")
    };
    let Answer::Confirmation { number: conf, .. } = ok(
        wf,
        "ph-bo",
        DAY,
        Command::RequestConfirmation {
            authorization: auth.clone(),
        },
    )
    .await?
    else {
        bail!("not a confirmation answer")
    };
    Ok((auth, conf))
}

async fn registry_if_needed(wf: &Workflow) -> Result<()> {
    if wf.store().patient_ids().await?.is_empty() && wf.store().audit_rows(0, 1).await?.is_empty() {
        registry(wf).await?;
    }
    Ok(())
}

/// A workflow over a store.
pub fn workflow(store: Arc<dyn Store>) -> Workflow {
    Workflow::new(store, pack())
}

/// Open a store from a `sqlite://` path or `postgres://` URL.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    Ok(
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Arc::new(PostgresStore::open(url).await?)
        } else {
            Arc::new(SqliteStore::open(url).await?)
        },
    )
}

/// Try `attempts` concurrent dispenses of one authorization; the number accepted.
pub async fn dispense_race(
    wf: &Workflow,
    auth: &str,
    conf: &str,
    attempts: usize,
) -> Result<usize> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..attempts {
        let (wf, auth, conf) = (wf.clone(), auth.to_string(), conf.to_string());
        tasks.spawn(async move { run(&wf, "ph-bo", DAY, dispense(&auth, &conf)).await });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        let out = done??;
        match &out.outcome {
            lenaguard_storage::Outcome::Accepted { .. } => accepted += 1,
            lenaguard_storage::Outcome::Refused { reasons } => {
                if !reasons
                    .iter()
                    .any(|r| r.code == "authorization.used" || r.code == "database.invariant")
                {
                    bail!("refused for an unexpected reason: {reasons:?}");
                }
            }
        }
    }
    Ok(accepted)
}

/// The synthetic registry's clinic, pharmacy, prescriber and pharmacist (a `SynthesizeRegistry` batch needs
/// them), registered 400 days before [`DAY`].
pub async fn synthetic_registry(wf: &Workflow) -> Result<()> {
    use lenaguard_storage::command::{ADMIN, OrganisationKind, Role};
    use lenaguard_storage::synth::{CLINIC, PHARMACIST, PHARMACY, PRESCRIBER};
    let on = days(DAY, -400);
    let registry = [
        Command::RegisterOrganisation {
            organisation: CLINIC.into(),
            kind: OrganisationKind::Clinic,
            name: "Synthetic Clinic".into(),
        },
        Command::RegisterOrganisation {
            organisation: PHARMACY.into(),
            kind: OrganisationKind::Pharmacy,
            name: "Synthetic Pharmacy".into(),
        },
        Command::RegisterUser {
            user: PRESCRIBER.into(),
            organisation: CLINIC.into(),
            name: "P".into(),
            role: Role::Prescriber,
        },
        Command::RegisterUser {
            user: PHARMACIST.into(),
            organisation: PHARMACY.into(),
            name: "Ph".into(),
            role: Role::Pharmacist,
        },
    ];
    for c in registry {
        ok(wf, ADMIN, on, c).await?;
    }
    Ok(())
}

/// Raw SQL on a store's database, for what the trait does not offer (tampering, an out-of-band change).
#[derive(Clone, Debug)]
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Raw {
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self {
            Raw::Sqlite(p) => Ok(sqlx::query(sql).execute(p).await?.rows_affected()),
            Raw::Pg(p) => Ok(sqlx::query(sql).execute(p).await?.rows_affected()),
        }
    }
}
