//! Thromboprophylaxis in myeloma on lenalidomide (scores-criteria.md §0-§3;
//! `rules/us-lenalidomide/thromboprophylaxis.toml`): the IMPEDE VTE score (Sanfilippo 2019), the SAVED score
//! (Li 2019, JNCCN), the IMWG 2008 risk-factor model (Palumbo, Leukemia 2008) and its recommendation, and a
//! finding when a patient at risk has no prophylaxis on record (boxed warning, L23).
//!
//! The disputed IMPEDE weight for therapeutic anticoagulation stays unverified: the preferred value (-4) is
//! used and the alternative (-5) is reported beside it. Dexamethasone is counted per 28-day window from the
//! chosen schedule (best belief; the "month" of the papers is not confirmed).

use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::interactions::AgentMatch;
use crate::pack::RulePack;
use crate::provenance::Provenance;
use crate::snapshot::Snapshot;
use jiff::ToSpan;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scored risk factor (IMPEDE VTE and SAVED items).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Imid,
    #[serde(rename = "bmi_at_least_25")]
    BmiAtLeast25,
    PelvicHipFemurFracture,
    Esa,
    DexHigh,
    DexLow,
    DexStandard,
    Doxorubicin,
    AsianOrPacificIslander,
    HistoryOfVte,
    CentralVenousCatheter,
    TherapeuticAnticoagulation,
    ProphylacticLmwhOrAspirin,
    #[serde(rename = "surgery_within_90_days")]
    SurgeryWithin90Days,
    #[serde(rename = "age_at_least_80")]
    AgeAtLeast80,
}

/// Thromboprophylaxis on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Prophylaxis {
    None,
    Aspirin,
    ProphylacticLmwh,
    /// LMWH or an oral anticoagulant at therapeutic intensity.
    TherapeuticAnticoagulation,
    ProphylacticDoac,
}

/// VTE risk factors (input). Everything defaults to absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VteInput {
    /// Body-mass index; computed from weight and height when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmi: Option<f64>,
    #[serde(default)]
    pub history_of_vte: bool,
    #[serde(default)]
    pub pelvic_hip_femur_fracture: bool,
    /// Tunneled line or central venous catheter.
    #[serde(default)]
    pub central_venous_catheter: bool,
    #[serde(default)]
    pub pacemaker: bool,
    #[serde(default)]
    pub asian_or_pacific_islander: bool,
    /// Date of the last surgery (general surgery, any anaesthesia, trauma).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub last_surgery: Option<Date>,
    #[serde(default)]
    pub cardiac_disease: bool,
    #[serde(default)]
    pub chronic_kidney_disease: bool,
    #[serde(default)]
    pub diabetes: bool,
    #[serde(default)]
    pub acute_infection: bool,
    #[serde(default)]
    pub immobilization: bool,
    #[serde(default)]
    pub thrombophilia: bool,
    #[serde(default)]
    pub hyperviscosity: bool,
    #[serde(default)]
    pub doxorubicin: bool,
    #[serde(default)]
    pub multiagent_chemotherapy: bool,
    /// An erythropoiesis-stimulating agent (also recognised from the medication list).
    #[serde(default)]
    pub esa: bool,
    /// Prophylaxis on record; when absent it is read from the medication list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prophylaxis: Option<Prophylaxis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskGroup {
    Low,
    Intermediate,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreItem {
    pub factor: Factor,
    pub points: i32,
    pub rule: String,
    /// Other published weights for the same item, with their sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Score {
    pub total: i32,
    pub group: RiskGroup,
    pub items: Vec<ScoreItem>,
    /// The total with the alternative weights, when an item has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative_total: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Aspirin.
    Lower,
    /// LMWH or full-dose warfarin.
    Higher,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Imwg {
    /// Individual and myeloma-related risk factors present.
    pub risk_factors: Vec<String>,
    /// Therapy-related factors present (each alone calls for LMWH or warfarin).
    pub therapy_factors: Vec<String>,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VteAssessment {
    /// Dexamethasone per 28-day window from the chosen schedule; `None` when no schedule is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dex_mg_per_window: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmi: Option<f64>,
    pub impede: Score,
    pub saved: Score,
    pub imwg: Imwg,
    pub recommendation: String,
    pub prophylaxis: Prophylaxis,
    /// True when prophylaxis was read from the medication list rather than recorded.
    pub prophylaxis_inferred: bool,
    pub notes: Vec<String>,
}

/// Dexamethasone milligrams per `window_days` in a cycle of `cycle_days`, from the pack's schedule.
pub fn dex_mg_per_window(
    pack: &RulePack,
    schedule: &str,
    cycle: u16,
    cycle_days: u16,
) -> Option<f64> {
    let s = pack.dex_schedule(schedule)?;
    let window = f64::from(pack.thromboprophylaxis.dex_window.value.days);
    Some(s.mg_in_cycle(cycle) * window / f64::from(cycle_days.max(1)))
}

fn score(
    weights: Vec<(
        &crate::pack::Sourced<crate::pack::Weight>,
        Vec<&crate::pack::Sourced<crate::pack::Weight>>,
    )>,
    present: &dyn Fn(Factor) -> bool,
) -> (i32, Option<i32>, Vec<ScoreItem>, Vec<Provenance>) {
    let mut total = 0;
    let mut alt_total = 0;
    let mut has_alt = false;
    let mut items = Vec::new();
    let mut sources = Vec::new();
    for (w, alts) in weights {
        if !present(w.value.factor) {
            continue;
        }
        total += w.value.points;
        alt_total += alts.first().map_or(w.value.points, |a| a.value.points);
        has_alt |= !alts.is_empty();
        sources.push(w.provenance.clone());
        sources.extend(alts.iter().map(|a| a.provenance.clone()));
        items.push(ScoreItem {
            factor: w.value.factor,
            points: w.value.points,
            rule: w.provenance.rule.clone(),
            alternatives: alts
                .iter()
                .map(|a| {
                    format!(
                        "{:+} ({}, {})",
                        a.value.points, a.provenance.document, a.provenance.version_date
                    )
                })
                .collect(),
        });
    }
    (total, has_alt.then_some(alt_total), items, sources)
}

/// The VTE assessment for a myeloma patient; `None` for other regimens.
pub fn assess_vte(
    snapshot: &Snapshot,
    pack: &RulePack,
    today: Date,
    age_years: f64,
    agents: &[AgentMatch],
) -> Result<Option<(VteAssessment, Vec<Finding>)>, InputError> {
    if !snapshot.regimen.is_myeloma() {
        return Ok(None);
    }
    let t = &pack.thromboprophylaxis;
    let input = snapshot.vte.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let computed_bmi = match (snapshot.patient.weight_kg, snapshot.patient.height_cm) {
        (Some(w), Some(h)) if h > 0.0 => Some(w / (h / 100.0).powi(2)),
        _ => None,
    };
    if let Some(b) = input.bmi
        && (!b.is_finite() || !(10.0..=100.0).contains(&b))
    {
        return Err(InputError::invalid(
            "vte.bmi",
            b,
            "a body-mass index from 10 to 100 kg/m2",
        ));
    }
    if let (Some(b), Some(c)) = (input.bmi, computed_bmi)
        && (b - c).abs() > 1.0
    {
        return Err(InputError::contradiction(
            "vte.bmi",
            "patient.weight_kg",
            format!("BMI {b} differs from {c:.1} computed from weight and height"),
        ));
    }
    if let Some(s) = input.last_surgery
        && s > today
    {
        return Err(InputError::invalid(
            "vte.last_surgery",
            s,
            format!("a date not after today ({today})"),
        ));
    }
    let bmi = input.bmi.or(computed_bmi);
    let has = |id: &str| agents.iter().any(|a| a.agent == id);
    let anticoagulant = agents
        .iter()
        .find(|a| ["lmwh", "doac", "warfarin", "aspirin"].contains(&a.agent.as_str()));
    let (prophylaxis, inferred) = match (input.prophylaxis, anticoagulant) {
        (Some(Prophylaxis::None), Some(a)) => {
            return Err(InputError::contradiction(
                "vte.prophylaxis",
                format!("medications[{}]", a.medication),
                format!(
                    "prophylaxis is recorded as none, but the medication list has {}",
                    a.agent
                ),
            ));
        }
        (Some(p), _) => (p, false),
        (None, Some(a))
            if a.agent == "aspirin" && !has("lmwh") && !has("doac") && !has("warfarin") =>
        {
            (Prophylaxis::Aspirin, true)
        }
        (None, Some(_)) => {
            notes.push("An anticoagulant is on the medication list but its intensity is not recorded (vte.prophylaxis): the IMPEDE anticoagulation items are not scored.".into());
            (Prophylaxis::ProphylacticLmwh, true)
        }
        (None, None) => (Prophylaxis::None, false),
    };

    let cycle = snapshot.treatment.cycle.unwrap_or(1);
    let cycle_days = snapshot
        .treatment
        .current
        .map(|s| s.cycle_days)
        .unwrap_or(pack.regimen(snapshot.regimen).start.cycle_days);
    let dex = snapshot
        .dexamethasone
        .as_deref()
        .and_then(|d| dex_mg_per_window(pack, d, cycle, cycle_days));
    let window = t.dex_window.value.days;
    if dex.is_none() && crate::interactions::with_dexamethasone(snapshot, agents) {
        notes.push("Dexamethasone is part of the regimen but no schedule is chosen (`dexamethasone`): its score items are not counted, which can understate the risk.".into());
    }
    if let Some(mg) = dex {
        notes.push(format!(
            "Dexamethasone {mg:.0} mg per {window} days (cycle {cycle}); about {:.0} mg per 30 days. The papers' 'month' is not confirmed ({}).",
            mg * 30.0 / f64::from(window),
            t.dex_window.provenance.rule
        ));
    }
    let ib = &t.impede_bands.value;
    let sb = &t.saved_bands.value;
    let esa = input.esa || has("esa");
    let surgery_recent = |days: i64| {
        input
            .last_surgery
            .is_some_and(|s| today.checked_sub(days.days()).is_ok_and(|from| s >= from))
    };
    let scored_anticoagulation = !(inferred && prophylaxis != Prophylaxis::Aspirin);
    let present = |f: Factor| match f {
        Factor::Imid => true,
        Factor::BmiAtLeast25 => bmi.is_some_and(|b| b >= 25.0),
        Factor::PelvicHipFemurFracture => input.pelvic_hip_femur_fracture,
        Factor::Esa => esa,
        Factor::DexHigh => dex.is_some_and(|d| d > ib.dex_high_above_mg),
        Factor::DexLow => dex.is_some_and(|d| d > 0.0 && d <= ib.dex_high_above_mg),
        Factor::DexStandard => false,
        Factor::Doxorubicin => input.doxorubicin,
        Factor::AsianOrPacificIslander => input.asian_or_pacific_islander,
        Factor::HistoryOfVte => input.history_of_vte,
        Factor::CentralVenousCatheter => input.central_venous_catheter,
        Factor::TherapeuticAnticoagulation => {
            scored_anticoagulation && prophylaxis == Prophylaxis::TherapeuticAnticoagulation
        }
        Factor::ProphylacticLmwhOrAspirin => {
            scored_anticoagulation
                && matches!(
                    prophylaxis,
                    Prophylaxis::ProphylacticLmwh | Prophylaxis::Aspirin
                )
        }
        Factor::SurgeryWithin90Days | Factor::AgeAtLeast80 => false,
    };
    let (total, alt, items, mut sources) = score(t.impede_weights(), &present);
    let group = |s: i32| {
        if s <= ib.low_at_most {
            RiskGroup::Low
        } else if s <= ib.intermediate_at_most {
            RiskGroup::Intermediate
        } else {
            RiskGroup::High
        }
    };
    let impede = Score {
        total,
        group: group(total),
        items,
        alternative_total: alt,
    };
    let saved_present = |f: Factor| match f {
        Factor::SurgeryWithin90Days => surgery_recent(sb.surgery_within_days),
        Factor::AsianOrPacificIslander => input.asian_or_pacific_islander,
        Factor::HistoryOfVte => input.history_of_vte,
        Factor::AgeAtLeast80 => age_years >= 80.0,
        Factor::DexHigh => dex.is_some_and(|d| d > sb.dex_high_above_mg),
        Factor::DexStandard => {
            dex.is_some_and(|d| d >= sb.dex_standard_from_mg && d <= sb.dex_high_above_mg)
        }
        _ => false,
    };
    let (stotal, salt, sitems, ssources) = score(t.saved_weights(), &saved_present);
    sources.extend(ssources);
    let saved = Score {
        total: stotal,
        group: if stotal >= sb.high_at_least {
            RiskGroup::High
        } else {
            RiskGroup::Low
        },
        items: sitems,
        alternative_total: salt,
    };

    let im = &t.imwg.value;
    let (obesity, obesity_alts) = t.obesity();
    let obese = bmi.is_some_and(|b| {
        if obesity.value.inclusive {
            b >= obesity.value.bmi_above
        } else {
            b > obesity.value.bmi_above
        }
    });
    let mut risk_factors: Vec<String> = [
        (obese, "obesity"),
        (input.history_of_vte, "previous VTE"),
        (
            input.central_venous_catheter || input.pacemaker,
            "central venous catheter or pacemaker",
        ),
        (input.cardiac_disease, "cardiac disease"),
        (input.chronic_kidney_disease, "chronic renal disease"),
        (input.diabetes, "diabetes"),
        (input.acute_infection, "acute infection"),
        (input.immobilization, "immobilization"),
        (
            surgery_recent(im.surgery_recent_days),
            "recent surgery, anaesthesia or trauma",
        ),
        (esa, "erythropoietin"),
        (input.thrombophilia, "blood-clotting disorder"),
        (im.count_myeloma_diagnosis, "myeloma diagnosis"),
        (input.hyperviscosity, "hyperviscosity"),
    ]
    .into_iter()
    .filter(|(p, _)| *p)
    .map(|(_, n)| n.to_string())
    .collect();
    risk_factors.dedup();
    let therapy_factors: Vec<String> = [
        (
            dex.is_some_and(|d| d >= im.high_dose_dex_from_mg),
            "high-dose dexamethasone",
        ),
        (input.doxorubicin, "doxorubicin"),
        (input.multiagent_chemotherapy, "multi-agent chemotherapy"),
    ]
    .into_iter()
    .filter(|(p, _)| *p)
    .map(|(_, n)| n.to_string())
    .collect();
    let tier = if !therapy_factors.is_empty()
        || risk_factors.len() > im.aspirin_if_factors_at_most as usize
    {
        Tier::Higher
    } else {
        Tier::Lower
    };
    if obese && !obesity_alts.is_empty() {
        notes.push(format!(
            "Obesity read as BMI {} {} ({}); another source reads it as {}.",
            if obesity.value.inclusive { ">=" } else { ">" },
            obesity.value.bmi_above,
            obesity.provenance.document,
            obesity_alts
                .iter()
                .map(|o| format!(
                    "{} {} ({})",
                    if o.value.inclusive { ">=" } else { ">" },
                    o.value.bmi_above,
                    o.provenance.document
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let rec = &t.recommendation.value;
    let recommendation = match tier {
        Tier::Lower => format!("IMWG 2008: {}.", rec.lower),
        Tier::Higher => format!("IMWG 2008: {}.", rec.higher),
    };
    let imwg = Imwg {
        risk_factors,
        therapy_factors,
        tier,
    };

    let mut findings = Vec::new();
    let alt_text = match impede.alternative_total {
        Some(a) if a != impede.total => format!(
            " With the alternative published weight the IMPEDE score would be {a} ({:?} risk).",
            group(a)
        ),
        _ => String::new(),
    };
    findings.push(
        Finding::new(
            "vte.scores",
            Severity::Info,
            format!(
                "IMPEDE VTE {} ({:?} risk); SAVED {} ({:?} risk); IMWG 2008: {} risk factor(s){}, {} tier. {}{alt_text}",
                impede.total,
                impede.group,
                saved.total,
                saved.group,
                imwg.risk_factors.len(),
                if imwg.therapy_factors.is_empty() { String::new() } else { format!(" and therapy factor(s) {}", imwg.therapy_factors.join(", ")) },
                match tier { Tier::Lower => "aspirin", Tier::Higher => "LMWH or warfarin" },
                recommendation
            ),
        )
        .sources(sources.iter())
        .source(&t.imwg.provenance)
        .source(&obesity.provenance)
        .source(&t.dex_window.provenance),
    );
    match (prophylaxis, tier) {
        (Prophylaxis::None, _) => {
            let severity = if tier == Tier::Higher {
                Severity::Critical
            } else {
                Severity::Warning
            };
            findings.push(
                Finding::new(
                    "vte.no_prophylaxis",
                    severity,
                    format!(
                        "No thromboprophylaxis on record for a myeloma patient on lenalidomide: antithrombotic prophylaxis is recommended. {recommendation} {}",
                        t.asco.value.text
                    ),
                )
                .source(&t.boxed_warning.provenance)
                .source(&t.imwg.provenance)
                .source(&t.recommendation.provenance)
                .source(&t.asco.provenance),
            );
        }
        (Prophylaxis::Aspirin, Tier::Higher) => findings.push(
            Finding::new(
                "vte.prophylaxis_below_recommendation",
                Severity::Warning,
                format!(
                    "Aspirin is on record, but the risk factors call for more: {recommendation}"
                ),
            )
            .source(&t.imwg.provenance)
            .source(&t.recommendation.provenance),
        ),
        _ => {}
    }
    Ok(Some((
        VteAssessment {
            dex_mg_per_window: dex,
            bmi: bmi.map(|b| (b * 10.0).round() / 10.0),
            impede,
            saved,
            imwg,
            recommendation,
            prophylaxis,
            prophylaxis_inferred: inferred,
            notes,
        },
        findings,
    )))
}
