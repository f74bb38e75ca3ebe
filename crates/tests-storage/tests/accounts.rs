//! The HTTP service's accounts on both backends: accounts and passwords, the login throttle under concurrent
//! failures, one first admin under a race, sessions (absolute end, idle timeout, disabled account, the touch
//! rule, the purge), API tokens, the access log's chain under concurrent writers and against tampering, the
//! relations the access checks read and the patient lists of each scope, and prescription routing in the workflow.

use anyhow::{Result, bail, ensure};
use lenaguard_storage::accounts::{
    AccessEvent, Account, AccountRole, ApiToken, BackoffPolicy, PatientScope, SESSION_TOUCH_MS,
    Session, Throttle, first_broken_access,
};
use lenaguard_storage::command::{ADMIN, Command, OrganisationKind, Role};
use lenaguard_storage::{Answer, CommandOutcome, Outcome, Store, Workflow};
use lenaguard_tests_storage::*;
use std::sync::Arc;

/// Turn off the guard that refuses an UPDATE of the access log (what someone with the database's owner rights
/// could do).
async fn drop_update_guard(raw: &Raw) -> Result<()> {
    match raw {
        Raw::Sqlite(_) => raw.exec("DROP TRIGGER access_log_no_update").await?,
        Raw::Pg(_) => {
            raw.exec("ALTER TABLE access_log DISABLE TRIGGER access_log_no_update")
                .await?
        }
    };
    Ok(())
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() -> Result<()> {
                let (store, _dir) = lenaguard_tests_storage::sqlite().await?;
                let raw = Raw::Sqlite(store.pool().clone());
                super::$scenario(Arc::new(store), raw).await
            }

            #[tokio::test]
            async fn on_postgres() -> Result<()> {
                let Some((store, db)) = lenaguard_tests_storage::postgres().await? else {
                    return Ok(());
                };
                let raw = Raw::Pg(store.pool().clone());
                let outcome = super::$scenario(Arc::new(store.clone()), raw).await;
                db.drop_database(store).await?;
                outcome
            }
        }
    )*};
}

on_both_backends!(
    accounts_and_passwords,
    throttle_counts_every_concurrent_failure,
    one_first_admin_under_a_race,
    sessions_end_and_touch,
    api_tokens,
    access_log_chain_under_concurrent_writers,
    access_log_is_append_only_and_tampering_is_found,
    routing_relations_and_patient_lists,
);

fn account(login: &str, role: AccountRole) -> Account {
    Account {
        login: login.into(),
        role,
        subject: None,
        organisation: None,
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${login}")),
        disabled: false,
        created_at_ms: 1_000,
    }
}

fn session(id: &str, login: &str, created: i64, expires: i64) -> Session {
    Session {
        id_hash: lenaguard_storage::accounts::secret_hash(id),
        login: login.into(),
        csrf_token: format!("csrf-{id}"),
        created_at_ms: created,
        expires_at_ms: expires,
        last_seen_ms: created,
    }
}

async fn accounts_and_passwords(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    let mut ph = account("ph.bo", AccountRole::Pharmacist);
    ph.subject = Some("ph-bo".into());
    ph.organisation = Some("pharm-1".into());
    ensure!(store.create_account(&ph).await?, "a new login is stored");
    let mut again = account("ph.bo", AccountRole::Auditor);
    again.password_hash = None;
    ensure!(
        !store.create_account(&again).await?,
        "a taken login is refused"
    );
    ensure!(
        store.account("ph.bo").await? == Some(ph.clone()),
        "the first account is kept whole"
    );
    let mut sys = account("a-system", AccountRole::ProgramStaff);
    sys.password_hash = None;
    store.create_account(&sys).await?;
    ensure!(
        store
            .create_account(&account("zed", AccountRole::Auditor))
            .await?
    );
    let logins: Vec<String> = store
        .accounts()
        .await?
        .into_iter()
        .map(|a| a.login)
        .collect();
    ensure!(logins == ["a-system", "ph.bo", "zed"], "{logins:?}");
    ensure!(
        store.account("PH.BO").await?.is_none(),
        "logins are case-sensitive"
    );
    ensure!(store.account("a-system").await? == Some(sys));

    // A new password ends every session of the account, and only of that account.
    store
        .create_session(&session("s1", "ph.bo", 0, 1_000_000))
        .await?;
    store
        .create_session(&session("s2", "ph.bo", 0, 1_000_000))
        .await?;
    store
        .create_session(&session("z1", "zed", 0, 1_000_000))
        .await?;
    ensure!(store.set_password("ph.bo", "$argon2id$new").await?);
    ensure!(!store.set_password("nobody", "$argon2id$new").await?);
    let stored = store.account("ph.bo").await?.expect("account");
    ensure!(stored.password_hash.as_deref() == Some("$argon2id$new"));
    for s in ["s1", "s2"] {
        let live = store
            .session(&lenaguard_storage::accounts::secret_hash(s), 10, 600_000)
            .await?;
        ensure!(live.is_none(), "session {s} survived a new password");
    }
    ensure!(
        store
            .session(&lenaguard_storage::accounts::secret_hash("z1"), 10, 600_000)
            .await?
            .is_some(),
        "another account's session is kept"
    );

    // Disabling ends the sessions; enabling again does not bring them back.
    ensure!(store.set_disabled("zed", true).await?);
    ensure!(store.account("zed").await?.expect("account").disabled);
    ensure!(
        store
            .session(&lenaguard_storage::accounts::secret_hash("z1"), 10, 600_000)
            .await?
            .is_none()
    );
    ensure!(store.set_disabled("zed", false).await?);
    ensure!(!store.account("zed").await?.expect("account").disabled);
    ensure!(
        store
            .session(&lenaguard_storage::accounts::secret_hash("z1"), 10, 600_000)
            .await?
            .is_none(),
        "a session ended by disabling stays ended"
    );
    ensure!(!store.set_disabled("nobody", true).await?);
    // A session of an unknown login is refused by the database.
    ensure!(
        store
            .create_session(&session("x", "nobody", 0, 1_000_000))
            .await
            .is_err()
    );
    Ok(())
}

async fn throttle_counts_every_concurrent_failure(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    let policy = BackoffPolicy {
        free_failures: 5,
        base_ms: 1_000,
        max_ms: 60_000,
    };
    let now = 5_000_000;
    ensure!(
        store.throttle("ph.bo").await?
            == Throttle {
                failures: 0,
                locked_until_ms: None
            }
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.spawn(async move { store.login_failed("ph.bo", now, &policy).await });
    }
    let mut seen = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let t = done??;
        ensure!(
            t.locked_until_ms == policy.locked_until(t.failures, now),
            "{t:?}: the lock answered is not the policy's"
        );
        seen.push(t.failures);
    }
    seen.sort_unstable();
    ensure!(
        seen == (1..=16).collect::<Vec<u32>>(),
        "every concurrent failure counts once: {seen:?}"
    );
    let t = store.throttle("ph.bo").await?;
    ensure!(t.failures == 16, "{t:?}");
    ensure!(
        t.locked_until_ms == policy.locked_until(16, now)
            && t.locked_until_ms == Some(now + 60_000),
        "{t:?}"
    );
    // Another key is its own.
    let other = store.login_failed("dr.ada", now, &policy).await?;
    ensure!(
        other
            == Throttle {
                failures: 1,
                locked_until_ms: None
            },
        "{other:?}"
    );
    // The sixth failure is the first locked one.
    for _ in 0..4 {
        store.login_failed("dr.ada", now, &policy).await?;
    }
    let sixth = store.login_failed("dr.ada", now + 7, &policy).await?;
    ensure!(sixth.locked_until_ms == Some(now + 7 + 1_000), "{sixth:?}");
    store.login_succeeded("ph.bo").await?;
    ensure!(
        store.throttle("ph.bo").await?
            == Throttle {
                failures: 0,
                locked_until_ms: None
            },
        "a success clears the key"
    );
    ensure!(
        store.throttle("dr.ada").await?.failures == 6,
        "and only that key"
    );
    let after = store.login_failed("ph.bo", now, &policy).await?;
    ensure!(
        after.failures == 1 && after.locked_until_ms.is_none(),
        "{after:?}"
    );
    Ok(())
}

async fn one_first_admin_under_a_race(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    store
        .create_account(&account("auditor", AccountRole::Auditor))
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .create_first_admin(&account(&format!("admin-{i}"), AccountRole::Admin))
                .await
        });
    }
    let mut made = 0;
    while let Some(done) = tasks.join_next().await {
        made += usize::from(done??);
    }
    ensure!(made == 1, "{made} first admins were made");
    let admins = store
        .accounts()
        .await?
        .into_iter()
        .filter(|a| a.role == AccountRole::Admin)
        .count();
    ensure!(admins == 1, "{admins} admin accounts stored");
    ensure!(
        !store
            .create_first_admin(&account("late", AccountRole::Admin))
            .await?
    );
    ensure!(store.account("late").await?.is_none());
    // A second admin made on purpose (by an admin) is allowed: only the bootstrap is once.
    ensure!(
        store
            .create_account(&account("admin-two", AccountRole::Admin))
            .await?
    );
    ensure!(
        store
            .create_first_admin(&account("x", AccountRole::Auditor))
            .await
            .is_err(),
        "the first admin must be an admin"
    );
    Ok(())
}

async fn sessions_end_and_touch(store: Arc<dyn Store>, raw: Raw) -> Result<()> {
    store
        .create_account(&account("dr.ada", AccountRole::Prescriber))
        .await?;
    let idle = 30 * 60_000;
    let s = session("cookie-1", "dr.ada", 1_000, 1_000 + 8 * 3_600_000);
    store.create_session(&s).await?;
    let id = s.id_hash.clone();
    ensure!(store.session("unknown", 1_000, idle).await?.is_none());

    // A use within SESSION_TOUCH_MS of the last one writes nothing.
    let (got, acct) = store
        .session(&id, 1_000 + 5_000, idle)
        .await?
        .expect("live");
    ensure!(got == s, "{got:?}");
    ensure!(acct.login == "dr.ada" && acct.role == AccountRole::Prescriber);
    let (got, _) = store
        .session(&id, 1_000 + SESSION_TOUCH_MS, idle)
        .await?
        .expect("live");
    ensure!(got.last_seen_ms == 1_000, "touched too early: {got:?}");
    // Older than SESSION_TOUCH_MS: the use refreshes it, and the stored row says so.
    let t1 = 1_000 + SESSION_TOUCH_MS + 1;
    let (got, _) = store.session(&id, t1, idle).await?.expect("live");
    ensure!(got.last_seen_ms == t1, "{got:?}");
    let (got, _) = store.session(&id, t1 + 10, idle).await?.expect("live");
    ensure!(
        got.last_seen_ms == t1,
        "the refresh was not stored: {got:?}"
    );

    // Idle timeout counts from the last refresh; an answer of None writes nothing.
    ensure!(
        store.session(&id, t1 + idle + 1, idle).await?.is_none(),
        "an idle session is over"
    );
    let (got, _) = store.session(&id, t1 + 10, idle).await?.expect("live");
    ensure!(got.last_seen_ms == t1, "an idle answer wrote: {got:?}");
    let (got, _) = store.session(&id, t1 + idle, idle).await?.expect("live");
    ensure!(got.last_seen_ms == t1 + idle, "{got:?}");

    // The absolute end holds however active the session is.
    let end = s.expires_at_ms;
    let mut t = got.last_seen_ms;
    while t + idle / 2 < end {
        t += idle / 2;
        ensure!(store.session(&id, t, idle).await?.is_some());
    }
    ensure!(store.session(&id, end - 1, idle).await?.is_some());
    ensure!(
        store.session(&id, end, idle).await?.is_none(),
        "past its end"
    );

    // A disabled account's session is not answered (disabled out of band, so the row is still there).
    let s2 = session("cookie-2", "dr.ada", 0, 10_000_000);
    store.create_session(&s2).await?;
    ensure!(store.session(&s2.id_hash, 10, idle).await?.is_some());
    raw.exec("UPDATE accounts SET disabled = TRUE WHERE login = 'dr.ada'")
        .await?;
    ensure!(store.session(&s2.id_hash, 10, idle).await?.is_none());
    raw.exec("UPDATE accounts SET disabled = FALSE WHERE login = 'dr.ada'")
        .await?;
    ensure!(store.session(&s2.id_hash, 10, idle).await?.is_some());
    store.delete_session(&s2.id_hash).await?;
    ensure!(store.session(&s2.id_hash, 10, idle).await?.is_none());

    // The purge removes the ended and the idle, and keeps the live.
    let now = 50_000_000;
    let ended = session("ended", "dr.ada", now - 1_000, now);
    let mut idle_one = session("idle", "dr.ada", now - 2 * idle, now + 3_600_000);
    idle_one.last_seen_ms = now - idle - 1;
    let mut live = session("live", "dr.ada", now - 2 * idle, now + 3_600_000);
    live.last_seen_ms = now - idle;
    for x in [&ended, &idle_one, &live] {
        store.create_session(x).await?;
    }
    let purged = store.purge_sessions(now, idle).await?;
    // cookie-1 ended long ago too.
    ensure!(purged == 3, "{purged} sessions purged");
    ensure!(store.session(&live.id_hash, now, idle).await?.is_some());
    ensure!(store.purge_sessions(now, idle).await? == 0);
    Ok(())
}

async fn api_tokens(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    let mut sys = account("ehr-system", AccountRole::ProgramStaff);
    sys.password_hash = None;
    store.create_account(&sys).await?;
    let token = |id: &str, created: i64, scopes: &[&str]| ApiToken {
        id: id.into(),
        secret_hash: lenaguard_storage::accounts::secret_hash(&format!("secret-{id}")),
        login: "ehr-system".into(),
        name: format!("token {id}"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at_ms: created,
        expires_at_ms: created + 86_400_000,
        revoked: false,
    };
    let first = token("t1", 1_000, &["patients.read", "commands.write"]);
    ensure!(store.create_api_token(&first).await?);
    ensure!(
        !store
            .create_api_token(&token("t1", 9, &["patients.read"]))
            .await?,
        "a taken id is refused"
    );
    ensure!(
        store
            .create_api_token(&token("t2", 2_000, &["b", "a", "a"]))
            .await?
    );
    let (got, acct) = store.api_token("t1").await?.expect("token");
    ensure!(acct == sys, "{acct:?}");
    ensure!(
        got.scopes == ["commands.write", "patients.read"],
        "scopes are stored sorted: {:?}",
        got.scopes
    );
    ensure!(
        got.secret_hash == first.secret_hash
            && got.expires_at_ms == first.expires_at_ms
            && !got.revoked
    );
    let (second, _) = store.api_token("t2").await?.expect("token");
    ensure!(second.scopes == ["a", "b"], "{:?}", second.scopes);
    ensure!(store.api_token("t3").await?.is_none());
    let ids: Vec<String> = store
        .api_tokens_of("ehr-system")
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    ensure!(ids == ["t2", "t1"], "newest first: {ids:?}");
    ensure!(store.api_tokens_of("nobody").await?.is_empty());
    ensure!(store.revoke_api_token("t1").await?);
    ensure!(!store.revoke_api_token("t9").await?);
    ensure!(store.api_token("t1").await?.expect("token").0.revoked);
    ensure!(!store.api_token("t2").await?.expect("token").0.revoked);
    // The account's state comes with the token: the caller checks it.
    store.set_disabled("ehr-system", true).await?;
    ensure!(store.api_token("t2").await?.expect("token").1.disabled);
    ensure!(
        store
            .create_api_token(&ApiToken {
                login: "nobody".into(),
                ..token("t4", 1, &[])
            })
            .await
            .is_err(),
        "a token of an unknown account is refused"
    );
    Ok(())
}

fn access(i: usize, task: usize) -> AccessEvent {
    AccessEvent {
        at_ms: 1_000 + i as i64,
        login: format!("user-{task}"),
        role: if task.is_multiple_of(2) {
            AccountRole::Pharmacist
        } else {
            AccountRole::Prescriber
        },
        action: "patient.read".into(),
        patient: (!i.is_multiple_of(3)).then(|| format!("pat-{i}")),
        status: if i.is_multiple_of(7) { 403 } else { 200 },
        request_id: format!("req-{task}-{i}"),
    }
}

async fn access_log_chain_under_concurrent_writers(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    store.record_access(&[]).await?;
    ensure!(store.access_rows(0, 10).await?.is_empty());
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..25 {
                store.record_access(&[access(i, task)]).await?;
            }
            Ok::<(), lenaguard_storage::StorageError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let rows = store.access_rows(0, 1_000).await?;
    ensure!(rows.len() == 200, "{} rows", rows.len());
    ensure!(
        rows.iter().map(|r| r.seq).eq(1..=200),
        "the chain has gaps or repeats"
    );
    ensure!(first_broken_access(&rows).is_none(), "the chain forked");
    let mut requests: Vec<&str> = rows.iter().map(|r| r.event.request_id.as_str()).collect();
    requests.sort_unstable();
    requests.dedup();
    ensure!(requests.len() == 200, "every event is stored once");
    // Several events in one call keep their order, and paging reads the chain in order.
    let batch = [access(100, 9), access(101, 9), access(102, 9)];
    store.record_access(&batch).await?;
    let tail = store.access_rows(200, 10).await?;
    ensure!(tail.iter().map(|r| &r.event).eq(batch.iter()), "{tail:?}");
    let page = store.access_rows(100, 50).await?;
    ensure!(page.iter().map(|r| r.seq).eq(101..=150));
    ensure!(page == rows[100..150], "a page is the rows it covers");
    let all = store.access_rows(0, 1_000).await?;
    ensure!(first_broken_access(&all).is_none());
    Ok(())
}

async fn access_log_is_append_only_and_tampering_is_found(
    store: Arc<dyn Store>,
    raw: Raw,
) -> Result<()> {
    let events: Vec<AccessEvent> = (0..5).map(|i| access(i, 1)).collect();
    store.record_access(&events).await?;
    let rows = store.access_rows(0, 100).await?;
    ensure!(first_broken_access(&rows).is_none());
    ensure!(rows[1].event.status == 200);
    // The database refuses to edit or remove a row.
    ensure!(
        raw.exec("UPDATE access_log SET status = 403 WHERE seq = 2")
            .await
            .is_err(),
        "an UPDATE of the access log went through"
    );
    ensure!(
        raw.exec("DELETE FROM access_log WHERE seq = 5")
            .await
            .is_err(),
        "a DELETE from the access log went through"
    );
    ensure!(
        store.access_rows(0, 100).await? == rows,
        "the refused edits changed nothing"
    );
    // Edited in memory: the chain names the row.
    let mut edited = rows.clone();
    edited[2].event.patient = Some("someone-else".into());
    ensure!(first_broken_access(&edited) == Some(3));
    let mut dropped = rows.clone();
    dropped.remove(1);
    ensure!(first_broken_access(&dropped) == Some(3));
    // Edited in the database by someone who turned the guard off: the read-back chain names the row.
    drop_update_guard(&raw).await?;
    ensure!(
        raw.exec("UPDATE access_log SET status = 403 WHERE seq = 2")
            .await?
            == 1,
        "the guard is off"
    );
    let tampered = store.access_rows(0, 100).await?;
    ensure!(tampered[1].event.status == 403);
    ensure!(
        first_broken_access(&tampered) == Some(2),
        "the edited row went unnoticed"
    );
    Ok(())
}

fn codes(out: &CommandOutcome) -> Vec<String> {
    match &out.outcome {
        Outcome::Refused { reasons } => reasons.iter().map(|r| r.code.clone()).collect(),
        Outcome::Accepted { .. } => Vec::new(),
    }
}

fn routed(patient: &str, id: &str, pharmacy: Option<&str>) -> Command {
    let mut c = prescription(patient, id, 28);
    if let Command::WritePrescription(p) = &mut c {
        p.pharmacy = pharmacy.map(str::to_string);
    }
    c
}

async fn authorize(wf: &Workflow, rx: &str) -> Result<String> {
    match ok(
        wf,
        "dr-ada",
        DAY,
        Command::RequestAuthorization {
            prescription: rx.into(),
        },
    )
    .await?
    {
        Answer::Authorization { number, .. } => Ok(number),
        other => bail!("not an authorization: {other:?}"),
    }
}

async fn routing_relations_and_patient_lists(store: Arc<dyn Store>, _raw: Raw) -> Result<()> {
    let wf = workflow(store.clone());
    registry(&wf).await?;
    let on = days(DAY, -60);
    for c in [
        Command::RegisterOrganisation {
            organisation: "pharm-2".into(),
            kind: OrganisationKind::Pharmacy,
            name: "Second Pharmacy".into(),
        },
        Command::RegisterUser {
            user: "ph-cy".into(),
            organisation: "pharm-2".into(),
            name: "Cy, PharmD".into(),
            role: Role::Pharmacist,
        },
        Command::CertifyPharmacy {
            organisation: "pharm-2".into(),
            expires_on: days(DAY, 365),
        },
    ] {
        ok(&wf, ADMIN, on, c).await?;
    }
    for p in ["pat-1", "pat-2", "pat-3"] {
        ready_patient(&wf, p).await?;
    }

    // Routed to nothing registered, or to a clinic: refused, naming the value.
    for bad in ["pharm-x", "clinic-1"] {
        let out = run(&wf, "dr-ada", DAY, routed("pat-1", "rx-bad", Some(bad))).await?;
        ensure!(codes(&out) == ["prescription.pharmacy"], "{out:?}");
        let Outcome::Refused { reasons } = &out.outcome else {
            bail!("accepted")
        };
        ensure!(reasons[0].what.contains(bad), "{reasons:?}");
    }
    ensure!(store.prescription_relations("rx-bad").await?.is_none());
    ok(&wf, "dr-ada", DAY, routed("pat-1", "rx-1", Some("pharm-1"))).await?;
    ok(
        &wf,
        "dr-ada",
        DAY,
        routed("pat-2", "rx-2a", Some("pharm-2")),
    )
    .await?;
    ok(
        &wf,
        "dr-ada",
        DAY,
        routed("pat-2", "rx-2b", Some("pharm-1")),
    )
    .await?;
    ok(&wf, "dr-ada", DAY, routed("pat-3", "rx-3", None)).await?;
    let file = store.patient_file("pat-1").await?.expect("patient");
    ensure!(file.prescriptions[0].pharmacy.as_deref() == Some("pharm-1"));
    let page = store.patient_files("", 10).await?;
    ensure!(
        page[1]
            .prescriptions
            .iter()
            .map(|p| p.pharmacy.as_deref())
            .eq([Some("pharm-2"), Some("pharm-1")])
    );

    // Only the routed pharmacy obtains the confirmation and dispenses.
    let a1 = authorize(&wf, "rx-1").await?;
    let out = run(
        &wf,
        "ph-cy",
        DAY,
        Command::RequestConfirmation {
            authorization: a1.clone(),
        },
    )
    .await?;
    ensure!(codes(&out) == ["prescription.routed_elsewhere"], "{out:?}");
    let Outcome::Refused { reasons } = &out.outcome else {
        bail!("accepted")
    };
    ensure!(reasons[0].what.contains("pharm-1"), "{reasons:?}");
    let Answer::Confirmation { number: c1, .. } = ok(
        &wf,
        "ph-bo",
        DAY,
        Command::RequestConfirmation {
            authorization: a1.clone(),
        },
    )
    .await?
    else {
        bail!("not a confirmation")
    };
    let out = run(&wf, "ph-cy", DAY, dispense(&a1, &c1)).await?;
    ensure!(
        codes(&out).contains(&"prescription.routed_elsewhere".to_string()),
        "{out:?}"
    );
    ok(&wf, "ph-bo", DAY, dispense(&a1, &c1)).await?;
    // An unrouted prescription: any certified pharmacy, as before.
    let a3 = authorize(&wf, "rx-3").await?;
    ok(
        &wf,
        "ph-cy",
        DAY,
        Command::RequestConfirmation {
            authorization: a3.clone(),
        },
    )
    .await?;

    // Relations.
    let r = store.patient_relations("pat-2").await?.expect("relations");
    ensure!(r.patient == "pat-2" && r.prescriber == "dr-ada" && r.clinic == "clinic-1");
    ensure!(r.pharmacies == ["pharm-1", "pharm-2"], "{:?}", r.pharmacies);
    let r = store.patient_relations("pat-1").await?.expect("relations");
    ensure!(r.pharmacies == ["pharm-1"], "{:?}", r.pharmacies);
    ensure!(
        store
            .patient_relations("pat-3")
            .await?
            .expect("relations")
            .pharmacies
            .is_empty()
    );
    ensure!(store.patient_relations("pat-9").await?.is_none());
    let rx = store
        .prescription_relations("rx-1")
        .await?
        .expect("relations");
    ensure!(
        rx.prescription == "rx-1"
            && rx.patient == "pat-1"
            && rx.prescriber == "dr-ada"
            && rx.pharmacy.as_deref() == Some("pharm-1"),
        "{rx:?}"
    );
    ensure!(
        store
            .prescription_relations("rx-3")
            .await?
            .expect("relations")
            .pharmacy
            .is_none()
    );
    ensure!(store.authorization_relations(&a1).await? == Some(rx));
    ensure!(
        store.authorization_relations(&a3).await? == store.prescription_relations("rx-3").await?
    );
    ensure!(store.authorization_relations("LA-NONE").await?.is_none());
    ensure!(store.prescription_relations("rx-9").await?.is_none());

    // Patient lists, a page at a time.
    let ids = |rows: Vec<lenaguard_storage::records::PatientRow>| -> Vec<String> {
        rows.into_iter().map(|p| p.id).collect()
    };
    let list = |scope: PatientScope, after: &'static str, limit: i64| {
        let store = store.clone();
        async move { store.patient_list(&scope, after, limit).await }
    };
    ensure!(ids(list(PatientScope::All, "", 10).await?) == ["pat-1", "pat-2", "pat-3"]);
    ensure!(ids(list(PatientScope::All, "", 2).await?) == ["pat-1", "pat-2"]);
    ensure!(ids(list(PatientScope::All, "pat-2", 2).await?) == ["pat-3"]);
    ensure!(
        ids(list(PatientScope::Prescriber("dr-ada".into()), "", 10).await?)
            == ["pat-1", "pat-2", "pat-3"]
    );
    ensure!(
        list(PatientScope::Prescriber("dr-x".into()), "", 10)
            .await?
            .is_empty()
    );
    ensure!(
        ids(list(PatientScope::Pharmacy("pharm-1".into()), "", 10).await?) == ["pat-1", "pat-2"]
    );
    ensure!(ids(list(PatientScope::Pharmacy("pharm-1".into()), "pat-1", 10).await?) == ["pat-2"]);
    ensure!(ids(list(PatientScope::Pharmacy("pharm-2".into()), "", 10).await?) == ["pat-2"]);
    ensure!(ids(list(PatientScope::Pharmacy("pharm-1".into()), "", 1).await?) == ["pat-1"]);
    ensure!(
        list(PatientScope::Pharmacy("clinic-1".into()), "", 10)
            .await?
            .is_empty()
    );
    ensure!(ids(list(PatientScope::Patient("pat-3".into()), "", 10).await?) == ["pat-3"]);
    ensure!(
        list(PatientScope::Patient("pat-3".into()), "pat-3", 10)
            .await?
            .is_empty()
    );
    ensure!(
        list(PatientScope::Patient("pat-9".into()), "", 10)
            .await?
            .is_empty()
    );
    let full = list(PatientScope::Patient("pat-1".into()), "", 10).await?;
    ensure!(
        full == [store.patient_file("pat-1").await?.expect("patient").patient],
        "a listed patient is the stored row"
    );
    Ok(())
}
