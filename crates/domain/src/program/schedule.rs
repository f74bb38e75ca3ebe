//! Pregnancy-test cadence for a female who can get pregnant: weekly for the first 4 weeks of treatment, then
//! every 4 weeks, or every 2 weeks with irregular cycles; interruptions do not pause it (label.md §6).

use crate::pack::RulePack;
use jiff::ToSpan;
use jiff::civil::Date;

/// Days between tests in force on `date`, for a treatment that started on `start`.
pub fn test_cadence_on(pack: &RulePack, start: Date, date: Date, irregular: bool) -> u16 {
    let o = &pack.program.ongoing_tests.value;
    let weekly_until = start
        .checked_add(i64::from(o.weekly_for_days).days())
        .unwrap_or(start);
    if date < weekly_until {
        o.weekly_every_days
    } else if irregular {
        o.irregular_every_days
    } else {
        o.regular_every_days
    }
}

/// Scheduled test dates from `start` (the day of the first dose) to `until`, inclusive.
pub fn pregnancy_test_schedule(
    pack: &RulePack,
    start: Date,
    until: Date,
    irregular: bool,
) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = start;
    while d <= until {
        out.push(d);
        let step = test_cadence_on(pack, start, d, irregular);
        match d.checked_add(i64::from(step).days()) {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

/// The day the next test is due: one cadence after the last negative test (a test before the first dose
/// counts as the start of the weekly phase), or `start` itself when there is none.
pub fn next_pregnancy_test(
    pack: &RulePack,
    start: Date,
    last_negative: Option<Date>,
    irregular: bool,
) -> Date {
    match last_negative {
        Some(l) => {
            let step = test_cadence_on(pack, start, l.max(start), irregular);
            l.checked_add(i64::from(step).days()).unwrap_or(l)
        }
        None => start,
    }
}
