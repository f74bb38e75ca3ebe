//! Who may see or act on which patient: the per-object half of the access rules (the role half is the route
//! table's). Deny unless allowed:
//!
//! | role | patients | prescriptions and authorizations |
//! |---|---|---|
//! | prescriber | those they enrolled | those of their patients they wrote |
//! | pharmacist | those with a prescription routed to their pharmacy | those routed to their pharmacy |
//! | patient | themself | their own |
//! | program staff, auditor | all (the auditor only reads: the route table gives it no write) | all |
//! | admin | none | none |

use super::ApiState;
use super::identity::Caller;
use super::problem::ApiError;
use super::routes::Object;
use lenaguard_storage::accounts::{AccountRole, PatientRelations, PrescriptionRelations};

pub fn may_see_patient(c: &Caller, r: &PatientRelations) -> bool {
    match c.role {
        AccountRole::Prescriber => c.subject.as_deref() == Some(r.prescriber.as_str()),
        AccountRole::Pharmacist => c
            .organisation
            .as_ref()
            .is_some_and(|org| r.pharmacies.contains(org)),
        AccountRole::Patient => c.subject.as_deref() == Some(r.patient.as_str()),
        AccountRole::ProgramStaff | AccountRole::Auditor => true,
        AccountRole::Admin | AccountRole::EhrClient => false,
    }
}

pub fn may_see_prescription(c: &Caller, r: &PrescriptionRelations) -> bool {
    match c.role {
        AccountRole::Prescriber => c.subject.as_deref() == Some(r.prescriber.as_str()),
        AccountRole::Pharmacist => c.organisation.is_some() && c.organisation == r.pharmacy,
        AccountRole::Patient => c.subject.as_deref() == Some(r.patient.as_str()),
        AccountRole::ProgramStaff | AccountRole::Auditor => true,
        AccountRole::Admin | AccountRole::EhrClient => false,
    }
}

/// Check the caller's relation to the object `id` of kind `object`: `Ok` with the patient concerned; 404 when
/// there is no such object; 403 when the caller is not related to it.
pub async fn related(
    state: &ApiState,
    caller: &Caller,
    object: Object,
    id: &str,
) -> Result<Option<String>, (Option<String>, ApiError)> {
    let store_error = |e: lenaguard_storage::StorageError| (None, ApiError::from(e));
    let not_yours = |what: &str| {
        ApiError::Forbidden(format!(
            "the {} {} may not see this {what}",
            caller.role.as_str(),
            caller.login
        ))
    };
    match object {
        Object::Patient => {
            let rel = state
                .store
                .patient_relations(id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    (
                        None,
                        ApiError::NotFound {
                            what: "patient",
                            id: id.into(),
                        },
                    )
                })?;
            if may_see_patient(caller, &rel) {
                Ok(Some(rel.patient))
            } else {
                Err((Some(rel.patient), not_yours("patient")))
            }
        }
        Object::Prescription | Object::Authorization => {
            let (what, rel) = if object == Object::Prescription {
                ("prescription", state.store.prescription_relations(id).await)
            } else {
                (
                    "authorization",
                    state.store.authorization_relations(id).await,
                )
            };
            let rel = rel.map_err(store_error)?.ok_or_else(|| {
                (
                    None,
                    ApiError::NotFound {
                        what,
                        id: id.into(),
                    },
                )
            })?;
            if may_see_prescription(caller, &rel) {
                Ok(Some(rel.patient))
            } else {
                Err((Some(rel.patient), not_yours(what)))
            }
        }
        Object::None | Object::Named => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::identity::Via;

    fn caller(role: AccountRole, subject: Option<&str>, org: Option<&str>) -> Caller {
        Caller {
            login: "x".into(),
            role,
            subject: subject.map(Into::into),
            organisation: org.map(Into::into),
            via: Via::Token {
                id: "t".into(),
                scopes: vec![],
            },
        }
    }

    #[test]
    fn a_pharmacy_sees_only_what_is_routed_to_it() {
        let rx = PrescriptionRelations {
            prescription: "rx".into(),
            patient: "p".into(),
            prescriber: "dr".into(),
            pharmacy: Some("pharm-1".into()),
        };
        assert!(may_see_prescription(
            &caller(AccountRole::Pharmacist, Some("ph"), Some("pharm-1")),
            &rx
        ));
        assert!(!may_see_prescription(
            &caller(AccountRole::Pharmacist, Some("ph"), Some("pharm-2")),
            &rx
        ));
        let unrouted = PrescriptionRelations {
            pharmacy: None,
            ..rx
        };
        assert!(!may_see_prescription(
            &caller(AccountRole::Pharmacist, Some("ph"), None),
            &unrouted
        ));
        assert!(!may_see_prescription(
            &caller(AccountRole::Pharmacist, Some("ph"), Some("pharm-1")),
            &unrouted
        ));
    }

    #[test]
    fn admins_see_no_patient_and_patients_only_themselves() {
        let rel = PatientRelations {
            patient: "p".into(),
            prescriber: "dr".into(),
            clinic: "c".into(),
            pharmacies: vec!["pharm-1".into()],
        };
        assert!(!may_see_patient(
            &caller(AccountRole::Admin, None, None),
            &rel
        ));
        assert!(may_see_patient(
            &caller(AccountRole::Patient, Some("p"), None),
            &rel
        ));
        assert!(!may_see_patient(
            &caller(AccountRole::Patient, Some("q"), None),
            &rel
        ));
        assert!(may_see_patient(
            &caller(AccountRole::Prescriber, Some("dr"), Some("c")),
            &rel
        ));
        assert!(!may_see_patient(
            &caller(AccountRole::Prescriber, Some("dr2"), Some("c")),
            &rel
        ));
    }
}
