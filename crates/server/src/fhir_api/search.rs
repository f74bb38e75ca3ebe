//! The resource types served and their search parameters, one table that both the search and the
//! CapabilityStatement read, so the statement lists exactly what works. Search is strict: an unknown parameter,
//! a modifier, or a value that cannot be read is a 400 naming the parameter, the value and the accepted form,
//! never silently ignored (https://hl7.org/fhir/R4/search.html#errors lets a server choose; ignoring a filter
//! would return more patient data than asked for).
//!
//! Value forms (https://hl7.org/fhir/R4/search.html): reference `Patient/[id]` or `[id]`; token `[system]|[code]`,
//! `[code]`, `|[code]` or `[system]|`, comma for OR; date `[prefix]YYYY[-MM[-DD]]` with prefix eq, gt, lt, ge,
//! le (records are dated by day). Repeating a parameter means AND.

use super::error::FhirError;
use super::ids;
use jiff::ToSpan;
use jiff::civil::Date;
use lenaguard_interop::fhir::Resource;

/// The resource types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Patient,
    Observation,
    MedicationRequest,
    MedicationDispense,
    Condition,
    QuestionnaireResponse,
    DetectedIssue,
    AuditEvent,
}

/// How a type is searched by patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByPatient {
    /// The Patient resource itself (`_id`).
    Itself,
    /// Read from one patient's file: `patient` (or `subject`) is required.
    Required(&'static [&'static str]),
    /// Read from the audit trail: `patient` narrows the search.
    Optional(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub by_patient: ByPatient,
    /// The date parameter and what it searches.
    pub date: Option<(&'static str, &'static str)>,
    /// Token parameters and what they search (`_id` is added for every type).
    pub tokens: &'static [(&'static str, &'static str)],
}

const PATIENT_OR_SUBJECT: &[&str] = &["patient", "subject"];
const PATIENT: &[&str] = &["patient"];

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Patient,
        Kind::Observation,
        Kind::MedicationRequest,
        Kind::MedicationDispense,
        Kind::Condition,
        Kind::QuestionnaireResponse,
        Kind::DetectedIssue,
        Kind::AuditEvent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Patient => "Patient",
            Kind::Observation => "Observation",
            Kind::MedicationRequest => "MedicationRequest",
            Kind::MedicationDispense => "MedicationDispense",
            Kind::Condition => "Condition",
            Kind::QuestionnaireResponse => "QuestionnaireResponse",
            Kind::DetectedIssue => "DetectedIssue",
            Kind::AuditEvent => "AuditEvent",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn spec(self) -> Spec {
        match self {
            Kind::Patient => Spec {
                by_patient: ByPatient::Itself,
                date: None,
                tokens: &[(
                    "identifier",
                    "the enrollment identity (system [base]/sid/enrollment-identity), e.g. clinic-1:MRN-1003",
                )],
            },
            Kind::Observation => Spec {
                by_patient: ByPatient::Required(PATIENT_OR_SUBJECT),
                date: Some((
                    "date",
                    "effectiveDateTime (the day the sample was taken or the patient measured)",
                )),
                tokens: &[
                    (
                        "code",
                        "Observation.code: LOINC of labs, pregnancy tests, body weight and body height",
                    ),
                    (
                        "category",
                        "laboratory (labs and pregnancy tests) | vital-signs (body weight and height)",
                    ),
                ],
            },
            Kind::MedicationRequest => Spec {
                by_patient: ByPatient::Required(PATIENT_OR_SUBJECT),
                date: Some(("authoredon", "authoredOn (the prescription date)")),
                tokens: &[
                    ("code", "the medication's RxNorm code"),
                    ("status", "active | completed | stopped"),
                    ("intent", "order"),
                ],
            },
            Kind::MedicationDispense => Spec {
                by_patient: ByPatient::Required(PATIENT_OR_SUBJECT),
                date: Some(("whenhandedover", "whenHandedOver (the dispense date)")),
                tokens: &[
                    ("code", "the medication's RxNorm code"),
                    ("status", "completed"),
                ],
            },
            Kind::Condition => Spec {
                by_patient: ByPatient::Required(PATIENT_OR_SUBJECT),
                date: Some((
                    "recorded-date",
                    "recordedDate (the enrollment agreement date)",
                )),
                tokens: &[("code", "the indication's SNOMED CT code")],
            },
            Kind::QuestionnaireResponse => Spec {
                by_patient: ByPatient::Required(PATIENT_OR_SUBJECT),
                date: Some(("authored", "authored (the survey date)")),
                tokens: &[("status", "completed")],
            },
            Kind::DetectedIssue => Spec {
                by_patient: ByPatient::Optional(PATIENT),
                date: Some((
                    "identified",
                    "identifiedDateTime (the business date of the refused command)",
                )),
                tokens: &[("code", "the refusal reason code")],
            },
            Kind::AuditEvent => Spec {
                by_patient: ByPatient::Optional(PATIENT),
                date: Some(("date", "recorded (UTC day the command was recorded)")),
                tokens: &[
                    ("type", "the command name"),
                    ("outcome", "0 (accepted) | 4 (refused)"),
                ],
            },
        }
    }

    /// Every search parameter name of this type, for error messages.
    pub fn parameter_names(self) -> Vec<&'static str> {
        let s = self.spec();
        let mut out = vec!["_id"];
        if let ByPatient::Required(p) | ByPatient::Optional(p) = s.by_patient {
            out.extend_from_slice(p);
        }
        out.extend(s.tokens.iter().map(|t| t.0));
        out.extend(s.date.map(|d| d.0));
        out.extend(["_count", "_offset"]);
        if s.date.is_some() {
            out.push("_sort");
        }
        out
    }
}

/// A resource as built from the records, with what search matches it on.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub id: String,
    /// The program patient id it is about.
    pub patient: Option<String>,
    pub date: Option<Date>,
    /// `(parameter, system, code)`.
    pub tokens: Vec<(&'static str, Option<String>, String)>,
    pub resource: Resource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// `None`: any system; `Some("")`: no system.
    system: Option<String>,
    /// `None`: any code in the system.
    code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Debug, Clone)]
enum Filter {
    Token {
        param: &'static str,
        any_of: Vec<Token>,
    },
    Date {
        prefix: Prefix,
        first: Date,
        last: Date,
    },
}

pub(crate) const MAX_COUNT: usize = 500;
pub(crate) const DEFAULT_COUNT: usize = 50;

/// A parsed search.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// The program patient id searched, if any.
    pub patient: Option<String>,
    filters: Vec<Filter>,
    pub count: usize,
    pub offset: usize,
    pub descending: bool,
}

const TOKEN_FORM: &str =
    "[system]|[code], [code], |[code] or [system]|, comma-separated for any of them";
const DATE_FORM: &str = "[prefix]YYYY, [prefix]YYYY-MM or [prefix]YYYY-MM-DD with prefix eq, gt, lt, ge or le (records are dated by day)";

fn split_commas(v: &str) -> Vec<&str> {
    v.split(',').collect()
}

fn token(param: &str, v: &str) -> Result<Token, FhirError> {
    let t = match v.split_once('|') {
        Some((s, c)) => Token {
            system: Some(s.to_string()),
            code: (!c.is_empty()).then(|| c.to_string()),
        },
        None => Token {
            system: None,
            code: Some(v.to_string()),
        },
    };
    if v.is_empty() || v == "|" || t.code.as_deref().is_some_and(|c| c.contains('|')) {
        return Err(FhirError::param(param, v, TOKEN_FORM));
    }
    Ok(t)
}

fn date(param: &str, v: &str) -> Result<Filter, FhirError> {
    let bad = || FhirError::param(param, v, DATE_FORM);
    let (prefix, rest) = match v.get(..2) {
        Some("eq") => (Prefix::Eq, &v[2..]),
        Some("gt") => (Prefix::Gt, &v[2..]),
        Some("lt") => (Prefix::Lt, &v[2..]),
        Some("ge") => (Prefix::Ge, &v[2..]),
        Some("le") => (Prefix::Le, &v[2..]),
        Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => return Err(bad()),
        _ => (Prefix::Eq, v),
    };
    let (first, last) = match rest.len() {
        4 => {
            let y: i16 = rest.parse().map_err(|_| bad())?;
            let first = Date::new(y, 1, 1).map_err(|_| bad())?;
            (first, Date::new(y, 12, 31).map_err(|_| bad())?)
        }
        7 => {
            let first: Date = format!("{rest}-01").parse().map_err(|_| bad())?;
            let last = first
                .checked_add(1.month())
                .and_then(|d| d.checked_sub(1.day()))
                .map_err(|_| bad())?;
            (first, last)
        }
        10 => {
            let d: Date = rest.parse().map_err(|_| bad())?;
            (d, d)
        }
        _ => return Err(bad()),
    };
    Ok(Filter::Date {
        prefix,
        first,
        last,
    })
}

fn number(param: &str, v: &str, max: usize) -> Result<usize, FhirError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| FhirError::param(param, v, format!("a whole number from 0 to {max}")))
}

/// The program patient id of a reference value (`Patient/[id]`, `[id]`, or the absolute URL on this server).
pub(crate) fn patient_reference(
    param: &str,
    v: &str,
    fhir_base: &str,
) -> Result<String, FhirError> {
    let id = v
        .strip_prefix(fhir_base)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(v);
    let id = id.strip_prefix("Patient/").unwrap_or(id);
    match ids::unescape(id) {
        Some((p, None)) => Ok(p),
        _ => Err(FhirError::param(
            param,
            v,
            "one patient: Patient/[id] or [id], an id of 1 to 64 characters A-Z a-z 0-9 - .",
        )),
    }
}

impl Query {
    pub fn parse(
        kind: Kind,
        params: &[(String, String)],
        fhir_base: &str,
    ) -> Result<Query, FhirError> {
        let spec = kind.spec();
        let mut q = Query {
            patient: None,
            filters: Vec::new(),
            count: DEFAULT_COUNT,
            offset: 0,
            descending: false,
        };
        let accepted = || {
            format!(
                "a search parameter of {}: {}",
                kind.name(),
                kind.parameter_names().join(", ")
            )
        };
        let mut seen_patient = false;
        for (name, value) in params {
            let patient_names = match spec.by_patient {
                ByPatient::Required(p) | ByPatient::Optional(p) => p,
                ByPatient::Itself => &[],
            };
            if let Some(&p) = patient_names.iter().find(|p| **p == name) {
                if seen_patient {
                    return Err(FhirError::param(
                        p,
                        value,
                        "one patient per search (patient and subject are the same parameter here)",
                    ));
                }
                seen_patient = true;
                q.patient = Some(patient_reference(p, value, fhir_base)?);
            } else if name == "_id" {
                let any_of = split_commas(value)
                    .into_iter()
                    .map(|v| {
                        if v.is_empty() {
                            Err(FhirError::param("_id", value, "ids separated by commas"))
                        } else {
                            Ok(Token {
                                system: None,
                                code: Some(v.to_string()),
                            })
                        }
                    })
                    .collect::<Result<_, _>>()?;
                q.filters.push(Filter::Token {
                    param: "_id",
                    any_of,
                });
            } else if let Some(&(p, _)) = spec.tokens.iter().find(|t| t.0 == name) {
                let any_of = split_commas(value)
                    .into_iter()
                    .map(|v| token(p, v))
                    .collect::<Result<_, _>>()?;
                q.filters.push(Filter::Token { param: p, any_of });
            } else if spec.date.is_some_and(|d| d.0 == name) {
                q.filters.push(date(name, value)?);
            } else if name == "_count" {
                q.count = number("_count", value, MAX_COUNT)?;
            } else if name == "_offset" {
                q.offset = number("_offset", value, usize::MAX)?;
            } else if name == "_sort"
                && let Some((d, _)) = spec.date
            {
                q.descending = match value.as_str() {
                    v if v == d => false,
                    v if v.strip_prefix('-') == Some(d) => true,
                    _ => {
                        return Err(FhirError::param("_sort", value, format!("{d} or -{d}")));
                    }
                };
            } else {
                return Err(FhirError::param(name, value, accepted()));
            }
        }
        if let ByPatient::Required(p) = spec.by_patient
            && q.patient.is_none()
        {
            return Err(FhirError::param(
                p[0],
                "",
                format!(
                    "{}=Patient/[id]: this server searches {} one patient at a time",
                    p[0],
                    kind.name()
                ),
            ));
        }
        Ok(q)
    }

    /// The codes asked for in a token parameter, when every alternative names one (repeats are ANDed, so their
    /// intersection): what a Patient search by `_id` or `identifier` looks up instead of listing every patient.
    pub fn token_codes(&self, param: &str) -> Option<Vec<String>> {
        let mut out: Option<Vec<String>> = None;
        for f in &self.filters {
            if let Filter::Token { param: p, any_of } = f
                && *p == param
            {
                let these: Option<Vec<String>> = any_of.iter().map(|t| t.code.clone()).collect();
                let these = these?;
                out = Some(match out {
                    None => these,
                    Some(prev) => prev.into_iter().filter(|i| these.contains(i)).collect(),
                });
            }
        }
        out
    }

    pub fn matches(&self, b: &Built) -> bool {
        if let Some(p) = &self.patient
            && b.patient.as_ref() != Some(p)
        {
            return false;
        }
        self.filters.iter().all(|f| match f {
            Filter::Token {
                param: "_id",
                any_of,
            } => any_of
                .iter()
                .any(|t| t.code.as_deref() == Some(b.id.as_str())),
            Filter::Token { param, any_of } => any_of.iter().any(|t| {
                b.tokens.iter().any(|(p, system, code)| {
                    p == param
                        && match t.system.as_deref() {
                            None => true,
                            Some("") => system.is_none(),
                            Some(s) => system.as_deref() == Some(s),
                        }
                        && t.code.as_ref().is_none_or(|c| c == code)
                })
            }),
            Filter::Date {
                prefix,
                first,
                last,
            } => b.date.is_some_and(|d| match prefix {
                Prefix::Eq => *first <= d && d <= *last,
                Prefix::Gt => d > *last,
                Prefix::Lt => d < *first,
                Prefix::Ge => d >= *first,
                Prefix::Le => d <= *last,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn built(date: &str, code: &str) -> Built {
        Built {
            id: "pt-1.-lab-1".into(),
            patient: Some("pt-1".into()),
            date: Some(date.parse().unwrap()),
            tokens: vec![("code", Some("http://loinc.org".into()), code.into())],
            resource: Resource::Other(serde_json::json!({})),
        }
    }

    fn q(s: &str) -> Result<Query, FhirError> {
        Query::parse(Kind::Observation, &params(s), "http://x/fhir")
    }

    #[test]
    fn date_prefixes_bound_the_day_month_or_year() {
        let b = built("2026-11-26", "751-8");
        for (s, want) in [
            ("date=2026-11-26", true),
            ("date=2026-11", true),
            ("date=2026", true),
            ("date=gt2026-11-26", false),
            ("date=ge2026-11-26", true),
            ("date=lt2026-11", false),
            ("date=le2026-11", true),
            ("date=gt2026-10", true),
            ("date=ge2026-11-01&date=lt2026-12-01", true),
            ("date=eq2025", false),
        ] {
            let query = q(&format!("patient=pt-1&{s}")).unwrap();
            assert_eq!(query.matches(&b), want, "{s}");
        }
    }

    #[test]
    fn token_forms_match_system_and_code() {
        let b = built("2026-11-26", "751-8");
        for (s, want) in [
            ("code=http://loinc.org|751-8", true),
            ("code=751-8", true),
            ("code=http://loinc.org|", true),
            ("code=|751-8", false),
            ("code=http://snomed.info/sct|751-8", false),
            ("code=777-3,751-8", true),
            ("code=777-3", false),
        ] {
            let query = q(&format!("patient=Patient/pt-1&{s}")).unwrap();
            assert_eq!(query.matches(&b), want, "{s}");
        }
        let other = q("patient=pt-2").unwrap();
        assert!(!other.matches(&b));
    }

    #[test]
    fn strict_parameters_name_what_is_wrong() {
        for (s, param) in [
            ("patient=pt-1&foo=1", "foo"),
            ("patient=pt-1&code:text=x", "code:text"),
            ("patient=pt-1&date=ne2026-01-01", "date"),
            ("patient=pt-1&date=2026-11-26T10:00:00Z", "date"),
            ("patient=pt-1&date=2026-13", "date"),
            ("patient=pt-1&_count=-1", "_count"),
            ("patient=pt-1&_count=100000", "_count"),
            ("patient=pt-1&_sort=code", "_sort"),
            ("patient=a%20b", "patient"),
            ("patient=pt-1&subject=pt-1", "subject"),
            ("code=751-8", "patient"),
            ("patient=pt-1&code=|", "code"),
        ] {
            match q(s) {
                Err(FhirError::Param { name, .. }) => assert_eq!(name, param, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }
}
