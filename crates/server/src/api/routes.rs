//! The route table: every route of the REST API, with who may call it and on which object. The router, the access
//! guard, the OpenAPI document and the access-matrix test are all built from this one table, so a route cannot be
//! served without its access rule, nor be missing from the document or the matrix.

use super::ApiState;
use super::{admin, engine, ops, patients, program, reports, session};
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};
use lenaguard_storage::accounts::AccountRole;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use AccountRole::{
    Admin as D, Auditor as A, Patient as T, Pharmacist as H, Prescriber as P, ProgramStaff as S,
};

pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What the route's path names, and so which relation to the caller is checked before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// Nothing patient-specific in the path (the handler may still scope what it returns to the caller).
    None,
    /// `{patient}`: the caller must be related to the patient.
    Patient,
    /// `{prescription}`: the caller must be related to the prescription.
    Prescription,
    /// `{authorization}`: the caller must be related to the authorization's prescription.
    Authorization,
    /// `{login}`, `{token}`, `{user}`, `{organisation}`, `{rule}`: registry or account objects, by role alone.
    Named,
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: SchemaFn,
    pub required: bool,
}

#[derive(Debug)]
pub struct RouteSpec {
    /// Stable id (the access log's action).
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Who may call it. Empty: anyone, without credentials.
    pub roles: &'static [AccountRole],
    pub object: Object,
    /// Reads patient data: every call, allowed or refused, is written to the access log.
    pub audited: bool,
    /// A workflow command: the `Idempotency-Key` header is required.
    pub command: bool,
    pub query: &'static [Param],
    pub body: Option<SchemaFn>,
    /// The success status and body (`None`: no body).
    pub status: u16,
    pub response: Option<SchemaFn>,
    pub handler: fn() -> MethodRouter<ApiState>,
}

impl RouteSpec {
    pub fn public(&self) -> bool {
        self.roles.is_empty()
    }

    /// The scope an API token needs for this route.
    pub fn scope(&self) -> &'static str {
        if self.method == Method::GET {
            "read"
        } else {
            "write"
        }
    }

    /// The path parameter naming the route's object, if it names one that relations are checked for.
    pub fn object_param(&self) -> Option<&'static str> {
        match self.object {
            Object::Patient => Some("patient"),
            Object::Prescription => Some("prescription"),
            Object::Authorization => Some("authorization"),
            Object::None | Object::Named => None,
        }
    }
}

const ANYONE: &[AccountRole] = &[];
const EVERY_ROLE: &[AccountRole] = &[P, H, T, S, A, D];
const CLINICAL: &[AccountRole] = &[P, H, S];
const PATIENT_READERS: &[AccountRole] = &[P, H, T, S, A];
const REGISTRY: &[AccountRole] = &[D, S];
const OVERSIGHT: &[AccountRole] = &[S, A];

const AFTER: Param = Param {
    name: "after",
    description: "Continue after this id (or sequence number); empty for the first page.",
    schema: schema::<String>,
    required: false,
};
const LIMIT: Param = Param {
    name: "limit",
    description: "At most this many items (1 to 1000; default 100).",
    schema: schema::<u16>,
    required: false,
};
const CAL_FROM: Param = Param {
    name: "from",
    description: "First day (YYYY-MM-DD); default the treatment start or today.",
    schema: schema::<lenaguard_storage::schema::IsoDate>,
    required: false,
};
const CAL_DAYS: Param = Param {
    name: "days",
    description: "How many days (1 to 366; default 28).",
    schema: schema::<u16>,
    required: false,
};

macro_rules! route {
    ($id:literal, $method:ident, $path:literal, $tag:literal, $summary:literal, $roles:expr, $object:ident,
     audited: $audited:literal, command: $command:literal, query: $query:expr, body: $body:expr,
     status: $status:literal, response: $response:expr, handler: $handler:expr) => {
        RouteSpec {
            id: $id,
            method: Method::$method,
            path: $path,
            summary: $summary,
            tag: $tag,
            roles: $roles,
            object: Object::$object,
            audited: $audited,
            command: $command,
            query: $query,
            body: $body,
            status: $status,
            response: $response,
            handler: $handler,
        }
    };
}

/// A workflow command about the patient in the path.
macro_rules! patient_command {
    ($id:literal, $path:literal, $summary:literal, $roles:expr, $body:ty, $handler:path) => {
        route!($id, POST, $path, "program", $summary, $roles, Patient,
            audited: false, command: true, query: &[], body: Some(schema::<$body>),
            status: 200, response: Some(schema::<lenaguard_storage::CommandOutcome>),
            handler: || post($handler))
    };
}

pub static ROUTES: &[RouteSpec] = &[
    // Operations: public.
    route!("ops.health", GET, "/healthz", "operations", "Liveness: the process answers.", ANYONE, None,
        audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<ops::Health>), handler: || get(ops::healthz)),
    route!("ops.ready", GET, "/readyz", "operations", "Readiness: the database answers.", ANYONE, None,
        audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<ops::Health>), handler: || get(ops::readyz)),
    route!("ops.openapi", GET, "/openapi.json", "operations", "This document (OpenAPI 3.1).", ANYONE, None,
        audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<serde_json::Value>), handler: || get(ops::openapi)),
    // Sessions.
    route!("session.login", POST, "/api/v1/session", "session",
        "Log in with a login and password: sets the session cookie and answers the CSRF token.", ANYONE, None,
        audited: false, command: false, query: &[], body: Some(schema::<session::Login>), status: 200,
        response: Some(schema::<session::SessionInfo>), handler: || post(session::login)),
    route!("session.read", GET, "/api/v1/session", "session", "Who is logged in (or whose token this is).",
        EVERY_ROLE, None, audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<session::SessionInfo>), handler: || get(session::read)),
    route!("session.logout", DELETE, "/api/v1/session", "session", "Log out: ends the session.", EVERY_ROLE,
        None, audited: false, command: false, query: &[], body: None, status: 204, response: None,
        handler: || delete(session::logout)),
    route!("session.password", PUT, "/api/v1/session/password", "session",
        "Change one's own password (ends every session of the account).", EVERY_ROLE, None,
        audited: false, command: false, query: &[], body: Some(schema::<session::PasswordChange>), status: 204,
        response: None, handler: || put(session::change_password)),
    // Accounts and API tokens.
    route!("accounts.create", POST, "/api/v1/accounts", "accounts", "Create an account.", &[D], None,
        audited: false, command: false, query: &[], body: Some(schema::<admin::NewAccount>), status: 201,
        response: Some(schema::<admin::AccountInfo>), handler: || post(admin::create_account)),
    route!("accounts.list", GET, "/api/v1/accounts", "accounts", "Every account.", &[D], None,
        audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<Vec<admin::AccountInfo>>), handler: || get(admin::list_accounts)),
    route!("accounts.status", PUT, "/api/v1/accounts/{login}/status", "accounts",
        "Disable (ending its sessions; its tokens stop working) or enable an account.", &[D], Named,
        audited: false, command: false, query: &[], body: Some(schema::<admin::AccountStatus>), status: 200,
        response: Some(schema::<admin::AccountInfo>), handler: || put(admin::set_status)),
    route!("accounts.password", PUT, "/api/v1/accounts/{login}/password", "accounts",
        "Set an account's password (ends its sessions).", &[D], Named,
        audited: false, command: false, query: &[], body: Some(schema::<admin::NewPassword>), status: 204,
        response: None, handler: || put(admin::set_password)),
    route!("tokens.create", POST, "/api/v1/tokens", "accounts",
        "Issue an API token acting as an account (shown once; stored hashed).", &[D], None,
        audited: false, command: false, query: &[], body: Some(schema::<admin::NewToken>), status: 201,
        response: Some(schema::<admin::IssuedToken>), handler: || post(admin::create_token)),
    route!("tokens.list", GET, "/api/v1/tokens", "accounts", "The API tokens of an account.", &[D], None,
        audited: false, command: false,
        query: &[Param { name: "login", description: "The account.", schema: schema::<String>, required: true }],
        body: None, status: 200, response: Some(schema::<Vec<admin::TokenInfo>>),
        handler: || get(admin::list_tokens)),
    route!("tokens.revoke", DELETE, "/api/v1/tokens/{token}", "accounts", "Revoke an API token.", &[D], Named,
        audited: false, command: false, query: &[], body: None, status: 204, response: None,
        handler: || delete(admin::revoke_token)),
    // Registry administration (workflow commands).
    route!("registry.organisation", POST, "/api/v1/registry/organisations", "registry",
        "Register a clinic or a pharmacy.", REGISTRY, None, audited: false, command: true, query: &[],
        body: Some(schema::<program::RegisterOrganisation>), status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || post(program::register_organisation)),
    route!("registry.user", POST, "/api/v1/registry/users", "registry",
        "Register a prescriber, pharmacist or program staff member of an organisation.", REGISTRY, None,
        audited: false, command: true, query: &[], body: Some(schema::<program::RegisterUser>), status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || post(program::register_user)),
    route!("registry.certify_prescriber", PUT, "/api/v1/registry/users/{user}/certification", "registry",
        "Certify a prescriber in the program until a date.", REGISTRY, Named, audited: false, command: true,
        query: &[], body: Some(schema::<program::Certification>), status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || put(program::certify_prescriber)),
    route!("registry.certify_pharmacy", PUT, "/api/v1/registry/organisations/{organisation}/certification",
        "registry", "Certify a pharmacy in the program until a date.", REGISTRY, Named, audited: false,
        command: true, query: &[], body: Some(schema::<program::Certification>), status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || put(program::certify_pharmacy)),
    // The engine on data in the request (nothing stored, nothing about a stored patient).
    route!("engine.dose", POST, "/api/v1/dose", "engine",
        "The label's starting dose for a regimen and kidney function, with its sources.", CLINICAL, None,
        audited: false, command: false, query: &[], body: Some(schema::<engine::DoseRequest>), status: 200,
        response: Some(schema::<lenaguard_domain::quick::DoseAnswer>), handler: || post(engine::dose)),
    route!("engine.assess", POST, "/api/v1/assess", "engine",
        "Assess a snapshot: today's action, dose and findings.", CLINICAL, None, audited: false,
        command: false, query: &[], body: Some(schema::<lenaguard_domain::Snapshot>), status: 200,
        response: Some(schema::<lenaguard_domain::Assessment>), handler: || post(engine::assess)),
    route!("engine.check_dispense", POST, "/api/v1/check-dispense", "engine",
        "REMS eligibility of a snapshot for the next prescription or dispense: every missing step.", CLINICAL,
        None, audited: false, command: false, query: &[], body: Some(schema::<lenaguard_domain::Snapshot>),
        status: 200, response: Some(schema::<lenaguard_domain::program::EligibilityReport>),
        handler: || post(engine::check_dispense)),
    route!("engine.calendar", POST, "/api/v1/calendar", "engine",
        "The treatment calendar of a snapshot: dose and rest days, labs, tests, surveys.", CLINICAL, None,
        audited: false, command: false, query: &[CAL_FROM, CAL_DAYS],
        body: Some(schema::<lenaguard_domain::Snapshot>), status: 200,
        response: Some(schema::<lenaguard_domain::calendar::Calendar>), handler: || post(engine::calendar)),
    route!("rules.list", GET, "/api/v1/rules", "engine", "The rule pack's rules with their sources.",
        EVERY_ROLE, None, audited: false, command: false,
        query: &[Param { name: "unverified", description: "Only rules not confirmed in the primary source.",
            schema: schema::<bool>, required: false }],
        body: None, status: 200, response: Some(schema::<engine::RuleList>), handler: || get(engine::rules)),
    route!("rules.show", GET, "/api/v1/rules/{rule}", "engine",
        "Every version of one rule (a disputed rule has more than one).", EVERY_ROLE, Named, audited: false,
        command: false, query: &[], body: None, status: 200,
        response: Some(schema::<Vec<lenaguard_domain::provenance::Provenance>>), handler: || get(engine::rule)),
    // Patients.
    route!("patients.list", GET, "/api/v1/patients", "patients",
        "The patients the caller may see, with their status.", PATIENT_READERS, None, audited: true,
        command: false, query: &[AFTER, LIMIT], body: None, status: 200,
        response: Some(schema::<Vec<patients::PatientSummary>>), handler: || get(patients::list)),
    route!("patients.enroll", POST, "/api/v1/patients", "program",
        "Enroll a patient (the signed Patient-Physician Agreement); the caller is the enrolling prescriber.",
        &[P], None, audited: false, command: true, query: &[],
        body: Some(schema::<lenaguard_storage::command::Enrollment>), status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || post(program::enroll)),
    route!("patients.read", GET, "/api/v1/patients/{patient}", "patients",
        "The patient's whole program file.", PATIENT_READERS, Patient, audited: true, command: false,
        query: &[], body: None, status: 200, response: Some(schema::<lenaguard_storage::PatientFile>),
        handler: || get(patients::read)),
    route!("patients.assessment", GET, "/api/v1/patients/{patient}/assessment", "patients",
        "Today's assessment of the patient from their stored records.", PATIENT_READERS, Patient,
        audited: true, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<lenaguard_domain::Assessment>), handler: || get(patients::assessment)),
    route!("patients.eligibility", GET, "/api/v1/patients/{patient}/eligibility", "patients",
        "The patient's REMS eligibility today: every missing step with its fix and last day.",
        PATIENT_READERS, Patient, audited: true, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<lenaguard_domain::program::EligibilityReport>),
        handler: || get(patients::eligibility_route)),
    route!("patients.calendar", GET, "/api/v1/patients/{patient}/calendar", "patients",
        "The patient's treatment calendar.", PATIENT_READERS, Patient, audited: true, command: false,
        query: &[CAL_FROM, CAL_DAYS], body: None, status: 200,
        response: Some(schema::<lenaguard_domain::calendar::Calendar>), handler: || get(patients::calendar_route)),
    route!("patients.survey_questions", GET, "/api/v1/patients/{patient}/survey-questions", "patients",
        "The mandatory survey's questions for the patient's risk category.", &[P, T, S], Patient,
        audited: true, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<Vec<patients::SurveyQuestion>>), handler: || get(patients::survey_questions)),
    patient_command!(
        "patients.reclassify",
        "/api/v1/patients/{patient}/reclassification",
        "Change the patient's risk category.",
        &[P],
        program::Reclassification,
        program::reclassify
    ),
    patient_command!(
        "patients.pregnancy_test",
        "/api/v1/patients/{patient}/pregnancy-tests",
        "Record a pregnancy test.",
        &[P, S],
        lenaguard_storage::command::PregnancyTestReport,
        program::pregnancy_test
    ),
    patient_command!(
        "patients.contraception",
        "/api/v1/patients/{patient}/contraception",
        "Record the patient's attested contraception.",
        &[P, S],
        lenaguard_storage::command::ContraceptionAttestation,
        program::contraception
    ),
    patient_command!(
        "patients.survey",
        "/api/v1/patients/{patient}/surveys",
        "Submit the mandatory survey.",
        &[P, T, S],
        lenaguard_storage::command::SurveySubmission,
        program::survey
    ),
    patient_command!(
        "patients.prescription",
        "/api/v1/patients/{patient}/prescriptions",
        "Write a prescription, routed to a certified pharmacy.",
        &[P],
        lenaguard_storage::command::PrescriptionOrder,
        program::prescription
    ),
    patient_command!(
        "patients.lab",
        "/api/v1/patients/{patient}/labs",
        "Record a lab result.",
        &[P, S],
        lenaguard_domain::snapshot::Lab,
        program::lab
    ),
    patient_command!(
        "patients.measurement",
        "/api/v1/patients/{patient}/measurements",
        "Record a body weight (and height), for the creatinine clearance.",
        &[P, S],
        lenaguard_storage::command::BodyMeasurement,
        program::measurement
    ),
    patient_command!(
        "patients.adverse_event",
        "/api/v1/patients/{patient}/adverse-events",
        "Report an adverse event.",
        &[P, H, S],
        lenaguard_domain::snapshot::AdverseEvent,
        program::adverse_event
    ),
    patient_command!(
        "patients.interrupt",
        "/api/v1/patients/{patient}/interruptions",
        "Interrupt treatment.",
        &[P],
        program::Interruption,
        program::interrupt
    ),
    patient_command!(
        "patients.resume",
        "/api/v1/patients/{patient}/resumptions",
        "Resume treatment.",
        &[P],
        program::Empty,
        program::resume
    ),
    patient_command!(
        "patients.discontinue",
        "/api/v1/patients/{patient}/discontinuation",
        "Discontinue treatment.",
        &[P],
        program::Discontinuation,
        program::discontinue
    ),
    patient_command!(
        "patients.fetal_exposure",
        "/api/v1/patients/{patient}/fetal-exposures",
        "Report a pregnancy or fetal exposure.",
        &[P, H, S],
        program::FetalExposure,
        program::fetal_exposure
    ),
    // Prescriptions and authorizations.
    route!("prescriptions.read", GET, "/api/v1/prescriptions/{prescription}", "prescriptions",
        "A prescription with its authorizations, confirmations and dispenses.", PATIENT_READERS, Prescription,
        audited: true, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<patients::PrescriptionView>), handler: || get(patients::prescription)),
    route!("prescriptions.authorize", POST, "/api/v1/prescriptions/{prescription}/authorization",
        "prescriptions", "Request the authorization number of a prescription.", &[P], Prescription,
        audited: false, command: true, query: &[], body: None, status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || post(program::authorize)),
    route!("authorizations.dispense_check", GET, "/api/v1/authorizations/{authorization}/dispense-check",
        "prescriptions",
        "Whether the pharmacy may dispense against this authorization today, or every missing step.",
        &[P, H, S, A], Authorization, audited: true, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<patients::DispenseCheck>), handler: || get(patients::dispense_check)),
    route!("authorizations.confirm", POST, "/api/v1/authorizations/{authorization}/confirmation",
        "prescriptions", "Request the confirmation number that allows the dispense (the routed pharmacy).",
        &[H], Authorization, audited: false, command: true, query: &[], body: None, status: 200,
        response: Some(schema::<lenaguard_storage::CommandOutcome>), handler: || post(program::confirm)),
    route!("authorizations.dispense", POST, "/api/v1/authorizations/{authorization}/dispense",
        "prescriptions", "Dispense against a confirmed authorization, with the counselling checklist.", &[H],
        Authorization, audited: false, command: true, query: &[], body: Some(schema::<program::DispenseBody>),
        status: 200, response: Some(schema::<lenaguard_storage::CommandOutcome>),
        handler: || post(program::dispense)),
    // Oversight.
    route!("reports.tasks", GET, "/api/v1/tasks", "reports",
        "What is due, overdue or lapsing, most urgent first (from the last sweep).", OVERSIGHT, None,
        audited: true, command: false, query: &[LIMIT], body: None, status: 200,
        response: Some(schema::<Vec<lenaguard_storage::sweep::Task>>), handler: || get(reports::tasks)),
    route!("reports.audit", GET, "/api/v1/audit", "reports", "The program's audit trail, in order.",
        OVERSIGHT, None, audited: true, command: false, query: &[AFTER, LIMIT], body: None, status: 200,
        response: Some(schema::<Vec<reports::AuditEntry>>), handler: || get(reports::audit)),
    route!("reports.audit_verify", GET, "/api/v1/audit/verify", "reports",
        "Check the audit trail's hash chain.", OVERSIGHT, None, audited: false, command: false, query: &[],
        body: None, status: 200, response: Some(schema::<reports::ChainReport>),
        handler: || get(reports::audit_verify)),
    route!("reports.access_log", GET, "/api/v1/access-log", "reports",
        "Who read which patient's data, and who was refused, in order, with the chain's check.", &[A], None,
        audited: true, command: false, query: &[AFTER, LIMIT], body: None, status: 200,
        response: Some(schema::<reports::AccessLogPage>), handler: || get(reports::access_log)),
    route!("reports.cds_stats", GET, "/api/v1/cds/stats", "reports",
        "Override statistics per rule from the feedback EHRs sent about CDS cards.", OVERSIGHT, None,
        audited: false, command: false, query: &[], body: None, status: 200,
        response: Some(schema::<serde_json::Value>), handler: || get(reports::cds_stats)),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn route_ids_and_method_paths_are_unique() {
        let ids: BTreeSet<&str> = ROUTES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), ROUTES.len());
        let keys: BTreeSet<(String, &str)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path))
            .collect();
        assert_eq!(keys.len(), ROUTES.len());
    }

    /// A path that names a patient, prescription or authorization must have its relation checked: a route that
    /// named one under another object kind would skip the per-object check.
    #[test]
    fn every_path_naming_patient_data_is_checked_for_its_relation() {
        for r in ROUTES {
            for (param, object) in [
                ("{patient}", Object::Patient),
                ("{prescription}", Object::Prescription),
                ("{authorization}", Object::Authorization),
            ] {
                if r.path.contains(param) {
                    assert_eq!(r.object, object, "{} {}", r.method, r.path);
                }
            }
            if let Some(p) = r.object_param() {
                assert!(r.path.contains(&format!("{{{p}}}")), "{}", r.path);
            }
        }
    }

    #[test]
    fn only_operations_and_login_are_public_and_reads_of_patients_are_audited() {
        for r in ROUTES {
            if r.public() {
                assert!(
                    r.id.starts_with("ops.") || r.id == "session.login",
                    "{}",
                    r.id
                );
            }
            if matches!(
                r.object,
                Object::Patient | Object::Prescription | Object::Authorization
            ) && r.method == Method::GET
            {
                assert!(r.audited, "{} reads patient data and must be audited", r.id);
            }
            if r.command {
                assert_ne!(r.method, Method::GET, "{}", r.id);
            }
        }
    }

    #[test]
    fn no_route_lets_the_auditor_write_or_the_admin_read_a_patient() {
        for r in ROUTES {
            // Logging out and changing one's own password are the only writes every account makes.
            if r.method != Method::GET && !r.id.starts_with("session.") {
                assert!(
                    !r.roles.contains(&AccountRole::Auditor),
                    "{}: the auditor only reads",
                    r.id
                );
            }
            if r.object != Object::None && r.object != Object::Named || r.id == "patients.list" {
                assert!(!r.roles.contains(&AccountRole::Admin), "{}", r.id);
            }
        }
    }

    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc = crate::api::openapi::document();
        assert_eq!(doc["openapi"], "3.1.0");
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], r.id, "{} {}", r.method, r.path);
        }
        // Every $ref resolves.
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or("");
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "unresolved $ref {name}"
            );
        }
    }
}
