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

/// The pregnancy-prevention program and the monitoring schedule at a glance: eligibility, what is missing with
/// its last valid day, the windows with their last day to act, and what is due.
pub fn safety(out: &mut String, s: &lenaguard_domain::safety::SafetyReport) {
    if let Some(p) = &s.program {
        let e = &p.eligibility;
        let verdict = if e.eligible {
            "eligible".to_string()
        } else {
            format!("NOT eligible ({} step(s) missing)", e.missing.len())
        };
        let _ = writeln!(
            out,
            "Program  {} ({:?} stage): {verdict}",
            p.category.as_str().replace('_', " "),
            e.stage
        );
        for m in &e.missing {
            let by = m.latest.map(|d| format!(" (by {d})")).unwrap_or_default();
            let _ = writeln!(out, "         missing: {}{by}; fix: {}", m.what, m.fix);
        }
        if let Some(a) = &e.authorization {
            let when = if a.prospective {
                "one obtained today"
            } else {
                "the authorization on record"
            };
            let _ = writeln!(
                out,
                "         {when} is valid through {} (lapses on {})",
                a.last_valid_day, a.lapses_on
            );
        }
        for w in &p.windows {
            let _ = writeln!(
                out,
                "Window   {:?}: last day to act {} ({:?}); {}",
                w.kind, w.last_valid_day, w.state, w.act
            );
        }
        if let Some(t) = p.next_pregnancy_test {
            let _ = writeln!(out, "         next pregnancy test due {t}");
        }
    }
    for m in &s.monitoring {
        let _ = writeln!(
            out,
            "Due      {} on {} ({:?}; {})",
            m.kind.label(),
            m.due,
            m.status,
            m.reason
        );
    }
}
