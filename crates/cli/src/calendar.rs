//! `lenaguard calendar FILE|-`: the treatment calendar of a snapshot (dose and rest days, dexamethasone, labs,
//! pregnancy tests, surveys) as iCalendar, JSON or text.

use crate::input::{Context, parse_date, read_source};
use crate::{Failure, Format, Outcome};
use clap::{Args, ValueEnum};
use jiff::ToSpan;
use lenaguard_domain::Snapshot;
use lenaguard_domain::calendar::{calendar, to_ics, to_json, to_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalendarFormat {
    /// iCalendar (RFC 5545), for calendar applications.
    Ics,
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// Snapshot JSON file, or - for standard input.
    pub file: String,
    /// First day of the calendar (YYYY-MM-DD); defaults to the first dose (done or planned).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Number of days to cover.
    #[arg(long, value_name = "N", conflicts_with = "to", default_value_t = 28)]
    pub days: u16,
    /// Last day of the calendar (YYYY-MM-DD), instead of --days.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Calendar output: ics, json or text (defaults to the global --format).
    #[arg(long = "as", value_enum, value_name = "FORMAT")]
    pub output: Option<CalendarFormat>,
}

pub fn run(ctx: &Context, a: &CalendarArgs) -> Outcome {
    let text = read_source(&a.file)?;
    let snapshot = Snapshot::from_json(&text)?;
    let from = match &a.from {
        Some(s) => parse_date("--from", s)?,
        None => snapshot
            .treatment
            .start_date
            .or(snapshot.program.as_ref().and_then(|p| p.planned_start))
            .unwrap_or(ctx.today),
    };
    let to = match &a.to {
        Some(s) => parse_date("--to", s)?,
        None => {
            if a.days == 0 {
                return Err(Failure::Input(
                    "--days: 0 is not accepted; expected at least 1".into(),
                ));
            }
            from.checked_add((i64::from(a.days) - 1).days())
                .map_err(|e| Failure::Input(format!("--days: {e}")))?
        }
    };
    let cal = calendar(&snapshot, &ctx.pack, ctx.today, from, to)?;
    let format = a.output.unwrap_or(match ctx.format {
        Format::Json => CalendarFormat::Json,
        _ => CalendarFormat::Text,
    });
    match format {
        CalendarFormat::Ics => print!("{}", to_ics(&cal)),
        CalendarFormat::Json => println!("{}", to_json(&cal)),
        CalendarFormat::Text => print!("{}", to_text(&cal)),
    }
    Ok(0)
}
