//! A small hand-written SVG line chart of concentration-time profiles for the CLI: no dependencies, deterministic
//! output (same input, same bytes), valid standalone SVG 1.1.

use std::fmt::Write as _;

use crate::simulate::Profile;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
/// Colour-blind-safe palette (Okabe-Ito).
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Tick positions covering [0, max] with a 1-2-5 step, about `target` ticks.
fn ticks(max: f64, target: f64) -> Vec<f64> {
    let raw = max / target;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| raw <= *s)
        .unwrap_or(10.0 * mag);
    let count = (max / step).ceil() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Draws the profiles as lines in one chart: `profiles` pairs a legend label with a profile. Times are shown in
/// hours up to 72 h and in days beyond. Non-finite points are skipped; an empty input gives an empty chart.
pub fn svg_plot(profiles: &[(&str, &Profile)], title: &str) -> String {
    let finite = |v: &f64| v.is_finite();
    let t_max = profiles
        .iter()
        .flat_map(|(_, p)| p.times_h.iter().copied().filter(finite))
        .fold(0.0, f64::max);
    let c_max = profiles
        .iter()
        .flat_map(|(_, p)| p.conc_ng_ml.iter().copied().filter(finite))
        .fold(0.0, f64::max);
    let in_days = t_max > 72.0;
    let unit = if in_days { 24.0 } else { 1.0 };
    let x_ticks = ticks((t_max / unit).max(1e-9), 8.0);
    let y_ticks = ticks(c_max.max(1e-9), 6.0);
    let x_top = x_ticks.last().copied().unwrap_or(1.0).max(1e-9);
    let y_top = y_ticks.last().copied().unwrap_or(1.0).max(1e-9);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + t / unit / x_top * plot_w;
    let y = |c: f64| TOP + plot_h - c / y_top * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(title)
    );
    for &tv in &x_ticks {
        let px = x(tv * unit);
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#e5e5e5\"/>",
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 16.0,
            label(tv)
        );
    }
    for &cv in &y_ticks {
        let py = y(cv);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#e5e5e5\"/>",
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            py + 4.0,
            label(cv)
        );
    }
    let _ = writeln!(
        s,
        r#"<path d="M{LEFT},{TOP} V{:.1} H{:.1}" fill="none" stroke="black"/>"#,
        TOP + plot_h,
        LEFT + plot_w
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 14.0,
        if in_days { "Time (days)" } else { "Time (h)" }
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">Lenalidomide plasma concentration (ng/mL)</text>"#,
        TOP + plot_h / 2.0
    );
    for (i, (name, p)) in profiles.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = p
            .times_h
            .iter()
            .zip(&p.conc_ng_ml)
            .filter(|(t, c)| t.is_finite() && c.is_finite())
            .map(|(&t, &c)| format!("{:.2},{:.2}", x(t), y(c)))
            .collect();
        if !points.is_empty() {
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{}"/>"#,
                points.join(" ")
            );
        }
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + plot_w + 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/>"#,
            lx + 22.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 28.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}
