//! The program workflow: every command is checked against the stored state by the domain engine, then written in
//! one transaction with its audit event; a refusal writes only the audit event; a retry with the same
//! idempotency key returns the first answer. Written once, over [`Store`], so both backends behave the same.

use crate::audit::{AuditEvent, seal};
use crate::canonical::{sha256_hex, to_canonical};
use crate::command::{
    ADMIN, Answer, Command, CommandOutcome, CommandRequest, Counselling, OrganisationKind, Outcome,
    Reason, Role,
};
use crate::engine::{
    self, DiscontinuationBody, InterruptionBody, SurveyRecord, invalid_record, missing_steps,
};
use crate::error::StorageError;
use crate::records::{
    AuthorizationRow, AuthorizationStatus, Body, ConfirmationRow, DispenseRow, OrganisationRow,
    PatientFile, PatientRow, PrescriptionRow, RecordKind, RecordRow, UserRow, Write,
};
use crate::store::{Remembered, Store, StoreTx};
use crate::{shape, survey};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use lenaguard_domain::pack::RulePack;
use lenaguard_domain::program::{Reclassification, Stage};
use lenaguard_domain::snapshot::TreatmentStatus;
use serde_json::json;
use std::sync::Arc;

/// The program workflow over one store and one rule pack.
#[derive(Debug, Clone)]
pub struct Workflow {
    store: Arc<dyn Store>,
    pack: Arc<RulePack>,
}

/// Why a command is not accepted: refused by a rule (audited), or a storage failure (nothing written).
enum Fail {
    Refuse(Vec<Reason>),
    Storage(StorageError),
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Storage(e)
    }
}

impl From<Reason> for Fail {
    fn from(r: Reason) -> Self {
        Fail::Refuse(vec![r])
    }
}

type Judged<T> = Result<T, Fail>;

struct Accepted {
    writes: Vec<Write>,
    answer: Answer,
}

/// The wall clock, read only to stamp audit events; decisions use the request's business date.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Timestamp {
    Timestamp::now()
}

/// A short random number for authorization and confirmation numbers (unguessable, not secret).
fn number(prefix: &str) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("{prefix}-{}", &hex[..12])
}

fn add_days(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

/// The hash a retry must match: the command as judged (actor, date, body), in canonical JSON.
pub fn request_hash(req: &CommandRequest) -> Result<String, StorageError> {
    let v = json!({ "actor": req.actor, "on": req.on, "command": req.command });
    Ok(sha256_hex(&[to_canonical(&v).as_bytes()]))
}

fn replay(
    request_hash: &str,
    key: &str,
    first: Remembered,
) -> Result<CommandOutcome, StorageError> {
    let event: AuditEvent = serde_json::from_str(&first.event.event)
        .map_err(|e| StorageError::corrupt(format!("audit event {}", first.event.seq), e))?;
    if first.request_hash != request_hash {
        return Err(StorageError::IdempotencyConflict {
            key: key.to_string(),
            first_command: event.command.name().to_string(),
        });
    }
    Ok(CommandOutcome {
        audit_seq: event.seq,
        outcome: event.outcome,
        replayed: true,
    })
}

impl Workflow {
    pub fn new(store: Arc<dyn Store>, pack: Arc<RulePack>) -> Workflow {
        Workflow { store, pack }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    /// Judge and record one command.
    pub async fn execute(&self, req: CommandRequest) -> Result<CommandOutcome, StorageError> {
        shape::request(&req)?;
        let hash = request_hash(&req)?;
        let key = req.idempotency_key.clone();
        // Ids of the rows a command creates derive from its (unique) key, so they are known before the chain
        // position is.
        let tag = sha256_hex(&[key.as_bytes()])[..12].to_string();
        let mut tx = self.store.begin().await?;
        // A command about one patient is judged under that patient's lock, so commands about different
        // patients are judged in parallel; the rest (registry, enrollment) under the chain lock from the start.
        let patient = scope(tx.as_mut(), &req.command).await?;
        let mut head = match &patient {
            Some(patient) => {
                tx.lock_patient(patient).await?;
                None
            }
            None => Some(tx.chain_head().await?),
        };
        if let Some(first) = tx.remembered(&key).await? {
            return replay(&hash, &key, first);
        }
        let decided = decide(tx.as_mut(), &self.pack, &req, &tag).await;
        // The writes go in under the patient's lock; appending to the chain is serial, so its lock (if not yet
        // held) is taken only after them, and held only for the append and the commit.
        let outcome = match decided {
            Ok(accepted) => {
                let written = match tx.apply_all(&accepted.writes).await {
                    Ok(()) => {
                        tx.mark_changed(&Write::patients(&accepted.writes, patient.as_deref()))
                            .await
                    }
                    Err(e) => Err(e),
                };
                let violated = match written {
                    Ok(()) => None,
                    Err(StorageError::Constraint { constraint }) => Some(constraint),
                    Err(e) => return Err(e),
                };
                match violated {
                    None => Outcome::Accepted {
                        answer: accepted.answer,
                    },
                    Some(constraint) => {
                        // The database caught what the checks did not see: roll back every write and record
                        // only the refusal, in a fresh transaction.
                        drop(tx);
                        tx = self.store.begin().await?;
                        head = Some(tx.chain_head().await?);
                        if let Some(first) = tx.remembered(&key).await? {
                            return replay(&hash, &key, first);
                        }
                        Outcome::Refused {
                            reasons: vec![Reason::new(
                                "database.invariant",
                                format!("the database refused the write: {constraint}"),
                                "nothing was written; read the current state and issue a new command",
                            )],
                        }
                    }
                }
            }
            Err(Fail::Refuse(reasons)) => Outcome::Refused { reasons },
            Err(Fail::Storage(e)) => return Err(e),
        };
        let chain = match head.take() {
            Some(h) => h,
            None => tx.chain_head().await?,
        };
        let head = chain;
        let row = seal(&head, &next_event(&head, &req, &hash, &outcome))?;
        match tx.append(&row, &key, &hash).await {
            Ok(()) => {}
            // The same key was committed by a concurrent request judged under another lock: answer as a retry.
            Err(StorageError::Constraint { .. }) => {
                drop(tx);
                let mut tx = self.store.begin().await?;
                tx.chain_head().await?;
                return match tx.remembered(&key).await? {
                    Some(first) => replay(&hash, &key, first),
                    None => Err(StorageError::Database(
                        "the audit append was refused and no first answer exists".into(),
                    )),
                };
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(CommandOutcome {
            audit_seq: row.seq,
            outcome,
            replayed: false,
        })
    }
}

/// The answer to [`Workflow::execute_all_or_nothing`].
#[derive(Debug, Clone, PartialEq)]
pub enum AllOrNothing {
    /// Every command was accepted (or is the stored answer to a retry) and written in one transaction.
    Applied(Vec<CommandOutcome>),
    /// The command at `index` was refused: nothing of the batch was written but the audit event of that
    /// refusal (remembered under the command's idempotency key, as [`Workflow::execute`] remembers one), so the
    /// trail shows what was attempted and refused; the commands before it did not happen.
    Refused { index: usize, reasons: Vec<Reason> },
}

impl Workflow {
    /// Judge several commands in order and write them in one transaction, all or nothing (a FHIR transaction
    /// Bundle). Each command sees the writes of the ones before it. Every patient lock is taken first, in id
    /// order, then the chain lock, held to the commit: the order [`Workflow::execute`] takes them in, so the two
    /// cannot deadlock. A retry of the batch (same idempotency keys) answers with the stored outcomes.
    pub async fn execute_all_or_nothing(
        &self,
        requests: &[CommandRequest],
    ) -> Result<AllOrNothing, StorageError> {
        let mut hashes = Vec::with_capacity(requests.len());
        for req in requests {
            shape::request(req)?;
            hashes.push(request_hash(req)?);
        }
        let mut tx = self.store.begin().await?;
        let mut patients = std::collections::BTreeSet::new();
        let mut scopes = Vec::with_capacity(requests.len());
        for req in requests {
            let own = scope(tx.as_mut(), &req.command).await?;
            if let Some(p) = &own {
                patients.insert(p.clone());
            }
            scopes.push(own);
        }
        for p in &patients {
            tx.lock_patient(p).await?;
        }
        let mut outcomes = Vec::with_capacity(requests.len());
        for (index, (req, hash)) in requests.iter().zip(&hashes).enumerate() {
            let key = &req.idempotency_key;
            // Read for each command: the head moves with every append (and SQLite orders a command's rows by the
            // chain position it reads here).
            let head = tx.chain_head().await?;
            if let Some(first) = tx.remembered(key).await? {
                let out = replay(hash, key, first)?;
                if let Outcome::Refused { reasons } = out.outcome {
                    return Ok(AllOrNothing::Refused { index, reasons });
                }
                outcomes.push(out);
                continue;
            }
            let tag = sha256_hex(&[key.as_bytes()])[..12].to_string();
            let accepted = match decide(tx.as_mut(), &self.pack, req, &tag).await {
                Ok(a) => a,
                Err(Fail::Refuse(reasons)) => {
                    drop(tx);
                    return self.refused_in_batch(req, hash, index, reasons).await;
                }
                Err(Fail::Storage(e)) => return Err(e),
            };
            let written = match tx.apply_all(&accepted.writes).await {
                Ok(()) => {
                    tx.mark_changed(&Write::patients(&accepted.writes, scopes[index].as_deref()))
                        .await
                }
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {}
                Err(StorageError::Constraint { constraint }) => {
                    drop(tx);
                    let reasons = vec![Reason::new(
                        "database.invariant",
                        format!("the database refused the write: {constraint}"),
                        "nothing was written; read the current state and send a new transaction",
                    )];
                    return self.refused_in_batch(req, hash, index, reasons).await;
                }
                Err(e) => return Err(e),
            }
            let outcome = Outcome::Accepted {
                answer: accepted.answer,
            };
            let row = seal(&head, &next_event(&head, req, hash, &outcome))?;
            tx.append(&row, key, hash).await?;
            outcomes.push(CommandOutcome {
                audit_seq: row.seq,
                outcome,
                replayed: false,
            });
        }
        tx.commit().await?;
        Ok(AllOrNothing::Applied(outcomes))
    }

    /// The batch's transaction is rolled back; record only the refusal of its command at `index`, in a fresh
    /// transaction under the chain lock. A refusal already remembered under the key (a concurrent retry) is
    /// answered as stored.
    async fn refused_in_batch(
        &self,
        req: &CommandRequest,
        hash: &str,
        index: usize,
        reasons: Vec<Reason>,
    ) -> Result<AllOrNothing, StorageError> {
        let key = &req.idempotency_key;
        let mut tx = self.store.begin().await?;
        let head = tx.chain_head().await?;
        if let Some(first) = tx.remembered(key).await? {
            let out = replay(hash, key, first)?;
            return Ok(match out.outcome {
                Outcome::Refused { reasons } => AllOrNothing::Refused { index, reasons },
                Outcome::Accepted { .. } => AllOrNothing::Refused {
                    index,
                    reasons: vec![Reason::new(
                        "batch.concurrent",
                        "this command was accepted by a concurrent request with the same key",
                        "read the current state and send the transaction again",
                    )],
                },
            });
        }
        let outcome = Outcome::Refused {
            reasons: reasons.clone(),
        };
        let row = seal(&head, &next_event(&head, req, hash, &outcome))?;
        tx.append(&row, key, hash).await?;
        tx.commit().await?;
        Ok(AllOrNothing::Refused { index, reasons })
    }
}

/// The audit event that follows `head` for this request and its outcome.
fn next_event(
    head: &crate::audit::ChainHead,
    req: &CommandRequest,
    hash: &str,
    outcome: &Outcome,
) -> AuditEvent {
    AuditEvent {
        seq: head.seq + 1,
        recorded_at: wall_clock(),
        on: req.on,
        actor: req.actor.clone(),
        idempotency_key: req.idempotency_key.clone(),
        request_hash: hash.to_string(),
        command: req.command.clone(),
        outcome: outcome.clone(),
    }
}

/// The patient a command is about, if any: the lock it is judged under.
async fn scope(tx: &mut dyn StoreTx, c: &Command) -> Result<Option<String>, StorageError> {
    if let Some(p) = c.named_patient() {
        return Ok(Some(p.to_string()));
    }
    Ok(match c {
        // The patient of a prescription or authorization never changes, so it may be read before the lock.
        Command::RequestAuthorization { prescription } => {
            tx.prescription(prescription).await?.map(|p| p.patient)
        }
        Command::RequestConfirmation { authorization }
        | Command::Dispense { authorization, .. } => {
            tx.authorization(authorization).await?.map(|a| a.patient)
        }
        // Registry commands, enrollment and the synthetic registry are judged under the chain lock; the rest
        // name their patient.
        Command::RegisterOrganisation { .. }
        | Command::RegisterUser { .. }
        | Command::CertifyPrescriber { .. }
        | Command::CertifyPharmacy { .. }
        | Command::Enroll(_)
        | Command::SynthesizeRegistry { .. }
        | Command::Reclassify { .. }
        | Command::RecordPregnancyTest { .. }
        | Command::AttestContraception { .. }
        | Command::SubmitSurvey { .. }
        | Command::Interrupt { .. }
        | Command::Resume { .. }
        | Command::Discontinue { .. }
        | Command::ReportAdverseEvent { .. }
        | Command::RecordLab { .. }
        | Command::ReportFetalExposure { .. }
        | Command::RecordMeasurement { .. }
        | Command::WritePrescription(_) => None,
    })
}

enum Actor {
    Admin,
    User(UserRow),
}

/// The order against the engine's clinical judgement of today (counts, kidney function, toxicity, the ladder;
/// the program's steps are judged separately, at the prescription stage). A first prescription may not exceed
/// the starting dose the engine gives for today's kidney function, nor a prescription after an interruption the
/// dose the engine resumes at; a lower dose is the prescriber's to choose, and so are later changes by tolerance
/// and the label's escalations (`Continue`, `Review`), within the label for the regimen ([`off_label`]). When the engine
/// says not to dose (hold, defer, interrupt, discontinue) or cannot judge (a value missing, stale or
/// contradictory), the order is refused with the engine's reason: no prescription goes out on a dose nobody
/// checked.
fn dose_against_label(
    snap: &lenaguard_domain::snapshot::Snapshot,
    pack: &RulePack,
    on: Date,
    ordered: &lenaguard_domain::dose::Schedule,
) -> Judged<Option<Reason>> {
    use lenaguard_domain::assessment::Action;
    let clinical = lenaguard_domain::snapshot::Snapshot {
        program: None,
        ..snap.clone()
    };
    let assessment =
        lenaguard_domain::assess(&clinical, pack, on).map_err(|e| invalid_record(&e))?;
    let (code, what, fix) = match &assessment.action {
        Action::Start { schedule: limit } | Action::Resume { schedule: limit } => {
            let when = if matches!(assessment.action, Action::Start { .. }) {
                STARTING_DOSE
            } else {
                "the dose to resume at after the interruption"
            };
            let fix = format!("prescribe at most {limit}: {}", assessment.summary);
            let behind = assessment.findings.iter().filter(|f| {
                ["dose.", "renal.", "ladder."]
                    .iter()
                    .any(|p| f.code.starts_with(p))
            });
            return Ok(above(ordered, limit, when, fix, rules_of(behind)));
        }
        Action::Continue { .. } | Action::Review { .. } => {
            return off_label(&clinical, &assessment, pack, on, ordered);
        }
        Action::Blocked { why } => (
            "prescription.unjudged",
            format!("the dose cannot be checked today: {why}"),
            "record what is missing (see the assessment), then prescribe".to_string(),
        ),
        Action::Defer { until } => (
            "prescription.deferred",
            format!("the label says not to start yet: {}", assessment.summary),
            format!("prescribe once {until}"),
        ),
        Action::Interrupt { until, .. } | Action::StayInterrupted { until, .. } => (
            "prescription.interrupted",
            format!(
                "the label says to hold lenalidomide: {}",
                assessment.summary
            ),
            format!("prescribe once {until}"),
        ),
        Action::Discontinue { why } => (
            "prescription.discontinue",
            format!("the label says to stop lenalidomide: {why}"),
            "do not prescribe; record the discontinuation".to_string(),
        ),
    };
    let mut r = Reason::new(code, what, fix);
    r.rules = rules_of(assessment.findings.iter().filter(|f| f.blocking));
    Ok(Some(r))
}

const STARTING_DOSE: &str = "the starting dose for today's kidney function";

/// The rule ids behind these findings, each once.
fn rules_of<'a>(
    findings: impl Iterator<Item = &'a lenaguard_domain::finding::Finding>,
) -> Vec<String> {
    let mut rules: Vec<String> = findings
        .flat_map(|f| f.sources.iter().map(|p| p.rule.clone()))
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// `prescription.dose` when the order gives more per cycle than `limit` (`when` says what the limit is).
fn above(
    ordered: &lenaguard_domain::dose::Schedule,
    limit: &lenaguard_domain::dose::Schedule,
    when: &str,
    fix: String,
    rules: Vec<String>,
) -> Option<Reason> {
    if ordered.mg_per_cycle() <= limit.mg_per_cycle() + 1e-9 {
        return None;
    }
    let mut r = Reason::new(
        "prescription.dose",
        format!("{ordered} is more than {when}, {limit}"),
        fix,
    );
    r.rules = rules;
    Some(r)
}

/// When the engine leaves the dose to the prescriber (`Continue`, `Review`), the order must still be one the label
/// allows for the regimen: not above its dose (or its allowed increase), not below the ladder's floor unless a
/// renal starting dose, and in the regimen's cycle. The engine judges the order as if it were the patient's
/// current schedule; a patient not started yet is held to the starting dose for today's kidney function.
fn off_label(
    clinical: &lenaguard_domain::snapshot::Snapshot,
    assessment: &lenaguard_domain::assessment::Assessment,
    pack: &RulePack,
    on: Date,
    ordered: &lenaguard_domain::dose::Schedule,
) -> Judged<Option<Reason>> {
    use lenaguard_domain::snapshot::TreatmentStatus;
    const OFF_LABEL: [&str; 3] = [
        "dose.above_label",
        "dose.below_floor",
        "dose.cycle_mismatch",
    ];
    if clinical.treatment.status == TreatmentStatus::NotStarted {
        let regimen = pack.regimen(clinical.regimen);
        let limit = assessment
            .kidney
            .renal_starting_dose
            .unwrap_or(regimen.start);
        let fix = format!("prescribe at most {limit}");
        let rules = vec![regimen.provenance.rule.clone()];
        return Ok(above(ordered, &limit, STARTING_DOSE, fix, rules));
    }
    let mut as_ordered = clinical.clone();
    as_ordered.treatment.starting = clinical.treatment.starting.or(clinical.treatment.current);
    as_ordered.treatment.current = Some(*ordered);
    let judged = lenaguard_domain::assess(&as_ordered, pack, on).map_err(|e| invalid_record(&e))?;
    let off: Vec<_> = judged
        .findings
        .iter()
        .filter(|f| OFF_LABEL.contains(&f.code.as_str()))
        .collect();
    if off.is_empty() {
        return Ok(None);
    }
    let mut r = Reason::new(
        "prescription.dose",
        format!(
            "{ordered} is outside the label for this regimen: {}",
            off.iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "prescribe a dose and schedule the label allows for this regimen",
    );
    r.rules = rules_of(off.into_iter());
    Ok(Some(r))
}

async fn actor(tx: &mut dyn StoreTx, id: &str) -> Judged<Actor> {
    if id == ADMIN {
        return Ok(Actor::Admin);
    }
    match tx.user(id).await? {
        Some(u) => Ok(Actor::User(u)),
        None => Err(Reason::new(
            "actor.unknown",
            format!("the actor {id:?} is not a registered user"),
            "register the user first, or act as admin for registry administration",
        )
        .into()),
    }
}

/// The actor a patient acts as: only for their own survey.
pub fn patient_actor(patient: &str) -> String {
    format!("patient:{patient}")
}

async fn administrator(tx: &mut dyn StoreTx, id: &str) -> Judged<()> {
    match actor(tx, id).await? {
        Actor::Admin => Ok(()),
        Actor::User(u) if u.role == Role::ProgramStaff => Ok(()),
        Actor::User(_) => Err(Reason::new(
            "actor.role",
            format!("{id} may not administer the registry"),
            "act as admin or as program staff",
        )
        .into()),
    }
}

async fn any_user(tx: &mut dyn StoreTx, id: &str) -> Judged<UserRow> {
    match actor(tx, id).await? {
        Actor::User(u) => Ok(u),
        Actor::Admin => Err(Reason::new(
            "actor.admin",
            "admin records no patient data",
            "act as the registered user who reports it",
        )
        .into()),
    }
}

fn certified(until: Option<Date>, on: Date, who: &str, code: &str) -> Judged<()> {
    match until {
        Some(d) if d >= on => Ok(()),
        Some(d) => Err(Reason::new(
            code,
            format!("the certification of {who} lapsed after {d}"),
            "renew the program certification",
        )
        .into()),
        None => Err(Reason::new(
            code,
            format!("{who} is not certified in the program"),
            "complete the program certification",
        )
        .into()),
    }
}

async fn prescriber(tx: &mut dyn StoreTx, id: &str, on: Date) -> Judged<UserRow> {
    let u = any_user(tx, id).await?;
    if u.role != Role::Prescriber {
        return Err(Reason::new(
            "actor.role",
            format!("{id} is not a prescriber"),
            "a certified prescriber issues this command",
        )
        .into());
    }
    certified(
        u.certified_until,
        on,
        &format!("prescriber {id}"),
        "prescriber.certification",
    )?;
    Ok(u)
}

async fn pharmacist(
    tx: &mut dyn StoreTx,
    id: &str,
    on: Date,
) -> Judged<(UserRow, OrganisationRow)> {
    let u = any_user(tx, id).await?;
    if u.role != Role::Pharmacist {
        return Err(Reason::new(
            "actor.role",
            format!("{id} is not a pharmacist"),
            "a pharmacist of a certified pharmacy issues this command",
        )
        .into());
    }
    let org = tx.organisation(&u.organisation).await?.ok_or_else(|| {
        StorageError::corrupt(format!("user {id}"), "its organisation is missing")
    })?;
    certified(
        org.certified_until,
        on,
        &format!("pharmacy {}", org.id),
        "pharmacy.certification",
    )?;
    Ok((u, org))
}

async fn patient(tx: &mut dyn StoreTx, id: &str) -> Judged<PatientFile> {
    tx.patient_file(id).await?.ok_or_else(|| {
        Reason::new(
            "patient.unknown",
            format!("no patient {id:?} is enrolled"),
            "enroll the patient first",
        )
        .into()
    })
}

/// No authorization, confirmation or dispense after treatment was discontinued.
fn not_discontinued(file: PatientFile) -> Judged<PatientFile> {
    if file.patient.status == TreatmentStatus::Discontinued {
        return Err(Reason::new(
            "treatment.discontinued",
            format!("patient {} has discontinued treatment", file.patient.id),
            "nothing more is authorized or dispensed after discontinuation",
        )
        .into());
    }
    Ok(file)
}

/// The file as it would be with `record` added, checked by the engine.
fn with_record(
    pack: &RulePack,
    on: Date,
    mut file: PatientFile,
    record: RecordRow,
) -> Judged<Accepted> {
    file.records.push(record.clone());
    let snap = engine::snapshot(&file)?;
    engine::check(&snap, pack, on).map_err(|e| invalid_record(&e))?;
    Ok(Accepted {
        answer: Answer::Recorded {
            id: record.id.clone(),
        },
        writes: vec![Write::InsertRecord(record)],
    })
}

fn record(kind: RecordKind, tag: &str, patient: &str, on: Date, body: Body) -> RecordRow {
    RecordRow {
        id: format!("{}-{tag}", kind.as_str()),
        patient: patient.to_string(),
        kind,
        on,
        body,
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Judged<Body> {
    Body::of(v).map_err(|e| Fail::Storage(StorageError::corrupt("command body", e)))
}

fn checked_update(
    pack: &RulePack,
    on: Date,
    mut file: PatientFile,
    rec: RecordRow,
    p: PatientRow,
) -> Judged<Accepted> {
    file.records.push(rec.clone());
    file.patient = p.clone();
    let snap = engine::snapshot(&file)?;
    engine::check(&snap, pack, on).map_err(|e| invalid_record(&e))?;
    Ok(Accepted {
        answer: Answer::Recorded { id: rec.id.clone() },
        writes: vec![Write::InsertRecord(rec), Write::UpdatePatient(p)],
    })
}

async fn decide(
    tx: &mut dyn StoreTx,
    pack: &RulePack,
    req: &CommandRequest,
    tag: &str,
) -> Judged<Accepted> {
    let on = req.on;
    let by = req.actor.as_str();
    match &req.command {
        Command::RegisterOrganisation {
            organisation,
            kind,
            name,
        } => {
            administrator(tx, by).await?;
            if tx.organisation(organisation).await?.is_some() {
                return Err(Reason::new(
                    "organisation.exists",
                    format!("organisation {organisation} is already registered"),
                    "use another id",
                )
                .into());
            }
            Ok(Accepted {
                answer: Answer::Recorded {
                    id: organisation.clone(),
                },
                writes: vec![Write::InsertOrganisation(OrganisationRow {
                    id: organisation.clone(),
                    kind: *kind,
                    name: name.clone(),
                    certified_until: None,
                })],
            })
        }
        Command::RegisterUser {
            user,
            organisation,
            name,
            role,
        } => {
            administrator(tx, by).await?;
            if user == ADMIN || tx.user(user).await?.is_some() {
                return Err(Reason::new(
                    "user.exists",
                    format!("user {user} is already registered"),
                    "use another id",
                )
                .into());
            }
            let Some(org) = tx.organisation(organisation).await? else {
                return Err(Reason::new(
                    "organisation.unknown",
                    format!("no organisation {organisation}"),
                    "register the organisation first",
                )
                .into());
            };
            let fits = match role {
                Role::Prescriber => org.kind == OrganisationKind::Clinic,
                Role::Pharmacist => org.kind == OrganisationKind::Pharmacy,
                Role::ProgramStaff => true,
            };
            if !fits {
                return Err(Reason::new(
                    "user.role",
                    format!(
                        "a {role:?} cannot belong to the {:?} {organisation}",
                        org.kind
                    )
                    .to_lowercase(),
                    "prescribers belong to clinics, pharmacists to pharmacies",
                )
                .into());
            }
            Ok(Accepted {
                answer: Answer::Recorded { id: user.clone() },
                writes: vec![Write::InsertUser(UserRow {
                    id: user.clone(),
                    organisation: organisation.clone(),
                    name: name.clone(),
                    role: *role,
                    certified_until: None,
                })],
            })
        }
        Command::CertifyPrescriber { user, expires_on } => {
            administrator(tx, by).await?;
            match tx.user(user).await? {
                Some(u) if u.role == Role::Prescriber => {}
                _ => {
                    return Err(Reason::new(
                        "user.not_prescriber",
                        format!("{user} is not a registered prescriber"),
                        "register the prescriber first",
                    )
                    .into());
                }
            }
            Ok(Accepted {
                answer: Answer::Recorded { id: user.clone() },
                writes: vec![Write::CertifyUser {
                    user: user.clone(),
                    until: *expires_on,
                }],
            })
        }
        Command::CertifyPharmacy {
            organisation,
            expires_on,
        } => {
            administrator(tx, by).await?;
            match tx.organisation(organisation).await? {
                Some(o) if o.kind == OrganisationKind::Pharmacy => {}
                _ => {
                    return Err(Reason::new(
                        "organisation.not_pharmacy",
                        format!("{organisation} is not a registered pharmacy"),
                        "register the pharmacy first",
                    )
                    .into());
                }
            }
            Ok(Accepted {
                answer: Answer::Recorded {
                    id: organisation.clone(),
                },
                writes: vec![Write::CertifyOrganisation {
                    organisation: organisation.clone(),
                    until: *expires_on,
                }],
            })
        }
        Command::Enroll(e) => {
            if e.prescriber != by {
                return Err(Reason::new(
                    "enrollment.prescriber",
                    format!("{by} enrolls for prescriber {}", e.prescriber),
                    "the enrolling prescriber issues the enrollment",
                )
                .into());
            }
            prescriber(tx, by, on).await?;
            if tx.patient_file(&e.patient).await?.is_some() {
                return Err(Reason::new(
                    "patient.exists",
                    format!("patient id {} is taken", e.patient),
                    "use another id",
                )
                .into());
            }
            if let Some(existing) = tx.patient_by_identity(&e.identity).await? {
                return Err(Reason::new(
                    "enrollment.exists",
                    format!("this identity is already enrolled as patient {existing}"),
                    "reclassify or update the existing enrollment; one enrollment per patient",
                )
                .into());
            }
            if !e.category.is_adult() && e.guardian.is_none() {
                return Err(Reason::new(
                    "enrollment.guardian",
                    format!(
                        "a {} needs a parent or guardian on the agreement",
                        e.category
                    ),
                    "give the guardian who signed the Patient-Physician Agreement Form",
                )
                .into());
            }
            if e.agreement_signed_on > on {
                return Err(Reason::new(
                    "enrollment.agreement",
                    format!(
                        "the agreement is dated {}, after {on}",
                        e.agreement_signed_on
                    ),
                    "enroll on or after the day the agreement is signed",
                )
                .into());
            }
            let row = PatientRow {
                id: e.patient.clone(),
                identity: e.identity.clone(),
                sex: e.sex,
                birth_date: e.birth_date,
                category: e.category,
                agreement_signed_on: e.agreement_signed_on,
                guardian: e.guardian.clone(),
                prescriber: e.prescriber.clone(),
                regimen: e.regimen,
                not_of_reproductive_potential: e.not_of_reproductive_potential.clone(),
                planned_start: e.planned_start,
                status: TreatmentStatus::NotStarted,
                start_date: None,
                last_dose: None,
            };
            let file = PatientFile {
                patient: row.clone(),
                records: vec![],
                prescriptions: vec![],
                authorizations: vec![],
                confirmations: vec![],
                dispenses: vec![],
            };
            engine::check(&engine::snapshot(&file)?, pack, on).map_err(|e| invalid_record(&e))?;
            Ok(Accepted {
                answer: Answer::Recorded { id: row.id.clone() },
                writes: vec![Write::InsertPatient(row)],
            })
        }
        Command::Reclassify {
            patient: id,
            to,
            reason,
            not_of_reproductive_potential,
        } => {
            prescriber(tx, by, on).await?;
            let file = patient(tx, id).await?;
            if file.patient.category == *to {
                return Err(Reason::new(
                    "reclassify.same",
                    format!("patient {id} is already {to}"),
                    "give a different category",
                )
                .into());
            }
            let body = Reclassification {
                date: on,
                from: file.patient.category,
                to: *to,
                reason: reason.clone(),
            };
            let rec = record(RecordKind::Reclassification, tag, id, on, to_json(&body)?);
            let mut p = file.patient.clone();
            p.category = *to;
            p.not_of_reproductive_potential = not_of_reproductive_potential.clone();
            checked_update(pack, on, file, rec, p)
        }
        Command::RecordPregnancyTest { patient: id, test } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let rec = record(
                RecordKind::PregnancyTest,
                tag,
                id,
                test.date,
                to_json(test)?,
            );
            with_record(pack, on, file, rec)
        }
        Command::AttestContraception {
            patient: id,
            attestation,
        } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let rec = record(
                RecordKind::Contraception,
                tag,
                id,
                attestation.start,
                to_json(attestation)?,
            );
            with_record(pack, on, file, rec)
        }
        Command::SubmitSurvey {
            patient: id,
            survey: s,
        } => {
            // The patient answers the survey themself (the actor `patient:<id>`), or a registered user enters it.
            if by != patient_actor(id) {
                any_user(tx, by).await?;
            }
            let file = patient(tx, id).await?;
            let category = file.patient.category;
            let blocked = survey::judge(&s.questionnaire, category, &s.answers, pack);
            if !blocked.is_empty() {
                return Err(Fail::Refuse(blocked));
            }
            let body = SurveyRecord {
                category,
                submission: s.clone(),
            };
            let rec = record(RecordKind::Survey, tag, id, s.date, to_json(&body)?);
            with_record(pack, on, file, rec)
        }
        Command::WritePrescription(order) => {
            let u = prescriber(tx, by, on).await?;
            let file = patient(tx, &order.patient).await?;
            if file.patient.status == TreatmentStatus::Discontinued {
                return Err(Reason::new(
                    "treatment.discontinued",
                    format!("patient {} has discontinued treatment", order.patient),
                    "no prescription after discontinuation",
                )
                .into());
            }
            if tx.prescription(&order.prescription).await?.is_some() {
                return Err(Reason::new(
                    "prescription.exists",
                    format!("prescription id {} is taken", order.prescription),
                    "use another id",
                )
                .into());
            }
            if order.date > on || order.date < file.patient.agreement_signed_on {
                return Err(Reason::new(
                    "prescription.date",
                    format!("the prescription is dated {}", order.date),
                    format!(
                        "a date from enrollment ({}) to {on}",
                        file.patient.agreement_signed_on
                    ),
                )
                .into());
            }
            let supply = &pack.program.prescription;
            let mut reasons = Vec::new();
            if let Some(routed) = &order.pharmacy {
                let registered = tx.organisation(routed).await?;
                if !registered.is_some_and(|o| o.kind == OrganisationKind::Pharmacy) {
                    reasons.push(Reason::new(
                        "prescription.pharmacy",
                        format!("{routed:?} is not a registered pharmacy"),
                        "route the prescription to a registered pharmacy (register the pharmacy first)",
                    ));
                }
            }
            if order.days_supply > supply.value.max_supply_days
                || order.refills > supply.value.max_refills
            {
                let mut r = Reason::new(
                    "prescription.supply",
                    format!("{} days with {} refills", order.days_supply, order.refills),
                    format!(
                        "at most {} days with {} refills",
                        supply.value.max_supply_days, supply.value.max_refills
                    ),
                );
                r.rules.push(supply.provenance.rule.clone());
                reasons.push(r);
            }
            let (tel, _) = pack.program.telephone();
            if order.telephone && !tel.value.allowed {
                let mut r = Reason::new(
                    "prescription.telephone",
                    "a telephoned prescription",
                    "a written or electronic prescription",
                );
                r.rules.push(tel.provenance.rule.clone());
                reasons.push(r);
            }
            let snap = engine::snapshot(&file)?;
            let report = engine::eligibility(&snap, pack, on, Stage::Prescription)?;
            reasons.extend(missing_steps(&report, &[]));
            reasons.extend(dose_against_label(&snap, pack, on, &order.schedule)?);
            if !reasons.is_empty() {
                return Err(Fail::Refuse(reasons));
            }
            let row = PrescriptionRow {
                id: order.prescription.clone(),
                patient: order.patient.clone(),
                prescriber: u.id,
                date: order.date,
                schedule: order.schedule,
                quantity: order.quantity,
                days_supply: order.days_supply,
                refills: order.refills,
                telephone: order.telephone,
                pharmacy: order.pharmacy.clone(),
            };
            Ok(Accepted {
                answer: Answer::Recorded { id: row.id.clone() },
                writes: vec![Write::InsertPrescription(row)],
            })
        }
        Command::RequestAuthorization { prescription } => {
            prescriber(tx, by, on).await?;
            let Some(rx) = tx.prescription(prescription).await? else {
                return Err(Reason::new(
                    "prescription.unknown",
                    format!("no prescription {prescription}"),
                    "write the prescription first",
                )
                .into());
            };
            if rx.prescriber != by {
                return Err(Reason::new(
                    "authorization.prescriber",
                    format!(
                        "prescription {prescription} was written by {}",
                        rx.prescriber
                    ),
                    "its prescriber requests the authorization",
                )
                .into());
            }
            let file = not_discontinued(patient(tx, &rx.patient).await?)?;
            if let Some(a) = file.authorizations.iter().find(|a| a.prescription == rx.id) {
                let (code, what) = match a.status {
                    AuthorizationStatus::Active => (
                        "authorization.active",
                        format!(
                            "prescription {prescription} already has the active authorization {}",
                            a.number
                        ),
                    ),
                    AuthorizationStatus::Used => (
                        "prescription.dispensed",
                        format!(
                            "prescription {prescription} was dispensed under authorization {}",
                            a.number
                        ),
                    ),
                };
                return Err(Reason::new(
                    code,
                    what,
                    "one authorization per prescription; write a new prescription for a new fill",
                )
                .into());
            }
            // Judged as the prescriber writes it: the state without this prescription.
            let mut before = file.clone();
            before.prescriptions.retain(|x| x.id != rx.id);
            let report =
                engine::eligibility(&engine::snapshot(&before)?, pack, on, Stage::Prescription)?;
            let missing = missing_steps(&report, &[]);
            if !missing.is_empty() {
                return Err(Fail::Refuse(missing));
            }
            let mut row = AuthorizationRow {
                number: number("LA"),
                prescription: rx.id.clone(),
                patient: rx.patient.clone(),
                issued_on: on,
                valid_through: on,
                status: AuthorizationStatus::Active,
            };
            // The window of the authorization as issued, from the engine (counted from the last negative test
            // or from the issue date, as the pack says).
            let mut after = file.clone();
            after.authorizations.push(row.clone());
            let window =
                engine::eligibility(&engine::snapshot(&after)?, pack, on, Stage::Dispense)?
                    .authorization;
            let Some(w) = window.filter(|w| w.last_valid_day >= on) else {
                let mut r = Reason::new(
                    "authorization.window",
                    "an authorization issued today would already have lapsed",
                    "a new negative pregnancy test, then request the authorization",
                );
                r.rules
                    .push(pack.program.authorization.provenance.rule.clone());
                return Err(r.into());
            };
            row.valid_through = w.last_valid_day;
            Ok(Accepted {
                answer: Answer::Authorization {
                    number: row.number.clone(),
                    prescription: rx.id.clone(),
                    valid_through: row.valid_through,
                    unverified_rules: report.unverified_rules.clone(),
                },
                writes: vec![Write::InsertAuthorization(row)],
            })
        }
        Command::RequestConfirmation { authorization } => {
            let (_, pharmacy) = pharmacist(tx, by, on).await?;
            let a = usable_authorization(tx, authorization, on).await?;
            let rx = prescription_of(tx, &a).await?;
            if let Some(r) = routed_elsewhere(&rx, &pharmacy.id) {
                return Err(r.into());
            }
            let file = not_discontinued(patient(tx, &a.patient).await?)?;
            let report = engine::eligibility(&engine::snapshot(&file)?, pack, on, Stage::Dispense)?;
            let missing = missing_steps(&report, &["confirmation"]);
            if !missing.is_empty() {
                return Err(Fail::Refuse(missing));
            }
            let conf = &pack.program.confirmation;
            let days = i64::from(conf.value.valid_hours.div_ceil(24).max(1));
            let row = ConfirmationRow {
                number: number("LC"),
                authorization: a.number.clone(),
                pharmacy: pharmacy.id,
                issued_on: on,
                valid_through: add_days(on, days - 1).min(a.valid_through),
            };
            let mut unverified = report.unverified_rules.clone();
            if !conf.provenance.is_verified() && !unverified.contains(&conf.provenance.rule) {
                unverified.push(conf.provenance.rule.clone());
            }
            Ok(Accepted {
                answer: Answer::Confirmation {
                    number: row.number.clone(),
                    authorization: a.number,
                    valid_through: row.valid_through,
                    unverified_rules: unverified,
                },
                writes: vec![Write::InsertConfirmation(row)],
            })
        }
        Command::Dispense {
            authorization,
            confirmation,
            days_supply,
            quantity,
            counselling,
        } => {
            let (u, pharmacy) = pharmacist(tx, by, on).await?;
            let a = usable_authorization(tx, authorization, on).await?;
            let Some(c) = tx.confirmation(confirmation).await? else {
                return Err(Reason::new(
                    "confirmation.unknown",
                    format!("no confirmation {confirmation}"),
                    "request a confirmation number for this authorization",
                )
                .into());
            };
            let mut reasons = Vec::new();
            if c.authorization != a.number {
                reasons.push(Reason::new(
                    "confirmation.mismatch",
                    format!(
                        "confirmation {confirmation} belongs to authorization {}",
                        c.authorization
                    ),
                    "use the confirmation issued for this authorization",
                ));
            }
            if c.pharmacy != pharmacy.id {
                reasons.push(Reason::new(
                    "confirmation.pharmacy",
                    format!(
                        "confirmation {confirmation} was issued to pharmacy {}",
                        c.pharmacy
                    ),
                    "the pharmacy that obtained the confirmation dispenses",
                ));
            }
            if c.valid_through < on {
                let mut r = Reason::new(
                    "confirmation.lapsed",
                    format!(
                        "confirmation {confirmation} was valid through {}",
                        c.valid_through
                    ),
                    "request a new confirmation number",
                );
                r.rules
                    .push(pack.program.confirmation.provenance.rule.clone());
                reasons.push(r);
            }
            reasons.extend(counselling_missing(counselling));
            let rx = prescription_of(tx, &a).await?;
            reasons.extend(routed_elsewhere(&rx, &pharmacy.id));
            if *days_supply > rx.days_supply || *quantity > rx.quantity {
                reasons.push(Reason::new(
                    "dispense.quantity",
                    format!("{quantity} capsules for {days_supply} days"),
                    format!(
                        "at most what prescription {} orders: {} capsules for {} days",
                        rx.id, rx.quantity, rx.days_supply
                    ),
                ));
            }
            let file = not_discontinued(patient(tx, &a.patient).await?)?;
            let report = engine::eligibility(&engine::snapshot(&file)?, pack, on, Stage::Dispense)?;
            reasons.extend(missing_steps(&report, &[]));
            if !reasons.is_empty() {
                return Err(Fail::Refuse(reasons));
            }
            let row = DispenseRow {
                id: format!("dispense-{tag}"),
                authorization: a.number.clone(),
                confirmation: c.number,
                patient: a.patient.clone(),
                pharmacy: pharmacy.id,
                pharmacist: u.id,
                date: on,
                days_supply: *days_supply,
                quantity: *quantity,
                counselling: *counselling,
            };
            let mut writes = vec![Write::InsertDispense(row.clone())];
            if file.patient.status == TreatmentStatus::NotStarted {
                let mut p = file.patient.clone();
                p.status = TreatmentStatus::Active;
                p.start_date = Some(on);
                writes.push(Write::UpdatePatient(p));
            }
            Ok(Accepted {
                answer: Answer::Dispensed {
                    id: row.id,
                    authorization: a.number,
                    days_supply: *days_supply,
                },
                writes,
            })
        }
        Command::Interrupt { patient: id, cause } => {
            prescriber(tx, by, on).await?;
            let file = patient(tx, id).await?;
            if file.patient.status != TreatmentStatus::Active {
                return Err(Reason::new(
                    "treatment.not_active",
                    format!("treatment of {id} is {:?}", file.patient.status).to_lowercase(),
                    "only an active treatment can be interrupted",
                )
                .into());
            }
            let rec = record(
                RecordKind::Interruption,
                tag,
                id,
                on,
                to_json(&InterruptionBody { cause: *cause })?,
            );
            let mut p = file.patient.clone();
            p.status = TreatmentStatus::Interrupted;
            checked_update(pack, on, file, rec, p)
        }
        Command::Resume { patient: id } => {
            prescriber(tx, by, on).await?;
            let file = patient(tx, id).await?;
            if file.patient.status != TreatmentStatus::Interrupted {
                return Err(Reason::new(
                    "treatment.not_interrupted",
                    format!("treatment of {id} is not interrupted"),
                    "only an interrupted treatment resumes",
                )
                .into());
            }
            let rec = record(RecordKind::Resumption, tag, id, on, to_json(&json!({}))?);
            let mut p = file.patient.clone();
            p.status = TreatmentStatus::Active;
            checked_update(pack, on, file, rec, p)
        }
        Command::Discontinue {
            patient: id,
            reason,
        } => {
            prescriber(tx, by, on).await?;
            let file = patient(tx, id).await?;
            if file.patient.status == TreatmentStatus::Discontinued {
                return Err(Reason::new(
                    "treatment.discontinued",
                    format!("treatment of {id} is already discontinued"),
                    "nothing to do",
                )
                .into());
            }
            let rec = record(
                RecordKind::Discontinuation,
                tag,
                id,
                on,
                to_json(&DiscontinuationBody {
                    reason: reason.clone(),
                })?,
            );
            let mut p = file.patient.clone();
            if p.start_date.is_some() {
                p.last_dose = Some(on);
            }
            p.status = TreatmentStatus::Discontinued;
            checked_update(pack, on, file, rec, p)
        }
        Command::ReportAdverseEvent { patient: id, event } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let rec = record(
                RecordKind::AdverseEvent,
                tag,
                id,
                event.onset,
                to_json(event)?,
            );
            with_record(pack, on, file, rec)
        }
        Command::RecordLab { patient: id, lab } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let rec = record(RecordKind::Lab, tag, id, lab.date, to_json(lab)?);
            with_record(pack, on, file, rec)
        }
        Command::RecordMeasurement {
            patient: id,
            measurement: m,
        } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let p = &pack.policy.plausible;
            p.check_weight_kg("measurement.weight_kg", m.weight_kg)
                .map_err(|e| invalid_record(&e))?;
            if let Some(h) = m.height_cm {
                p.check_height_cm("measurement.height_cm", h)
                    .map_err(|e| invalid_record(&e))?;
            }
            // The snapshot takes the latest measurement by date, which is the one in force on every later
            // business date only if no measurement is dated after the day it is recorded.
            if m.date > on {
                return Err(invalid_record(&lenaguard_domain::InputError::invalid(
                    "measurement.date",
                    m.date,
                    format!("a date not after today ({on})"),
                ))
                .into());
            }
            let rec = record(RecordKind::Measurement, tag, id, m.date, to_json(m)?);
            with_record(pack, on, file, rec)
        }
        Command::SynthesizeRegistry { seed, first, count } => {
            if !matches!(actor(tx, by).await?, Actor::Admin) {
                return Err(Reason::new(
                    "actor.role",
                    "only admin writes a synthetic registry",
                    "act as admin",
                )
                .into());
            }
            let schedule = crate::synth::schedule()
                .map_err(|e| Fail::Storage(StorageError::corrupt("synthetic schedule", e)))?;
            let writes = crate::synth::patients(*seed, *first, *count, on, pack, &schedule)
                .map_err(|e| Fail::Storage(StorageError::corrupt("synthetic record", e)))?;
            Ok(Accepted {
                answer: Answer::Recorded {
                    id: format!("syn-{first:07}..syn-{:07}", first + count - 1),
                },
                writes,
            })
        }
        Command::ReportFetalExposure {
            patient: id,
            description,
        } => {
            any_user(tx, by).await?;
            let file = patient(tx, id).await?;
            let rec = record(
                RecordKind::FetalExposure,
                tag,
                id,
                on,
                to_json(
                    &json!({ "description": description, "report_to": pack.program.positive_test.value.report_to }),
                )?,
            );
            with_record(pack, on, file, rec)
        }
    }
}

/// The prescription an authorization was issued for.
async fn prescription_of(tx: &mut dyn StoreTx, a: &AuthorizationRow) -> Judged<PrescriptionRow> {
    tx.prescription(&a.prescription).await?.ok_or_else(|| {
        Fail::Storage(StorageError::corrupt(
            format!("authorization {}", a.number),
            "its prescription is missing",
        ))
    })
}

/// A routed prescription is confirmed and dispensed only by the pharmacy it is routed to (an unrouted one by any
/// certified pharmacy).
fn routed_elsewhere(rx: &PrescriptionRow, pharmacy: &str) -> Option<Reason> {
    let routed = rx.pharmacy.as_deref()?;
    (routed != pharmacy).then(|| {
        Reason::new(
            "prescription.routed_elsewhere",
            format!("prescription {} is routed to pharmacy {routed}", rx.id),
            "the pharmacy it is routed to requests the confirmation and dispenses, or the prescriber re-routes it",
        )
    })
}

fn counselling_missing(c: &Counselling) -> Vec<Reason> {
    let mut out = Vec::new();
    if !c.checklist_completed {
        out.push(Reason::new(
            "counselling.checklist",
            "the counselling checklist is not completed",
            "counsel the patient with the pharmacy's education and counselling checklist",
        ));
    }
    if !c.medication_guide_given {
        out.push(Reason::new(
            "counselling.medication_guide",
            "the Medication Guide was not given",
            "dispense with the Medication Guide",
        ));
    }
    out
}

async fn usable_authorization(
    tx: &mut dyn StoreTx,
    number: &str,
    on: Date,
) -> Judged<AuthorizationRow> {
    let Some(a) = tx.authorization(number).await? else {
        return Err(Reason::new(
            "authorization.unknown",
            format!("no authorization {number}"),
            "the prescriber requests an authorization number",
        )
        .into());
    };
    if a.status == AuthorizationStatus::Used {
        return Err(Reason::new(
            "authorization.used",
            format!("authorization {number} was already dispensed against"),
            "an authorization is single use: a new prescription and a new authorization for the next fill",
        )
        .into());
    }
    if a.valid_through < on {
        return Err(Reason::new(
            "authorization.lapsed",
            format!(
                "authorization {number} was valid through {}",
                a.valid_through
            ),
            "a new authorization (for a female who can get pregnant, after a new negative test)",
        )
        .into());
    }
    Ok(a)
}
