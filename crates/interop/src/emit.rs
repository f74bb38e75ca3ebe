//! Assessment → FHIR: a DetectedIssue per finding that stops or endangers a dose (standards.md §3 DetectedIssue:
//! "persist 'dose hold: ANC low', 'pregnancy test missing' and overrides"; severity high | moderate | low).
//! Errors become OperationOutcomes in `error`.

use crate::fhir::{CodeableConcept, DetectedIssue, Reference, workflow::Evidence};
use lenaguard_domain::{Assessment, Finding, Severity};

/// Who and what the issues are about.
#[derive(Debug, Clone, Default)]
pub struct IssueContext {
    /// `Patient/<id>`.
    pub patient: Reference,
    /// The order the issue is about (a draft MedicationRequest).
    pub implicated: Option<Reference>,
    /// Resources the finding rests on (the Observations read), cited as evidence.
    pub evidence: Vec<Reference>,
    /// The system URI of Lenaguard's finding codes, e.g. `https://lenaguard.example.org/finding`.
    pub code_system: String,
    /// Also emit warnings (severity moderate), not only blocking and critical findings.
    pub include_warnings: bool,
}

/// high for critical, moderate for warning, low for info.
pub fn issue_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "high",
        Severity::Warning => "moderate",
        Severity::Info => "low",
    }
}

/// The finding's text with its sources, each marked verified or UNVERIFIED.
pub fn finding_detail(f: &Finding) -> String {
    let mut s = f.message.clone();
    for p in &f.sources {
        s.push_str("\nSource: ");
        s.push_str(&p.cite());
    }
    s
}

/// One DetectedIssue per blocking or critical finding (and per warning when asked), most severe first.
pub fn detected_issues(assessment: &Assessment, ctx: &IssueContext) -> Vec<DetectedIssue> {
    assessment
        .findings
        .iter()
        .filter(|f| {
            f.blocking
                || f.severity == Severity::Critical
                || (ctx.include_warnings && f.severity == Severity::Warning)
        })
        .map(|f| DetectedIssue {
            status: "final".into(),
            code: Some(CodeableConcept {
                text: Some(f.code.clone()),
                ..CodeableConcept::coded(&ctx.code_system, &f.code, &f.code)
            }),
            severity: Some(issue_severity(f.severity).into()),
            patient: Some(ctx.patient.clone()),
            identified_date_time: Some(assessment.today.to_string()),
            implicated: ctx.implicated.iter().cloned().collect(),
            evidence: if ctx.evidence.is_empty() {
                Vec::new()
            } else {
                vec![Evidence {
                    detail: ctx.evidence.clone(),
                    ..Evidence::default()
                }]
            },
            detail: Some(finding_detail(f)),
            ..DetectedIssue::default()
        })
        .collect()
}
