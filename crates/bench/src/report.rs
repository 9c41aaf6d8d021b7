//! The results as a table on stdout, as BENCHMARKS.md, and as an SVG of the ratios.

use std::fmt::Write as _;

/// One line of the summary: a figure measured against its baseline in the same run.
pub struct Ratio {
    pub section: &'static str,
    pub figure: String,
    pub baseline: String,
    pub measured: String,
    /// measured / baseline, in the direction `better` says.
    pub ratio: f64,
    pub better: Better,
    pub target: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Times: lower is better (e.g. wasm ms / native ms).
    Lower,
    /// Rates: higher is better (e.g. provider ops/s / raw ops/s).
    Higher,
}

impl Ratio {
    pub fn verdict(&self) -> &'static str {
        match self.target {
            None => "",
            Some(t) if self.ratio.is_nan() => if t.is_nan() { "" } else { "not measured" },
            Some(t) => match self.better {
                Better::Lower if self.ratio <= t => "met",
                Better::Higher if self.ratio >= t => "met",
                _ => "NOT met",
            },
        }
    }

    fn target_text(&self) -> String {
        match (self.target, self.better) {
            (None, _) => "-".into(),
            (Some(t), Better::Lower) => format!("<= {t:.2}"),
            (Some(t), Better::Higher) => format!(">= {t:.2}"),
        }
    }
}

pub fn table(ratios: &[Ratio]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| Section | Figure | Baseline | pixelbus | Ratio | Target | |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|---|");
    for r in ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2}x | {} | {} |",
            r.section,
            r.figure,
            r.baseline,
            r.measured,
            r.ratio,
            r.target_text(),
            r.verdict()
        );
    }
    out
}

/// Horizontal bars, one per ratio, with the 1.0 line and each target marked.
pub fn svg(ratios: &[Ratio], title: &str) -> String {
    let (label_w, bar_w, row_h, top) = (360.0, 420.0, 26.0, 44.0);
    let max = ratios
        .iter()
        .flat_map(|r| [r.ratio, r.target.unwrap_or(0.0)])
        .filter(|x| x.is_finite())
        .fold(1.0f64, f64::max)
        * 1.1;
    let x = |v: f64| label_w + bar_w * (v / max);
    let height = top + row_h * ratios.len() as f64 + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">"#,
        w = label_w + bar_w + 80.0
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#, escape(title));
    for (i, r) in ratios.iter().enumerate() {
        let y = top + row_h * i as f64;
        let good = matches!(r.verdict(), "met" | "");
        let colour = if good { "#4a90d9" } else { "#d9534f" };
        let _ = writeln!(
            out,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text>"#,
            lx = label_w - 8.0,
            ty = y + 15.0,
            label = escape(&format!("{}: {}", r.section, r.figure))
        );
        if r.ratio.is_finite() {
            let _ = writeln!(
                out,
                r#"<rect x="{label_w}" y="{by}" width="{bw:.1}" height="16" fill="{colour}"/><text x="{tx:.1}" y="{ty}">{v:.2}x</text>"#,
                by = y + 3.0,
                bw = x(r.ratio) - label_w,
                tx = x(r.ratio) + 4.0,
                ty = y + 15.0,
                v = r.ratio
            );
        }
        if let Some(t) = r.target.filter(|t| t.is_finite()) {
            let _ = writeln!(
                out,
                r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="{y1}" y2="{y2}" stroke="black" stroke-dasharray="3,2"/>"#,
                tx = x(t),
                y1 = y + 1.0,
                y2 = y + 21.0
            );
        }
    }
    let one = x(1.0);
    let bottom = top + row_h * ratios.len() as f64;
    let _ = writeln!(out, r##"<line x1="{one:.1}" x2="{one:.1}" y1="{top}" y2="{bottom}" stroke="#333"/>"##);
    let _ = writeln!(
        out,
        r#"<text x="{one:.1}" y="{ty}" text-anchor="middle">1.0 = baseline (dashed: target)</text>"#,
        ty = bottom + 18.0
    );
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(ratio: f64, better: Better, target: Option<f64>) -> Ratio {
        Ratio {
            section: "s",
            figure: "f <x>".into(),
            baseline: "1".into(),
            measured: "2".into(),
            ratio,
            better,
            target,
        }
    }

    #[test]
    fn verdicts_follow_the_direction() {
        assert_eq!(ratio(1.2, Better::Lower, Some(1.3)).verdict(), "met");
        assert_eq!(ratio(1.5, Better::Lower, Some(1.3)).verdict(), "NOT met");
        assert_eq!(ratio(0.8, Better::Higher, Some(0.7)).verdict(), "met");
        assert_eq!(ratio(0.5, Better::Higher, Some(0.7)).verdict(), "NOT met");
        assert_eq!(ratio(f64::NAN, Better::Higher, Some(0.7)).verdict(), "not measured");
        assert_eq!(ratio(0.5, Better::Higher, None).verdict(), "");
    }

    #[test]
    fn table_and_svg_carry_every_row_escaped() {
        let rows = [ratio(1.5, Better::Lower, Some(1.3)), ratio(0.9, Better::Higher, None)];
        let t = table(&rows);
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.contains("1.50x") && t.contains("NOT met") && t.contains("<= 1.30"), "{t}");
        let s = svg(&rows, "title");
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{s}");
        assert_eq!(s.matches("<rect x=").count(), 2, "{s}");
        assert!(s.contains("f &lt;x&gt;") && !s.contains("f <x>"), "{s}");
    }
}
