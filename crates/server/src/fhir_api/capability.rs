//! The CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html; standards.md §3 "Minimal FHIR
//! server"): built from the same table the search reads ([`Kind::spec`]), so it lists exactly the interactions
//! and parameters that work.

use super::search::{ByPatient, DEFAULT_COUNT, Kind, MAX_COUNT};
use lenaguard_interop::fhir::CapabilityStatement;
use lenaguard_interop::fhir::infrastructure::{
    Implementation, Interaction, Rest, RestResource, RestSecurity, SearchParam, Software,
};
use serde_json::{Value, json};

fn param(name: &str, type_: &str, doc: String) -> SearchParam {
    let mut p = SearchParam {
        name: name.into(),
        type_: type_.into(),
        ..SearchParam::default()
    };
    p.other.insert("documentation".into(), Value::String(doc));
    p
}

fn resource(kind: Kind) -> RestResource {
    let spec = kind.spec();
    let mut params = vec![param("_id", "token", "the resource id".into())];
    if let ByPatient::Required(names) | ByPatient::Optional(names) = spec.by_patient {
        let required = matches!(spec.by_patient, ByPatient::Required(_));
        for n in names {
            params.push(param(
                n,
                "reference",
                format!(
                    "Patient/[id] or [id]; {}",
                    if required {
                        "required: searched one patient at a time"
                    } else {
                        "optional"
                    }
                ),
            ));
        }
    }
    for (n, doc) in spec.tokens {
        params.push(param(
            n,
            "token",
            format!("{doc}; [system]|[code], [code], |[code] or [system]|, comma for OR"),
        ));
    }
    if let Some((n, doc)) = spec.date {
        params.push(param(
            n,
            "date",
            format!("{doc}; prefixes eq, gt, lt, ge, le; YYYY, YYYY-MM or YYYY-MM-DD"),
        ));
    }
    let mut r = RestResource {
        type_: kind.name().into(),
        interaction: ["read", "search-type"]
            .into_iter()
            .map(|c| Interaction {
                code: c.into(),
                ..Interaction::default()
            })
            .collect(),
        search_param: params,
        ..RestResource::default()
    };
    r.other.insert("versioning".into(), json!("no-version"));
    r.other.insert("readHistory".into(), json!(false));
    r.other.insert("updateCreate".into(), json!(false));
    r
}

/// The statement of this server at `fhir_base`, dated `date` (YYYY-MM-DD).
pub(crate) fn statement(fhir_base: &str, date: &str) -> CapabilityStatement {
    let mut rest = Rest {
        mode: "server".into(),
        security: Some(RestSecurity {
            description: Some(format!(
                "Every request, this one included, needs Authorization: Bearer <JWT> signed by a configured client \
                 (ES384 or RS384, as for the CDS Hooks calls), with aud = {fhir_base}, exp, iat and a jti used once. \
                 Interactions also need SMART v2 system scopes in the token's scope claim: system/<Type>.r to read, \
                 .s to search, .c to create in a transaction (system/*.rs, system/*.cruds and the v1 forms .read, \
                 .write, .* are understood). 401 for a missing or refused token, 403 for a missing scope, each with \
                 an OperationOutcome."
            )),
            ..RestSecurity::default()
        }),
        resource: Kind::ALL.into_iter().map(resource).collect(),
        ..Rest::default()
    };
    rest.other.insert(
        "documentation".into(),
        Value::String(format!(
            "Strict search: an unknown parameter, a modifier, or a value that cannot be read is refused with 400 \
             and an OperationOutcome naming the parameter, the value and the accepted form; nothing is ignored. \
             Observation, MedicationRequest, MedicationDispense, Condition and QuestionnaireResponse are searched \
             one patient at a time (patient or subject is required). Records are dated by day. Results come \
             oldest first (_sort=-date for newest first where the type has a date), {DEFAULT_COUNT} per page by \
             default (_count up to {MAX_COUNT}; the next page by the link 'next', _offset). An unknown id is 404."
        )),
    );
    rest.other.insert(
        "interaction".into(),
        json!([{
            "code": "transaction",
            "documentation": "POST [base] with a Bundle of type transaction whose entries are POST Observation \
             (lab results: LOINC codes and UCUM units of the mapping table; body weight 29463-7 in kg, with an \
             optional body height 8302-2 in cm of the same patient, date and performer) and POST MedicationRequest \
             (lenalidomide orders, RxNorm). Every entry needs a fullUrl (urn:uuid:...) that identifies it: a retry \
             with the same fullUrl the same day returns the first answer. Each entry becomes a program command \
             (record_lab, record_measurement, write_prescription) judged by the program rules; all are written in \
             one database transaction, or none: an invalid or refused entry answers 400 or 422 with an OperationOutcome naming it, and nothing \
             is written."
        }]),
    );
    CapabilityStatement {
        status: "active".into(),
        date: date.into(),
        kind: "instance".into(),
        software: Some(Software {
            name: "Lenaguard".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Software::default()
        }),
        implementation: Some(Implementation {
            description: "Lenaguard FHIR R4 API: the lenalidomide program's records".into(),
            url: Some(fhir_base.into()),
            ..Implementation::default()
        }),
        fhir_version: "4.0.1".into(),
        format: vec!["application/fhir+json".into()],
        rest: vec![rest],
        ..CapabilityStatement::default()
    }
}
