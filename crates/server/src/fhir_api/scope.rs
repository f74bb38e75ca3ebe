//! What a verified token may do: SMART App Launch v2 system scopes (standards.md §5: `system/Observation.rs`,
//! letters from `cruds` in that order; the v1 forms `.read`, `.write`, `.*`). Only `system/` scopes grant: this
//! API serves systems, not users or patients. A granular scope (`?category=...`) grants nothing here, since the
//! server does not apply its filter; denied unless granted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, Clone, Default)]
pub(crate) struct Scopes(Vec<(String, String)>);

impl Scopes {
    pub fn parse(scope: &str) -> Scopes {
        Scopes(
            scope
                .split_whitespace()
                .filter_map(|s| {
                    let rest = s.strip_prefix("system/")?;
                    let (ty, perms) = rest.rsplit_once('.')?;
                    let letters = match perms {
                        "read" => "rs".to_string(),
                        "write" => "cud".to_string(),
                        "*" => "cruds".to_string(),
                        p if !p.is_empty() && is_ordered_subset(p) => p.to_string(),
                        _ => return None,
                    };
                    Some((ty.to_string(), letters))
                })
                .collect(),
        )
    }

    /// The `scope` claim of a token whose signature has been verified (`auth::verify`).
    pub fn of_verified_token(authorization: Option<&str>) -> Scopes {
        let scope = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .and_then(|t| t.trim().split('.').nth(1))
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("scope").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        Scopes::parse(&scope)
    }

    /// Whether the scopes grant `letter` (c, r, u, d, s) on `resource_type`.
    pub fn allows(&self, resource_type: &str, letter: char) -> bool {
        self.0
            .iter()
            .any(|(ty, p)| (ty == "*" || ty == resource_type) && p.contains(letter))
    }
}

fn is_ordered_subset(p: &str) -> bool {
    let mut order = "cruds".chars();
    p.chars().all(|c| order.by_ref().any(|o| o == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_and_v1_system_scopes_grant_only_what_they_name() {
        let s = Scopes::parse("system/Observation.rs system/MedicationRequest.c patient/*.cruds");
        assert!(s.allows("Observation", 'r') && s.allows("Observation", 's'));
        assert!(!s.allows("Observation", 'c'));
        assert!(s.allows("MedicationRequest", 'c') && !s.allows("MedicationRequest", 'r'));
        assert!(
            !s.allows("Patient", 'r'),
            "patient/ scopes grant nothing here"
        );
        let all = Scopes::parse("system/*.read");
        assert!(all.allows("AuditEvent", 's') && !all.allows("AuditEvent", 'c'));
        assert!(Scopes::parse("system/*.*").allows("Observation", 'c'));
        for refused in [
            "system/*.sr",
            "system/*.rs?category=laboratory",
            "system/*.",
            "system/*.x",
            "user/*.rs",
        ] {
            assert!(
                !Scopes::parse(refused).allows("Observation", 's'),
                "{refused}"
            );
        }
    }
}
