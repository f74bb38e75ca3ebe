//! Walking a dose-level ladder: "resume at the next lower dose", never below the floor (label.md §3).

use crate::dose::{DayWindow, Schedule};
use crate::pack::{Ladder, Steps};

/// The result of one step down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The next lower dose level.
    Lower(Schedule),
    /// Already at the floor: the label allows no lower dose. A prescriber decides (or discontinues).
    AtFloor,
    /// The current schedule is not a level of this ladder (for example 15 mg every 48 hours in myeloma), so the
    /// label's "next lower dose" has no defined answer.
    OffLadder,
}

/// One step down from `current`. `regimen_days` are the regimen's own dosing days, which levels inherit.
pub fn next_lower(ladder: &Ladder, current: &Schedule, regimen_days: DayWindow) -> Step {
    if ladder.floor.matches(current, regimen_days) {
        return Step::AtFloor;
    }
    match &ladder.steps {
        Steps::Levels(levels) => {
            let Some(i) = levels.iter().position(|l| l.matches(current, regimen_days)) else {
                return Step::OffLadder;
            };
            match levels.get(i + 1) {
                Some(next) => {
                    let base = Schedule {
                        days_on: regimen_days,
                        frequency: crate::dose::Frequency::OnceDaily,
                        ..*current
                    };
                    Step::Lower(Schedule {
                        after_dialysis: current.after_dialysis,
                        ..next.apply(base)
                    })
                }
                None => Step::AtFloor,
            }
        }
        Steps::StepDown(step) => {
            if current.dose_mg <= ladder.floor.mg {
                return Step::AtFloor;
            }
            match current.dose_mg.minus(*step) {
                Some(lower) if lower >= ladder.floor.mg => Step::Lower(current.with_dose(lower)),
                _ => Step::OffLadder,
            }
        }
    }
}
