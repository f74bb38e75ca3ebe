//! A small PDF writer for printable handouts: text in the standard Helvetica fonts (which every PDF reader has,
//! so nothing is embedded), laid out top to bottom on US Letter pages with word wrapping, page breaks and a
//! footer on every page.
//!
//! Text is encoded in WinAnsiEncoding (PDF 1.7, Annex D): characters of that encoding are written as their byte,
//! a few common ones outside it are spelled out (`≥` as `>=`), anything else becomes `?`; `(`, `)` and `\` are
//! escaped and bytes outside printable ASCII written in octal, so the file stays 7-bit. Widths are Helvetica's
//! AFM metrics, so wrapping matches what the reader draws. Content streams are not compressed: the files are
//! small, and the text stays checkable by tools.

use std::fmt::Write;

/// US Letter, in points.
pub const PAGE_W: f64 = 612.0;
pub const PAGE_H: f64 = 792.0;
const MARGIN: f64 = 54.0;
const FOOTER_Y: f64 = 30.0;

/// Helvetica and Helvetica-Bold widths of the printable ASCII characters (32..=126), per 1000 units of font size.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// The WinAnsiEncoding byte of a character, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let b = match c {
        ' '..='~' => c as u8,
        // Latin-1 Supplement: the same code points (0xA0 non-breaking space drawn as a space).
        '\u{A0}' => b' ',
        '\u{A1}'..='\u{FF}' => c as u32 as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(b)
}

/// Characters outside WinAnsiEncoding that have a faithful spelling in it.
fn spelled(c: char) -> Option<&'static str> {
    Some(match c {
        '≥' => ">=",
        '≤' => "<=",
        '≠' => "!=",
        '→' => "->",
        '−' | '‐' | '‑' => "-",
        '\u{2009}' | '\u{202F}' | '\t' | '\n' | '\r' => " ",
        _ => return None,
    })
}

/// Text as WinAnsiEncoding bytes.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(b) = win_ansi(c) {
            out.push(b);
        } else if let Some(s) = spelled(c) {
            out.extend_from_slice(s.as_bytes());
        } else if !c.is_control() {
            out.push(b'?');
        }
    }
    out
}

/// The width of one encoded byte, per 1000 units of font size.
fn byte_width(b: u8, bold: bool) -> u16 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    match b {
        32..=126 => table[usize::from(b - 32)],
        0x85 | 0x97 | 0x89 | 0x8C | 0x9C | 0xC6 => 1000,
        0x91 | 0x92 | 0x82 => {
            if bold {
                278
            } else {
                222
            }
        }
        0x93 | 0x94 | 0x84 => {
            if bold {
                500
            } else {
                333
            }
        }
        0x95 => 350,
        0xB0 => 400,
        0xC0..=0xC5 | 0xC8..=0xCB | 0xDD | 0xDE => 667,
        0xC7 | 0xD0 | 0xD1 | 0xD9..=0xDC => 722,
        0xD2..=0xD6 | 0xD8 => 778,
        0xCC..=0xCF | 0xEC..=0xEF => 278,
        0xE7 | 0xFD | 0xFF => 500,
        // The rest (accented lower-case letters, currency, most symbols) are 556 in Helvetica, or close to it.
        _ => 556,
    }
}

/// The width of `text` in points at `size`.
pub fn width(text: &str, size: f64, bold: bool) -> f64 {
    encode(text)
        .iter()
        .map(|b| f64::from(byte_width(*b, bold)))
        .sum::<f64>()
        * size
        / 1000.0
}

/// A PDF string literal of encoded text.
fn literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(*b));
            }
            32..=126 => out.push(char::from(*b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// Break `text` into lines no wider than `max` points (a word longer than a line is cut).
pub fn wrap(text: &str, size: f64, bold: bool, max: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, size, bold) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while width(&rest, size, bold) > max {
            let mut cut = String::new();
            for c in rest.chars() {
                if width(&format!("{cut}{c}"), size, bold) > max && !cut.is_empty() {
                    break;
                }
                cut.push(c);
            }
            rest = rest[cut.len()..].to_string();
            lines.push(cut);
        }
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A document being laid out: the pages' content streams and the current position.
#[derive(Debug)]
pub struct Doc {
    title: String,
    footer: String,
    pages: Vec<String>,
    y: f64,
}

impl Doc {
    /// A document; `footer` is printed at the bottom of every page with its page number.
    pub fn new(title: &str, footer: &str) -> Doc {
        Doc {
            title: title.to_string(),
            footer: footer.to_string(),
            pages: vec![String::new()],
            y: PAGE_H - MARGIN,
        }
    }

    fn text_at(&mut self, x: f64, y: f64, size: f64, bold: bool, text: &str) {
        let font = if bold { "F2" } else { "F1" };
        let page = self.pages.last_mut().expect("a document has a page");
        let _ = writeln!(
            page,
            "BT /{font} {size} Tf {x:.2} {y:.2} Td {} Tj ET",
            literal(&encode(text))
        );
    }

    /// Make room for `height` points, starting a new page when this one is full.
    fn room(&mut self, height: f64) {
        if self.y - height < MARGIN {
            self.pages.push(String::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    /// Vertical space.
    pub fn gap(&mut self, points: f64) {
        self.y -= points;
    }

    /// Wrapped text at an indent.
    pub fn text(&mut self, text: &str, size: f64, bold: bool, indent: f64) {
        let leading = size * 1.3;
        for line in wrap(text, size, bold, PAGE_W - 2.0 * MARGIN - indent) {
            self.room(leading);
            self.y -= leading;
            self.text_at(MARGIN + indent, self.y + size * 0.3, size, bold, &line);
        }
    }

    pub fn heading(&mut self, text: &str) {
        // Keep a heading with at least two lines of what follows it.
        self.room(48.0);
        self.gap(8.0);
        self.text(text, 14.0, true, 0.0);
        self.gap(2.0);
    }

    pub fn paragraph(&mut self, text: &str) {
        self.text(text, 11.0, false, 0.0);
        self.gap(4.0);
    }

    pub fn bullet(&mut self, text: &str) {
        self.room(14.3);
        let top = self.y;
        self.text(text, 11.0, false, 14.0);
        let first_baseline = top - 14.3 + 3.3;
        self.text_at(MARGIN + 3.0, first_baseline, 11.0, false, "•");
        self.gap(3.0);
    }

    /// A row of two columns: a bold label `label_width` points wide and wrapped text beside it.
    pub fn row(&mut self, label: &str, text: &str, label_width: f64) {
        let size = 11.0;
        let leading = size * 1.3;
        let lines = wrap(text, size, false, PAGE_W - 2.0 * MARGIN - label_width);
        self.room(leading * lines.len().min(3) as f64 + 4.0);
        self.y -= 2.0;
        let rule_y = self.y + 1.0;
        {
            let page = self.pages.last_mut().expect("a page");
            let _ = writeln!(
                page,
                "0.8 G 0.5 w {:.2} {rule_y:.2} m {:.2} {rule_y:.2} l S 0 G",
                MARGIN,
                PAGE_W - MARGIN
            );
        }
        let mut first = true;
        for line in lines {
            self.room(leading);
            self.y -= leading;
            if first {
                self.text_at(MARGIN, self.y + 3.3, size, true, label);
                first = false;
            }
            self.text_at(MARGIN + label_width, self.y + 3.3, size, false, &line);
        }
        self.y -= 2.0;
    }

    /// The finished file.
    pub fn finish(mut self) -> Vec<u8> {
        let n = self.pages.len();
        let footer = self.footer.clone();
        for i in 0..n {
            let text = format!("{footer} · Page {} of {n}", i + 1);
            let page = &mut self.pages[i];
            let _ = writeln!(
                page,
                "BT /F1 8 Tf {MARGIN:.2} {FOOTER_Y:.2} Td {} Tj ET",
                literal(&encode(&text))
            );
        }
        // Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its contents per page.
        let mut objects: Vec<String> = Vec::new();
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
        objects.push("<< /Type /Catalog /Pages 2 0 R /Lang (en-US) >>".into());
        objects.push(format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            kids.join(" ")
        ));
        for base in ["Helvetica", "Helvetica-Bold"] {
            objects.push(format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
            ));
        }
        objects.push(format!(
            "<< /Title {} /Producer (Lenaguard) >>",
            literal(&encode(&self.title))
        ));
        for (i, content) in self.pages.iter().enumerate() {
            objects.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                7 + 2 * i
            ));
            objects.push(format!(
                "<< /Length {} >>\nstream\n{content}endstream",
                content.len()
            ));
        }
        // A comment of bytes above 127 after the header tells transfer tools the file is binary.
        let mut bytes: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        let mut out = String::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(bytes.len());
            bytes.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = bytes.len();
        let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for o in offsets {
            let _ = writeln!(out, "{o:010} 00000 n ");
        }
        let _ = write!(
            out,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        bytes.extend_from_slice(out.as_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_in_win_ansi_and_escaped() {
        assert_eq!(encode("a(b)\\"), b"a(b)\\".to_vec());
        assert_eq!(literal(&encode("a(b)\\")), r"(a\(b\)\\)");
        assert_eq!(
            encode("é – ’ € ü"),
            vec![0xE9, 32, 0x96, 32, 0x92, 32, 0x80, 32, 0xFC]
        );
        assert_eq!(literal(&encode("é")), r"(\351)");
        assert_eq!(encode("ANC ≥ 1,000"), b"ANC >= 1,000".to_vec());
        assert_eq!(encode("日本\u{7}x"), b"??x".to_vec());
    }

    #[test]
    fn widths_follow_the_metrics() {
        assert_eq!(
            width("Hello", 10.0, false),
            (722.0 + 556.0 + 222.0 + 222.0 + 556.0) / 100.0
        );
        assert!(width("Hello", 10.0, true) > width("Hello", 10.0, false));
        assert_eq!(HELVETICA[usize::from(b'W' - 32)], 944);
        assert_eq!(HELVETICA[usize::from(b'~' - 32)], 584);
    }

    #[test]
    fn lines_wrap_within_the_width() {
        let text = "Do not donate blood during treatment and for 4 weeks after you stop taking lenalidomide.";
        let lines = wrap(text, 11.0, false, 200.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(l, 11.0, false) <= 200.0));
        assert_eq!(lines.join(" "), text);
        let long = "x".repeat(200);
        assert!(
            wrap(&long, 11.0, false, 100.0)
                .iter()
                .all(|l| width(l, 11.0, false) <= 100.0)
        );
        assert_eq!(wrap("", 11.0, false, 100.0), vec![String::new()]);
    }

    #[test]
    fn the_file_is_a_well_formed_pdf() {
        let mut d = Doc::new("T (1)", "Generated");
        for i in 0..120 {
            d.paragraph(&format!("Line {i} with (parentheses) and a backslash \\"));
        }
        let pdf = d.finish();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        let pages = text.matches("/Type /Page ").count();
        assert!(pages >= 2, "{pages}");
        assert!(text.contains(&format!("Page {pages} of {pages}")));
        // Every xref offset points at its object.
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|s| s.lines().next())
            .and_then(|s| s.parse().ok())
            .expect("startxref");
        let xref = &pdf[xref_at..];
        let table = String::from_utf8_lossy(xref);
        for (i, line) in table.lines().skip(3).take(5 + 2 * pages).enumerate() {
            let off: usize = line[..10].parse().expect("offset");
            assert!(
                pdf[off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "{i}"
            );
        }
        // Every stream's length is its byte count.
        for (at, _) in text.match_indices("/Length ") {
            let rest = &text[at + 8..];
            let len: usize = rest[..rest.find(' ').expect("len")]
                .parse()
                .expect("a length");
            let start = at + 8 + rest.find("stream\n").expect("stream") + 7;
            assert_eq!(&text[start + len..start + len + 9], "endstream");
        }
        // Only 7-bit bytes after the header's binary marker.
        assert!(pdf[15..].iter().all(|b| b.is_ascii()));
    }
}
