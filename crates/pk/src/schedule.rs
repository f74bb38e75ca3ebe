//! Dosing schedules and dialysis sessions. The shapes (21 of 28 days, every 48 h, 5 mg daily after dialysis on
//! dialysis days, interruptions) are the label's (reference/label.md §1–2); times are hours from the first dose day's
//! midnight so that "after dialysis" can be placed within a day.

use serde::Serialize;

use crate::error::PkError;

/// Largest accepted single dose, mg: AUC and Cmax are proportional from 5 to 400 mg (pk-model.md §4); beyond that the
/// linear model has no support.
pub const MAX_DOSE_MG: f64 = 400.0;
/// Latest accepted event time, h (five years).
pub const MAX_TIME_H: f64 = 5.0 * 365.0 * 24.0;
/// Most events accepted in one schedule.
pub const MAX_EVENTS: usize = 20_000;

/// One oral dose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dose {
    /// Time of intake, h.
    pub time_h: f64,
    /// Amount, mg.
    pub amount_mg: f64,
}

/// One haemodialysis session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DialysisSession {
    /// Start, h.
    pub start_h: f64,
    /// Duration, h.
    pub duration_h: f64,
}

impl DialysisSession {
    /// End of the session, h.
    pub fn end_h(&self) -> f64 {
        self.start_h + self.duration_h
    }
}

/// A validated schedule: at least one dose, times sorted, dialysis sessions not overlapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    doses: Vec<Dose>,
    dialysis: Vec<DialysisSession>,
}

fn check_dose_amount(mg: f64) -> Result<f64, PkError> {
    if mg.is_finite() && mg > 0.0 && mg <= MAX_DOSE_MG {
        Ok(mg)
    } else {
        Err(PkError::invalid(
            "dose_mg",
            mg,
            format!("a dose above 0 and at most {MAX_DOSE_MG} mg"),
        ))
    }
}

fn check_count(field: &'static str, n: u32, max: u32) -> Result<u32, PkError> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(PkError::invalid(
            field,
            n,
            format!("a whole number from 1 to {max}"),
        ))
    }
}

impl Schedule {
    /// Builds a schedule from explicit doses and dialysis sessions.
    pub fn new(mut doses: Vec<Dose>, mut dialysis: Vec<DialysisSession>) -> Result<Self, PkError> {
        if doses.is_empty() {
            return Err(PkError::invalid(
                "schedule.doses",
                "[]",
                "at least one dose",
            ));
        }
        if doses.len() + dialysis.len() > MAX_EVENTS {
            return Err(PkError::invalid(
                "schedule",
                format!("{} events", doses.len() + dialysis.len()),
                format!("at most {MAX_EVENTS} doses and dialysis sessions"),
            ));
        }
        for d in &doses {
            if !(d.time_h.is_finite() && (0.0..=MAX_TIME_H).contains(&d.time_h)) {
                return Err(PkError::invalid(
                    "dose.time_h",
                    d.time_h,
                    format!("a time from 0 to {MAX_TIME_H} h"),
                ));
            }
            check_dose_amount(d.amount_mg)?;
        }
        for s in &dialysis {
            if !(s.start_h.is_finite() && (0.0..=MAX_TIME_H).contains(&s.start_h)) {
                return Err(PkError::invalid(
                    "dialysis.start_h",
                    s.start_h,
                    format!("a time from 0 to {MAX_TIME_H} h"),
                ));
            }
            if !(s.duration_h.is_finite() && s.duration_h > 0.0 && s.duration_h <= 24.0) {
                return Err(PkError::invalid(
                    "dialysis.duration_h",
                    s.duration_h,
                    "a duration above 0 and at most 24 h",
                ));
            }
        }
        doses.sort_by(|a, b| a.time_h.total_cmp(&b.time_h));
        dialysis.sort_by(|a, b| a.start_h.total_cmp(&b.start_h));
        for w in dialysis.windows(2) {
            if w[1].start_h < w[0].end_h() {
                return Err(PkError::invalid(
                    "dialysis.start_h",
                    w[1].start_h,
                    format!(
                        "sessions that do not overlap (previous session ends at {} h)",
                        w[0].end_h()
                    ),
                ));
            }
        }
        Ok(Self { doses, dialysis })
    }

    /// `dose_mg` once daily at `hour_of_day` for `days` consecutive days.
    pub fn once_daily(dose_mg: f64, days: u32, hour_of_day: f64) -> Result<Self, PkError> {
        Self::cycles(dose_mg, days, days, 1, hour_of_day)
    }

    /// `dose_mg` once daily on days 1..=`days_on` of each `cycle_days`-day cycle, for `cycles` cycles
    /// (e.g. 21 of 28 days).
    pub fn cycles(
        dose_mg: f64,
        days_on: u32,
        cycle_days: u32,
        cycles: u32,
        hour_of_day: f64,
    ) -> Result<Self, PkError> {
        check_dose_amount(dose_mg)?;
        check_count("cycle_days", cycle_days, 366)?;
        check_count("days_on", days_on, cycle_days)?;
        check_count("cycles", cycles, 60)?;
        check_hour(hour_of_day)?;
        let doses = (0..cycles)
            .flat_map(|c| (0..days_on).map(move |d| c * cycle_days + d))
            .map(|day| Dose {
                time_h: f64::from(day) * 24.0 + hour_of_day,
                amount_mg: dose_mg,
            })
            .collect();
        Self::new(doses, Vec::new())
    }

    /// `doses` doses of `dose_mg` every `interval_h` hours, the first at `first_h` (e.g. every 48 h).
    pub fn every(dose_mg: f64, interval_h: f64, doses: u32, first_h: f64) -> Result<Self, PkError> {
        check_dose_amount(dose_mg)?;
        if !(interval_h.is_finite() && (1.0..=24.0 * 14.0).contains(&interval_h)) {
            return Err(PkError::invalid(
                "interval_h",
                interval_h,
                "an interval from 1 to 336 h",
            ));
        }
        check_count("doses", doses, 10_000)?;
        let list = (0..doses)
            .map(|i| Dose {
                time_h: first_h + f64::from(i) * interval_h,
                amount_mg: dose_mg,
            })
            .collect();
        Self::new(list, Vec::new())
    }

    /// `dose_mg` once daily for `days` days with haemodialysis on the given weekdays (0 = first day of the week,
    /// day 1 of treatment is weekday 0): sessions start at `session_start_hour` and last `session_h`; on dialysis
    /// days the dose is taken when the session ends, otherwise at `hour_of_day` (label: "after dialysis on
    /// dialysis days").
    pub fn daily_after_dialysis(
        dose_mg: f64,
        days: u32,
        hour_of_day: f64,
        dialysis_weekdays: &[u32],
        session_start_hour: f64,
        session_h: f64,
    ) -> Result<Self, PkError> {
        check_dose_amount(dose_mg)?;
        check_count("days", days, 3650)?;
        check_hour(hour_of_day)?;
        check_hour(session_start_hour)?;
        if dialysis_weekdays.is_empty() || dialysis_weekdays.iter().any(|&d| d > 6) {
            return Err(PkError::invalid(
                "dialysis_weekdays",
                format!("{dialysis_weekdays:?}"),
                "one or more weekday numbers 0-6",
            ));
        }
        let mut doses = Vec::new();
        let mut sessions = Vec::new();
        for day in 0..days {
            let base = f64::from(day) * 24.0;
            if dialysis_weekdays.contains(&(day % 7)) {
                let s = DialysisSession {
                    start_h: base + session_start_hour,
                    duration_h: session_h,
                };
                doses.push(Dose {
                    time_h: s.end_h(),
                    amount_mg: dose_mg,
                });
                sessions.push(s);
            } else {
                doses.push(Dose {
                    time_h: base + hour_of_day,
                    amount_mg: dose_mg,
                });
            }
        }
        Self::new(doses, sessions)
    }

    /// Removes the doses taken on days `from_day..=to_day` (1-based treatment days), e.g. a hold for toxicity.
    /// An interruption that removes every dose is an error.
    pub fn with_interruption(self, from_day: u32, to_day: u32) -> Result<Self, PkError> {
        if from_day == 0 || to_day < from_day {
            return Err(PkError::invalid(
                "interruption",
                format!("days {from_day}-{to_day}"),
                "1-based days with from_day <= to_day",
            ));
        }
        let lo = f64::from(from_day - 1) * 24.0;
        let hi = f64::from(to_day) * 24.0;
        let doses = self
            .doses
            .into_iter()
            .filter(|d| d.time_h < lo || d.time_h >= hi)
            .collect();
        Self::new(doses, self.dialysis)
    }

    /// The doses, sorted by time.
    pub fn doses(&self) -> &[Dose] {
        &self.doses
    }

    /// The dialysis sessions, sorted by start.
    pub fn dialysis(&self) -> &[DialysisSession] {
        &self.dialysis
    }

    /// Time of the last dose, h.
    pub fn last_dose_h(&self) -> f64 {
        self.doses.last().map_or(0.0, |d| d.time_h)
    }
}

fn check_hour(h: f64) -> Result<f64, PkError> {
    if h.is_finite() && (0.0..24.0).contains(&h) {
        Ok(h)
    } else {
        Err(PkError::invalid(
            "hour_of_day",
            h,
            "an hour from 0 to below 24",
        ))
    }
}
