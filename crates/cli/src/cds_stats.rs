//! `lenaguard cds-stats`: override statistics per rule from the feedback EHRs sent about the CDS service's cards
//! (standards.md §1.6). A card counts once per rule behind it, with the outcome of its latest report; the override
//! rate is overridden / (accepted + overridden), since clients report only the cards they acted on.

use crate::db::{DbArgs, block_on, open};
use crate::input::Context;
use crate::{Failure, Format, Outcome};
use clap::Args;
use lenaguard_storage::cds::RuleStats;
use std::fmt::Write;

#[derive(Debug, Args)]
pub struct CdsStatsArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(ctx: &Context, args: &CdsStatsArgs) -> Outcome {
    let stats = block_on(async {
        let store = open(&args.db).await?;
        Ok::<_, Failure>(store.override_stats().await?)
    })??;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "rules": stats }))
                .unwrap_or_default()
        ),
        Format::Text => print!("{}", text(&stats)),
    }
    Ok(0)
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.0}%", r * 100.0))
}

/// One line per rule: cards issued, accepted, overridden, the override rate and the top override reasons.
pub fn text(stats: &[RuleStats]) -> String {
    let mut out = String::new();
    if stats.is_empty() {
        out.push_str("No CDS cards issued yet.\n");
        return out;
    }
    let width = stats.iter().map(|s| s.rule.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:width$}  {:>6}  {:>8}  {:>10}  {:>8}  top override reasons",
        "rule", "issued", "accepted", "overridden", "override"
    );
    for s in stats {
        let reasons: Vec<String> = s
            .top_override_reasons
            .iter()
            .map(|r| format!("{} ({})", r.code, r.count))
            .collect();
        let _ = writeln!(
            out,
            "{:width$}  {:>6}  {:>8}  {:>10}  {:>8}  {}",
            s.rule,
            s.issued,
            s.accepted,
            s.overridden,
            percent(s.override_rate),
            if reasons.is_empty() {
                "-".to_string()
            } else {
                reasons.join(", ")
            }
        );
    }
    out
}
