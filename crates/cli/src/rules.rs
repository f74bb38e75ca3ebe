//! `lenaguard rules list|show|check`: read the pack beside the label.

use crate::input::{Context, load_pack, print_json, read_pack_dir};
use crate::{Failure, Format, Outcome};
use clap::Subcommand;
use lenaguard_domain::pack::raw_entries;
use lenaguard_domain::provenance::Status;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule with its source and status.
    List {
        /// Only the unverified rules.
        #[arg(long)]
        unverified: bool,
    },
    /// One rule: its provenance and its entry as written in the pack.
    Show { rule: String },
    /// Validate a pack directory (or its pack.toml).
    Check { path: PathBuf },
}

pub fn run(ctx: &Context, cmd: &RulesCommand) -> Outcome {
    match cmd {
        RulesCommand::List { unverified } => list(ctx, *unverified),
        RulesCommand::Show { rule } => show(ctx, rule),
        RulesCommand::Check { path } => check(ctx, path),
    }
}

fn list(ctx: &Context, only_unverified: bool) -> Outcome {
    let mut rules: Vec<_> = ctx
        .pack
        .provenances()
        .into_iter()
        .filter(|p| !only_unverified || p.status == Status::Unverified)
        .collect();
    rules.sort_by(|a, b| {
        a.rule
            .cmp(&b.rule)
            .then(b.version_date.cmp(&a.version_date))
    });
    match ctx.format {
        Format::Json => print_json(&rules)?,
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{} {} ({})",
                ctx.pack.meta.id, ctx.pack.meta.version, ctx.pack.meta.title
            );
            let _ = writeln!(out, "Label version: {}\n", ctx.pack.meta.label_version);
            for p in &rules {
                let _ = writeln!(out, "{}", p.cite());
            }
            let unverified = rules
                .iter()
                .filter(|p| p.status == Status::Unverified)
                .count();
            let _ = writeln!(out, "\n{} rules, {unverified} unverified", rules.len());
            print!("{out}");
        }
    }
    Ok(0)
}

fn show(ctx: &Context, rule: &str) -> Outcome {
    let provenances: Vec<_> = ctx
        .pack
        .provenances()
        .into_iter()
        .filter(|p| p.rule == rule)
        .collect();
    if provenances.is_empty() {
        return Err(Failure::Input(format!(
            "rule: {rule:?} is not in the pack; `lenaguard rules list` shows the rule ids"
        )));
    }
    let files: Vec<(&str, &str)> = ctx
        .pack_files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let entries = raw_entries(&files, rule);
    match ctx.format {
        Format::Json => print_json(
            &serde_json::json!({ "provenance": provenances, "entries": entries.iter().map(|(f, t)| serde_json::json!({"file": f, "toml": t})).collect::<Vec<_>>() }),
        )?,
        Format::Text => {
            let mut out = String::new();
            for p in &provenances {
                let _ = writeln!(out, "{}", p.cite());
                let _ = writeln!(out, "  basis: {:?}", p.basis);
                if let Some(n) = &p.note {
                    let _ = writeln!(out, "  note: {n}");
                }
            }
            for (file, text) in entries {
                let _ = writeln!(out, "\n# {file}\n{text}");
            }
            print!("{out}");
        }
    }
    Ok(0)
}

fn check(ctx: &Context, path: &std::path::Path) -> Outcome {
    let files = read_pack_dir(path)?;
    let pack = load_pack(&files)?;
    let all = pack.provenances();
    let unverified = all
        .iter()
        .filter(|p| p.status == Status::Unverified)
        .count();
    match ctx.format {
        Format::Json => print_json(&serde_json::json!({
            "valid": true, "id": pack.meta.id, "version": pack.meta.version,
            "rules": all.len(), "unverified": unverified
        }))?,
        Format::Text => println!(
            "valid: {} {} ({} rules, {unverified} unverified)",
            pack.meta.id,
            pack.meta.version,
            all.len()
        ),
    }
    Ok(0)
}
