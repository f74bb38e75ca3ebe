//! SQL for reading rows back and applying the workflow's writes (SQLite dialect, `?N` parameters).

use crate::db;
use lenaguard_storage::StorageError;
use lenaguard_storage::codec::{json, name};
use lenaguard_storage::records::{
    AuthorizationRow, ConfirmationRow, OrganisationRow, PatientFile, PrescriptionRow, UserRow,
    Write,
};
use lenaguard_storage::stored::{
    self, Authorization, Confirmation, Dispense, Org, Page, Patient, Prescription, Record, User,
};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, FromRow, SqliteConnection};

pub async fn organisation(
    c: &mut SqliteConnection,
    id: &str,
) -> Result<Option<OrganisationRow>, StorageError> {
    let r: Option<Org> =
        sqlx::query_as("SELECT id, kind, name, certified_until FROM organisations WHERE id = ?1")
            .bind(id)
            .fetch_optional(c)
            .await
            .map_err(db)?;
    r.map(Org::into_row).transpose()
}

pub async fn user(c: &mut SqliteConnection, id: &str) -> Result<Option<UserRow>, StorageError> {
    let r: Option<User> = sqlx::query_as(
        "SELECT id, organisation, name, role, certified_until FROM users WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(User::into_row).transpose()
}

pub(crate) const PATIENT: &str = "SELECT id, identity, sex, birth_date, category, agreement_signed_on, guardian, prescriber, regimen, not_reproductive, planned_start, status, start_date, last_dose FROM patients";
const RECORD: &str = "SELECT id, patient, kind, on_date, body FROM patient_records";
const DISPENSE: &str = "SELECT id, authorization_number, confirmation, patient, pharmacy, pharmacist, date, days_supply, quantity, counselling FROM dispenses";
const PRESCRIPTION: &str = "SELECT id, patient, prescriber, date, schedule, quantity, days_supply, refills, telephone, pharmacy FROM prescriptions";
const AUTHORIZATION: &str =
    "SELECT number, prescription, patient, issued_on, valid_through, status FROM authorizations";
const CONFIRMATION: &str = "SELECT number, authorization_number, pharmacy, issued_on, valid_through, patient FROM confirmations";

pub async fn prescription(
    c: &mut SqliteConnection,
    id: &str,
) -> Result<Option<PrescriptionRow>, StorageError> {
    let r: Option<Prescription> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PRESCRIPTION} WHERE id = ?1")))
            .bind(id)
            .fetch_optional(c)
            .await
            .map_err(db)?;
    r.map(Prescription::into_row).transpose()
}

pub async fn authorization(
    c: &mut SqliteConnection,
    number: &str,
) -> Result<Option<AuthorizationRow>, StorageError> {
    let r: Option<Authorization> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{AUTHORIZATION} WHERE number = ?1"
    )))
    .bind(number)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(Authorization::into_row).transpose()
}

pub async fn confirmation(
    c: &mut SqliteConnection,
    number: &str,
) -> Result<Option<ConfirmationRow>, StorageError> {
    let r: Option<Confirmation> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CONFIRMATION} WHERE number = ?1"
    )))
    .bind(number)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    r.map(Confirmation::into_row).transpose()
}

pub async fn patient_file(
    c: &mut SqliteConnection,
    id: &str,
) -> Result<Option<PatientFile>, StorageError> {
    let p: Option<Patient> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PATIENT} WHERE id = ?1")))
            .bind(id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db)?;
    let Some(p) = p else { return Ok(None) };
    let records: Vec<Record> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RECORD} WHERE patient = ?1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let prescriptions: Vec<Prescription> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PRESCRIPTION} WHERE patient = ?1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let authorizations: Vec<Authorization> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{AUTHORIZATION} WHERE patient = ?1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let confirmations: Vec<Confirmation> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CONFIRMATION} WHERE patient = ?1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
    let dispenses: Vec<Dispense> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DISPENSE} WHERE patient = ?1 ORDER BY seq"
    )))
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db)?;
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

pub async fn apply(c: &mut SqliteConnection, w: &Write, seq: i64) -> Result<(), StorageError> {
    let q = match w {
        Write::InsertOrganisation(o) => sqlx::query(
            "INSERT INTO organisations (id, kind, name, certified_until) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&o.id)
        .bind(name(&o.kind))
        .bind(&o.name)
        .bind(od(&o.certified_until)),
        Write::InsertUser(u) => sqlx::query(
            "INSERT INTO users (id, organisation, name, role, certified_until) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&u.id)
        .bind(&u.organisation)
        .bind(&u.name)
        .bind(name(&u.role))
        .bind(od(&u.certified_until)),
        Write::CertifyUser { user, until } => {
            sqlx::query("UPDATE users SET certified_until = ?2 WHERE id = ?1")
                .bind(user)
                .bind(d(until))
        }
        Write::CertifyOrganisation {
            organisation,
            until,
        } => sqlx::query("UPDATE organisations SET certified_until = ?2 WHERE id = ?1")
            .bind(organisation)
            .bind(d(until)),
        Write::InsertPatient(p) => sqlx::query(
            "INSERT INTO patients (id, identity, sex, birth_date, category, agreement_signed_on, guardian,
                prescriber, regimen, not_reproductive, planned_start, status, start_date, last_dose)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
            "UPDATE patients SET category = ?2, not_reproductive = ?3, planned_start = ?4, status = ?5,
                start_date = ?6, last_dose = ?7 WHERE id = ?1",
        )
        .bind(&p.id)
        .bind(name(&p.category))
        .bind(p.not_of_reproductive_potential.as_ref().map(json).transpose()?)
        .bind(od(&p.planned_start))
        .bind(name(&p.status))
        .bind(od(&p.start_date))
        .bind(od(&p.last_dose)),
        Write::InsertRecord(r) => sqlx::query(
            "INSERT INTO patient_records (id, patient, kind, on_date, body, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&r.id)
        .bind(&r.patient)
        .bind(r.kind.as_str())
        .bind(d(&r.on))
        .bind(r.body.text())
        .bind(seq),
        Write::InsertPrescription(p) => sqlx::query(
            "INSERT INTO prescriptions (id, patient, prescriber, date, dose_mg, schedule, quantity, days_supply,
                refills, telephone, seq, pharmacy) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        .bind(seq)
        .bind(&p.pharmacy),
        Write::InsertAuthorization(a) => sqlx::query(
            "INSERT INTO authorizations (number, prescription, patient, issued_on, valid_through, status, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&a.number)
        .bind(&a.prescription)
        .bind(&a.patient)
        .bind(d(&a.issued_on))
        .bind(d(&a.valid_through))
        .bind(a.status.as_str())
        .bind(seq),
        Write::InsertConfirmation(x) => sqlx::query(
            "INSERT INTO confirmations (number, authorization_number, pharmacy, patient, issued_on, valid_through, seq)
             SELECT ?1, ?2, ?3, patient, ?4, ?5, ?6 FROM authorizations WHERE number = ?2",
        )
        .bind(&x.number)
        .bind(&x.authorization)
        .bind(&x.pharmacy)
        .bind(d(&x.issued_on))
        .bind(d(&x.valid_through))
        .bind(seq),
        Write::InsertDispense(x) => {
            sqlx::query(
                "INSERT INTO dispenses (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date,
                    days_supply, quantity, counselling, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
            .bind(seq)
            .execute(&mut *c)
            .await
            .map_err(db)?;
            sqlx::query("UPDATE authorizations SET status = 'used' WHERE number = ?1 AND status = 'active'")
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

/// A bulk load (a synthetic batch): when every write inserts a new patient or one of its rows, write them table
/// by table in dependency order with multi-row statements, and mark the dispensed authorizations used. The
/// final state is the one [`apply`] gives write by write; a violated constraint fails the whole batch alike.
/// `Ok(false)`: not a bulk load, nothing written (apply the writes one by one).
pub async fn apply_bulk(
    c: &mut SqliteConnection,
    writes: &[Write],
    seq: i64,
) -> Result<bool, StorageError> {
    if !Write::is_bulk_load(writes) {
        return Ok(false);
    }
    let err = |e: sqlx::error::BoxDynError| StorageError::Database(format!("bulk bind: {e}"));
    let of = |f: fn(&Write) -> bool| writes.iter().filter(move |w| f(w));
    // Patients.
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertPatient(_))).collect();
    insert_many(
        c,
        "INSERT INTO patients (id, identity, sex, birth_date, category, agreement_signed_on, guardian, prescriber,
            regimen, not_reproductive, planned_start, status, start_date, last_dose) VALUES ",
        14,
        None,
        &rows,
        |a, w| {
            let Write::InsertPatient(p) = w else {
                return Ok(());
            };
            a.add(p.id.clone()).map_err(err)?;
            a.add(p.identity.clone()).map_err(err)?;
            a.add(name(&p.sex)).map_err(err)?;
            a.add(d(&p.birth_date)).map_err(err)?;
            a.add(name(&p.category)).map_err(err)?;
            a.add(d(&p.agreement_signed_on)).map_err(err)?;
            a.add(p.guardian.clone()).map_err(err)?;
            a.add(p.prescriber.clone()).map_err(err)?;
            a.add(name(&p.regimen)).map_err(err)?;
            a.add(p.not_of_reproductive_potential.as_ref().map(json).transpose()?)
                .map_err(err)?;
            a.add(od(&p.planned_start)).map_err(err)?;
            a.add(name(&p.status)).map_err(err)?;
            a.add(od(&p.start_date)).map_err(err)?;
            a.add(od(&p.last_dose)).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertRecord(_))).collect();
    insert_many(
        c,
        "INSERT INTO patient_records (id, patient, kind, on_date, body, seq) VALUES ",
        6,
        None,
        &rows,
        |a, w| {
            let Write::InsertRecord(r) = w else {
                return Ok(());
            };
            a.add(r.id.clone()).map_err(err)?;
            a.add(r.patient.clone()).map_err(err)?;
            a.add(r.kind.as_str()).map_err(err)?;
            a.add(d(&r.on)).map_err(err)?;
            a.add(r.body.text()).map_err(err)?;
            a.add(seq).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertPrescription(_))).collect();
    insert_many(
        c,
        "INSERT INTO prescriptions (id, patient, prescriber, date, dose_mg, schedule, quantity, days_supply,
            refills, telephone, seq, pharmacy) VALUES ",
        12,
        None,
        &rows,
        |a, w| {
            let Write::InsertPrescription(p) = w else {
                return Ok(());
            };
            a.add(p.id.clone()).map_err(err)?;
            a.add(p.patient.clone()).map_err(err)?;
            a.add(p.prescriber.clone()).map_err(err)?;
            a.add(d(&p.date)).map_err(err)?;
            a.add(p.schedule.dose_mg.mg()).map_err(err)?;
            a.add(json(&p.schedule)?).map_err(err)?;
            a.add(i64::from(p.quantity)).map_err(err)?;
            a.add(i64::from(p.days_supply)).map_err(err)?;
            a.add(i64::from(p.refills)).map_err(err)?;
            a.add(p.telephone).map_err(err)?;
            a.add(seq).map_err(err)?;
            a.add(p.pharmacy.clone()).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertAuthorization(_))).collect();
    insert_many(
        c,
        "INSERT INTO authorizations (number, prescription, patient, issued_on, valid_through, status, seq) VALUES ",
        7,
        None,
        &rows,
        |a, w| {
            let Write::InsertAuthorization(x) = w else {
                return Ok(());
            };
            a.add(x.number.clone()).map_err(err)?;
            a.add(x.prescription.clone()).map_err(err)?;
            a.add(x.patient.clone()).map_err(err)?;
            a.add(d(&x.issued_on)).map_err(err)?;
            a.add(d(&x.valid_through)).map_err(err)?;
            a.add(x.status.as_str()).map_err(err)?;
            a.add(seq).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    // A confirmation's patient is its authorization's (NOT NULL: an unknown authorization fails the batch).
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertConfirmation(_))).collect();
    insert_many(
        c,
        "INSERT INTO confirmations (number, authorization_number, pharmacy, patient, issued_on, valid_through, seq)
         VALUES ",
        7,
        Some("(?,?,?,(SELECT patient FROM authorizations WHERE number = ?),?,?,?)"),
        &rows,
        |a, w| {
            let Write::InsertConfirmation(x) = w else {
                return Ok(());
            };
            a.add(x.number.clone()).map_err(err)?;
            a.add(x.authorization.clone()).map_err(err)?;
            a.add(x.pharmacy.clone()).map_err(err)?;
            a.add(x.authorization.clone()).map_err(err)?;
            a.add(d(&x.issued_on)).map_err(err)?;
            a.add(d(&x.valid_through)).map_err(err)?;
            a.add(seq).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    let rows: Vec<&Write> = of(|w| matches!(w, Write::InsertDispense(_))).collect();
    insert_many(
        c,
        "INSERT INTO dispenses (id, authorization_number, confirmation, patient, pharmacy, pharmacist, date,
            days_supply, quantity, counselling, seq) VALUES ",
        11,
        None,
        &rows,
        |a, w| {
            let Write::InsertDispense(x) = w else {
                return Ok(());
            };
            a.add(x.id.clone()).map_err(err)?;
            a.add(x.authorization.clone()).map_err(err)?;
            a.add(x.confirmation.clone()).map_err(err)?;
            a.add(x.patient.clone()).map_err(err)?;
            a.add(x.pharmacy.clone()).map_err(err)?;
            a.add(x.pharmacist.clone()).map_err(err)?;
            a.add(d(&x.date)).map_err(err)?;
            a.add(i64::from(x.days_supply)).map_err(err)?;
            a.add(i64::from(x.quantity)).map_err(err)?;
            a.add(json(&x.counselling)?).map_err(err)?;
            a.add(seq).map_err(err)?;
            Ok(())
        },
    )
    .await?;
    // Every dispensed authorization was active and is now used: one row each, as write by write.
    let used: Vec<&str> = rows
        .iter()
        .filter_map(|w| match w {
            Write::InsertDispense(x) => Some(x.authorization.as_str()),
            _ => None,
        })
        .collect();
    for chunk in used.chunks(500) {
        let ids = serde_json::to_string(chunk)
            .map_err(|e| StorageError::Database(format!("bulk ids: {e}")))?;
        let done = sqlx::query(
            "UPDATE authorizations SET status = 'used'
             WHERE number IN (SELECT value FROM json_each(?1)) AND status = 'active'",
        )
        .bind(ids)
        .execute(&mut *c)
        .await
        .map_err(db)?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StorageError::Constraint {
                constraint: format!(
                    "dispense (authorization no longer active): {} of {} authorizations changed",
                    done.rows_affected(),
                    chunk.len()
                ),
            });
        }
    }
    Ok(true)
}

/// Insert `rows` with statements of up to 500 rows (`width` values a row, under SQLite's 32,766 parameters;
/// `row` the values of one row when not `width` plain parameters).
async fn insert_many(
    c: &mut SqliteConnection,
    head: &str,
    width: usize,
    row: Option<&str>,
    rows: &[&Write],
    mut bind: impl FnMut(&mut SqliteArguments, &Write) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let per = (32_000 / width).min(500);
    let row = row.map_or_else(
        || format!("({})", vec!["?"; width].join(",")),
        str::to_string,
    );
    for chunk in rows.chunks(per) {
        let mut sql = String::from(head);
        sql.push_str(&vec![row.as_str(); chunk.len()].join(","));
        let mut args = SqliteArguments::default();
        for w in chunk {
            bind(&mut args, w)?;
        }
        let done = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut *c)
            .await
            .map_err(db)?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StorageError::Constraint {
                constraint: format!(
                    "bulk insert changed {} rows, expected {}",
                    done.rows_affected(),
                    chunk.len()
                ),
            });
        }
    }
    Ok(())
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
    c: &mut SqliteConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<PatientFile>, StorageError> {
    files_where(
        c,
        "(SELECT id FROM patients WHERE id > ?1 ORDER BY id LIMIT ?2)",
        Bind::After(after, limit),
    )
    .await
}

/// Whole files of these patients (the sweep's marked and due patients), one query per table.
pub async fn patient_files_of(
    c: &mut SqliteConnection,
    ids: &[String],
) -> Result<Vec<PatientFile>, StorageError> {
    files_where(
        c,
        "(SELECT value FROM json_each(?1))",
        Bind::Ids(
            serde_json::to_string(ids)
                .map_err(|e| StorageError::Database(format!("sweep ids: {e}")))?,
        ),
    )
    .await
}

/// The parameters of a page's patient selection.
enum Bind<'a> {
    After(&'a str, i64),
    Ids(String),
}

/// The files of the patients `page` (a subquery of ids, with the parameters `bind`) selects, in id order.
async fn files_where(
    c: &mut SqliteConnection,
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
    c: &mut SqliteConnection,
    sql: String,
    bind: &Bind<'_>,
) -> Result<Vec<T>, StorageError>
where
    T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    let q = match bind {
        Bind::After(after, limit) => q.bind(*after).bind(*limit),
        Bind::Ids(ids) => q.bind(ids),
    };
    q.fetch_all(c).await.map_err(db)
}
