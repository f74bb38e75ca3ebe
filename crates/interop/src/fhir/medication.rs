//! MedicationRequest and MedicationDispense (FHIR R4 4.0.1; standards.md §3: the order being checked, with
//! `dosageInstruction` and `dispenseRequest`, and the dispense registry).

use super::datatypes::{
    CodeableConcept, Dosage, Extension, Identifier, Meta, Other, Period, Quantity, Reference,
};
use super::tag::resource_type;
use serde::{Deserialize, Serialize};

resource_type!(MedicationRequestType, "MedicationRequest");
resource_type!(MedicationDispenseType, "MedicationDispense");

/// `MedicationRequest.dispenseRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispenseRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_repeats_allowed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_supply_duration: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performer: Option<Reference>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationRequest {
    pub resource_type: MedicationRequestType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    /// `active | on-hold | cancelled | completed | entered-in-error | stopped | draft | unknown`.
    #[serde(default)]
    pub status: String,
    /// `proposal | plan | order | original-order | reflex-order | filler-order | instance-order | option`.
    #[serde(default)]
    pub intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medication_codeable_concept: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medication_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authored_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub based_on: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_identifier: Option<Identifier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dosage_instruction: Vec<Dosage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispense_request: Option<DispenseRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detected_issue: Vec<Reference>,
    #[serde(flatten)]
    pub other: Other,
}

impl MedicationRequest {
    /// `MedicationRequest/<id>`, or `MedicationRequest` without an id, for error paths.
    pub fn path(&self) -> String {
        super::path_of(MedicationRequestType::NAME, self.id.as_deref())
    }

    /// Words naming the medication: the concept's text and displays, or the reference's display.
    pub fn medication_words(&self) -> Vec<&str> {
        let mut w = self
            .medication_codeable_concept
            .as_ref()
            .map(CodeableConcept::words)
            .unwrap_or_default();
        if let Some(d) = self
            .medication_reference
            .as_ref()
            .and_then(|r| r.display.as_deref())
        {
            w.push(d);
        }
        w
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationDispense {
    pub resource_type: MedicationDispenseType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    /// `preparation | in-progress | cancelled | on-hold | completed | entered-in-error | stopped | declined |
    /// unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medication_codeable_concept: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medication_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizing_prescription: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_supply: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_prepared: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_handed_over: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dosage_instruction: Vec<Dosage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detected_issue: Vec<Reference>,
    #[serde(flatten)]
    pub other: Other,
}
