//! `assess`: for this patient, today, what dose, and is anything unsafe?
//!
//! The one question every door asks. It validates the snapshot, works out kidney function and the renal
//! starting dose (label.md §2), walks the count rules and the ladder (§3), applies the toxicity rules (§3f),
//! grades the latest labs (§10) and returns one action with every finding and its sources. When data is
//! missing, stale or contradictory it blocks and says what is needed: it never silently allows a dose.

use crate::assessment::{Action, Assessment, CrClMethod, KidneySummary, LabSummary, PackRef};
use crate::ctcae;
use crate::dose::Schedule;
use crate::error::InputError;
use crate::finding::{Finding, Severity};
use crate::ladder::{Step, next_lower};
use crate::modification::{
    CountHistory, Governing, RuleInputs, governing_rule, interrupt_reason, recovered,
    resume_condition, watch,
};
use crate::pack::{CountRule, FirstEpisodeResume, Regimen, RulePack};
use crate::provenance::Provenance;
use crate::renal::{self, CgInputs, CrCl, KidneyFunction, RenalStart};
use crate::snapshot::{Checked, InterruptionCause, Snapshot, TreatmentStatus};
use crate::toxicity;
use crate::units::{Analyte, Quantity};
use jiff::civil::Date;

/// Assess a snapshot against a rule pack on a given day.
pub fn assess(snapshot: &Snapshot, pack: &RulePack, today: Date) -> Result<Assessment, InputError> {
    let checked = snapshot.validate(pack, today)?;
    let mut a = Assessor {
        s: snapshot,
        pack,
        today,
        checked: &checked,
        regimen: pack.regimen(snapshot.regimen),
        findings: Vec::new(),
        actions: Vec::new(),
    };
    let (kidney, renal_start) = a.kidney();
    a.population();
    a.dexamethasone();
    a.toxicity();
    match snapshot.treatment.status {
        TreatmentStatus::NotStarted => a.not_started(renal_start.as_ref()),
        TreatmentStatus::Active => a.active(renal_start.as_ref()),
        TreatmentStatus::Interrupted => a.interrupted(),
        TreatmentStatus::Discontinued => a.act(Action::Discontinue {
            why: "Treatment is recorded as discontinued.".into(),
        }),
    }
    let safety = crate::safety::review(snapshot, &checked, pack, today)?;
    a.findings.extend(safety.findings);
    a.actions.extend(safety.actions);
    let mut assessment = a.finish(kidney);
    assessment.safety = Some(safety.report);
    Ok(assessment)
}

struct Assessor<'a> {
    s: &'a Snapshot,
    pack: &'a RulePack,
    today: Date,
    checked: &'a Checked,
    regimen: &'a Regimen,
    findings: Vec<Finding>,
    actions: Vec<Action>,
}

impl<'a> Assessor<'a> {
    fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    fn find(&mut self, f: Finding) {
        self.findings.push(f);
    }

    fn block(&mut self, code: &str, why: String, sources: &[&Provenance]) {
        self.find(
            Finding::new(code, Severity::Critical, why.clone())
                .blocking()
                .sources(sources.iter().copied()),
        );
        self.act(Action::Blocked { why });
    }

    fn history(&self) -> CountHistory<'a> {
        CountHistory {
            labs: &self.checked.labs,
            transfusions: &self.s.platelet_transfusions,
            today: self.today,
        }
    }

    /// The dexamethasone schedule is the prescriber's choice among the documented ones (label.md §1).
    fn dexamethasone(&mut self) {
        let options = &self.regimen.dexamethasone;
        if options.is_empty() {
            return;
        }
        match &self.s.dexamethasone {
            Some(id) => {
                if let Some(d) = self.pack.dex_schedule(id) {
                    let mut f = Finding::new(
                        "dexamethasone.schedule",
                        Severity::Info,
                        format!("Dexamethasone: {}.", d.description),
                    )
                    .source(&d.provenance);
                    let r = &self.pack.dex_reduction;
                    if self.checked.age_years > r.older_than_years
                        && !r.reduced_schedules.contains(id)
                    {
                        f.message.push_str(&format!(
                            " The dexamethasone starting dose may be reduced for patients older than {}.",
                            r.older_than_years
                        ));
                        f = f.source(&r.provenance);
                    }
                    self.find(f);
                }
            }
            None => {
                let choices: Vec<String> = options
                    .iter()
                    .filter_map(|id| self.pack.dex_schedule(id))
                    .map(|d| format!("{} ({})", d.id, d.description))
                    .collect();
                self.find(Finding::new(
                    "dexamethasone.not_chosen",
                    Severity::Info,
                    format!(
                        "No dexamethasone schedule recorded; the documented ones are: {}.",
                        choices.join("; ")
                    ),
                ));
            }
        }
    }

    fn population(&mut self) {
        let p = &self.pack.population;
        if self.checked.age_years < p.min_age_years {
            let why = format!(
                "Age {} years: lenalidomide is indicated for adults (at least {} years) only.",
                self.checked.age_years, p.min_age_years
            );
            self.find(
                Finding::new("population.not_adult", Severity::Critical, why.clone())
                    .blocking()
                    .source(&p.provenance),
            );
            self.act(Action::Review { why });
        }
    }

    /// Kidney function and the renal starting dose, when they can be known.
    fn kidney(&mut self) -> (KidneySummary, Option<RenalStart>) {
        let pack = self.pack;
        let k = &self.s.kidney;
        let mut summary = KidneySummary {
            crcl_ml_min: None,
            method: None,
            weight_basis: None,
            weight_used_kg: None,
            dialysis: k.dialysis,
            band: None,
            renal_starting_dose: None,
            not_studied: false,
        };
        let cg = &pack.renal.cockcroft_gault;
        let crcl = if let Some(m) = k.measured_crcl_ml_min {
            summary.method = Some(CrClMethod::Measured);
            CrCl::new(m).ok()
        } else {
            let creat = self.history().latest(Analyte::Creatinine);
            match (creat, self.s.patient.weight_kg) {
                (Some(c), Some(w)) => {
                    let age_days = (self.today - c.date).get_days();
                    if i64::from(age_days) > pack.policy.creatinine_max_age_days {
                        self.find(
                            Finding::new(
                                "kidney.creatinine_stale",
                                Severity::Warning,
                                format!(
                                    "The latest serum creatinine ({}) is {age_days} days old; a value from the last {} days is needed to compute CrCl.",
                                    c.date, pack.policy.creatinine_max_age_days
                                ),
                            )
                            .source(&pack.policy.creatinine_max_age_provenance),
                        );
                        None
                    } else {
                        let inputs = CgInputs {
                            age_years: self.checked.age_years,
                            sex: self.s.patient.sex,
                            weight_kg: w,
                            height_cm: self.s.patient.height_cm,
                            creatinine_mg_dl: c.quantity.value(),
                            basis: k.weight_basis,
                        };
                        match renal::cockcroft_gault(cg, inputs) {
                            Ok((crcl, used)) => {
                                summary.method = Some(CrClMethod::CockcroftGault);
                                summary.weight_basis = Some(k.weight_basis);
                                summary.weight_used_kg = Some((used * 10.0).round() / 10.0);
                                Some(crcl)
                            }
                            Err(e) => {
                                self.find(
                                    Finding::new(
                                        "kidney.crcl_unknown",
                                        Severity::Warning,
                                        e.to_string(),
                                    )
                                    .source(&cg.provenance),
                                );
                                None
                            }
                        }
                    }
                }
                (None, _) => None,
                (Some(_), None) => {
                    self.find(Finding::new(
                        "kidney.weight_missing",
                        Severity::Warning,
                        "Cockcroft-Gault needs the body weight (patient.weight_kg).",
                    ));
                    None
                }
            }
        };
        summary.crcl_ml_min = crcl.map(|c| (c.ml_min() * 10.0).round() / 10.0);
        if crcl.is_none() && !k.dialysis {
            return (summary, None);
        }
        let kf = KidneyFunction {
            crcl,
            dialysis: k.dialysis,
        };
        let start = renal::starting_dose(pack, self.s.regimen, kf);
        summary.band = start.band;
        summary.renal_starting_dose = Some(start.schedule);
        summary.not_studied = start.not_studied;
        if let Some(c) = crcl
            && summary.method == Some(CrClMethod::CockcroftGault)
        {
            self.find(
                Finding::new(
                    "kidney.crcl",
                    Severity::Info,
                    format!(
                        "Creatinine clearance {:.0} mL/min (Cockcroft-Gault, {} body weight {:.1} kg).",
                        c.ml_min(),
                        match k.weight_basis {
                            renal::WeightBasis::Actual => "actual",
                            renal::WeightBasis::Ideal => "ideal",
                            renal::WeightBasis::Adjusted => "adjusted",
                        },
                        summary.weight_used_kg.unwrap_or_default()
                    ),
                )
                .source(&cg.provenance),
            );
        }
        (summary, Some(start))
    }

    fn toxicity(&mut self) {
        let t = toxicity::evaluate(self.pack, self.s);
        for f in t.discontinue {
            self.act(Action::Discontinue {
                why: f.message.clone(),
            });
            self.find(f);
        }
        let on = self.s.treatment.status != TreatmentStatus::Discontinued;
        for (f, until) in t.hold {
            if on {
                let until =
                    until.unwrap_or_else(|| "the prescriber has evaluated the patient".into());
                self.act(if self.s.treatment.status == TreatmentStatus::NotStarted {
                    Action::Defer { until }
                } else {
                    Action::Interrupt { until, then: None }
                });
            }
            self.find(f);
        }
        for f in t.other_grade_3_4 {
            let then = self.current().and_then(|c| self.lower_or_none(&c));
            let (rule, _) = self.pack.other_grade_3_4();
            let until = format!(
                "the toxicity is Grade {} or less",
                rule.resume_when_grade_at_most
            );
            match self.s.treatment.status {
                TreatmentStatus::Active => self.act(Action::Interrupt { until, then }),
                TreatmentStatus::Interrupted => self.act(Action::StayInterrupted { until, then }),
                TreatmentStatus::NotStarted => self.act(Action::Defer { until }),
                TreatmentStatus::Discontinued => {}
            }
            self.find(f);
        }
        self.findings.extend(t.advisories);
    }

    fn current(&self) -> Option<Schedule> {
        self.s.treatment.current
    }

    fn starting(&self) -> Option<Schedule> {
        self.s.treatment.starting.or(self.s.treatment.current)
    }

    fn lower_or_none(&self, current: &Schedule) -> Option<Schedule> {
        let (ladder, _) = self.pack.ladder(self.s.regimen);
        match next_lower(ladder, current, self.regimen.start.days_on) {
            Step::Lower(s) => Some(s),
            _ => None,
        }
    }

    /// Are the latest ANC and platelet counts present and recent enough? Blocks and says why if not.
    fn counts_fresh(&mut self, max_days: i64, purpose: &str) -> bool {
        let mut ok = true;
        for analyte in [Analyte::Anc, Analyte::Platelets] {
            match self.history().latest(analyte) {
                None => {
                    self.block(
                        "labs.missing",
                        format!("No {} on record: {purpose} needs a blood count from the last {max_days} days.", analyte.label()),
                        &[&self.pack.policy.cbc_max_age_provenance],
                    );
                    ok = false;
                }
                Some(l) => {
                    let age = i64::from((self.today - l.date).get_days());
                    if age > max_days {
                        self.block(
                            "labs.stale",
                            format!(
                                "The latest {} ({}) is {age} days old: {purpose} needs a blood count from the last {max_days} days.",
                                analyte.label(),
                                l.date
                            ),
                            &[&self.pack.policy.cbc_max_age_provenance],
                        );
                        ok = false;
                    }
                }
            }
        }
        ok
    }

    fn days_on_starting_dose(&self, on: Date, dose: &Schedule) -> Option<i64> {
        let start = self.s.treatment.start_date?;
        let starting = self.starting().unwrap_or(self.regimen.start);
        (dose.dose_mg == starting.dose_mg).then(|| i64::from((on - start).get_days()))
    }

    fn baseline(&self, analyte: Analyte) -> Option<f64> {
        match analyte {
            Analyte::Anc => self.checked.baseline_anc,
            _ => self.checked.baseline_platelets,
        }
    }

    fn rule_for(&mut self, analyte: Analyte, inputs: RuleInputs) -> Option<&'a CountRule> {
        match governing_rule(self.pack, self.regimen, analyte, inputs) {
            Governing::Rule(r) => Some(r),
            Governing::Missing(field, what) => {
                self.block(
                    "labs.rule_needs_data",
                    format!(
                        "The {} rule for this regimen needs {field} ({what}).",
                        analyte.label()
                    ),
                    &[],
                );
                None
            }
            Governing::NoRule => {
                self.block(
                    "pack.no_rule",
                    format!(
                        "The rule pack has no {} rule for {} at {}: the engine will not guess.",
                        analyte.label(),
                        self.regimen.id,
                        inputs.dose
                    ),
                    &[],
                );
                None
            }
        }
    }

    fn not_started(&mut self, renal: Option<&RenalStart>) {
        let Some(renal) = renal else {
            self.block(
                "kidney.unknown",
                "The starting dose depends on kidney function: give a serum creatinine from the last 30 days with age, sex and weight, a measured CrCl, or dialysis status.".into(),
                &[&self.pack.renal.bands_provenance],
            );
            return;
        };
        let schedule = renal.schedule;
        if renal.not_studied {
            self.act(Action::Review {
                why: "Kidney function in a range the label says was not studied.".into(),
            });
        }
        self.renal_findings(renal);
        if !self.counts_fresh(
            self.pack.policy.cbc_max_age_start_or_resume_days,
            "starting treatment",
        ) {
            return;
        }
        let h = self.history();
        if let (Some(min_anc), Some(min_plt)) = (
            self.regimen.start_requires_anc_at_least,
            self.regimen.start_requires_platelets_at_least,
        ) {
            let anc = h
                .latest(Analyte::Anc)
                .map(|l| l.quantity.value())
                .unwrap_or(0.0);
            let plt = h
                .latest(Analyte::Platelets)
                .map(|l| l.quantity.value())
                .unwrap_or(0.0);
            let until = format!(
                "hematologic recovery: ANC at least {} and/or platelets at least {}",
                crate::units::format_count(min_anc),
                crate::units::format_count(min_plt)
            );
            if anc < min_anc && plt < min_plt {
                self.find(
                    Finding::new(
                        "maintenance.not_recovered",
                        Severity::Critical,
                        format!("Do not start maintenance before {until}."),
                    )
                    .blocking()
                    .source(&self.regimen.provenance),
                );
                self.act(Action::Defer { until });
                return;
            } else if anc < min_anc || plt < min_plt {
                self.find(
                    Finding::new(
                        "maintenance.partial_recovery",
                        Severity::Warning,
                        format!("Only one of the recovery thresholds is met; the label asks for {until}."),
                    )
                    .source(&self.regimen.provenance),
                );
            }
        }
        for analyte in [Analyte::Anc, Analyte::Platelets] {
            let baseline = self
                .baseline(analyte)
                .or_else(|| h.latest(analyte).map(|l| l.quantity.value()));
            let inputs = RuleInputs {
                dose: schedule,
                days_on_starting_dose: Some(0),
                baseline,
            };
            let Some(rule) = self.rule_for(analyte, inputs) else {
                continue;
            };
            if let Some(reason) = interrupt_reason(rule, &h, baseline) {
                let until = resume_condition(rule);
                self.find(
                    Finding::new(
                        format!("count.{}.defer", analyte.as_str()),
                        Severity::Critical,
                        format!("{reason}: do not start until {until}."),
                    )
                    .blocking()
                    .source(&rule.provenance),
                );
                self.act(Action::Defer { until });
            }
        }
        let source = renal.provenance.clone();
        self.find(
            Finding::new(
                "dose.start",
                Severity::Info,
                format!("Starting dose: {schedule}."),
            )
            .source(&self.regimen.provenance)
            .source(&source),
        );
        self.act(Action::Start { schedule });
    }

    fn renal_findings(&mut self, renal: &RenalStart) {
        let found = renal::findings(self.pack, self.regimen, renal);
        self.findings.extend(found);
    }

    fn active(&mut self, renal: Option<&RenalStart>) {
        let Some(current) = self.current() else {
            return;
        };
        if !self.dose_within_label(&current) {
            return;
        }
        if let Some(r) = renal
            && current.mg_per_cycle() > r.schedule.mg_per_cycle() + 1e-9
        {
            self.find(
                Finding::new(
                    "renal.above_starting_dose",
                    Severity::Warning,
                    format!(
                        "The current dose ({current}) is above the renal starting dose for today's kidney function ({}). The label sets the starting dose by CrCl and later changes by tolerance: review.",
                        r.schedule
                    ),
                )
                .source(&r.provenance),
            );
        }
        if let (Some(max), Some(cycle)) = (self.regimen.max_cycles, self.s.treatment.cycle)
            && cycle > max
        {
            let why =
                format!("Cycle {cycle}: the label gives up to {max} cycles for this regimen.");
            self.find(
                Finding::new("regimen.max_cycles", Severity::Critical, why.clone())
                    .blocking()
                    .source(&self.regimen.provenance),
            );
            self.act(Action::Review { why });
        }
        if !self.counts_fresh(
            self.pack.policy.cbc_max_age_on_treatment_days,
            "continuing treatment",
        ) {
            return;
        }
        let h = self.history();
        let mut interrupted = false;
        for analyte in [Analyte::Anc, Analyte::Platelets] {
            let inputs = RuleInputs {
                dose: current,
                days_on_starting_dose: self.days_on_starting_dose(self.today, &current),
                baseline: self.baseline(analyte),
            };
            let Some(rule) = self.rule_for(analyte, inputs) else {
                continue;
            };
            if let Some(reason) = interrupt_reason(rule, &h, inputs.baseline) {
                let (then, note) = self.planned_resume(rule, &current, analyte);
                let until = resume_condition(rule);
                let (ladder, _) = self.pack.ladder(self.s.regimen);
                self.find(
                    Finding::new(
                        format!("count.{}.interrupt", analyte.as_str()),
                        Severity::Critical,
                        format!("{reason}: interrupt lenalidomide and follow the CBC weekly; resume when {until}, {note}."),
                    )
                    .blocking()
                    .source(&rule.provenance)
                    .source(&ladder.provenance),
                );
                self.act(Action::Interrupt { until, then });
                interrupted = true;
            } else if let Some(w) = watch(rule, &h) {
                self.find(
                    Finding::new(
                        format!("count.{}.watch", analyte.as_str()),
                        Severity::Warning,
                        w,
                    )
                    .source(&rule.provenance),
                );
            }
        }
        if !interrupted {
            if let (Some(after), Some(to), Some(cycle)) = (
                self.regimen.may_increase_after_cycles,
                self.regimen.may_increase_to,
                self.s.treatment.cycle,
            ) && cycle > after
                && current.dose_mg < to
            {
                self.find(
                    Finding::new(
                        "regimen.may_increase",
                        Severity::Info,
                        format!("After {after} cycles the dose may be increased to {to} once daily if tolerated."),
                    )
                    .source(&self.regimen.provenance),
                );
            }
            self.find(
                Finding::new(
                    "dose.continue",
                    Severity::Info,
                    format!("Continue {current}."),
                )
                .source(&self.regimen.provenance),
            );
            self.act(Action::Continue { schedule: current });
        }
    }

    /// Is the current dose within the label for this regimen? A dose above it blocks for review.
    fn dose_within_label(&mut self, current: &Schedule) -> bool {
        let r = self.regimen;
        let increase_ok = match (
            r.may_increase_to,
            r.may_increase_after_cycles,
            self.s.treatment.cycle,
        ) {
            (Some(to), Some(after), Some(cycle)) => cycle > after && current.dose_mg <= to,
            _ => false,
        };
        if current.dose_mg > r.start.dose_mg && !increase_ok {
            let why = format!(
                "The current dose {} is above the label dose for {} ({}).",
                current.dose_mg, r.name, r.start.dose_mg
            );
            self.find(
                Finding::new("dose.above_label", Severity::Critical, why.clone())
                    .blocking()
                    .source(&r.provenance),
            );
            self.act(Action::Review { why });
            return false;
        }
        let (ladder, _) = self.pack.ladder(self.s.regimen);
        if current.dose_mg < ladder.floor.mg
            && !renal::is_renal_starting_dose(self.pack, r.id, current)
        {
            let why = format!(
                "The current dose {} is below the label's floor for {} ({}) and is not one of its renal starting doses.",
                current.dose_mg, r.name, ladder.floor.mg
            );
            self.find(
                Finding::new("dose.below_floor", Severity::Critical, why.clone())
                    .blocking()
                    .source(&ladder.floor_provenance),
            );
            self.act(Action::Review { why });
            return false;
        }
        if current.cycle_days != r.start.cycle_days {
            let why = format!(
                "The current schedule uses {}-day cycles; the regimen uses {}-day cycles.",
                current.cycle_days, r.start.cycle_days
            );
            self.find(
                Finding::new("dose.cycle_mismatch", Severity::Critical, why.clone())
                    .blocking()
                    .source(&r.provenance),
            );
            self.act(Action::Review { why });
            return false;
        }
        true
    }

    /// The dose to resume at after an interruption for this rule, and a phrase saying why.
    fn planned_resume(
        &mut self,
        rule: &CountRule,
        current: &Schedule,
        analyte: Analyte,
    ) -> (Option<Schedule>, String) {
        let cause = match analyte {
            Analyte::Anc => InterruptionCause::Neutropenia,
            _ => InterruptionCause::Thrombocytopenia,
        };
        let previous = self
            .s
            .treatment
            .interruptions
            .iter()
            .filter(|i| i.cause == cause && i.end.is_some())
            .count();
        if rule.first_episode_resume == Some(FirstEpisodeResume::StartingDoseIfOnlyToxicity)
            && previous == 0
            && !toxicity::other_toxicity_active(self.s)
            && !self.other_count_low(analyte, current)
        {
            let start = self.starting().unwrap_or(*current);
            return (
                Some(start),
                format!(
                    "at the starting dose ({start}) if neutropenia is the only toxicity (first episode)"
                ),
            );
        }
        let (ladder, _) = self.pack.ladder(self.s.regimen);
        let episode = if previous == 0 {
            "first episode"
        } else {
            "a later episode"
        };
        match next_lower(ladder, current, self.regimen.start.days_on) {
            Step::Lower(s) => (Some(s), format!("at the next lower dose, {s} ({episode})")),
            Step::AtFloor => {
                self.find(
                    Finding::new(
                        "ladder.floor",
                        Severity::Critical,
                        format!(
                            "{} is the lowest dose the label allows (floor {}): a further event is a prescriber decision or discontinuation.",
                            current.dose_mg, ladder.floor.mg
                        ),
                    )
                    .blocking()
                    .source(&ladder.floor_provenance),
                );
                (
                    None,
                    "but the floor is reached: the prescriber decides".into(),
                )
            }
            Step::OffLadder => {
                self.find(
                    Finding::new(
                        "ladder.off_ladder",
                        Severity::Critical,
                        format!("The current schedule ({current}) is not a level of the {} ladder, so 'next lower dose' is not defined: the prescriber decides.", ladder.id),
                    )
                    .blocking()
                    .source(&ladder.provenance),
                );
                (
                    None,
                    "at a dose the prescriber sets (off the ladder)".into(),
                )
            }
        }
    }

    /// Is the other count of the pair in an interrupting state (so neutropenia is not the only toxicity)?
    fn other_count_low(&self, analyte: Analyte, current: &Schedule) -> bool {
        let other = if analyte == Analyte::Anc {
            Analyte::Platelets
        } else {
            Analyte::Anc
        };
        let inputs = RuleInputs {
            dose: *current,
            days_on_starting_dose: self.days_on_starting_dose(self.today, current),
            baseline: self.baseline(other),
        };
        match governing_rule(self.pack, self.regimen, other, inputs) {
            Governing::Rule(r) => interrupt_reason(r, &self.history(), inputs.baseline).is_some(),
            _ => false,
        }
    }

    fn interrupted(&mut self) {
        let (Some(current), Some(open)) = (self.current(), self.s.open_interruption().cloned())
        else {
            return;
        };
        if !self.dose_within_label(&current) {
            return;
        }
        let days = (self.today - open.start).get_days();
        self.find(Finding::new(
            "interruption.open",
            Severity::Info,
            format!(
                "Interrupted since {} ({days} days) for {:?}.",
                open.start, open.cause
            )
            .to_lowercase(),
        ));
        if !self.counts_fresh(
            self.pack.policy.cbc_max_age_start_or_resume_days,
            "deciding on resumption (CBC weekly during an interruption)",
        ) {
            return;
        }
        let h = self.history();
        let analyte = match open.cause {
            InterruptionCause::Neutropenia => Some(Analyte::Anc),
            InterruptionCause::Thrombocytopenia => Some(Analyte::Platelets),
            _ => None,
        };
        // The other count may have fallen meanwhile: it keeps the interruption going on its own.
        let mut blocked_by_other = false;
        for other in [Analyte::Anc, Analyte::Platelets] {
            if Some(other) == analyte {
                continue;
            }
            let inputs = RuleInputs {
                dose: current,
                days_on_starting_dose: self.days_on_starting_dose(open.start, &current),
                baseline: self.baseline(other),
            };
            let Some(rule) = self.rule_for(other, inputs) else {
                blocked_by_other = true;
                continue;
            };
            if let Some(reason) = interrupt_reason(rule, &h, inputs.baseline) {
                let until = resume_condition(rule);
                self.find(
                    Finding::new(
                        format!("count.{}.interrupt", other.as_str()),
                        Severity::Critical,
                        format!("{reason}: stay interrupted until {until}."),
                    )
                    .blocking()
                    .source(&rule.provenance),
                );
                self.act(Action::StayInterrupted { until, then: None });
                blocked_by_other = true;
            }
        }
        match (open.cause, analyte) {
            (_, Some(analyte)) => {
                let inputs = RuleInputs {
                    dose: current,
                    days_on_starting_dose: self.days_on_starting_dose(open.start, &current),
                    baseline: self.baseline(analyte),
                };
                let Some(rule) = self.rule_for(analyte, inputs) else { return };
                let (then, note) = self.planned_resume(rule, &current, analyte);
                let until = resume_condition(rule);
                if recovered(rule, &h) == Some(true) {
                    match then {
                        Some(s) if !blocked_by_other => {
                            self.find(
                                Finding::new(
                                    format!("count.{}.resume", analyte.as_str()),
                                    Severity::Warning,
                                    format!("{until} is reached: resume {note}."),
                                )
                                .source(&rule.provenance)
                                .source(&self.pack.ladder(self.s.regimen).0.provenance),
                            );
                            self.act(Action::Resume { schedule: s });
                        }
                        Some(_) => {}
                        None => self.act(Action::Review {
                            why: format!("{until} is reached, but the label gives no lower dose: the prescriber decides."),
                        }),
                    }
                } else {
                    self.find(
                        Finding::new(
                            format!("count.{}.not_recovered", analyte.as_str()),
                            Severity::Critical,
                            format!("Not yet recovered: stay interrupted until {until}; then resume {note}. Follow the CBC weekly."),
                        )
                        .blocking()
                        .source(&rule.provenance),
                    );
                    self.act(Action::StayInterrupted { until, then });
                }
            }
            (InterruptionCause::OtherToxicity, None) => {
                let (rule, _) = self.pack.other_grade_3_4();
                let rule = rule.clone();
                if toxicity::other_toxicity_resolved(self.pack, self.s) {
                    match self.lower_or_none(&current) {
                        Some(s) if !blocked_by_other => {
                            let discretion = if rule.physician_discretion { ", at the physician's discretion" } else { "" };
                            self.find(
                                Finding::new(
                                    "toxicity.resume",
                                    Severity::Warning,
                                    format!("The toxicity is Grade {} or less: restart{discretion} at the next lower dose, {s}.", rule.resume_when_grade_at_most),
                                )
                                .source(&rule.provenance),
                            );
                            self.act(Action::Resume { schedule: s });
                        }
                        Some(_) => {}
                        None => self.act(Action::Review {
                            why: "The toxicity has resolved, but there is no lower dose on the ladder: the prescriber decides.".into(),
                        }),
                    }
                } else {
                    self.act(Action::StayInterrupted {
                        until: format!("the toxicity is Grade {} or less", rule.resume_when_grade_at_most),
                        then: self.lower_or_none(&current),
                    });
                }
            }
            (_, None) => self.act(Action::Review {
                why: "Interrupted for a reason outside the label's tables: resuming is a prescriber decision.".into(),
            }),
        }
    }

    fn lab_summaries(&self) -> Vec<LabSummary> {
        let h = self.history();
        let mut out = Vec::new();
        for analyte in [
            Analyte::Anc,
            Analyte::Platelets,
            Analyte::Wbc,
            Analyte::Hemoglobin,
            Analyte::Creatinine,
        ] {
            let Some(l) = h.latest(analyte) else { continue };
            let (unit, ctcae) = match l.quantity {
                Quantity::Count(v) => (
                    "/mcL".to_string(),
                    ctcae::grade_count(self.pack, analyte, v, l.lln),
                ),
                Quantity::Hemoglobin(_, u) => (
                    u.as_str().to_string(),
                    ctcae::grade_hemoglobin(self.pack, l.quantity, l.lln),
                ),
                Quantity::Creatinine(v) => (
                    "mg/dL".to_string(),
                    ctcae::grade_creatinine(self.pack, v, l.uln, self.checked.baseline_creatinine),
                ),
                Quantity::Temperature(_) => ("Cel".to_string(), None),
            };
            out.push(LabSummary {
                code: analyte,
                value: l.quantity.value(),
                unit,
                date: l.date,
                ctcae,
            });
        }
        out
    }

    fn finish(mut self, kidney: KidneySummary) -> Assessment {
        if let Some(dose) = self
            .actions
            .iter()
            .max_by_key(|a| a.rank())
            .and_then(Action::dose)
            && let Some(f) = crate::exposure::finding(
                dose,
                kidney.crcl_ml_min,
                kidney.dialysis,
                self.s.patient.weight_kg,
            )
        {
            self.findings.push(f);
        }
        let action = self
            .actions
            .iter()
            .max_by_key(|a| a.rank())
            .cloned()
            .unwrap_or(Action::Blocked {
                why: "No rule reached a decision.".into(),
            });
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.blocking.cmp(&a.blocking))
        });
        let mut unverified: Vec<String> = self
            .findings
            .iter()
            .flat_map(|f| f.sources.iter())
            .filter(|p| !p.is_verified())
            .map(|p| p.rule.clone())
            .collect();
        unverified.sort();
        unverified.dedup();
        let summary = summary(&action, &kidney);
        Assessment {
            pack: PackRef {
                id: self.pack.meta.id.clone(),
                version: self.pack.meta.version.clone(),
            },
            today: self.today,
            regimen: self.s.regimen,
            regimen_name: self.regimen.name.clone(),
            labs: self.lab_summaries(),
            action,
            summary,
            kidney,
            findings: self.findings,
            unverified_rules: unverified,
            safety: None,
        }
    }
}

fn summary(action: &Action, kidney: &KidneySummary) -> String {
    let renal = match (kidney.crcl_ml_min, kidney.dialysis) {
        (_, true) => " (on dialysis)".to_string(),
        (Some(c), false) => format!(" (CrCl {c:.0} mL/min)"),
        (None, false) => String::new(),
    };
    match action {
        Action::Start { schedule } => format!("Start {schedule}{renal}."),
        Action::Continue { schedule } => format!("Continue {schedule}{renal}."),
        Action::Defer { until } => format!("Do not start yet: wait for {until}."),
        Action::Interrupt { until, then } => match then {
            Some(t) => format!("Interrupt now; resume when {until}, at {t}."),
            None => format!("Interrupt now; resume when {until}."),
        },
        Action::StayInterrupted { until, then } => match then {
            Some(t) => format!("Stay interrupted until {until}; then {t}."),
            None => format!("Stay interrupted until {until}."),
        },
        Action::Resume { schedule } => format!("Resume at {schedule}{renal}."),
        Action::Review { why } => format!("Prescriber review needed: {why}"),
        Action::Discontinue { why } => format!("Discontinue: {why}"),
        Action::Blocked { why } => format!("Blocked: {why}"),
    }
}
