//! SQL for reading rows back and applying the workflow's writes (PostgreSQL dialect; dates are bound as text and cast, and read back as ISO text).

use crate::db;
use lenaguard_storage::StorageError;
use lenaguard_storage::codec::{from_json, json, name};
use lenaguard_storage::records::{
    AuthorizationRow, ConfirmationRow, OrganisationRow, PatientFile, PrescriptionRow, UserRow,
    Write,
};
use lenaguard_storage::stored::{
    self, Authorization, Confirmation, Dispense, Org, Page, Patient, Prescription, Record, User,
};
use sqlx::{FromRow, PgConnection};

pub async fn organisation(
    c: &mut PgConnection,
    id: &str,
) -> Result<Option<OrganisationRow>, StorageError> {
    let r: Option<Org> = sqlx::query_as(
        "SELECT id, kind, name, certified_until::text AS certified_until FROM organisations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(Org::into_row).transpose()
}

pub async fn user(c: &mut PgConnection, id: &str) -> Result<Option<UserRow>, StorageError> {
    let r: Option<User> = sqlx::query_as(
        "SELECT id, organisation, name, role, certified_until::text AS certified_until FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(User::into_row).transpose()
}

pub(crate) const PATIENT: &str = "SELECT id, identity, sex, birth_date::text AS birth_date, category, agreement_signed_on::text AS agreement_signed_on, guardian, prescriber, regimen, not_reproductive, planned_start::text AS planned_start, status, start_date::text AS start_date, last_dose::text AS last_dose FROM patients";
const RECORD: &str =
    "SELECT id, patient, kind, on_date::text AS on_date, body, seq FROM patient_records";
const DISPENSE: &str = "SELECT id, authorization_number, confirmation, patient, pharmacy, pharmacist, date::text AS date, days_supply, quantity, counselling, seq FROM dispenses";
const PRESCRIPTION: &str = "SELECT id, patient, prescriber, date::text AS date, schedule, quantity, days_supply, refills, telephone, pharmacy, seq FROM prescriptions";
const AUTHORIZATION: &str = "SELECT number, prescription, patient, issued_on::text AS issued_on, valid_through::text AS valid_through, status, seq FROM authorizations";
const CONFIRMATION: &str = "SELECT number, authorization_number, pharmacy, issued_on::text AS issued_on, valid_through::text AS valid_through, patient, seq FROM confirmations";

pub async fn prescription(
    c: &mut PgConnection,
    id: &str,
) -> Result<Option<PrescriptionRow>, StorageError> {
    let r: Option<Prescription> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PRESCRIPTION} WHERE id = $1")))
            .bind(id)
            .fetch_optional(c)
            .await
            .map_err(db)?;
    r.map(Prescription::into_row).transpose()
}

pub async fn authorization(
    c: &mut PgConnection,
    number: &str,
) -> Result<Option<AuthorizationRow>, StorageError> {
    let r: Option<Authorization> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{AUTHORIZATION} WHERE number = $1"
    )))
    .bind(number)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(Authorization::into_row).transpose()
}

pub async fn confirmation(
    c: &mut PgConnection,
    number: &str,
) -> Result<Option<ConfirmationRow>, StorageError> {
    let r: Option<Confirmation> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CONFIRMATION} WHERE number = $1"
    )))
    .bind(number)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(Confirmation::into_row).transpose()
}

/// One patient's whole file in one round trip (a command reads it under the patient's lock, so every round trip
/// there is latency the patient's next command waits for): each table's rows as JSON text, tagged by table, in
/// the order they were written.
pub async fn patient_file(
    c: &mut PgConnection,
    id: &str,
) -> Result<Option<PatientFile>, StorageError> {
    let rows: Vec<(i32, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t, j FROM (
           SELECT 0 AS t, 0::bigint AS seq, row_to_json(x)::text AS j FROM ({PATIENT} WHERE id = $1) x
           UNION ALL SELECT 1, x.seq, row_to_json(x)::text FROM ({RECORD} WHERE patient = $1) x
           UNION ALL SELECT 2, x.seq, row_to_json(x)::text FROM ({PRESCRIPTION} WHERE patient = $1) x
           UNION ALL SELECT 3, x.seq, row_to_json(x)::text FROM ({AUTHORIZATION} WHERE patient = $1) x
           UNION ALL SELECT 4, x.seq, row_to_json(x)::text FROM ({CONFIRMATION} WHERE patient = $1) x
           UNION ALL SELECT 5, x.seq, row_to_json(x)::text FROM ({DISPENSE} WHERE patient = $1) x
         ) f ORDER BY t, seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let mut p: Option<Patient> = None;
    let mut records: Vec<Record> = Vec::new();
    let mut prescriptions: Vec<Prescription> = Vec::new();
    let mut authorizations: Vec<Authorization> = Vec::new();
    let mut confirmations: Vec<Confirmation> = Vec::new();
    let mut dispenses: Vec<Dispense> = Vec::new();
    for (table, j) in rows {
        match table {
            0 => p = Some(from_json(&j, "patients")?),
            1 => records.push(from_json(&j, "patient_records")?),
            2 => prescriptions.push(from_json(&j, "prescriptions")?),
            3 => authorizations.push(from_json(&j, "authorizations")?),
            4 => confirmations.push(from_json(&j, "confirmations")?),
            _ => dispenses.push(from_json(&j, "dispenses")?),
        }
    }
    let Some(p) = p else { return Ok(None) };
    Ok(Some(stored::file(
        p,
        records,
        prescriptions,
        authorizations,
        confirmations,
        dispenses,
    )?))
}

fn d(v: &jiff::civil::Date) -> String {
    v.to_string()
}

fn od(v: &Option<jiff::civil::Date>) -> Option<String> {
    v.as_ref().map(d)
}

pub async fn apply(c: &mut PgConnection, w: &Write) -> Result<(), StorageError> {
    let q = match w {
        Write::InsertOrganisation(o) => sqlx::query(
            "INSERT INTO organisations (id, kind, name, certified_until) VALUES ($1, $2, $3, $4::date)",
        )
        .bind(&o.id)
        .bind(name(&o.kind))
        .bind(&o.name)
        .bind(od(&o.certified_until)),
        Write::InsertUser(u) => sqlx::query(
            "INSERT INTO users (id, organisation, name, role, certified_until) VALUES ($1, $2, $3, $4, $5::date)",
        )
        .bind(&u.id)
        .bind(&u.organisation)
        .bind(&u.name)
        .bind(name(&u.role))
        .bind(od(&u.certified_until)),
        Write::CertifyUser { user, until } => {
            sqlx::query("UPDATE users SET certified_until = $2::date WHERE id = $1")
                .bind(user)
                .bind(d(until))
        }
        Write::CertifyOrganisation {
            organisation,
            until,
        } => sqlx::query("UPDATE organisations SET certified_until = $2::date WHERE id = $1")
            .bind(organisation)
            .bind(d(until)),
        Write::InsertPatient(p) => sqlx::query(
            "INSERT INTO patients (id, identity, sex, birth_date, category, agreement_signed_on, guardian,
                prescriber, regimen, not_reproductive, planned_start, status, start_date, last_dose)
             VALUES ($1, $2, $3, $4::date, $5, $6::date, $7, $8, $9, $10, $11::date, $12, $13::date, $14::date)",
        )
        .bind(&p.id)
        .bind(&p.identity)
        .bind(name(&p.sex))
        .bind(d(&p.birth_date))
        .bind(name(&p.category))
        .bind(d(&p.agreement_signed_on))
        .bind(&p.guardian)
        .bind(&p.prescriber)
        .bind(name(&p.regimen))
        .bind(p.not_of_reproductive_potential.as_ref().map(json).transpose()?)
        .bind(od(&p.planned_start))
        .bind(name(&p.status))
        .bind(od(&p.start_date))
        .bind(od(&p.last_dose)),
        Write::UpdatePatient(p) => sqlx::query(
            "UPDATE patients SET category = $2, not_reproductive = $3, planned_start = $4::date, status = $5,
                start_date = $6::date, last_dose = $7::date WHERE id = $1",
        )
        .bind(&p.id)
        .bind(name(&p.category))
        .bind(p.not_of_reproductive_potential.as_ref().map(json).transpose()?)
        .bind(od(&p.planned_start))
        .bind(name(&p.status))
        .bind(od(&p.start_date))
        .bind(od(&p.last_dose)),
        Write::InsertRecord(r) => sqlx::query(
            "INSERT INTO patient_records (id, patient, kind, on_date, body, seq) VALUES ($1, $2, $3, $4::date, $5, nextval('row_order'))",
        )
        .bind(&r.id)
        .bind(&r.patient)
        .bind(r.kind.as_str())
        .bind(d(&r.on))
        .bind(r.body.text()),
        Write::InsertPrescription(p) => sqlx::query(
            "INSERT INTO prescriptions (id, patient, prescriber, date, dose_mg, schedule, quantity, days_supply,
                refills, telephone, pharmacy, seq) VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9, $10, $11, nextval('row_order'))",
        )
        .bind(&p.id)
        .bind(&p.patient)
        .bind(&p.prescriber)
        .bind(d(&p.date))
        .bind(p.schedule.dose_mg.mg())
        .bind(json(&p.schedule)?)
        .bind(i64::from(p.quantity))
        .bind(i64::from(p.days_supply))
        .bind(i64::from(p.refills))
        .bind(p.telephone)
        .bind(&p.pharmacy),
        Write::InsertAuthorization(a) => sqlx::query(
            "INSERT INTO authorizations (number, prescription, patient, issued_on, valid_through, status, seq)
             VALUES ($1, $2, $3, $4::date, $5::date, $6, nextval('row_order'))",
        )
        .bind(&a.number)
        .bind(&a.prescription)
        .bind(&a.patient)
        .bind(d(&a.issued_on))
        .bind(d(&a.valid_through))
        .bind(a.status.as_str()),
        Write::InsertConfirmation(x) => sqlx::query(
            "INSERT INTO confirmations (number, authorization_number, pharmacy, patient, issued_on, valid_through, seq)
             SELECT $1, $2, $3, patient, $4::date, $5::date, nextval('row_order') FROM authorizations WHERE number = $2",
        )
        .bind(&x.number)
        .bind(&x.authorization)
        .bind(&x.pharmacy)
        .bind(d(&x.issued_on))
        .bind(d(&x.valid_through)),
        Write::InsertDispense(x) => {
            sqlx::query(
                "INSERT INTO dispenses (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date,
                    days_supply, quantity, counselling, seq) VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8, $9, $10, nextval('row_order'))",
            )
            .bind(&x.id)
            .bind(&x.authorization)
            .bind(&x.confirmation)
            .bind(&x.patient)
            .bind(&x.pharmacy)
            .bind(&x.pharmacist)
            .bind(d(&x.date))
            .bind(i64::from(x.days_supply))
            .bind(i64::from(x.quantity))
            .bind(json(&x.counselling)?)
            .execute(&mut *c)
            .await
            .map_err(db)?;
            sqlx::query("UPDATE authorizations SET status = 'used' WHERE number = $1 AND status = 'active'")
                .bind(&x.authorization)
        }
    };
    let done = q.execute(&mut *c).await.map_err(db)?;
    if done.rows_affected() != 1 {
        return Err(StorageError::Constraint {
            constraint: format!(
                "{} changed {} rows, expected 1",
                write_name(w),
                done.rows_affected()
            ),
        });
    }
    Ok(())
}

/// A bulk load (a synthetic batch): when every write inserts a new patient or one of its rows, write each table
/// with one statement over arrays (`UNNEST`), in dependency order, and mark the dispensed authorizations used.
/// The final state is the one [`apply`] gives write by write; a violated constraint fails the whole batch alike.
/// `Ok(false)`: not a bulk load, nothing written (apply the writes one by one).
pub async fn apply_bulk(c: &mut PgConnection, writes: &[Write]) -> Result<bool, StorageError> {
    if !Write::is_bulk_load(writes) {
        return Ok(false);
    }
    let mut patients = Vec::new();
    let mut records = Vec::new();
    let mut prescriptions = Vec::new();
    let mut authorizations = Vec::new();
    let mut confirmations = Vec::new();
    let mut dispenses = Vec::new();
    for w in writes {
        match w {
            Write::InsertPatient(p) => patients.push(p),
            Write::InsertRecord(r) => records.push(r),
            Write::InsertPrescription(p) => prescriptions.push(p),
            Write::InsertAuthorization(a) => authorizations.push(a),
            Write::InsertConfirmation(x) => confirmations.push(x),
            Write::InsertDispense(x) => dispenses.push(x),
            _ => return Ok(false),
        }
    }
    fn col<T, V>(rows: &[&T], f: impl Fn(&T) -> V) -> Vec<V> {
        rows.iter().map(|r| f(r)).collect()
    }
    let inserted = |done: sqlx::postgres::PgQueryResult, n: usize, what: &str| {
        if done.rows_affected() == n as u64 {
            Ok(())
        } else {
            Err(StorageError::Constraint {
                constraint: format!("bulk {what}: {} of {n} rows written", done.rows_affected()),
            })
        }
    };
    if !patients.is_empty() {
        let nr: Vec<Option<String>> = patients
            .iter()
            .map(|p| {
                p.not_of_reproductive_potential
                    .as_ref()
                    .map(json)
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        let done = sqlx::query(
            "INSERT INTO patients (id, identity, sex, birth_date, category, agreement_signed_on, guardian,
                prescriber, regimen, not_reproductive, planned_start, status, start_date, last_dose)
             SELECT id, identity, sex, birth_date::date, category, signed::date, guardian, prescriber, regimen,
                not_reproductive, planned_start::date, status, start_date::date, last_dose::date
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
               AS t (id, identity, sex, birth_date, category, signed, guardian, prescriber, regimen,
                not_reproductive, planned_start, status, start_date, last_dose)",
        )
        .bind(col(&patients, |p| p.id.clone()))
        .bind(col(&patients, |p| p.identity.clone()))
        .bind(col(&patients, |p| name(&p.sex)))
        .bind(col(&patients, |p| d(&p.birth_date)))
        .bind(col(&patients, |p| name(&p.category)))
        .bind(col(&patients, |p| d(&p.agreement_signed_on)))
        .bind(col(&patients, |p| p.guardian.clone()))
        .bind(col(&patients, |p| p.prescriber.clone()))
        .bind(col(&patients, |p| name(&p.regimen)))
        .bind(nr)
        .bind(col(&patients, |p| od(&p.planned_start)))
        .bind(col(&patients, |p| name(&p.status)))
        .bind(col(&patients, |p| od(&p.start_date)))
        .bind(col(&patients, |p| od(&p.last_dose)))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, patients.len(), "patients")?;
    }
    if !records.is_empty() {
        let done = sqlx::query(
            "INSERT INTO patient_records (id, patient, kind, on_date, body, seq)
             SELECT id, patient, kind, on_date::date, body, nextval('row_order')
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
               AS t (id, patient, kind, on_date, body)",
        )
        .bind(col(&records, |r| r.id.clone()))
        .bind(col(&records, |r| r.patient.clone()))
        .bind(col(&records, |r| r.kind.as_str()))
        .bind(col(&records, |r| d(&r.on)))
        .bind(col(&records, |r| r.body.text().to_string()))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, records.len(), "patient_records")?;
    }
    if !prescriptions.is_empty() {
        let schedules: Vec<String> = prescriptions
            .iter()
            .map(|p| json(&p.schedule))
            .collect::<Result<_, _>>()?;
        let done = sqlx::query(
            "INSERT INTO prescriptions (id, patient, prescriber, date, dose_mg, schedule, quantity, days_supply,
                refills, telephone, pharmacy, seq)
             SELECT id, patient, prescriber, date::date, dose_mg, schedule, quantity, days_supply, refills,
                telephone, pharmacy, nextval('row_order')
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::int8[],
                $8::int8[], $9::int8[], $10::bool[], $11::text[])
               AS t (id, patient, prescriber, date, dose_mg, schedule, quantity, days_supply, refills, telephone,
                 pharmacy)",
        )
        .bind(col(&prescriptions, |p| p.id.clone()))
        .bind(col(&prescriptions, |p| p.patient.clone()))
        .bind(col(&prescriptions, |p| p.prescriber.clone()))
        .bind(col(&prescriptions, |p| d(&p.date)))
        .bind(col(&prescriptions, |p| p.schedule.dose_mg.mg()))
        .bind(schedules)
        .bind(col(&prescriptions, |p| i64::from(p.quantity)))
        .bind(col(&prescriptions, |p| i64::from(p.days_supply)))
        .bind(col(&prescriptions, |p| i64::from(p.refills)))
        .bind(col(&prescriptions, |p| p.telephone))
        .bind(col(&prescriptions, |p| p.pharmacy.clone()))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, prescriptions.len(), "prescriptions")?;
    }
    if !authorizations.is_empty() {
        let done = sqlx::query(
            "INSERT INTO authorizations (number, prescription, patient, issued_on, valid_through, status, seq)
             SELECT number, prescription, patient, issued_on::date, valid_through::date, status, nextval('row_order')
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
               AS t (number, prescription, patient, issued_on, valid_through, status)",
        )
        .bind(col(&authorizations, |a| a.number.clone()))
        .bind(col(&authorizations, |a| a.prescription.clone()))
        .bind(col(&authorizations, |a| a.patient.clone()))
        .bind(col(&authorizations, |a| d(&a.issued_on)))
        .bind(col(&authorizations, |a| d(&a.valid_through)))
        .bind(col(&authorizations, |a| a.status.as_str()))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, authorizations.len(), "authorizations")?;
    }
    if !confirmations.is_empty() {
        // A confirmation's patient is its authorization's: an unknown authorization writes no row, and the count
        // check fails the batch.
        let done = sqlx::query(
            "INSERT INTO confirmations (number, authorization_number, pharmacy, patient, issued_on, valid_through, seq)
             SELECT t.number, t.authorization_number, t.pharmacy, a.patient, t.issued_on::date,
                t.valid_through::date, nextval('row_order')
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
               AS t (number, authorization_number, pharmacy, issued_on, valid_through)
             JOIN authorizations a ON a.number = t.authorization_number",
        )
        .bind(col(&confirmations, |x| x.number.clone()))
        .bind(col(&confirmations, |x| x.authorization.clone()))
        .bind(col(&confirmations, |x| x.pharmacy.clone()))
        .bind(col(&confirmations, |x| d(&x.issued_on)))
        .bind(col(&confirmations, |x| d(&x.valid_through)))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, confirmations.len(), "confirmations")?;
    }
    if !dispenses.is_empty() {
        let counselling: Vec<String> = dispenses
            .iter()
            .map(|x| json(&x.counselling))
            .collect::<Result<_, _>>()?;
        let done = sqlx::query(
            "INSERT INTO dispenses (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date,
                days_supply, quantity, counselling, seq)
             SELECT id, authorization_number, confirmation, patient, pharmacy, pharmacist, date::date,
                days_supply, quantity, counselling, nextval('row_order')
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::int8[], $9::int8[], $10::text[])
               AS t (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date, days_supply,
                quantity, counselling)",
        )
        .bind(col(&dispenses, |x| x.id.clone()))
        .bind(col(&dispenses, |x| x.authorization.clone()))
        .bind(col(&dispenses, |x| x.confirmation.clone()))
        .bind(col(&dispenses, |x| x.patient.clone()))
        .bind(col(&dispenses, |x| x.pharmacy.clone()))
        .bind(col(&dispenses, |x| x.pharmacist.clone()))
        .bind(col(&dispenses, |x| d(&x.date)))
        .bind(col(&dispenses, |x| i64::from(x.days_supply)))
        .bind(col(&dispenses, |x| i64::from(x.quantity)))
        .bind(counselling)
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(done, dispenses.len(), "dispenses")?;
        // Every dispensed authorization was active and is now used: one row each, as write by write.
        let done = sqlx::query(
            "UPDATE authorizations SET status = 'used' WHERE number = ANY($1) AND status = 'active'",
        )
        .bind(col(&dispenses, |x| x.authorization.clone()))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        inserted(
            done,
            dispenses.len(),
            "dispensed authorizations marked used",
        )?;
    }
    Ok(true)
}

fn write_name(w: &Write) -> &'static str {
    match w {
        Write::InsertOrganisation(_) => "insert organisation",
        Write::InsertUser(_) => "insert user",
        Write::CertifyUser { .. } => "certify user",
        Write::CertifyOrganisation { .. } => "certify organisation",
        Write::InsertPatient(_) => "insert patient",
        Write::UpdatePatient(_) => "update patient",
        Write::InsertRecord(_) => "insert record",
        Write::InsertPrescription(_) => "insert prescription",
        Write::InsertAuthorization(_) => "insert authorization",
        Write::InsertConfirmation(_) => "insert confirmation",
        Write::InsertDispense(_) => "dispense (authorization no longer active)",
    }
}

/// Whole files of a page of patients: one query per table for the whole page.
pub async fn patient_files(
    c: &mut PgConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<PatientFile>, StorageError> {
    files_where(
        c,
        "(SELECT id FROM patients WHERE id > $1 ORDER BY id LIMIT $2)",
        Bind::After(after, limit),
    )
    .await
}

/// Whole files of these patients (the sweep's marked and due patients), one query per table.
pub async fn patient_files_of(
    c: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<PatientFile>, StorageError> {
    files_where(c, "(SELECT unnest($1::text[]))", Bind::Ids(ids.to_vec())).await
}

/// The parameters of a page's patient selection.
enum Bind<'a> {
    After(&'a str, i64),
    Ids(Vec<String>),
}

/// The files of the patients `page` (a subquery of ids, with the parameters `bind`) selects, in id order.
async fn files_where(
    c: &mut PgConnection,
    page: &str,
    bind: Bind<'_>,
) -> Result<Vec<PatientFile>, StorageError> {
    Page {
        patients: page_rows(
            c,
            format!("{PATIENT} WHERE id IN {page} ORDER BY id"),
            &bind,
        )
        .await?,
        records: page_rows(
            c,
            format!("{RECORD} WHERE patient IN {page} ORDER BY patient, seq"),
            &bind,
        )
        .await?,
        prescriptions: page_rows(
            c,
            format!("{PRESCRIPTION} WHERE patient IN {page} ORDER BY patient, seq"),
            &bind,
        )
        .await?,
        authorizations: page_rows(
            c,
            format!("{AUTHORIZATION} WHERE patient IN {page} ORDER BY patient, seq"),
            &bind,
        )
        .await?,
        confirmations: page_rows(
            c,
            format!("{CONFIRMATION} WHERE patient IN {page} ORDER BY patient, seq"),
            &bind,
        )
        .await?,
        dispenses: page_rows(
            c,
            format!("{DISPENSE} WHERE patient IN {page} ORDER BY patient, seq"),
            &bind,
        )
        .await?,
    }
    .into_files()
}

/// The rows of one table for the page's patients.
async fn page_rows<T>(
    c: &mut PgConnection,
    sql: String,
    bind: &Bind<'_>,
) -> Result<Vec<T>, StorageError>
where
    T: for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    let q = match bind {
        Bind::After(after, limit) => q.bind(*after).bind(*limit),
        Bind::Ids(ids) => q.bind(ids),
    };
    q.fetch_all(c).await.map_err(db)
}
