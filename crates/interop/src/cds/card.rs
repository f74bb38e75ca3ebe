//! One card per lenalidomide order (issue 6, "one card, not five"), built from the engine's `Assessment`
//! (standards.md §1.5 card fields; §6.5: `info`/`warning` cards, `critical` only for true clinical danger).
//!
//! The card merges program status, the draft's dose against the engine's (renal band, modification state,
//! ladder), today's counts, interactions, thromboprophylaxis and the program windows. Its indicator is the
//! highest severity found; its suggestion replaces the draft with the corrected dose and schedule (an `update`
//! with the same id), or removes it when the engine says not to dose. No card when the draft matches the engine's
//! dose and nothing is a warning. A draft for another drug, or one whose drug cannot be told, gets no card and a
//! note saying why: the card never guesses.

use super::types::{
    Action, ActionType, Card, Coding, Indicator, Link, LinkType, SelectionBehavior, Source,
    Suggestion,
};
use crate::fhir::{MedicationRequest, Resource};
use crate::import::{ImportNote, NoteKind};
use crate::order::{self, Drug};
use lenaguard_domain::assessment::Action as EngineAction;
use lenaguard_domain::dose::{Frequency, Schedule};
use lenaguard_domain::pack::RenalBand;
use lenaguard_domain::units::format_count;
use lenaguard_domain::{Assessment, Finding, Severity};
use std::fmt::Write;

/// What the card needs besides the assessment and the draft.
#[derive(Debug, Clone, Copy)]
pub struct CardContext<'a> {
    /// The call's `hookInstance`; card and suggestion uuids derive from it and the draft, so feedback maps back to
    /// the call and the order.
    pub hook_instance: &'a str,
    /// Absolute base URL of the service: rule links and the code systems of topics and override reasons.
    pub service_base: &'a str,
    /// Absolute URL of the patient's page in the web app, shown as a link.
    pub app_url: Option<&'a str>,
    /// Notes from the import; alerts (a positive pregnancy result in the EHR) make the card critical.
    pub notes: &'a [ImportNote],
}

/// The card, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct CardOutcome {
    pub card: Option<Card>,
    pub notes: Vec<String>,
}

/// The maximum summary length: the spec asks for fewer than 140 characters.
pub const SUMMARY_MAX_CHARS: usize = 139;

/// The fixed override reasons offered on every card.
pub fn override_reasons(service_base: &str) -> Vec<Coding> {
    let system = format!("{}/override-reason", service_base.trim_end_matches('/'));
    [
        (
            "kidney-function-reassessed",
            "Kidney function reassessed (for example a measured clearance)",
        ),
        ("trial-protocol", "Dose set by a clinical-trial protocol"),
        (
            "prescriber-judgement",
            "Prescriber's judgement after review of the findings",
        ),
        (
            "ehr-data-outdated",
            "The EHR data the check used is out of date or wrong",
        ),
    ]
    .into_iter()
    .map(|(code, display)| Coding {
        code: code.into(),
        system: system.clone(),
        display: Some(display.into()),
    })
    .collect()
}

/// A name-based UUID (version 8 layout) from the hook instance, so the card is the same for the same call and
/// differs between calls without reading a clock or a random source.
pub fn derived_uuid(hook_instance: &str, salt: &str) -> String {
    fn fnv(seed: u64, bytes: impl Iterator<Item = u8>) -> u64 {
        bytes.fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
    let input = || hook_instance.bytes().chain([0u8]).chain(salt.bytes());
    let hi = fnv(0xcbf2_9ce4_8422_2325, input());
    let lo = fnv(0x8422_2325_cbf2_9ce4, input().chain([1u8]));
    let hi = (hi & !0xf000) | 0x8000;
    let lo = (lo & !(0xc0 << 56)) | (0x80 << 56);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// `10 mg once daily, days 1-21 of 28`.
pub fn short(s: &Schedule) -> String {
    let f = match s.frequency {
        Frequency::OnceDaily => "once daily",
        Frequency::Every48Hours => "every 48 h",
    };
    format!(
        "{} {f}, days {}-{} of {}",
        s.dose_mg,
        s.days_on.first(),
        s.days_on.last(),
        s.cycle_days
    )
}

fn same_order(a: &Schedule, b: &Schedule) -> bool {
    a.dose_mg == b.dose_mg
        && a.frequency == b.frequency
        && a.days_on == b.days_on
        && a.cycle_days == b.cycle_days
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= SUMMARY_MAX_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    out.push('…');
    out
}

fn indicator(s: Severity) -> Indicator {
    match s {
        Severity::Info => Indicator::Info,
        Severity::Warning => Indicator::Warning,
        Severity::Critical => Indicator::Critical,
    }
}

/// Which part of the card a finding belongs to, by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Dose,
    Program,
    Interactions,
    Thromboprophylaxis,
    Monitoring,
    Exposure,
}

fn part(code: &str) -> Part {
    let head = code.split('.').next().unwrap_or("");
    match head {
        "program" => Part::Program,
        "interaction" | "warning" => Part::Interactions,
        "vte" => Part::Thromboprophylaxis,
        "monitoring" => Part::Monitoring,
        "pk" => Part::Exposure,
        _ => Part::Dose,
    }
}

fn band_text(b: RenalBand) -> &'static str {
    match b {
        RenalBand::Moderate => "CrCl 30 to < 60 mL/min",
        RenalBand::Severe => "CrCl < 30 mL/min, not on dialysis",
        RenalBand::Dialysis => "on dialysis",
    }
}

/// The card for a draft order, or the reason there is none.
pub fn card_for(
    assessment: &Assessment,
    draft: &MedicationRequest,
    ctx: &CardContext,
) -> CardOutcome {
    let none = |why: String| CardOutcome {
        card: None,
        notes: vec![why],
    };
    let drug = match order::identify(draft) {
        Ok(d) => d,
        Err(e) => return none(format!("no card: {e}")),
    };
    if let Drug::Other { label } = &drug {
        return none(format!(
            "no card: {} is for {label}, not lenalidomide",
            draft.path()
        ));
    }
    let read = order::read(draft, &drug);
    // Each draft of a call gets its own uuids (two drafts in one order-sign are two cards, each with its own
    // feedback): the hook instance salted with the draft's id, or with the draft itself when it has none.
    let draft_key = draft
        .id
        .clone()
        .unwrap_or_else(|| serde_json::to_string(draft).unwrap_or_default());
    let uuid = |what: &str| derived_uuid(ctx.hook_instance, &format!("{what}\u{0}{draft_key}"));
    let engine = assessment.action.dose().copied();
    let draft_schedule = read.as_ref().ok().map(|o| o.schedule);
    let mismatch = match (&draft_schedule, &engine) {
        (Some(d), Some(e)) => !same_order(d, e),
        _ => false,
    };
    let alerts: Vec<&ImportNote> = ctx
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::Alert)
        .collect();
    let loud: Vec<&Finding> = assessment
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || f.blocking)
        .collect();
    let mut level = loud
        .iter()
        .map(|f| {
            if f.blocking {
                Severity::Critical
            } else {
                f.severity
            }
        })
        .max()
        .map(indicator)
        .unwrap_or(Indicator::Info);
    if mismatch || read.is_err() || engine.is_none() {
        level = level.max(Indicator::Warning);
    }
    if !alerts.is_empty() {
        level = Indicator::Critical;
    }
    if level == Indicator::Info && !mismatch {
        return none(format!(
            "no card: {} matches the engine's dose ({}) and no finding is a warning",
            draft.path(),
            engine.map(|e| short(&e)).unwrap_or_default()
        ));
    }

    let crcl = assessment
        .kidney
        .crcl_ml_min
        .map(|c| format!(", for CrCl {c:.0} mL/min"))
        .unwrap_or_default();
    let summary = if let Some(a) = alerts.first() {
        format!("Lenalidomide: {}", a.message)
    } else {
        match (&engine, &draft_schedule) {
            (Some(e), Some(d)) if mismatch => format!(
                "Lenalidomide: {}, not {}{}",
                short(e),
                if e.dose_mg == d.dose_mg {
                    short(d)
                } else {
                    d.dose_mg.to_string()
                },
                if assessment.kidney.renal_starting_dose == Some(*e) {
                    crcl.as_str()
                } else {
                    ""
                }
            ),
            (None, _) => format!("Lenalidomide: {}", assessment.summary),
            (_, None) => {
                "Lenalidomide: the draft's dose could not be read; check it against the label"
                    .into()
            }
            _ => format!(
                "Lenalidomide: {}",
                loud.first()
                    .map(|f| f.message.as_str())
                    .unwrap_or(&assessment.summary)
            ),
        }
    };

    // The deciding rule: the dose finding for a dose change, otherwise the loudest finding with a source.
    let deciding = if mismatch {
        assessment
            .findings
            .iter()
            .filter(|f| part(&f.code) == Part::Dose && !f.sources.is_empty())
            .max_by_key(|f| (f.severity, f.code.starts_with("renal.starting_dose")))
    } else {
        None
    }
    .or_else(|| {
        assessment
            .findings
            .iter()
            .find(|f| !f.sources.is_empty() && f.severity >= Severity::Warning)
    })
    .or_else(|| assessment.findings.iter().find(|f| !f.sources.is_empty()));
    let base = ctx.service_base.trim_end_matches('/');
    let source = match deciding.and_then(|f| f.sources.first().map(|p| (f, p))) {
        Some((f, p)) => {
            let mark = if f.rests_on_unverified_rules() {
                "UNVERIFIED"
            } else {
                "verified"
            };
            Source {
                label: format!("Lenaguard: {} ({}, {mark})", p.section, p.version_date),
                url: Some(format!("{base}/rules/{}", p.rule)),
                icon: None,
                topic: Some(Coding {
                    code: p.rule.clone(),
                    system: format!("{base}/rules"),
                    display: Some(p.document.clone()),
                }),
            }
        }
        None => Source {
            label: format!(
                "Lenaguard rule pack {} {}",
                assessment.pack.id, assessment.pack.version
            ),
            url: None,
            icon: None,
            topic: None,
        },
    };

    let mut suggestions = Vec::new();
    if let (true, Some(e)) = (mismatch, &engine) {
        let fixed = order::corrected(draft, e);
        suggestions.push(Suggestion {
            label: format!("Order {} instead", short(e)),
            uuid: Some(uuid("suggestion.update")),
            is_recommended: Some(true),
            actions: vec![Action {
                type_: ActionType::Update,
                description: format!("Replace the draft with lenalidomide {e}."),
                resource: Some(Resource::MedicationRequest(fixed)),
                resource_id: None,
            }],
        });
    }
    if let (None, Some(id)) = (&engine, &draft.id)
        && matches!(
            assessment.action,
            EngineAction::Interrupt { .. }
                | EngineAction::StayInterrupted { .. }
                | EngineAction::Defer { .. }
                | EngineAction::Discontinue { .. }
        )
    {
        suggestions.push(Suggestion {
            label: "Remove the draft lenalidomide order".into(),
            uuid: Some(uuid("suggestion.delete")),
            is_recommended: Some(true),
            actions: vec![Action {
                type_: ActionType::Delete,
                description: format!("Do not dose today: {}", assessment.summary),
                resource: None,
                resource_id: Some(format!("MedicationRequest/{id}")),
            }],
        });
    }
    let links = ctx
        .app_url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| Link {
            label: "Open in Lenaguard".into(),
            url: u.to_string(),
            type_: LinkType::Absolute,
            app_context: None,
            autolaunchable: None,
        })
        .into_iter()
        .collect();

    CardOutcome {
        card: Some(Card {
            uuid: Some(uuid("card")),
            summary: truncate(&summary),
            detail: Some(detail(assessment, draft, &read, engine.as_ref(), &alerts)),
            indicator: level,
            source,
            selection_behavior: (!suggestions.is_empty()).then_some(SelectionBehavior::AtMostOne),
            suggestions,
            override_reasons: override_reasons(ctx.service_base),
            links,
            extension: None,
        }),
        notes: Vec::new(),
    }
}

fn bullet_findings(out: &mut String, findings: &[&Finding]) {
    for f in findings {
        let mark = match f.severity {
            Severity::Critical => "**critical**",
            Severity::Warning => "**warning**",
            Severity::Info => "info",
        };
        let unverified = if f.rests_on_unverified_rules() {
            " _(rests on an unverified rule)_"
        } else {
            ""
        };
        let _ = writeln!(out, "- {mark}: {}{unverified}", f.message);
    }
}

fn detail(
    a: &Assessment,
    draft: &MedicationRequest,
    read: &Result<order::LenalidomideOrder, crate::error::InteropError>,
    engine: Option<&Schedule>,
    alerts: &[&ImportNote],
) -> String {
    let mut out = String::new();
    if !alerts.is_empty() {
        let _ = writeln!(out, "### EHR data not evaluated by the engine\n");
        for n in alerts {
            let _ = writeln!(out, "- **{}**: {}", n.path, n.message);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "**{}** ({}): {}\n",
        a.action.kind().replace('_', " "),
        a.regimen_name,
        a.summary
    );
    let _ = writeln!(out, "### Dose against the label\n");
    match read {
        Ok(o) => {
            let _ = writeln!(out, "- Draft order ({}): {}", draft.path(), o.schedule);
        }
        Err(e) => {
            let _ = writeln!(out, "- Draft order could not be read: {e}");
        }
    }
    match engine {
        Some(e) => {
            let _ = writeln!(out, "- Lenaguard: {e}");
        }
        None => {
            let _ = writeln!(
                out,
                "- Lenaguard: no dose today ({})",
                a.action.kind().replace('_', " ")
            );
        }
    }
    let k = &a.kidney;
    if let Some(c) = k.crcl_ml_min {
        let method = match k.method {
            Some(lenaguard_domain::assessment::CrClMethod::Measured) => "measured",
            _ => "Cockcroft-Gault",
        };
        let band = k
            .band
            .map(band_text)
            .unwrap_or("no renal adjustment (CrCl 60 mL/min or more)");
        let _ = writeln!(out, "- Kidney: CrCl {c:.0} mL/min ({method}); {band}");
    } else if k.dialysis {
        let _ = writeln!(out, "- Kidney: on dialysis");
    }
    if let Some(r) = &k.renal_starting_dose {
        let _ = writeln!(out, "- Renal starting dose: {r}");
    }
    let by = |p: Part| -> Vec<&Finding> {
        a.findings
            .iter()
            .filter(|f| {
                part(&f.code) == p
                    && (f.severity >= Severity::Warning || f.blocking || p == Part::Dose)
            })
            .collect()
    };
    bullet_findings(&mut out, &by(Part::Dose));
    if !a.labs.is_empty() {
        let _ = writeln!(out, "\n### Today's counts\n");
        for l in &a.labs {
            let value = if l.unit == "/mcL" {
                format_count(l.value)
            } else {
                format!("{} {}", l.value, l.unit)
            };
            let grade = l
                .ctcae
                .as_ref()
                .map(|g| format!(", CTCAE grade {}", g.grade))
                .unwrap_or_default();
            let _ = writeln!(out, "- {}: {value} on {}{grade}", l.code.label(), l.date);
        }
    }
    if let Some(s) = &a.safety {
        if let Some(p) = &s.program {
            let _ = writeln!(out, "\n### Lenalidomide REMS\n");
            let e = &p.eligibility;
            let _ = writeln!(
                out,
                "- {}: {}",
                if e.eligible {
                    "Eligible"
                } else {
                    "**Not eligible**"
                },
                format!("{:?}", e.stage).to_lowercase()
            );
            for m in &e.missing {
                let _ = writeln!(out, "- Missing: {} ({})", m.what, m.fix);
            }
            for w in &p.windows {
                let _ = writeln!(
                    out,
                    "- Window {:?}: last valid day {} ({:?}); {}",
                    w.kind, w.last_valid_day, w.state, w.act
                );
            }
        }
        let program = by(Part::Program);
        if !program.is_empty() && s.program.is_none() {
            let _ = writeln!(out, "\n### Lenalidomide REMS\n");
        }
        bullet_findings(&mut out, &program);
        for (title, p) in [
            ("Interactions", Part::Interactions),
            ("Thromboprophylaxis", Part::Thromboprophylaxis),
            ("Monitoring", Part::Monitoring),
        ] {
            let f = by(p);
            if !f.is_empty() {
                let _ = writeln!(out, "\n### {title}\n");
                bullet_findings(&mut out, &f);
            }
        }
    }
    if !a.unverified_rules.is_empty() {
        let _ = writeln!(
            out,
            "\nThis answer rests on {} unverified rule(s): {}.",
            a.unverified_rules.len(),
            a.unverified_rules.join(", ")
        );
    }
    let _ = write!(
        out,
        "\nRule pack {} {}; assessed {}.",
        a.pack.id, a.pack.version, a.today
    );
    out
}
