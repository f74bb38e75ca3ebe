//! Eligibility before a prescription or a dispense: either eligible, or every missing step with what fixes it
//! and the dates that bound the fix (label.md §6; label-verification.md §8).

use super::record::{
    CheckedProgram, NotReproductiveReason, PregnancyTest, TestResult, TestSetting,
};
use super::{RiskCategory, next_pregnancy_test};
use crate::error::InputError;
use crate::pack::{AuthorizationBase, RulePack};
use crate::provenance::Provenance;
use crate::snapshot::{Snapshot, TreatmentStatus};
use jiff::ToSpan;
use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the eligibility is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Writing a prescription (the prescriber then obtains an authorization number).
    Prescription,
    /// Dispensing a written, authorized prescription.
    Dispense,
}

impl Stage {
    /// A written prescription not yet dispensed means the next step is the dispense.
    pub fn infer(program: &CheckedProgram) -> Stage {
        let r = &program.record;
        match (r.prescriptions.last(), r.dispenses.last()) {
            (Some(p), Some(d)) if p.date > d.date => Stage::Dispense,
            (Some(_), None) => Stage::Dispense,
            _ => Stage::Prescription,
        }
    }
}

/// One step the program still needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissingStep {
    /// Stable code, e.g. `pregnancy_test.second`.
    pub code: String,
    /// What is missing.
    pub what: String,
    /// What fixes it.
    pub fix: String,
    /// The earliest date the fix can be made, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub earliest: Option<Date>,
    /// The latest date the fix is still valid, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub latest: Option<Date>,
    /// True when no later step can fix it (a positive pregnancy test).
    pub final_stop: bool,
    pub sources: Vec<Provenance>,
}

/// The authorization window: when it lapses (issued, or if issued now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizationWindow {
    /// True when no authorization is on record: the dates are those of one obtained today.
    pub prospective: bool,
    #[schemars(with = "String")]
    pub counted_from: Date,
    #[schemars(with = "String")]
    pub last_valid_day: Date,
    #[schemars(with = "String")]
    pub lapses_on: Date,
    pub source: Provenance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EligibilityReport {
    pub stage: Stage,
    #[schemars(with = "String")]
    pub on: Date,
    pub category: RiskCategory,
    pub eligible: bool,
    /// Every missing step; empty when eligible.
    pub missing: Vec<MissingStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationWindow>,
    /// Things the reader should know (tests not counted, versions chosen).
    pub notes: Vec<String>,
    /// Ids of the unverified rules this answer rests on.
    pub unverified_rules: Vec<String>,
}

fn add(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).unwrap_or(d)
}

/// Why a negative test does not count, if it does not.
pub(super) fn not_counted(t: &PregnancyTest, pack: &RulePack) -> Option<String> {
    let min = pack.program.sensitivity.value.min_miu_ml;
    if t.sensitivity_miu_ml > min {
        return Some(format!(
            "the test of {} detects hCG from {} mIU/mL; a sensitivity of {min} mIU/mL or better is required",
            t.date, t.sensitivity_miu_ml
        ));
    }
    if t.setting == TestSetting::Home && !pack.program.home_tests().value.allowed {
        return Some(format!(
            "the home test of {} is not accepted by this pack",
            t.date
        ));
    }
    None
}

/// Dates of negative tests that count, oldest first.
pub(super) fn counted_negatives(p: &CheckedProgram, pack: &RulePack) -> Vec<Date> {
    p.record
        .pregnancy_tests
        .iter()
        .filter(|t| t.result == TestResult::Negative && not_counted(t, pack).is_none())
        .map(|t| t.date)
        .collect()
}

/// The first positive test, if any: it stops treatment whatever its sensitivity or setting.
pub(super) fn positive_test(p: &CheckedProgram) -> Option<Date> {
    p.record
        .pregnancy_tests
        .iter()
        .find(|t| t.result == TestResult::Positive)
        .map(|t| t.date)
}

/// A missed period or abnormal bleeding with no counted negative test since.
pub(super) fn open_evaluation(p: &CheckedProgram, pack: &RulePack) -> Option<Date> {
    let m = &p.record.menstrual;
    let event = m.missed_period_on.max(m.abnormal_bleeding_on)?;
    let resolved = counted_negatives(p, pack).iter().any(|d| *d >= event);
    (!resolved).then_some(event)
}

/// The first dose, done or planned.
pub(super) fn first_dose(s: &Snapshot, p: &CheckedProgram) -> Option<Date> {
    s.treatment.start_date.or(p.record.planned_start)
}

pub(super) fn is_first_prescription(s: &Snapshot, p: &CheckedProgram, stage: Stage) -> bool {
    let written = p.record.prescriptions.len();
    s.treatment.status == TreatmentStatus::NotStarted
        && match stage {
            Stage::Prescription => written == 0,
            Stage::Dispense => written <= 1 && p.record.dispenses.is_empty(),
        }
}

/// When the authorization lapses: for an issued one, or for one obtained on `today`.
pub(super) fn authorization_window(
    p: &CheckedProgram,
    pack: &RulePack,
    today: Date,
) -> Option<AuthorizationWindow> {
    let a = &pack.program.authorization;
    let issued = p.record.authorizations.last().map(|x| x.date);
    let category = p.category_on(today);
    let (base, days) = if category.can_get_pregnant() {
        let base = match a.value.frp_counted_from {
            AuthorizationBase::LastPregnancyTest => {
                let negatives = counted_negatives(p, pack);
                negatives.last().copied()?
            }
            AuthorizationBase::Issue => issued.unwrap_or(today),
        };
        (base, a.value.frp_valid_days)
    } else {
        (issued.unwrap_or(today), a.value.other_valid_days)
    };
    let lapses_on = add(base, i64::from(days));
    Some(AuthorizationWindow {
        prospective: issued.is_none(),
        counted_from: base,
        last_valid_day: add(lapses_on, -1),
        lapses_on,
        source: a.provenance.clone(),
    })
}

/// Eligibility from a snapshot: validates it, then [`eligibility_checked`]. `stage` `None` infers it.
pub fn eligibility(
    snapshot: &Snapshot,
    pack: &RulePack,
    today: Date,
    stage: Option<Stage>,
) -> Result<EligibilityReport, InputError> {
    let checked = snapshot.validate(pack, today)?;
    let record = snapshot.program.as_ref().ok_or_else(|| {
        InputError::missing(
            "program",
            "the patient's REMS record (category, enrollment, tests, surveys, prescriptions)",
        )
    })?;
    let program = record.check(snapshot, checked.age_years, pack, today)?;
    Ok(eligibility_checked(snapshot, &program, pack, today, stage))
}

struct Steps<'a> {
    pack: &'a RulePack,
    missing: Vec<MissingStep>,
    notes: Vec<String>,
}

impl Steps<'_> {
    fn need(
        &mut self,
        code: &str,
        what: String,
        fix: String,
        (earliest, latest): (Option<Date>, Option<Date>),
        sources: &[&Provenance],
    ) {
        self.missing.push(MissingStep {
            code: code.into(),
            what,
            fix,
            earliest,
            latest,
            final_stop: false,
            sources: sources.iter().map(|p| (*p).clone()).collect(),
        });
    }
}

/// Eligibility for a validated program record on `today`.
pub fn eligibility_checked(
    snapshot: &Snapshot,
    program: &CheckedProgram,
    pack: &RulePack,
    today: Date,
    stage: Option<Stage>,
) -> EligibilityReport {
    let stage = stage.unwrap_or_else(|| Stage::infer(program));
    let rules = &pack.program;
    let r = &program.record;
    let category = program.category_on(today);
    let mut st = Steps {
        pack,
        missing: Vec::new(),
        notes: Vec::new(),
    };
    let first = is_first_prescription(snapshot, program, stage);

    if r.enrolled_on.is_none() {
        st.need(
            "enrollment",
            "REMS enrollment".into(),
            format!("complete the Patient-Physician Agreement Form for the category {category}"),
            (None, None),
            &[&rules.categories.provenance],
        );
    }
    if let Some(n) = &r.not_of_reproductive_potential
        && n.reason == NotReproductiveReason::NaturalMenopause
    {
        let months = i64::from(rules.reproductive_potential.value.menses_within_months);
        let enough = n
            .since
            .checked_add(months.months())
            .is_ok_and(|d| d <= today);
        if !enough {
            st.need(
                "category.reproductive_potential",
                format!(
                    "last menses on {} is less than {months} months ago: by definition she can get pregnant",
                    n.since
                ),
                "reclassify her as a female who can get pregnant (with the reason), then follow that category's steps".into(),
                (None, None),
                &[&rules.reproductive_potential.provenance],
            );
        }
    }

    let negatives = counted_negatives(program, pack);
    for t in &r.pregnancy_tests {
        if t.result == TestResult::Negative
            && let Some(why) = not_counted(t, pack)
        {
            st.notes.push(format!("Not counted: {why}."));
        }
        if t.setting == TestSetting::Home && rules.home_tests().value.allowed {
            st.notes.push(format!(
                "The home test of {} is accepted at the prescriber's discretion ({}).",
                t.date,
                rules.home_tests().provenance.rule
            ));
        }
    }
    if let Some(d) = positive_test(program) {
        st.missing.push(MissingStep {
            code: "pregnancy.positive".into(),
            what: format!("positive pregnancy test on {d}"),
            fix: format!(
                "stop lenalidomide; report suspected fetal exposure to {}",
                rules.positive_test.value.report_to
            ),
            earliest: None,
            latest: None,
            final_stop: true,
            sources: vec![rules.positive_test.provenance.clone()],
        });
    }
    if category.can_get_pregnant() {
        if let Some(e) = open_evaluation(program, pack) {
            st.need(
                "pregnancy_test.evaluation",
                format!("missed period or abnormal bleeding on {e}, not yet evaluated"),
                "a pregnancy test and counselling; lenalidomide is held until a negative result"
                    .into(),
                (Some(e), None),
                &[&rules.missed_period.provenance],
            );
        }
        frp_tests(&mut st, snapshot, program, today, first, &negatives);
        contraception(&mut st, snapshot, program, today);
    }
    survey(&mut st, program, today, first, category);
    if stage == Stage::Dispense {
        dispense(&mut st, program, today, category);
    }

    // A prospective window is only meaningful when an authorization could be obtained now.
    let authorization = authorization_window(program, pack, today)
        .filter(|a| !a.prospective || (st.missing.is_empty() && a.last_valid_day >= today));
    let (tel, older) = rules.telephone();
    if !older.is_empty() {
        st.notes.push(format!(
            "Telephone prescriptions {} ({}, {}); the older rule ({}) is superseded.",
            if tel.value.allowed {
                "are allowed"
            } else {
                "are not allowed"
            },
            tel.provenance.document,
            tel.provenance.version_date,
            older
                .iter()
                .map(|o| o.provenance.version_date.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut unverified: Vec<String> = st
        .missing
        .iter()
        .flat_map(|m| m.sources.iter())
        .chain(authorization.as_ref().map(|a| &a.source))
        .filter(|p| !p.is_verified())
        .map(|p| p.rule.clone())
        .collect();
    unverified.sort();
    unverified.dedup();
    EligibilityReport {
        stage,
        on: today,
        category,
        eligible: st.missing.is_empty(),
        missing: st.missing,
        authorization,
        notes: st.notes,
        unverified_rules: unverified,
    }
}

fn frp_tests(
    st: &mut Steps<'_>,
    snapshot: &Snapshot,
    program: &CheckedProgram,
    today: Date,
    first: bool,
    negatives: &[Date],
) {
    let rules = &st.pack.program;
    let sens = rules.sensitivity.value.min_miu_ml;
    let planned = program.record.planned_start;
    if first {
        let init = &rules.initial_tests;
        let [lo, hi] = init.value.first_days_before;
        let (lo, hi) = (i64::from(lo), i64::from(hi));
        let window = (add(today, -hi), add(today, -lo));
        let t1 = negatives
            .iter()
            .rev()
            .find(|d| **d >= window.0 && **d <= window.1)
            .copied();
        let t2 = negatives.contains(&today);
        match t1 {
            Some(_) => {}
            None => {
                let recent = negatives.iter().rev().find(|d| **d > window.1).copied();
                match recent {
                    Some(r) => st.need(
                        "pregnancy_test.first",
                        format!("a first negative test {lo}-{hi} days before the prescription"),
                        format!(
                            "the test of {r} can be the first test if the prescription is written from {} to {}, with a second test that day",
                            add(r, lo),
                            add(r, hi)
                        ),
                        (Some(add(r, lo)), Some(add(r, hi))),
                        &[&init.provenance, &rules.sensitivity.provenance],
                    ),
                    None => st.need(
                        "pregnancy_test.first",
                        format!("a first negative test {lo}-{hi} days before the first prescription"),
                        format!("a negative pregnancy test sensitive to {sens} mIU/mL or less, {lo} to {hi} days before the prescription"),
                        (None, planned.map(|p| add(p, -lo))),
                        &[&init.provenance, &rules.sensitivity.provenance],
                    ),
                }
            }
        }
        if !t2 {
            let latest = match (t1, planned) {
                (Some(t), Some(p)) => Some(add(t, hi).min(p)),
                (Some(t), None) => Some(add(t, hi)),
                (None, p) => p,
            };
            let fix = match t1 {
                Some(t) => format!(
                    "a second negative test sensitive to {sens} mIU/mL or less within {} hours before the prescription (dates carry no time: the same day), at the latest on {} when the test of {t} is {hi} days old",
                    init.value.second_within_hours,
                    add(t, hi)
                ),
                None => format!(
                    "a second negative test sensitive to {sens} mIU/mL or less within {} hours before the prescription (the same day)",
                    init.value.second_within_hours
                ),
            };
            st.need(
                "pregnancy_test.second",
                format!(
                    "a second negative test within {} hours before the first prescription",
                    init.value.second_within_hours
                ),
                fix,
                (t1.map(|t| add(t, lo).max(today)), latest),
                &[&init.provenance, &rules.sensitivity.provenance],
            );
        }
    } else if !matches!(snapshot.treatment.status, TreatmentStatus::Discontinued) {
        let start = first_dose(snapshot, program)
            .or_else(|| program.record.prescriptions.first().map(|p| p.date))
            .unwrap_or(today);
        let irregular = program.record.menstrual.irregular_cycles;
        let due = next_pregnancy_test(st.pack, start, negatives.last().copied(), irregular);
        if due <= today {
            st.need(
                "pregnancy_test.due",
                format!("a pregnancy test due on {due}"),
                format!(
                    "a negative pregnancy test sensitive to {sens} mIU/mL or less (weekly for the first 4 weeks, then every {} days{})",
                    if irregular { rules.ongoing_tests.value.irregular_every_days } else { rules.ongoing_tests.value.regular_every_days },
                    if irregular { ", irregular cycles" } else { "" }
                ),
                (None, Some(today)),
                &[&rules.ongoing_tests.provenance, &rules.sensitivity.provenance],
            );
        }
    }
}

fn contraception(st: &mut Steps<'_>, snapshot: &Snapshot, program: &CheckedProgram, today: Date) {
    let rules = &st.pack.program;
    let c = &rules.contraception;
    let methods = &rules.contraception_methods;
    let before = i64::from(c.value.before_days);
    let first = first_dose(snapshot, program);
    let covering = program
        .record
        .contraception
        .iter()
        .find(|x| x.start <= today && x.end.is_none_or(|e| e >= today));
    let needed = format!(
        "{} methods at the same time (at least one highly effective: {}){}, from at least {before} days before the first dose",
        c.value.methods_required,
        methods.value.highly_effective.join(", "),
        if c.value.abstinence_accepted {
            ", or continuous abstinence"
        } else {
            ""
        }
    );
    let Some(x) = covering else {
        let latest = match snapshot.treatment.status {
            TreatmentStatus::NotStarted => first.map(|d| add(d, -before)),
            _ => Some(today),
        };
        st.need(
            "contraception",
            "contraception on record".into(),
            needed,
            (None, latest),
            &[&c.provenance, &methods.provenance],
        );
        return;
    };
    let enough_methods = x.methods.len() >= usize::from(c.value.methods_required)
        && x.methods
            .iter()
            .any(|m| methods.value.highly_effective.contains(m));
    if !((x.abstinence && c.value.abstinence_accepted) || enough_methods) {
        st.need(
            "contraception.methods",
            format!(
                "the contraception of {} does not meet the requirement ({})",
                x.start,
                x.methods.join(", ")
            ),
            needed,
            (None, None),
            &[&c.provenance, &methods.provenance],
        );
    }
    if snapshot.treatment.status == TreatmentStatus::NotStarted {
        let ready = add(x.start, before);
        if first.is_none_or(|f| f < ready) {
            st.need(
                "contraception.lead_in",
                format!("contraception since {} only", x.start),
                format!("the first dose may be given no earlier than {ready} ({before} days of contraception)"),
                (Some(ready), None),
                &[&c.provenance],
            );
        }
    }
}

fn survey(
    st: &mut Steps<'_>,
    program: &CheckedProgram,
    today: Date,
    first: bool,
    category: RiskCategory,
) {
    let (rule, alternatives) = st.pack.program.survey(category);
    if !alternatives.is_empty() {
        st.notes.push(format!(
            "Survey cadence for {category}: every {} days ({}, preferred); alternative: {}.",
            rule.value.every_days,
            rule.provenance.document,
            alternatives
                .iter()
                .map(|a| format!(
                    "every {} days ({})",
                    a.value.every_days, a.provenance.document
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if first && !rule.value.before_first {
        return;
    }
    let every = i64::from(rule.value.every_days);
    let last = program.record.surveys.last().map(|s| s.date);
    if last.is_none_or(|s| add(s, every) <= today) {
        st.need(
            "survey",
            match last {
                Some(s) => format!(
                    "the patient survey (the last, on {s}, lapsed on {})",
                    add(s, every)
                ),
                None => "the patient survey".into(),
            },
            format!(
                "the patient completes the survey for the category {category} (every {every} days)"
            ),
            (None, Some(today)),
            &[&rule.provenance],
        );
    }
}

fn dispense(st: &mut Steps<'_>, program: &CheckedProgram, today: Date, category: RiskCategory) {
    let rules = &st.pack.program;
    let r = &program.record;
    let Some(p) = r.prescriptions.last() else {
        st.need(
            "prescription",
            "a prescription".into(),
            "the prescriber writes a prescription".into(),
            (None, None),
            &[&rules.prescription.provenance],
        );
        return;
    };
    let supply = &rules.prescription;
    if p.days_supply > supply.value.max_supply_days || p.refills > supply.value.max_refills {
        st.need(
            "prescription.supply",
            format!(
                "the prescription of {} is for {} days with {} refills",
                p.date, p.days_supply, p.refills
            ),
            format!(
                "a prescription of at most {} days with {} refills",
                supply.value.max_supply_days, supply.value.max_refills
            ),
            (None, None),
            &[&supply.provenance],
        );
    }
    let (tel, _) = rules.telephone();
    if p.telephone && !tel.value.allowed {
        st.need(
            "prescription.telephone",
            format!("the prescription of {} was telephoned", p.date),
            "a written or electronic prescription".into(),
            (None, None),
            &[&tel.provenance],
        );
    }
    match (
        r.authorizations.last(),
        authorization_window(program, st.pack, today),
    ) {
        (None, _) => st.need(
            "authorization",
            "an authorization number".into(),
            "the prescriber completes the prescriber survey and obtains an authorization number"
                .into(),
            (None, None),
            &[&rules.authorization.provenance],
        ),
        (Some(a), Some(w)) if w.last_valid_day < today || a.date < p.date => st.need(
            "authorization.lapsed",
            format!("the authorization of {} lapsed on {}", a.date, w.lapses_on),
            if category.can_get_pregnant() {
                "a new negative pregnancy test and a new authorization number".into()
            } else {
                "a new authorization number".into()
            },
            (None, None),
            &[&rules.authorization.provenance],
        ),
        (Some(_), None) => st.need(
            "authorization.no_test",
            "no counted negative pregnancy test to date the authorization from".into(),
            "a negative pregnancy test and a new authorization number".into(),
            (None, None),
            &[&rules.authorization.provenance],
        ),
        _ => {}
    }
    let conf = &rules.confirmation;
    let days = i64::from(conf.value.valid_hours.div_ceil(24).max(1));
    let valid = r.confirmations.last().filter(|c| {
        add(c.date, days) > today && r.authorizations.last().is_some_and(|a| c.date >= a.date)
    });
    if valid.is_none() {
        st.need(
            "confirmation",
            "a dispense confirmation number".into(),
            format!(
                "the pharmacy obtains a confirmation number before dispensing; it is valid {} hours (dispense the same day)",
                conf.value.valid_hours
            ),
            (None, Some(today)),
            &[&conf.provenance],
        );
    }
    if let Some(d) = r.dispenses.last() {
        let nf = &rules.next_fill;
        let runs_out = add(d.date, i64::from(d.days_supply));
        let remaining = (runs_out - today).get_days();
        if i64::from(remaining) > i64::from(nf.value.max_days_remaining) {
            let earliest = add(runs_out, -i64::from(nf.value.max_days_remaining));
            st.need(
                "next_fill.too_early",
                format!(
                    "{remaining} days of the supply dispensed on {} remain",
                    d.date
                ),
                format!(
                    "dispense again from {earliest} ({} days or fewer left)",
                    nf.value.max_days_remaining
                ),
                (Some(earliest), None),
                &[&nf.provenance],
            );
        }
    }
}

/// Before the first prescription: the last day for the second test (and the prescription), if one is missing.
pub fn second_test_deadline(
    snapshot: &Snapshot,
    program: &CheckedProgram,
    pack: &RulePack,
    today: Date,
) -> Option<Date> {
    eligibility_checked(snapshot, program, pack, today, Some(Stage::Prescription))
        .missing
        .iter()
        .find(|m| m.code == "pregnancy_test.second")
        .and_then(|m| m.latest)
}

/// The last negative pregnancy test that counts (sensitivity and setting accepted by the pack).
pub fn last_counted_negative(program: &CheckedProgram, pack: &RulePack) -> Option<Date> {
    counted_negatives(program, pack).last().copied()
}
