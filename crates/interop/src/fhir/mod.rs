//! FHIR R4 (4.0.1) resources Lenaguard reads and emits, hand-written and tolerant (standards.md §3;
//! https://hl7.org/fhir/R4/). Only the elements we use are typed; everything else, `extension` included, is
//! kept, so that a resource read from an EHR can be sent back as an update without losing data.

pub mod clinical;
pub mod datatypes;
pub mod infrastructure;
pub mod medication;
mod tag;
pub mod workflow;

pub use clinical::{Condition, Observation, Patient};
pub use datatypes::*;
pub use infrastructure::{CapabilityStatement, OperationOutcome, OperationOutcomeIssue};
pub use medication::{DispenseRequest, MedicationDispense, MedicationRequest};
pub use workflow::{AuditEvent, DetectedIssue, QuestionnaireResponse};

use crate::error::InteropError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

tag::resource_type!(BundleType, "Bundle");

/// `Type/id`, or the bare type when there is no id: the prefix of every error path.
pub fn path_of(resource_type: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{resource_type}/{id}"),
        None => resource_type.to_string(),
    }
}

/// Any resource. Types we do not model are kept whole as JSON, so a Bundle round-trips.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "resources are parsed once per request and matched often; boxing every variant buys nothing there"
)]
pub enum Resource {
    Patient(Patient),
    Observation(Observation),
    Condition(Condition),
    MedicationRequest(MedicationRequest),
    MedicationDispense(MedicationDispense),
    QuestionnaireResponse(QuestionnaireResponse),
    DetectedIssue(DetectedIssue),
    AuditEvent(AuditEvent),
    OperationOutcome(OperationOutcome),
    CapabilityStatement(CapabilityStatement),
    Bundle(Box<Bundle>),
    /// A resource type this crate does not model (Practitioner, Medication, ...), kept verbatim.
    Other(Value),
}

impl Resource {
    /// Parse one resource, naming `path` (and the resource's type and id) when it is not valid FHIR as we read it.
    pub fn from_value(value: Value, path: &str) -> Result<Resource, InteropError> {
        Self::parse(std::borrow::Cow::Owned(value), path)
    }

    /// As [`Resource::from_value`], reading a resource held elsewhere (a request's prefetch) without copying
    /// its JSON tree first.
    pub fn from_ref(value: &Value, path: &str) -> Result<Resource, InteropError> {
        Self::parse(std::borrow::Cow::Borrowed(value), path)
    }

    fn parse(value: std::borrow::Cow<'_, Value>, path: &str) -> Result<Resource, InteropError> {
        let Some(obj) = value.as_object() else {
            return Err(InteropError::malformed(
                path,
                "a JSON object with a resourceType",
            ));
        };
        let Some(rt) = obj.get("resourceType").and_then(Value::as_str) else {
            return Err(InteropError::missing(
                format!("{path}.resourceType"),
                "the resource's type, e.g. \"Observation\"",
            ));
        };
        let rt = rt.to_string();
        let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        let here = if path.is_empty() {
            path_of(&rt, id.as_deref())
        } else {
            format!("{path} ({})", path_of(&rt, id.as_deref()))
        };
        fn typed<T: serde::de::DeserializeOwned>(v: &Value, here: &str) -> Result<T, InteropError> {
            T::deserialize(v).map_err(|e| InteropError::malformed(here, e.to_string()))
        }
        Ok(match rt.as_str() {
            "Patient" => Resource::Patient(typed(&value, &here)?),
            "Observation" => Resource::Observation(typed(&value, &here)?),
            "Condition" => Resource::Condition(typed(&value, &here)?),
            "MedicationRequest" => Resource::MedicationRequest(typed(&value, &here)?),
            "MedicationDispense" => Resource::MedicationDispense(typed(&value, &here)?),
            "QuestionnaireResponse" => Resource::QuestionnaireResponse(typed(&value, &here)?),
            "DetectedIssue" => Resource::DetectedIssue(typed(&value, &here)?),
            "AuditEvent" => Resource::AuditEvent(typed(&value, &here)?),
            "OperationOutcome" => Resource::OperationOutcome(typed(&value, &here)?),
            "CapabilityStatement" => Resource::CapabilityStatement(typed(&value, &here)?),
            "Bundle" => Resource::Bundle(Box::new(Bundle::from_value(value.into_owned(), &here)?)),
            _ => Resource::Other(value.into_owned()),
        })
    }

    pub fn resource_type(&self) -> &str {
        match self {
            Resource::Patient(_) => "Patient",
            Resource::Observation(_) => "Observation",
            Resource::Condition(_) => "Condition",
            Resource::MedicationRequest(_) => "MedicationRequest",
            Resource::MedicationDispense(_) => "MedicationDispense",
            Resource::QuestionnaireResponse(_) => "QuestionnaireResponse",
            Resource::DetectedIssue(_) => "DetectedIssue",
            Resource::AuditEvent(_) => "AuditEvent",
            Resource::OperationOutcome(_) => "OperationOutcome",
            Resource::CapabilityStatement(_) => "CapabilityStatement",
            Resource::Bundle(_) => "Bundle",
            Resource::Other(v) => v.get("resourceType").and_then(Value::as_str).unwrap_or(""),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Resource::Patient(r) => r.id.as_deref(),
            Resource::Observation(r) => r.id.as_deref(),
            Resource::Condition(r) => r.id.as_deref(),
            Resource::MedicationRequest(r) => r.id.as_deref(),
            Resource::MedicationDispense(r) => r.id.as_deref(),
            Resource::QuestionnaireResponse(r) => r.id.as_deref(),
            Resource::DetectedIssue(r) => r.id.as_deref(),
            Resource::AuditEvent(r) => r.id.as_deref(),
            Resource::OperationOutcome(r) => r.id.as_deref(),
            Resource::CapabilityStatement(r) => r.id.as_deref(),
            Resource::Bundle(r) => r.id.as_deref(),
            Resource::Other(v) => v.get("id").and_then(Value::as_str),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Resource::Patient(r) => r.serialize(s),
            Resource::Observation(r) => r.serialize(s),
            Resource::Condition(r) => r.serialize(s),
            Resource::MedicationRequest(r) => r.serialize(s),
            Resource::MedicationDispense(r) => r.serialize(s),
            Resource::QuestionnaireResponse(r) => r.serialize(s),
            Resource::DetectedIssue(r) => r.serialize(s),
            Resource::AuditEvent(r) => r.serialize(s),
            Resource::OperationOutcome(r) => r.serialize(s),
            Resource::CapabilityStatement(r) => r.serialize(s),
            Resource::Bundle(r) => r.serialize(s),
            Resource::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Resource::from_value(v, "").map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleLink {
    pub relation: String,
    pub url: String,
    #[serde(flatten)]
    pub other: Other,
}

/// `Bundle.entry.request`, for transaction and batch Bundles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRequest {
    /// `GET | HEAD | POST | PUT | DELETE | PATCH`.
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_none_exist: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<BundleRequest>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub resource_type: BundleType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// `document | message | transaction | transaction-response | batch | batch-response | history |
    /// searchset | collection`.
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<BundleLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
    #[serde(flatten)]
    pub other: Other,
}

impl Bundle {
    /// An empty Bundle of a type (`collection`, `transaction`, `searchset`, ...).
    pub fn new(type_: &str) -> Bundle {
        Bundle {
            type_: type_.to_string(),
            ..Bundle::default()
        }
    }

    /// Parse JSON text; errors name the entry and the resource at fault.
    pub fn from_json(text: &str) -> Result<Bundle, InteropError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            InteropError::malformed(
                format!("Bundle (line {}, column {})", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        Bundle::from_value(v, "Bundle")
    }

    /// Parse a JSON value entry by entry, so that an error names `Bundle.entry[3].resource (Observation/obs-3)`
    /// rather than only the line of the text.
    pub fn from_value(mut v: Value, path: &str) -> Result<Bundle, InteropError> {
        let Some(obj) = v.as_object_mut() else {
            return Err(InteropError::malformed(path, "a Bundle: a JSON object"));
        };
        match obj.get("resourceType").and_then(Value::as_str) {
            Some("Bundle") => {}
            Some(other) => {
                return Err(InteropError::invalid(
                    format!("{path}.resourceType"),
                    other,
                    "\"Bundle\"",
                ));
            }
            None => {
                return Err(InteropError::missing(
                    format!("{path}.resourceType"),
                    "\"Bundle\"",
                ));
            }
        }
        let entries = match obj.remove("entry") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(InteropError::malformed(
                    format!("{path}.entry"),
                    "an array of entries",
                ));
            }
        };
        let mut bundle: Bundle =
            serde_json::from_value(v).map_err(|e| InteropError::malformed(path, e.to_string()))?;
        for (i, mut e) in entries.into_iter().enumerate() {
            let here = format!("{path}.entry[{i}]");
            let resource = match e.as_object_mut() {
                Some(o) => o.remove("resource"),
                None => return Err(InteropError::malformed(here, "an entry object")),
            };
            let mut entry: BundleEntry = serde_json::from_value(e)
                .map_err(|err| InteropError::malformed(&here, err.to_string()))?;
            entry.resource = match resource {
                None | Some(Value::Null) => None,
                Some(r) => Some(Resource::from_value(r, &format!("{here}.resource"))?),
            };
            bundle.entry.push(entry);
        }
        Ok(bundle)
    }

    /// The resources of the entries, in order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.entry.iter().filter_map(|e| e.resource.as_ref())
    }

    /// Add a resource as an entry.
    pub fn push(&mut self, resource: Resource) {
        self.entry.push(BundleEntry {
            resource: Some(resource),
            ..BundleEntry::default()
        });
    }
}
