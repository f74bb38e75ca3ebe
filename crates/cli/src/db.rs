//! Database commands: `migrate`, `audit verify`, `backup`, `restore`, `demo`, and the `--database-url` option
//! every storage command shares (SQLite file by default; `postgres://` for a shared PostgreSQL).

use crate::input::Context;
use crate::{Failure, Format, Outcome};
use clap::{Args, Subcommand};
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_server::api::{admin, identity};
use lenaguard_storage::accounts::AccountRole;
use lenaguard_storage::command::{ADMIN, Command, CommandRequest};
use lenaguard_storage::{StorageError, Store, Workflow};
use lenaguard_storage_postgres::PostgresStore;
use lenaguard_storage_sqlite::SqliteStore;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the program's records live.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// `sqlite://PATH` (or a file path) or `postgres://USER@HOST:PORT/DATABASE`.
    #[arg(
        long = "database-url",
        env = "LENAGUARD_DATABASE_URL",
        default_value = "sqlite://./lenaguard.db",
        value_name = "URL"
    )]
    pub url: String,
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Input(_)
            | StorageError::IdempotencyConflict { .. }
            | StorageError::Config { .. } => Failure::Input(e.to_string()),
            StorageError::Constraint { .. }
            | StorageError::Database(_)
            | StorageError::Corrupt { .. } => Failure::Internal(e.to_string()),
        }
    }
}

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Run a future on a runtime of its own: the CLI is otherwise synchronous.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("async runtime: {e}")))?;
    Ok(rt.block_on(f))
}

/// Open (and migrate) the store named by the URL.
pub async fn open(db: &DbArgs) -> Result<Arc<dyn Store>, Failure> {
    if is_postgres(&db.url) {
        Ok(Arc::new(PostgresStore::open(&db.url).await?))
    } else if db.url.contains("://") && !db.url.starts_with("sqlite://") {
        Err(Failure::Input(format!(
            "--database-url: {:?} is not accepted; expected sqlite://PATH, a file path, or postgres://USER@HOST:PORT/DATABASE",
            lenaguard_storage_postgres::redact(&db.url)
        )))
    } else {
        Ok(Arc::new(SqliteStore::open(&db.url).await?))
    }
}

pub async fn workflow(ctx: &Context, db: &DbArgs) -> Result<Workflow, Failure> {
    Ok(Workflow::new(open(db).await?, Arc::new(ctx.pack.clone())))
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn migrate(ctx: &Context, args: &MigrateArgs) -> Outcome {
    let store = block_on(open(&args.db))??;
    match ctx.format {
        Format::Text => println!("{} database is at the current schema.", store.backend()),
        Format::Json => println!(
            "{}",
            serde_json::json!({ "backend": store.backend(), "migrated": true })
        ),
    }
    Ok(0)
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain of the audit trail; exit 1 and name the first broken event if any row was edited,
    /// deleted or reordered.
    Verify(MigrateArgs),
}

pub fn audit(ctx: &Context, cmd: &AuditCommand) -> Outcome {
    let AuditCommand::Verify(args) = cmd;
    let report = block_on(async {
        let store = open(&args.db).await?;
        Ok::<_, Failure>(lenaguard_storage::verify_audit(store.as_ref()).await?)
    })??;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Text => match &report.broken {
            None => println!(
                "Audit chain intact: {} events, head {}.",
                report.events, report.head
            ),
            Some(b) => println!("Audit chain BROKEN at event {}: {}.", b.seq, b.why),
        },
    }
    Ok(if report.intact() { 0 } else { 1 })
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist).
    pub file: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn backup(_ctx: &Context, args: &BackupArgs) -> Outcome {
    if is_postgres(&args.db.url) {
        return Err(postgres_backup());
    }
    block_on(async {
        let store = open(&args.db).await?;
        store.backup(&args.file).await?;
        Ok::<_, Failure>(())
    })??;
    println!("Backup written to {}.", args.file.display());
    Ok(0)
}

fn postgres_backup() -> Failure {
    Failure::Input(
        "--database-url: backup and restore here are for SQLite; back up PostgreSQL with `pg_dump --format=custom --file=FILE URL` and restore with `pg_restore --clean --dbname=URL FILE`".into(),
    )
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by `lenaguard backup`.
    pub file: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn restore(_ctx: &Context, args: &RestoreArgs) -> Outcome {
    if is_postgres(&args.db.url) {
        return Err(postgres_backup());
    }
    if !args.file.is_file() {
        return Err(Failure::Input(format!(
            "FILE: {:?} is not accepted; expected an existing backup file",
            args.file.display().to_string()
        )));
    }
    let target = args
        .db
        .url
        .strip_prefix("sqlite://")
        .unwrap_or(&args.db.url)
        .to_string();
    block_on(SqliteStore::restore(
        &args.file,
        std::path::Path::new(&target),
    ))??;
    println!(
        "Restored {} from {} (its audit chain verified first).",
        target,
        args.file.display()
    );
    Ok(0)
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

fn days(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

/// The demo registry and patients, as commands (actor, date, command JSON), relative to `today`.
fn demo_commands(today: Date) -> Vec<(String, Date, serde_json::Value)> {
    use serde_json::json;
    let long_ago = days(today, -60);
    let expires = days(today, 365);
    let sched =
        json!({ "dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 });
    let sched10 =
        json!({ "dose_mg": 10, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28 });
    let m = days(today, -10);
    let f = days(today, -5);
    let c = |actor: &str, on: Date, v: serde_json::Value| (actor.to_string(), on, v);
    // Counts, a creatinine and a weight before each first prescription: the engine checks the ordered dose
    // against the starting dose for the patient's kidney function, and refuses a prescription it cannot judge.
    let baseline = |patient: &str, on: Date, creatinine: f64, weight_kg: f64, height_cm: f64| {
        let lab = |code: &str, value: f64, unit: &str| {
            c(
                "dr-ada",
                on,
                json!({"command": "record_lab", "patient": patient, "lab": {"code": code, "value": value, "unit": unit, "date": on}}),
            )
        };
        vec![
            lab("anc", 2.8, "10*9/L"),
            lab("platelets", 210.0, "10*9/L"),
            lab("creatinine", creatinine, "mg/dL"),
            c(
                "dr-ada",
                on,
                json!({"command": "record_measurement", "patient": patient, "measurement": {"date": on, "weight_kg": weight_kg, "height_cm": height_cm}}),
            ),
        ]
    };
    let mut steps = vec![
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_organisation", "organisation": "clinic-1", "kind": "clinic", "name": "Riverside Hematology Clinic"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_organisation", "organisation": "pharm-1", "kind": "pharmacy", "name": "Northside Specialty Pharmacy"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_organisation", "organisation": "pharm-2", "kind": "pharmacy", "name": "Eastgate Pharmacy"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_user", "user": "dr-ada", "organisation": "clinic-1", "name": "Dr Ada Byron", "role": "prescriber"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_user", "user": "ph-di", "organisation": "pharm-2", "name": "Di Okafor, PharmD", "role": "pharmacist"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_user", "user": "ph-bo", "organisation": "pharm-1", "name": "Bo Lind, PharmD", "role": "pharmacist"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "register_user", "user": "st-cy", "organisation": "clinic-1", "name": "Cy Moreno", "role": "program_staff"}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "certify_prescriber", "user": "dr-ada", "expires_on": expires}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "certify_pharmacy", "organisation": "pharm-1", "expires_on": expires}),
        ),
        c(
            ADMIN,
            long_ago,
            json!({"command": "certify_pharmacy", "organisation": "pharm-2", "expires_on": expires}),
        ),
        // An adult male on Rd, first dispensed 10 days ago.
        c(
            "dr-ada",
            m,
            json!({"command": "enroll", "patient": "pat-male", "identity": "clinic-1:MRN-1001", "sex": "male", "birth_date": "1956-03-14", "category": "adult_male", "agreement_signed_on": m, "prescriber": "dr-ada", "regimen": "mm_rd"}),
        ),
    ];
    steps.extend(baseline("pat-male", m, 1.0, 82.0, 178.0));
    steps.extend(vec![
        c(
            "dr-ada",
            m,
            json!({"command": "write_prescription", "prescription": "rx-male-1", "patient": "pat-male", "date": m, "schedule": sched, "quantity": 21, "days_supply": 28, "pharmacy": "pharm-1"}),
        ),
        c(
            "dr-ada",
            m,
            json!({"command": "request_authorization", "prescription": "rx-male-1"}),
        ),
        // An adult female who cannot get pregnant (natural menopause), first dispensed 5 days ago.
        c(
            "dr-ada",
            f,
            json!({"command": "enroll", "patient": "pat-fnrp", "identity": "clinic-1:MRN-1002", "sex": "female", "birth_date": "1950-09-30", "category": "adult_female_cannot_get_pregnant", "agreement_signed_on": f, "prescriber": "dr-ada", "regimen": "mm_maintenance", "not_of_reproductive_potential": {"reason": "natural_menopause", "since": "2002-01-01"}}),
        ),
        c(
            "st-cy",
            f,
            json!({"command": "submit_survey", "patient": "pat-fnrp", "survey": {"date": f, "questionnaire": lenaguard_storage::survey::QUESTIONNAIRE, "answers": {"donating_blood": false}}}),
        ),
    ]);
    steps.extend(baseline("pat-fnrp", f, 0.7, 64.0, 160.0));
    steps.extend(vec![
        c(
            "dr-ada",
            f,
            json!({"command": "write_prescription", "prescription": "rx-fnrp-1", "patient": "pat-fnrp", "date": f, "schedule": sched10, "quantity": 21, "days_supply": 28, "pharmacy": "pharm-1"}),
        ),
        c(
            "dr-ada",
            f,
            json!({"command": "request_authorization", "prescription": "rx-fnrp-1"}),
        ),
        // A female who can get pregnant, ready to walk to a first dispense today: enrolled 40 days ago,
        // two methods of contraception for 35 days, a first negative test 12 days ago.
        c(
            "dr-ada",
            days(today, -40),
            json!({"command": "enroll", "patient": "pat-frp", "identity": "clinic-1:MRN-1003", "sex": "female", "birth_date": "1991-04-02", "category": "adult_female_can_get_pregnant", "agreement_signed_on": days(today, -40), "prescriber": "dr-ada", "regimen": "mm_rd", "planned_start": today}),
        ),
        c(
            "dr-ada",
            days(today, -35),
            json!({"command": "attest_contraception", "patient": "pat-frp", "attestation": {"start": days(today, -35), "methods": ["iud", "male_condom"]}}),
        ),
        c(
            "dr-ada",
            days(today, -12),
            json!({"command": "record_pregnancy_test", "patient": "pat-frp", "test": {"date": days(today, -12), "specimen": "serum", "sensitivity_miu_ml": 25, "result": "negative"}}),
        ),
    ]);
    steps.extend(baseline("pat-frp", days(today, -1), 0.8, 62.0, 165.0));
    steps.extend(vec![
        // Two adult males authorized today and not yet dispensed: one prescription routed to pharm-1 (ph-bo's
        // pharmacy), one to pharm-2 (ph-di's), so that each pharmacy sees only its own.
        c(
            "dr-ada",
            today,
            json!({"command": "enroll", "patient": "pat-west", "identity": "clinic-1:MRN-1004", "sex": "male", "birth_date": "1949-07-21", "category": "adult_male", "agreement_signed_on": today, "prescriber": "dr-ada", "regimen": "mm_rd", "planned_start": today}),
        ),
    ]);
    steps.extend(baseline("pat-west", today, 0.9, 80.0, 175.0));
    steps.extend(vec![
        c(
            "dr-ada",
            today,
            json!({"command": "write_prescription", "prescription": "rx-west-1", "patient": "pat-west", "date": today, "schedule": sched, "quantity": 21, "days_supply": 28, "pharmacy": "pharm-1"}),
        ),
        c(
            "dr-ada",
            today,
            json!({"command": "request_authorization", "prescription": "rx-west-1"}),
        ),
        c(
            "dr-ada",
            today,
            json!({"command": "enroll", "patient": "pat-east", "identity": "clinic-1:MRN-1005", "sex": "male", "birth_date": "1952-01-09", "category": "adult_male", "agreement_signed_on": today, "prescriber": "dr-ada", "regimen": "mm_rd", "planned_start": today}),
        ),
    ]);
    steps.extend(baseline("pat-east", today, 1.0, 76.0, 172.0));
    steps.extend(vec![
        c(
            "dr-ada",
            today,
            json!({"command": "write_prescription", "prescription": "rx-east-1", "patient": "pat-east", "date": today, "schedule": sched, "quantity": 21, "days_supply": 28, "pharmacy": "pharm-2"}),
        ),
        c(
            "dr-ada",
            today,
            json!({"command": "request_authorization", "prescription": "rx-east-1"}),
        ),
    ]);
    steps
}

/// The demo's prescriptions left authorized and not dispensed, for the pharmacies to walk through.
const DEMO_PENDING: [&str; 2] = ["rx-west-1", "rx-east-1"];

/// The demo's login accounts: login, role, subject. Their password is [`DEMO_PASSWORD`].
const DEMO_ACCOUNTS: [(&str, AccountRole, Option<&str>); 7] = [
    ("admin", AccountRole::Admin, None),
    ("dr-ada", AccountRole::Prescriber, Some("dr-ada")),
    ("ph-bo", AccountRole::Pharmacist, Some("ph-bo")),
    ("ph-di", AccountRole::Pharmacist, Some("ph-di")),
    ("st-cy", AccountRole::ProgramStaff, Some("st-cy")),
    ("au-eve", AccountRole::Auditor, None),
    ("pat-frp", AccountRole::Patient, Some("pat-frp")),
];

/// The demo accounts' password: demo data only, printed by `lenaguard demo`.
pub const DEMO_PASSWORD: &str = "lenaguard-demo";

pub fn demo(ctx: &Context, args: &DemoArgs) -> Outcome {
    let today = ctx.today;
    block_on(async {
        let wf = workflow(ctx, &args.db).await?;
        if !wf.store().audit_rows(0, 1).await?.is_empty() {
            return Err(Failure::Input(
                "--database-url: the database already has records; the demo seeds a fresh database (choose another --database-url)".into(),
            ));
        }
        for (i, (actor, on, body)) in demo_commands(today).into_iter().enumerate() {
            let command: Command = serde_json::from_value(body)
                .map_err(|e| Failure::Internal(format!("demo command {i}: {e}")))?;
            let out = wf
                .execute(CommandRequest {
                    idempotency_key: format!("demo-{i}"),
                    actor,
                    on,
                    command,
                })
                .await?;
            match out.accepted() {
                Some(lenaguard_storage::Answer::Authorization { prescription, .. })
                    if DEMO_PENDING.contains(&prescription.as_str()) => {}
                // The pharmacy confirms and dispenses the same day.
                Some(lenaguard_storage::Answer::Authorization { number: auth, .. }) => {
                    let conf = demo_step(&wf, &format!("demo-{i}-confirm"), on, serde_json::json!({"command": "request_confirmation", "authorization": auth})).await?;
                    let lenaguard_storage::Answer::Confirmation { number: conf, .. } = conf else {
                        return Err(Failure::Internal("demo: not a confirmation".into()));
                    };
                    demo_step(&wf, &format!("demo-{i}-dispense"), on, serde_json::json!({"command": "dispense", "authorization": auth, "confirmation": conf, "days_supply": 28, "quantity": 21, "counselling": {"checklist_completed": true, "medication_guide_given": true}})).await?;
                }
                Some(_) => {}
                None => {
                    return Err(Failure::Internal(format!(
                        "demo command {i} was refused: {:?}",
                        out.outcome
                    )));
                }
            }
        }
        for (login, role, subject) in DEMO_ACCOUNTS {
            let hash = identity::hash_password(DEMO_PASSWORD.into())
                .await
                .map_err(|e| Failure::Internal(format!("demo account {login}: {e:?}")))?;
            let account =
                admin::checked_account(&wf, login, role, subject.map(Into::into), Some(hash))
                    .await
                    .map_err(|e| Failure::Internal(format!("demo account {login}: {e:?}")))?;
            wf.store().create_account(&account).await?;
        }
        Ok::<_, Failure>(())
    })??;
    let logins: Vec<&str> = DEMO_ACCOUNTS.iter().map(|(l, _, _)| *l).collect();
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({ "seeded": true, "today": today, "accounts": logins, "password": DEMO_PASSWORD })
        ),
        Format::Text => println!(
            "Demo seeded for {today}: clinic-1 (prescriber dr-ada, staff st-cy), pharm-1 (pharmacist ph-bo); patients pat-male and pat-fnrp on treatment, pat-frp (a female who can get pregnant) ready for the second pregnancy test and a first dispense today; pat-west (rx-west-1, routed to pharm-1) and pat-east (rx-east-1, routed to pharm-2, pharmacist ph-di) authorized today, not yet dispensed. See the README, \"Program workflow and storage\".\nDemo logins (`lenaguard serve`, then POST /api/v1/session): {}; password {DEMO_PASSWORD:?} (demo data only).",
            logins.join(", ")
        ),
    }
    Ok(0)
}

async fn demo_step(
    wf: &Workflow,
    key: &str,
    on: Date,
    body: serde_json::Value,
) -> Result<lenaguard_storage::Answer, Failure> {
    let command: Command =
        serde_json::from_value(body).map_err(|e| Failure::Internal(format!("demo: {e}")))?;
    let out = wf
        .execute(CommandRequest {
            idempotency_key: key.into(),
            actor: "ph-bo".into(),
            on,
            command,
        })
        .await?;
    match out.accepted() {
        Some(a) => Ok(a.clone()),
        None => Err(Failure::Internal(format!(
            "demo step {key} was refused: {:?}",
            out.outcome
        ))),
    }
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Print this many of the most urgent tasks (0: only the counts).
    #[arg(long, default_value_t = 20)]
    pub list: i64,
    /// Patients read per page.
    #[arg(long, default_value_t = 1000)]
    pub page: i64,
    /// Judge every patient, not only those whose file changed or whose day has come since the last sweep.
    #[arg(long)]
    pub full: bool,
}

/// `lenaguard sweep`: every patient's due, overdue and lapsing items today, stored as tasks.
pub fn sweep(ctx: &Context, args: &SweepArgs) -> Outcome {
    use std::io::IsTerminal;
    if args.page < 1 {
        return Err(Failure::Input(format!(
            "--page: {} is not accepted; expected at least 1",
            args.page
        )));
    }
    let terminal = std::io::stderr().is_terminal();
    let (report, tasks) = block_on(async {
        let store = open(&args.db).await?;
        let mut progress = |done: usize, total: usize| {
            if terminal {
                let width = 40;
                let filled = (done * width).checked_div(total).unwrap_or(width);
                eprint!(
                    "\r[{}{}] {done}/{total} patients",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                );
            }
        };
        let report = lenaguard_storage::sweep::sweep(
            store.as_ref(),
            &Arc::new(ctx.pack.clone()),
            ctx.today,
            args.page,
            args.full,
            &mut progress,
        )
        .await?;
        if terminal {
            eprintln!();
        }
        let tasks = store.tasks(args.list.max(0)).await?;
        Ok::<_, Failure>((report, tasks))
    })??;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "report": report, "tasks": tasks }))
                .unwrap_or_default()
        ),
        Format::Text => {
            let how = if report.full {
                "every patient judged"
            } else {
                "the others' answers still hold"
            };
            println!(
                "Swept {} patients on {}: {} judged ({how}), {} tasks ({} blocked records).",
                report.patients, ctx.today, report.judged, report.tasks, report.blocked
            );
            for t in &tasks {
                println!(
                    "  {}  {:<9} {:<28} {}: {}",
                    t.due, t.state, t.kind, t.patient, t.act
                );
            }
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Number of synthetic patients.
    #[arg(long)]
    pub patients: u32,
    /// Seed of the generator: the same seed and --today give the same registry.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of the first patient (to add to an earlier synthetic registry).
    #[arg(long, default_value_t = 0)]
    pub first: u32,
    /// Patients per transaction (and audit event).
    #[arg(long, default_value_t = 1000)]
    pub batch: u32,
}

/// `lenaguard synth`: a synthetic registry, written in batches through the workflow.
pub fn synth(ctx: &Context, args: &SynthArgs) -> Outcome {
    use lenaguard_storage::synth::{CLINIC, PHARMACIST, PHARMACY, PRESCRIBER};
    if args.patients == 0 || !(1..=10_000).contains(&args.batch) {
        return Err(Failure::Input(format!(
            "--patients/--batch: {}/{} is not accepted; expected at least 1 patient, batches of 1 to 10000",
            args.patients, args.batch
        )));
    }
    let today = ctx.today;
    let start = std::time::Instant::now();
    block_on(async {
        let wf = workflow(ctx, &args.db).await?;
        let setup = days(today, -400);
        let registry = serde_json::json!([
            {"command": "register_organisation", "organisation": CLINIC, "kind": "clinic", "name": "Synthetic Clinic"},
            {"command": "register_organisation", "organisation": PHARMACY, "kind": "pharmacy", "name": "Synthetic Pharmacy"},
            {"command": "register_user", "user": PRESCRIBER, "organisation": CLINIC, "name": "Synthetic Prescriber", "role": "prescriber"},
            {"command": "register_user", "user": PHARMACIST, "organisation": PHARMACY, "name": "Synthetic Pharmacist", "role": "pharmacist"},
            {"command": "certify_prescriber", "user": PRESCRIBER, "expires_on": days(today, 365)},
            {"command": "certify_pharmacy", "organisation": PHARMACY, "expires_on": days(today, 365)},
        ]);
        for body in registry.as_array().into_iter().flatten() {
            let command: Command = serde_json::from_value(body.clone())
                .map_err(|e| Failure::Internal(format!("synthetic registry: {e}")))?;
            let out = wf
                .execute(CommandRequest {
                    idempotency_key: uuid::Uuid::new_v4().to_string(),
                    actor: ADMIN.into(),
                    on: setup,
                    command,
                })
                .await?;
            // Already registered by an earlier run: fine.
            if let lenaguard_storage::Outcome::Refused { reasons } = &out.outcome
                && !reasons.iter().all(|r| r.code.ends_with(".exists"))
            {
                return Err(Failure::Internal(format!(
                    "synthetic registry refused: {reasons:?}"
                )));
            }
        }
        let end = args.first.saturating_add(args.patients);
        let mut first = args.first;
        while first < end {
            let count = args.batch.min(end - first);
            let out = wf
                .execute(CommandRequest {
                    idempotency_key: format!("synth-{}-{first}-{count}-{today}", args.seed),
                    actor: ADMIN.into(),
                    on: today,
                    command: Command::SynthesizeRegistry {
                        seed: args.seed,
                        first,
                        count,
                    },
                })
                .await?;
            if out.accepted().is_none() {
                return Err(Failure::Internal(format!(
                    "synthetic batch refused: {:?}",
                    out.outcome
                )));
            }
            first += count;
        }
        Ok::<_, Failure>(())
    })??;
    let secs = start.elapsed().as_secs_f64();
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({ "patients": args.patients, "seed": args.seed, "seconds": secs })
        ),
        Format::Text => println!(
            "Synthetic registry: {} patients (syn-{:07} on, seed {}) written in {secs:.1} s.",
            args.patients, args.first, args.seed
        ),
    }
    Ok(0)
}
