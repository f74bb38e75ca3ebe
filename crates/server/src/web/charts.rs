//! Lab trends on the prescriber's patient page: ANC, platelets and creatinine clearance over the recorded labs,
//! with the thresholds the engine applies to this patient drawn as labelled lines.
//!
//! The numbers come from the rule pack through the domain (the governing count rule of `modification`, the renal
//! bands of `renal`, Cockcroft-Gault from `renal::cockcroft_gault`), so a chart and the page's verdict never
//! disagree. Charts are inline SVG written by hand (no dependency, no script): the page's CSP allows no inline
//! style, so everything visual is a presentation attribute or a class of the app's stylesheet. Each chart is an
//! image with a title and a description naming the thresholds, followed by its values as a table, so a screen
//! reader gets the same facts. Colours are from the Okabe-Ito palette (safe for colour-blind readers), and every
//! line also differs in its dash pattern, so nothing depends on colour alone.

use super::html::e;
use jiff::civil::Date;
use lenaguard_domain::RulePack;
use lenaguard_domain::modification::{Governing, RuleInputs, governing_rule};
use lenaguard_domain::pack::CountRule;
use lenaguard_domain::renal::{CgInputs, cockcroft_gault};
use lenaguard_domain::snapshot::{Checked, Snapshot, TreatmentStatus};
use lenaguard_domain::units::{Analyte, format_count};
use std::fmt::Write;

/// The most recent values a chart shows; older ones would crowd the axis (the table says how many were left out).
const MAX_POINTS: usize = 40;

// Okabe-Ito colours.
const BLUE: &str = "#0072B2";
const VERMILLION: &str = "#D55E00";
const GREEN: &str = "#009E73";
const ORANGE: &str = "#E69F00";

/// A labelled horizontal line.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub value: f64,
    pub label: String,
    pub kind: LineKind,
}

/// What a line means, which sets its colour and dash pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Hold,
    Resume,
    Band,
}

impl LineKind {
    fn stroke(self) -> (&'static str, &'static str) {
        match self {
            LineKind::Hold => (VERMILLION, "6 3"),
            LineKind::Resume => (GREEN, "2 3"),
            LineKind::Band => (ORANGE, "8 3 2 3"),
        }
    }
}

/// One chart: its values (oldest first) and its lines.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The element id prefix (title and description ids are made from it).
    pub id: String,
    pub title: String,
    /// The unit of the values, as shown on the axis and in the table.
    pub unit: String,
    pub points: Vec<(Date, f64)>,
    pub thresholds: Vec<Threshold>,
    /// How a value is written (counts as the label writes them, CrCl in whole mL/min).
    pub format: fn(f64) -> String,
    /// A sentence shown under the chart (why a line is missing, what the values rest on).
    pub notes: Vec<String>,
    /// Values recorded before the ones shown.
    pub left_out: usize,
    /// The sentence shown instead of the chart when there is nothing to draw.
    pub empty: String,
}

// The SVG's coordinate system; the stylesheet scales it to the page width.
const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// The plot area and the mapping of dates and values into it.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    first: Date,
    span_days: f64,
    y_max: f64,
}

impl Frame {
    pub fn new(points: &[(Date, f64)], thresholds: &[Threshold]) -> Frame {
        let first = points.iter().map(|p| p.0).min().unwrap_or_default();
        let last = points.iter().map(|p| p.0).max().unwrap_or(first);
        let top = points
            .iter()
            .map(|p| p.1)
            .chain(thresholds.iter().map(|t| t.value))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        Frame {
            first,
            span_days: f64::from((last - first).get_days()),
            y_max: nice_ceiling(top * 1.1),
        }
    }

    /// The plot area: left, top, right, bottom.
    pub fn area() -> (f64, f64, f64, f64) {
        (LEFT, TOP, W - RIGHT, H - BOTTOM)
    }

    pub fn x(&self, d: Date) -> f64 {
        let (l, _, r, _) = Frame::area();
        if self.span_days <= 0.0 {
            return (l + r) / 2.0;
        }
        let frac = f64::from((d - self.first).get_days()) / self.span_days;
        l + frac.clamp(0.0, 1.0) * (r - l)
    }

    pub fn y(&self, v: f64) -> f64 {
        let (_, t, _, b) = Frame::area();
        let frac = if v.is_finite() { v / self.y_max } else { 0.0 };
        b - frac.clamp(0.0, 1.0) * (b - t)
    }
}

/// A round number at or above `v` (1, 2, 2.5 or 5 times a power of ten), so the axis ticks are readable.
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

fn short_day(d: Date) -> String {
    d.strftime("%-d %b").to_string()
}

fn long_day(d: Date) -> String {
    d.strftime("%-d %b %Y").to_string()
}

/// Labels closer than this (in SVG units) would overlap.
const MIN_TICK_GAP: f64 = 72.0;

/// The dates labelled on the x axis: every date when there are few, else five spread over the span; a date too
/// close to the one before it is left out (the last date always stays).
fn date_ticks(points: &[(Date, f64)], f: &Frame) -> Vec<Date> {
    let mut dates: Vec<Date> = points.iter().map(|p| p.0).collect();
    dates.dedup();
    if dates.len() > 5 {
        let (first, last) = (dates[0], dates[dates.len() - 1]);
        let span = i64::from((last - first).get_days());
        dates = (0..5)
            .filter_map(|i| first.checked_add(jiff::Span::new().days(span * i / 4)).ok())
            .collect();
    }
    let Some(&last) = dates.last() else {
        return dates;
    };
    let mut kept: Vec<Date> = Vec::new();
    for d in dates {
        if kept.last().is_none_or(|k| f.x(d) - f.x(*k) >= MIN_TICK_GAP) {
            kept.push(d);
        }
    }
    if kept.last() != Some(&last) {
        if kept.len() > 1 {
            kept.pop();
        }
        kept.push(last);
    }
    kept
}

/// One chart as a figure: the SVG image, its notes and its values as a table.
pub fn render(c: &Chart) -> String {
    let id = e(&c.id);
    let mut out = format!(
        r#"<figure class="chart" id="{id}"><figcaption>{}</figcaption>"#,
        e(&c.title)
    );
    if c.points.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, e(&c.empty));
        for n in &c.notes {
            let _ = write!(out, r#"<p class="muted">{}</p>"#, e(n));
        }
        out.push_str("</figure>");
        return out;
    }
    let f = Frame::new(&c.points, &c.thresholds);
    let (l, t, r, b) = Frame::area();
    let last = c.points[c.points.len() - 1];
    let lines: Vec<String> = c
        .thresholds
        .iter()
        .map(|th| format!("{} {} {}", th.label, (c.format)(th.value), c.unit))
        .collect();
    let desc = format!(
        "{n} value{s} from {from} to {to}; the latest is {v} {unit} on {to}.{lines}",
        n = c.points.len(),
        s = if c.points.len() == 1 { "" } else { "s" },
        from = long_day(c.points[0].0),
        to = long_day(last.0),
        v = (c.format)(last.1),
        unit = c.unit,
        lines = if lines.is_empty() {
            String::new()
        } else {
            format!(" Lines: {}.", lines.join("; "))
        },
    );
    let _ = write!(
        out,
        r#"<svg role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="11"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
        title = e(&c.title),
        desc = e(&desc),
    );
    // Axes and the value grid.
    let _ = write!(
        out,
        r##"<rect x="{l}" y="{t}" width="{w}" height="{h}" fill="#ffffff" stroke="#8c959f"/>"##,
        w = num(r - l),
        h = num(b - t),
    );
    for i in 0..=4 {
        let v = f.y_max * f64::from(i) / 4.0;
        let y = f.y(v);
        let _ = write!(
            out,
            r##"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#d0d7de"/><text x="{tx}" y="{ty}" text-anchor="end" fill="#1b1f24">{label}</text>"##,
            y = num(y),
            tx = num(l - 6.0),
            ty = num(y + 4.0),
            label = e((c.format)(v)),
        );
    }
    let _ = write!(
        out,
        r##"<text x="12" y="{my}" text-anchor="middle" transform="rotate(-90 12 {my})" fill="#1b1f24">{unit}</text>"##,
        my = num((t + b) / 2.0),
        unit = e(&c.unit),
    );
    let ticks = date_ticks(&c.points, &f);
    for (i, d) in ticks.iter().enumerate() {
        let x = f.x(*d);
        let text = if i == 0 || i + 1 == ticks.len() {
            long_day(*d)
        } else {
            short_day(*d)
        };
        let anchor = if ticks.len() > 1 && i == 0 {
            "start"
        } else if ticks.len() > 1 && i + 1 == ticks.len() {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{b}" x2="{x}" y2="{y2}" stroke="#57606a"/><text x="{x}" y="{ty}" text-anchor="{anchor}" fill="#1b1f24">{text}</text>"##,
            x = num(x),
            y2 = num(b + 5.0),
            ty = num(b + 18.0),
            text = e(text),
        );
    }
    // Threshold lines, their labels kept apart so that close values stay readable.
    let mut labels: Vec<(f64, &Threshold)> =
        c.thresholds.iter().map(|th| (f.y(th.value), th)).collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut prev = f64::NEG_INFINITY;
    for (y, th) in &labels {
        let (colour, dash) = th.kind.stroke();
        let ly = (y + 4.0).max(prev + 13.0);
        prev = ly;
        let _ = write!(
            out,
            r#"<line class="threshold" x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{tx}" y="{ly}" fill="{colour}">{label}</text>"#,
            y = num(*y),
            tx = num(r + 6.0),
            ly = num(ly),
            label = e(format!("{} {}", th.label, (c.format)(th.value))),
        );
    }
    // The values.
    let path: Vec<String> = c
        .points
        .iter()
        .map(|(d, v)| format!("{},{}", num(f.x(*d)), num(f.y(*v))))
        .collect();
    if path.len() > 1 {
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{BLUE}" stroke-width="2"/>"#,
            path.join(" ")
        );
    }
    for (d, v) in &c.points {
        let _ = write!(
            out,
            r#"<circle class="point" cx="{}" cy="{}" r="3.5" fill="{BLUE}"/>"#,
            num(f.x(*d)),
            num(f.y(*v))
        );
    }
    out.push_str("</svg>");
    for n in &c.notes {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, e(n));
    }
    let _ = write!(
        out,
        r#"<details><summary>{title}: the values</summary><table><thead><tr><th>Date</th><th>{title} ({unit})</th></tr></thead><tbody>"#,
        title = e(&c.title),
        unit = e(&c.unit),
    );
    for (d, v) in c.points.iter().rev() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            e(long_day(*d)),
            e((c.format)(*v))
        );
    }
    out.push_str("</tbody></table>");
    if c.left_out > 0 {
        let _ = write!(
            out,
            r#"<p class="muted">{} older value{} not shown.</p>"#,
            c.left_out,
            if c.left_out == 1 { "" } else { "s" }
        );
    }
    out.push_str("</details></figure>");
    out
}

fn count(v: f64) -> String {
    format_count(v).trim_end_matches("/mcL").to_string()
}

fn ml_min(v: f64) -> String {
    format!("{v:.0}")
}

/// Keep the most recent `MAX_POINTS`: the values shown and how many were left out.
fn recent(mut points: Vec<(Date, f64)>) -> (Vec<(Date, f64)>, usize) {
    let left_out = points.len().saturating_sub(MAX_POINTS);
    points.drain(..left_out);
    (points, left_out)
}

/// The lines of a count rule: where it holds and where it resumes.
fn count_lines(rule: &CountRule, baseline: Option<f64>) -> Vec<Threshold> {
    let mut out: Vec<Threshold> = Vec::new();
    let mut add = |value: f64, label: String, kind: LineKind| match out
        .iter_mut()
        .find(|t| t.value == value && t.kind == kind)
    {
        Some(t) => {
            t.label = format!("{}; {}", t.label, label.to_lowercase());
        }
        None => out.push(Threshold { value, label, kind }),
    };
    if let Some(v) = rule.interrupt_below {
        add(v, "Hold below".into(), LineKind::Hold);
    }
    if let Some(bd) = rule.interrupt_below_for_days {
        add(
            bd.below,
            format!("Hold if below for {} days", bd.days),
            LineKind::Hold,
        );
    }
    if let Some(bf) = rule.interrupt_below_with_fever {
        add(bf.below, "Hold if below with fever".into(), LineKind::Hold);
    }
    if let Some(v) = rule.interrupt_below_with_transfusion {
        add(v, "Hold if below with a transfusion".into(), LineKind::Hold);
    }
    if let (Some(frac), Some(b)) = (rule.interrupt_at_fraction_of_baseline, baseline) {
        add(
            frac * b,
            format!("Hold at {:.0}% of baseline", 100.0 * frac),
            LineKind::Hold,
        );
    }
    add(rule.resume_at_least, "Resume at".into(), LineKind::Resume);
    out
}

/// The ANC or platelet chart, with the lines of the count rule the engine applies to this patient today.
fn count_chart(
    snap: &Snapshot,
    pack: &RulePack,
    checked: &Checked,
    today: Date,
    analyte: Analyte,
) -> Chart {
    let regimen = pack.regimen(snap.regimen);
    let all: Vec<(Date, f64)> = checked
        .labs
        .iter()
        .filter(|l| l.analyte == analyte)
        .map(|l| (l.date, l.quantity.value()))
        .collect();
    let latest = all.last().map(|p| p.1);
    let (points, left_out) = recent(all);
    let not_started = snap.treatment.status == TreatmentStatus::NotStarted;
    let dose = snap.treatment.current.unwrap_or(regimen.start);
    let starting = snap.treatment.starting.unwrap_or(dose);
    // As the engine: before the first dose the rule for the starting dose on its first day, and the latest count
    // as the baseline when none was recorded; on treatment the days on the starting dose so far.
    let days_on_starting_dose = if not_started {
        Some(0)
    } else {
        snap.treatment
            .start_date
            .filter(|_| dose.dose_mg == starting.dose_mg)
            .map(|s| i64::from((today - s).get_days()))
    };
    let recorded_baseline = match analyte {
        Analyte::Anc => checked.baseline_anc,
        _ => checked.baseline_platelets,
    };
    let baseline = if not_started {
        recorded_baseline.or(latest)
    } else {
        recorded_baseline
    };
    let mut notes = Vec::new();
    let mut thresholds = match governing_rule(
        pack,
        regimen,
        analyte,
        RuleInputs {
            dose,
            days_on_starting_dose,
            baseline,
        },
    ) {
        Governing::Rule(rule) => count_lines(rule, baseline),
        Governing::Missing(field, what) => {
            notes.push(format!(
                "No threshold lines: the rule for this regimen needs {field} ({what})."
            ));
            Vec::new()
        }
        Governing::NoRule => {
            notes.push(
                "No threshold lines: the rule pack has no count rule for this regimen and dose."
                    .into(),
            );
            Vec::new()
        }
    };
    let start_at = match analyte {
        Analyte::Anc => regimen.start_requires_anc_at_least,
        _ => regimen.start_requires_platelets_at_least,
    };
    if let (true, Some(v)) = (not_started, start_at) {
        thresholds.push(Threshold {
            value: v,
            label: "Start at".into(),
            kind: LineKind::Resume,
        });
    }
    let (id, title, empty) = match analyte {
        Analyte::Anc => ("chart-anc", "ANC", "No ANC results are recorded."),
        _ => (
            "chart-platelets",
            "Platelets",
            "No platelet counts are recorded.",
        ),
    };
    Chart {
        id: id.into(),
        title: title.into(),
        unit: "/mcL".into(),
        points,
        thresholds,
        format: count,
        notes,
        left_out,
        empty: empty.into(),
    }
}

/// Creatinine clearance at each creatinine result, by the domain's Cockcroft-Gault with the age at that date
/// and today's weight (the only one on file), with the renal band edges of the pack.
fn crcl_chart(snap: &Snapshot, pack: &RulePack, checked: &Checked) -> Chart {
    let mut notes = Vec::new();
    let p = &snap.patient;
    let mut all = Vec::new();
    let creatinine: Vec<_> = checked
        .labs
        .iter()
        .filter(|l| l.analyte == Analyte::Creatinine)
        .collect();
    match p.weight_kg {
        None => {
            if let Some(l) = creatinine.last() {
                notes.push(format!(
                    "Cockcroft-Gault needs the body weight, which is not on file. The latest serum creatinine is {:.2} mg/dL ({}).",
                    l.quantity.value(),
                    long_day(l.date)
                ));
            }
        }
        Some(weight_kg) => {
            for l in &creatinine {
                let age_years = match p.birth_date {
                    Some(b) => b
                        .until((jiff::Unit::Year, l.date))
                        .map(|s| f64::from(s.get_years()))
                        .unwrap_or(checked.age_years),
                    None => checked.age_years,
                };
                let inputs = CgInputs {
                    age_years,
                    sex: p.sex,
                    weight_kg,
                    height_cm: p.height_cm,
                    creatinine_mg_dl: l.quantity.value(),
                    basis: snap.kidney.weight_basis,
                };
                if let Ok((crcl, _)) = cockcroft_gault(&pack.renal.cockcroft_gault, inputs) {
                    all.push((l.date, crcl.ml_min()));
                }
            }
            if all.len() < creatinine.len() {
                notes.push(format!(
                    "{} creatinine result(s) could not give a clearance (the weight basis needs the height).",
                    creatinine.len() - all.len()
                ));
            } else if !all.is_empty() {
                notes.push(format!(
                    "Cockcroft-Gault from each serum creatinine, with the weight on file ({weight_kg} kg)."
                ));
            }
        }
    }
    if let Some(m) = snap.kidney.measured_crcl_ml_min {
        notes.push(format!(
            "The dose is judged on the measured clearance on file ({m:.0} mL/min), not on this line."
        ));
    }
    if snap.kidney.dialysis {
        notes.push("On dialysis: the dialysis row applies whatever the clearance.".into());
    }
    let (points, left_out) = recent(all);
    let r = &pack.renal;
    Chart {
        id: "chart-crcl".into(),
        title: "Creatinine clearance".into(),
        unit: "mL/min".into(),
        points,
        thresholds: vec![
            Threshold {
                value: r.no_adjustment_at_least,
                label: "No renal adjustment from".into(),
                kind: LineKind::Band,
            },
            Threshold {
                value: r.moderate_at_least,
                label: "Severe band below".into(),
                kind: LineKind::Band,
            },
        ],
        format: ml_min,
        notes,
        left_out,
        empty: "No creatinine clearance to chart.".into(),
    }
}

/// The "Lab trends" section of the patient page.
pub fn lab_trends(snap: &Snapshot, pack: &RulePack, today: Date) -> String {
    let mut out = String::from(r#"<h2 id="lab-trends">Lab trends</h2>"#);
    let Ok(checked) = snap.validate(pack, today) else {
        out.push_str("<p>The recorded labs cannot be charted.</p>");
        return out;
    };
    let relevant = checked.labs.iter().any(|l| {
        matches!(
            l.analyte,
            Analyte::Anc | Analyte::Platelets | Analyte::Creatinine
        )
    });
    if !relevant {
        out.push_str(
            "<p>No ANC, platelet or creatinine results are recorded for this patient yet.</p>",
        );
        return out;
    }
    out.push_str(r#"<p class="muted">Lines: the thresholds the engine applies to this patient today, from the rule pack.</p>"#);
    for chart in [
        count_chart(snap, pack, &checked, today, Analyte::Anc),
        count_chart(snap, pack, &checked, today, Analyte::Platelets),
        crcl_chart(snap, pack, &checked),
    ] {
        out.push_str(&render(&chart));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn chart(points: Vec<(Date, f64)>, thresholds: Vec<Threshold>) -> Chart {
        Chart {
            id: "chart-t".into(),
            title: "ANC".into(),
            unit: "/mcL".into(),
            points,
            thresholds,
            format: count,
            notes: Vec::new(),
            left_out: 0,
            empty: "No ANC results are recorded.".into(),
        }
    }

    fn attr(svg: &str, from: usize, name: &str) -> f64 {
        let at = svg[from..].find(&format!(r#" {name}=""#)).expect(name) + from + name.len() + 3;
        svg[at..at + svg[at..].find('"').expect("quote")]
            .parse()
            .expect("a number")
    }

    #[test]
    fn points_fall_inside_the_plot_area() {
        let pts = vec![
            (date(2026, 10, 1), 400.0),
            (date(2026, 10, 20), 2500.0),
            (date(2026, 11, 26), 0.0),
        ];
        let th = vec![Threshold {
            value: 1000.0,
            label: "Hold below".into(),
            kind: LineKind::Hold,
        }];
        let f = Frame::new(&pts, &th);
        let (l, t, r, b) = Frame::area();
        for (d, v) in &pts {
            assert!((l..=r).contains(&f.x(*d)) && (t..=b).contains(&f.y(*v)));
        }
        assert_eq!(f.x(pts[0].0), l);
        assert_eq!(f.x(pts[2].0), r);
        assert_eq!(f.y(0.0), b);
        let svg = render(&chart(pts, th));
        let mut from = 0;
        let mut n = 0;
        while let Some(i) = svg[from..].find(r#"<circle class="point""#) {
            let at = from + i;
            assert!((l..=r).contains(&attr(&svg, at, "cx")));
            assert!((t..=b).contains(&attr(&svg, at, "cy")));
            from = at + 1;
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn a_single_value_and_wild_values_stay_inside() {
        let f = Frame::new(&[(date(2026, 11, 26), 5.0)], &[]);
        let (l, t, r, b) = Frame::area();
        assert_eq!(f.x(date(2026, 11, 26)), (l + r) / 2.0);
        for v in [f64::NAN, f64::INFINITY, -3.0, 1e12] {
            assert!((t..=b).contains(&f.y(v)));
        }
    }

    #[test]
    fn a_threshold_line_is_drawn_at_its_value() {
        let pts = vec![(date(2026, 11, 1), 800.0), (date(2026, 11, 20), 3000.0)];
        let th = vec![Threshold {
            value: 1000.0,
            label: "Hold below".into(),
            kind: LineKind::Hold,
        }];
        let f = Frame::new(&pts, &th);
        let svg = render(&chart(pts, th));
        let at = svg.find(r#"<line class="threshold""#).expect("a line");
        let y = attr(&svg, at, "y1");
        assert_eq!(y, (f.y(1000.0) * 10.0).round() / 10.0);
        assert_eq!(y, attr(&svg, at, "y2"));
        // The axis tops out at a round number above 3000 (3300 -> 5000): 1000 sits a fifth of the way up.
        let (_, t, _, b) = Frame::area();
        assert!((f.y(1000.0) - (b - (b - t) / 5.0)).abs() < 1e-9);
        assert!(svg.contains("Hold below 1,000"), "{svg}");
        assert!(svg.contains(r#"stroke-dasharray="6 3""#));
    }

    #[test]
    fn text_is_escaped_and_the_image_is_labelled() {
        let mut c = chart(vec![(date(2026, 11, 1), 800.0)], Vec::new());
        c.title = r#"<script>"x"&"#.into();
        c.notes = vec!["<b>note</b>".into()];
        let svg = render(&c);
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;&quot;x&quot;&amp;"));
        assert!(svg.contains(r#"role="img" aria-labelledby="chart-t-title chart-t-desc""#));
        assert!(svg.contains(r#"<title id="chart-t-title">"#));
        assert!(svg.contains(r#"<desc id="chart-t-desc">1 value from 1 Nov 2026"#));
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        assert!(svg.contains("<details>") && svg.contains("<td>800</td>"));
    }

    #[test]
    fn date_labels_do_not_overlap() {
        let pts = vec![
            (date(2026, 1, 1), 1.0),
            (date(2026, 1, 2), 1.0),
            (date(2026, 1, 29), 1.0),
            (date(2026, 1, 30), 1.0),
        ];
        let f = Frame::new(&pts, &[]);
        assert_eq!(
            date_ticks(&pts, &f),
            vec![date(2026, 1, 1), date(2026, 1, 30)]
        );
        let one = vec![(date(2026, 1, 1), 1.0), (date(2026, 1, 1), 2.0)];
        assert_eq!(
            date_ticks(&one, &Frame::new(&one, &[])),
            vec![date(2026, 1, 1)]
        );
        let many: Vec<(Date, f64)> = (0..30)
            .map(|i| (date(2026, 1, 1) + jiff::Span::new().days(i), 1.0))
            .collect();
        assert_eq!(date_ticks(&many, &Frame::new(&many, &[])).len(), 5);
    }

    #[test]
    fn no_values_is_a_sentence_not_an_empty_chart() {
        let out = render(&chart(Vec::new(), Vec::new()));
        assert!(!out.contains("<svg"));
        assert!(out.contains("No ANC results are recorded."));
    }

    #[test]
    fn close_threshold_labels_are_kept_apart() {
        let pts = vec![(date(2026, 11, 1), 100_000.0)];
        let th = vec![
            Threshold {
                value: 30_000.0,
                label: "Hold below".into(),
                kind: LineKind::Hold,
            },
            Threshold {
                value: 31_000.0,
                label: "Resume at".into(),
                kind: LineKind::Resume,
            },
        ];
        let svg = render(&chart(pts, th));
        let ys: Vec<f64> = svg
            .match_indices(r#"<text x="446.0""#)
            .map(|(i, _)| attr(&svg, i, "y"))
            .collect();
        assert_eq!(ys.len(), 2, "{svg}");
        assert!((ys[0] - ys[1]).abs() >= 13.0, "{ys:?}");
    }

    #[test]
    fn many_values_keep_the_most_recent() {
        let pts: Vec<(Date, f64)> = (0..50)
            .map(|i| (date(2026, 1, 1) + jiff::Span::new().days(i), 1.0))
            .collect();
        let (kept, left_out) = recent(pts);
        assert_eq!((kept.len(), left_out), (MAX_POINTS, 10));
        assert_eq!(kept[0].0, date(2026, 1, 11));
        assert_eq!(nice_ceiling(3300.0), 5000.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    fn snapshot(labs: &str) -> Snapshot {
        Snapshot::from_json(&format!(
            r#"{{"patient": {{"age_years": 70, "sex": "male", "weight_kg": 80}}, "regimen": "mm_rd",
               "treatment": {{"status": "active", "start_date": "2026-10-01",
                 "current": {{"dose_mg": 25, "frequency": "once_daily", "days_on": [1, 21], "cycle_days": 28}}}},
               "labs": [{labs}]}}"#
        ))
        .expect("a snapshot")
    }

    #[test]
    fn the_engines_numbers_are_drawn() {
        let pack = RulePack::builtin().expect("pack");
        let today = date(2026, 11, 26);
        let snap = snapshot(
            r#"{"code": "anc", "value": 0.8, "unit": "10*9/L", "date": "2026-11-20"},
               {"code": "anc", "value": 2.0, "unit": "10*9/L", "date": "2026-11-01"},
               {"code": "platelets", "value": 150, "unit": "10*9/L", "date": "2026-11-20"},
               {"code": "creatinine", "value": 1.0, "unit": "mg/dL", "date": "2026-11-20"}"#,
        );
        let html = lab_trends(&snap, &pack, today);
        let checked = snap.validate(&pack, today).expect("valid");
        let regimen = pack.regimen(snap.regimen);
        for (analyte, id) in [
            (Analyte::Anc, "chart-anc"),
            (Analyte::Platelets, "chart-platelets"),
        ] {
            let Governing::Rule(rule) = governing_rule(
                &pack,
                regimen,
                analyte,
                RuleInputs {
                    dose: regimen.start,
                    days_on_starting_dose: Some(56),
                    baseline: None,
                },
            ) else {
                panic!("a rule for {analyte:?}");
            };
            assert!(html.contains(&format!(r#"id="{id}""#)));
            assert!(
                html.contains(&format!("Resume at {}", count(rule.resume_at_least))),
                "{html}"
            );
        }
        assert!(html.contains(&format!(
            "No renal adjustment from {}",
            ml_min(pack.renal.no_adjustment_at_least)
        )));
        // CrCl by the domain's Cockcroft-Gault: (140 - 70) x 80 x factor / creatinine.
        let (crcl, _) = cockcroft_gault(
            &pack.renal.cockcroft_gault,
            CgInputs {
                age_years: 70.0,
                sex: lenaguard_domain::renal::Sex::Male,
                weight_kg: 80.0,
                height_cm: None,
                creatinine_mg_dl: 1.0,
                basis: Default::default(),
            },
        )
        .expect("crcl");
        assert!(html.contains(&format!("<td>{}</td>", ml_min(crcl.ml_min()))));
        assert_eq!(checked.labs.len(), 4);
        // Oldest first on the line, newest first in the table.
        let anc = &html[html.find(r#"id="chart-anc""#).expect("anc")..];
        assert!(anc.contains("2 values from 1 Nov 2026 to 20 Nov 2026"));
    }

    #[test]
    fn a_patient_without_labs_gets_a_sentence() {
        let pack = RulePack::builtin().expect("pack");
        let html = lab_trends(&snapshot(""), &pack, date(2026, 11, 26));
        assert!(html.contains("No ANC, platelet or creatinine results are recorded"));
        assert!(!html.contains("<svg"));
    }
}
