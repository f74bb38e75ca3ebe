//! CDS Hooks 2.0 wire types (standards.md §1; HL7/cds-hooks `input/pagecontent/index.md` @v2.0.1):
//! discovery (§1.2), the service request (§1.3), the response with cards, suggestions, actions and links (§1.5)
//! and the feedback body (§1.6).
//!
//! Empty optional attributes are omitted, never sent as `null`, `""` or `[]` (§1.1), except `cards`, which is
//! always present. `extension` is kept wherever the spec reserves it.

use crate::error::InteropError;
use crate::fhir::{Bundle, Resource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reverse-domain keyed implementation data (§1.1).
pub type CdsExtension = Map<String, Value>;

/// The CDS Hooks Coding datatype: `code` and `system` required (§1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    pub code: String,
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// One service in the discovery response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdsService {
    pub hook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    pub id: String,
    /// Key → FHIR query template (§1.4).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefetch: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_requirements: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<CdsExtension>,
}

/// `GET {baseUrl}/cds-services`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryResponse {
    pub services: Vec<CdsService>,
}

/// The access token the client grants for the call (§1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FhirAuthorization {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
}

/// Hook context (§1.9): the fields of patient-view, order-select and order-sign. Other fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter_id: Option<String>,
    /// order-select: ids such as `MedicationRequest/103` pointing into `draftOrders`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selections: Vec<String>,
    /// order-select and order-sign: an R4 Bundle of draft orders, kept as JSON until read by
    /// [`CdsRequest::draft_orders`], so that a malformed order is reported with its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_orders: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `POST {baseUrl}/cds-services/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdsRequest {
    pub hook: String,
    pub hook_instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: HookContext,
    /// Key → resource, searchset Bundle, or `null` when the client found nothing (§1.3). Absent keys were not
    /// prefetched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefetch: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<CdsExtension>,
}

impl CdsRequest {
    /// Parse a request body; errors name the element at fault.
    pub fn from_json(text: &str) -> Result<CdsRequest, InteropError> {
        serde_json::from_str(text).map_err(|e| {
            InteropError::malformed(
                format!("request (line {}, column {})", e.line(), e.column()),
                e.to_string(),
            )
        })
    }

    /// `context.draftOrders` as a Bundle, or `None` when the hook sent none.
    pub fn draft_orders(&self) -> Result<Option<Bundle>, InteropError> {
        self.context
            .draft_orders
            .clone()
            .map(|v| Bundle::from_value(v, "context.draftOrders"))
            .transpose()
    }

    /// A prefetched key: `Ok(None)` if the client sent `null` (nothing found), an error if the key is absent.
    pub fn prefetched(&self, key: &str) -> Result<Option<Resource>, InteropError> {
        match self.prefetch.get(key) {
            None => Err(InteropError::MissingPrefetch {
                keys: vec![key.to_string()],
            }),
            Some(Value::Null) => Ok(None),
            Some(v) => Resource::from_ref(v, &format!("prefetch.{key}")).map(Some),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    Info,
    Warning,
    Critical,
}

/// `source` of a card: who says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Coding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(rename = "type")]
    pub type_: ActionType,
    pub description: String,
    /// The whole resource, for create and update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// A relative reference, for delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recommended: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectionBehavior {
    #[serde(rename = "at-most-one")]
    AtMostOne,
    #[serde(rename = "any")]
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    Absolute,
    Smart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub label: String,
    /// Absolute URL.
    pub url: String,
    #[serde(rename = "type")]
    pub type_: LinkType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autolaunchable: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// One sentence, under 140 characters.
    pub summary: String,
    /// GitHub-flavoured Markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub indicator: Indicator,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// Required when there are suggestions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_behavior: Option<SelectionBehavior>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<Coding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<CdsExtension>,
}

/// The service's answer: `cards` always present, possibly empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdsResponse {
    pub cards: Vec<Card>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Accepted,
    Overridden,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedSuggestion {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideReason {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_comment: Option<String>,
}

/// One feedback entry (§1.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    /// The card's uuid.
    pub card: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_suggestions: Vec<AcceptedSuggestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<OverrideReason>,
    /// UTC, RFC 3339.
    pub outcome_timestamp: String,
}

/// `POST {baseUrl}/cds-services/{id}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRequest {
    pub feedback: Vec<Feedback>,
}

impl FeedbackRequest {
    /// Check the spec's conditional rules: accepted needs suggestions, the timestamp parses as an instant.
    pub fn validate(&self) -> Result<(), InteropError> {
        for (i, f) in self.feedback.iter().enumerate() {
            let path = format!("feedback[{i}]");
            if f.outcome == Outcome::Accepted && f.accepted_suggestions.is_empty() {
                return Err(InteropError::missing(
                    format!("{path}.acceptedSuggestions"),
                    "the accepted suggestions' uuids (required when outcome is accepted)",
                ));
            }
            if f.outcome_timestamp.parse::<jiff::Timestamp>().is_err() {
                return Err(InteropError::invalid(
                    format!("{path}.outcomeTimestamp"),
                    &f.outcome_timestamp,
                    "an RFC 3339 instant in UTC, e.g. 2026-11-26T09:30:00Z",
                ));
            }
        }
        Ok(())
    }
}
