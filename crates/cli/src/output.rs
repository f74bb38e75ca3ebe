//! Text rendering shared by the commands: findings with their sources, marked verified or UNVERIFIED.

use lenaguard_domain::Finding;
use lenaguard_domain::assessment::KidneySummary;
use lenaguard_domain::finding::Severity;
use std::fmt::Write;

pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

pub fn findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nFindings");
    for f in findings {
        let block = if f.blocking { ", blocking" } else { "" };
        let _ = writeln!(out, "  [{}{block}] {}", severity(f.severity), f.message);
        for p in &f.sources {
            let _ = writeln!(out, "      {}", p.cite());
            if !p.is_verified()
                && let Some(note) = &p.note
            {
                let _ = writeln!(out, "        why unverified: {note}");
            }
        }
    }
}

pub fn kidney(out: &mut String, k: &KidneySummary) {
    let mut parts = Vec::new();
    if let Some(c) = k.crcl_ml_min {
        parts.push(format!("CrCl {c:.0} mL/min"));
    }
    if let Some(m) = k.method {
        parts.push(
            format!("{m:?}")
                .replace("CockcroftGault", "Cockcroft-Gault")
                .to_lowercase(),
        );
    }
    if let (Some(b), Some(w)) = (k.weight_basis, k.weight_used_kg) {
        parts.push(format!(
            "{} weight {w:.1} kg",
            format!("{b:?}").to_lowercase()
        ));
    }
    if k.dialysis {
        parts.push("on dialysis".into());
    }
    parts.push(match k.band {
        None if k.crcl_ml_min.is_some() || k.dialysis => {
            "no renal adjustment (CrCl >= 60 mL/min)".into()
        }
        None => "kidney function unknown".into(),
        Some(b) => format!("renal band: {}", format!("{b:?}").to_lowercase()),
    });
    if k.not_studied {
        parts.push("NOT STUDIED in the label".into());
    }
    let _ = writeln!(out, "Kidney   {}", parts.join("; "));
}

pub fn unverified(out: &mut String, rules: &[String]) {
    if !rules.is_empty() {
        let _ = writeln!(
            out,
            "\nThis answer rests on {} unverified rule(s): {}",
            rules.len(),
            rules.join(", ")
        );
    }
}
