//! A small program registry for the REST API tests: two clinics, two pharmacies, a prescriber, a pharmacist and a
//! patient on each side, program staff, an auditor and an admin, with an API token per role. "Own" objects are
//! side A's (the test's callers are A's prescriber, A's pharmacist and patient A); "other" objects are side B's.

use anyhow::{Context, Result, bail};
use jiff::civil::{Date, date};
use lenaguard_domain::RulePack;
use lenaguard_server::api::ApiSettings;
use lenaguard_server::api::identity;
use lenaguard_server::{Application, Settings};
use lenaguard_storage::accounts::{Account, AccountRole};
use lenaguard_storage::command::{ADMIN, Command, CommandRequest};
use lenaguard_storage::{Answer, Store, Workflow};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

pub const DAY: Date = date(2026, 11, 26);
pub const PASSWORD: &str = "correct horse battery staple";

/// The objects of one side.
#[derive(Debug, Clone)]
pub struct Side {
    pub patient: String,
    pub prescription: String,
    pub authorization: String,
}

#[derive(Debug)]
pub struct World {
    pub own: Side,
    pub other: Side,
    /// An API token (read and write) per role.
    pub tokens: BTreeMap<AccountRole, String>,
    /// The login of each role's account.
    pub logins: BTreeMap<AccountRole, String>,
}

pub fn pack() -> Arc<RulePack> {
    Arc::new(RulePack::builtin().expect("the built-in pack loads"))
}

pub async fn run(wf: &Workflow, actor: &str, on: Date, body: serde_json::Value) -> Result<Answer> {
    let command: Command =
        serde_json::from_value(body.clone()).with_context(|| format!("{body}"))?;
    let out = wf
        .execute(CommandRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            actor: actor.into(),
            on,
            command,
        })
        .await?;
    match out.accepted() {
        Some(a) => Ok(a.clone()),
        None => bail!("refused: {body} -> {:?}", out.outcome),
    }
}

pub fn day(n: i64) -> Date {
    use jiff::ToSpan;
    DAY.checked_add(n.days()).expect("in range")
}

async fn side(wf: &Workflow, s: &str) -> Result<Side> {
    let (clinic, pharmacy, dr, ph) = (
        format!("clinic-{s}"),
        format!("pharm-{s}"),
        format!("dr-{s}"),
        format!("ph-{s}"),
    );
    let long_ago = day(-60);
    for (org, kind) in [(&clinic, "clinic"), (&pharmacy, "pharmacy")] {
        run(wf, ADMIN, long_ago, json!({"command": "register_organisation", "organisation": org, "kind": kind, "name": org})).await?;
    }
    run(wf, ADMIN, long_ago, json!({"command": "register_user", "user": dr, "organisation": clinic, "name": dr, "role": "prescriber"})).await?;
    run(wf, ADMIN, long_ago, json!({"command": "register_user", "user": ph, "organisation": pharmacy, "name": ph, "role": "pharmacist"})).await?;
    run(
        wf,
        ADMIN,
        long_ago,
        json!({"command": "certify_prescriber", "user": dr, "expires_on": day(365)}),
    )
    .await?;
    run(
        wf,
        ADMIN,
        long_ago,
        json!({"command": "certify_pharmacy", "organisation": pharmacy, "expires_on": day(365)}),
    )
    .await?;
    let patient = format!("pat-{s}");
    let rx = format!("rx-{s}");
    run(wf, &dr, day(-2), json!({"command": "enroll", "patient": patient, "identity": format!("{clinic}:MRN-{s}"), "sex": "male",
        "birth_date": "1956-03-14", "category": "adult_male", "agreement_signed_on": day(-2), "prescriber": dr, "regimen": "mm_rd", "planned_start": day(1)})).await?;
    for (code, value, unit) in [
        ("anc", 2.5, "10*9/L"),
        ("platelets", 180.0, "10*9/L"),
        ("creatinine", 0.9, "mg/dL"),
    ] {
        run(wf, &dr, day(-1), json!({"command": "record_lab", "patient": patient, "lab": {"code": code, "value": value, "unit": unit, "date": day(-1)}})).await?;
    }
    // With the creatinine, the weight gives a Cockcroft-Gault clearance and so a renal starting dose.
    run(wf, &dr, day(-1), json!({"command": "record_measurement", "patient": patient, "measurement": {"date": day(-1), "weight_kg": 80.0, "height_cm": 175.0}})).await?;
    run(wf, &dr, DAY, json!({"command": "write_prescription", "prescription": rx, "patient": patient, "date": DAY,
        "schedule": {"dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28},
        "quantity": 21, "days_supply": 28, "pharmacy": pharmacy})).await?;
    let Answer::Authorization { number, .. } = run(
        wf,
        &dr,
        DAY,
        json!({"command": "request_authorization", "prescription": rx}),
    )
    .await?
    else {
        bail!("not an authorization");
    };
    Ok(Side {
        patient,
        prescription: rx,
        authorization: number,
    })
}

/// Build the registry, the accounts (with `PASSWORD`) and a token per role.
pub async fn world(store: Arc<dyn Store>) -> Result<World> {
    let wf = Workflow::new(store.clone(), pack());
    let own = side(&wf, "a").await?;
    let other = side(&wf, "b").await?;
    run(&wf, ADMIN, day(-60), json!({"command": "register_user", "user": "st", "organisation": "clinic-a", "name": "st", "role": "program_staff"})).await?;
    let hash = identity::hash_password(PASSWORD.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let accounts = [
        (
            "dr-a",
            AccountRole::Prescriber,
            Some("dr-a"),
            Some("clinic-a"),
        ),
        (
            "ph-a",
            AccountRole::Pharmacist,
            Some("ph-a"),
            Some("pharm-a"),
        ),
        ("pat-a", AccountRole::Patient, Some("pat-a"), None),
        (
            "st",
            AccountRole::ProgramStaff,
            Some("st"),
            Some("clinic-a"),
        ),
        ("au", AccountRole::Auditor, None, None),
        ("ad", AccountRole::Admin, None, None),
    ];
    let mut tokens = BTreeMap::new();
    let mut logins = BTreeMap::new();
    for (login, role, subject, org) in accounts {
        let created = store
            .create_account(&Account {
                login: login.into(),
                role,
                subject: subject.map(Into::into),
                organisation: org.map(Into::into),
                password_hash: Some(hash.clone()),
                disabled: false,
                created_at_ms: identity::now_ms(),
            })
            .await?;
        assert!(created, "{login} created");
        let (text, token) = identity::new_token(
            login,
            "tests",
            vec!["read".into(), "write".into()],
            identity::now_ms() + 86_400_000,
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert!(store.create_api_token(&token).await?);
        tokens.insert(role, text);
        logins.insert(role, login.to_string());
    }
    Ok(World {
        own,
        other,
        tokens,
        logins,
    })
}

/// The settings of a test server: the REST API on, today fixed, a quick throttle.
pub fn settings(store: Arc<dyn Store>, api: ApiSettings) -> Settings {
    let mut s = Settings::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Vec::new(),
        (*pack()).clone(),
    );
    s.today = Some(DAY);
    s.store = Some(store);
    s.api = Some(api);
    s
}

/// Start a server; its address and stop switch.
pub async fn start(settings: Settings) -> Result<(String, oneshot::Sender<()>)> {
    let app = Application::build(settings).await?;
    let base = format!("http://{}", app.local_addr()?);
    let (stop, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Ok((base, stop))
}
