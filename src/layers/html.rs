//! The shadow report as one self-contained HTML page with charts (feature
//! `html-report`): the [`DiscrepancyReport`](super::DiscrepancyReport)
//! table, and from a [`Timeline`](super::Timeline) the discrepancy rate,
//! each backend's latency percentiles and the skipped operations over
//! time. The charts are SVG drawn by the crate itself (`plotters`) and
//! inlined: the page loads nothing from anywhere, so it can be mailed or
//! archived as it is.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use paycrypto::layers::{html, DiscrepancyReport, Timeline};
//! let report = Arc::new(DiscrepancyReport::new());
//! let timeline = Arc::new(Timeline::new(Duration::from_secs(10)));
//! // … a Shadow layer with (report.clone(), timeline.clone()) as its sink …
//! let page = html::render("Migration drill", &report.snapshot(), &timeline.snapshot())?;
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), paycrypto::Error>(())
//! ```
//!
//! Like the report it draws from, the page holds names, counts and
//! latencies only: never request data.

use super::report::ReportSnapshot;
use super::timeline::TimelineSnapshot;
use crate::error::{Error, ErrorKind, Result};
use plotters::prelude::*;
use std::fmt::Write as _;

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 320);

/// Colours of the series, in order (colour-blind-safe Okabe–Ito palette).
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Backend, format!("cannot draw a chart: {e}"))
}

/// `&`, `<`, `>`, `"` and `'` as HTML entities.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line of a chart: its legend and its points.
struct Series {
    label: String,
    colour: RGBColor,
    width: u32,
    points: Vec<(f64, f64)>,
}

/// A line chart as an SVG document (a message instead when there is no
/// point to draw).
fn line_chart(title: &str, y_desc: &str, x_max: f64, series: &[Series]) -> Result<String> {
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the start")
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(chart_error)?;
        let mut any = false;
        for s in series.iter().filter(|s| !s.points.is_empty()) {
            any = true;
            let style = s.colour.stroke_width(s.width);
            let (colour, width) = (s.colour, s.width);
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(chart_error)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(width))
                });
        }
        if any {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(chart_error)?;
        } else {
            root.draw(&Text::new(
                "no data",
                (SIZE.0 as i32 / 2 - 30, SIZE.1 as i32 / 2),
                ("sans-serif", 16),
            ))
            .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// The three charts of a timeline: discrepancy rate, latency per backend,
/// skipped operations.
fn charts(t: &TimelineSnapshot) -> Result<[String; 3]> {
    let x_max = t.points.last().map_or(0.0, |p| p.end_s);
    // Each point sits in the middle of its slot.
    let mid = |p: &super::timeline::TimelinePoint| (p.start_s + p.end_s) / 2.0;
    let discrepancy = vec![Series {
        label: "mismatches and candidate errors / compared".into(),
        colour: colour(1),
        width: 2,
        points: t
            .points
            .iter()
            .filter_map(|p| p.discrepancy_rate.map(|r| (mid(p), r * 100.0)))
            .collect(),
    }];
    let mut latency = Vec::new();
    for (i, backend) in t.backends().iter().enumerate() {
        for (q, width, get) in [
            (
                "p50",
                1,
                (|l: &super::report::LatencySummary| l.p50_us) as fn(&_) -> f64,
            ),
            ("p95", 2, |l| l.p95_us),
            ("p99", 3, |l| l.p99_us),
        ] {
            latency.push(Series {
                label: format!("{backend} {q}"),
                colour: colour(i),
                width,
                points: t
                    .points
                    .iter()
                    .filter_map(|p| p.latency.get(backend).map(|l| (mid(p), get(l) / 1000.0)))
                    .collect(),
            });
        }
    }
    let skipped: Vec<Series> = t
        .skip_reasons()
        .iter()
        .enumerate()
        .map(|(i, reason)| Series {
            label: reason.clone(),
            colour: colour(i + 2),
            width: 2,
            points: t
                .points
                .iter()
                .map(|p| (mid(p), p.skipped.get(reason).copied().unwrap_or(0) as f64))
                .collect(),
        })
        .collect();
    Ok([
        line_chart(
            "Discrepancy rate",
            "% of compared requests",
            x_max,
            &discrepancy,
        )?,
        line_chart("Latency per backend", "milliseconds", x_max, &latency)?,
        line_chart(
            "Skipped operations",
            &format!("requests per {} s", t.slot_s),
            x_max,
            &skipped,
        )?,
    ])
}

fn summary_table(out: &mut String, r: &ReportSnapshot) {
    let us = |l: &Option<super::report::LatencySummary>| match l {
        Some(l) => format!("{:.0} / {:.0} / {:.0}", l.p50_us, l.p95_us, l.p99_us),
        None => "-".into(),
    };
    out.push_str(
        "<table><thead><tr><th>operation</th><th>primary → candidate</th><th>total</th>\
         <th>match</th><th>mismatch</th><th>candidate errors</th><th>unsupported</th>\
         <th>skipped</th><th>match %</th><th>primary p50/95/99 µs</th>\
         <th>candidate p50/95/99 µs</th><th>details</th></tr></thead><tbody>\n",
    );
    for row in &r.operations {
        let rate = row
            .match_rate
            .map_or_else(|| "-".into(), |m| format!("{:.2}", m * 100.0));
        let details: Vec<String> = row
            .details
            .iter()
            .map(|(k, n)| format!("{}={n}", escape(k)))
            .collect();
        let bad = if row.mismatched + row.candidate_errors > 0 {
            " class=\"bad\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr{bad}><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(row.operation),
            escape(&row.primary),
            escape(&row.candidate),
            row.total,
            row.matched,
            row.mismatched,
            row.candidate_errors,
            row.candidate_unsupported,
            row.skipped,
            rate,
            us(&row.primary_latency),
            us(&row.candidate_latency),
            details.join(" ")
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The page: a title, totals, the report's table and the three charts.
///
/// Errors ([`ErrorKind::Backend`]) only when a chart cannot be drawn.
pub fn render(title: &str, report: &ReportSnapshot, timeline: &TimelineSnapshot) -> Result<String> {
    let [discrepancy, latency, skipped] = charts(timeline)?;
    let total = report.sum(|r| r.total);
    let matched = report.sum(|r| r.matched);
    let mismatched = report.sum(|r| r.mismatched);
    let cand_err = report.sum(|r| r.candidate_errors);
    let skipped_n = report.sum(|r| r.skipped);
    let compared = total - skipped_n;
    let rate = if compared > 0 {
        format!(
            "{:.3} %",
            (mismatched + cand_err) as f64 * 100.0 / compared as f64
        )
    } else {
        "-".into()
    };
    let mut out = String::with_capacity(64 * 1024);
    let t = escape(title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{t}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}\n\
         table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: right; }}\n\
         th {{ background: #f3f3f3; }} td:first-child, td:nth-child(2), td:last-child {{ text-align: left; }}\n\
         tr.bad td {{ background: #fde8e0; }}\n\
         .totals span {{ display: inline-block; margin-right: 1.5em; }}\n\
         figure {{ margin: 1.5em 0; }} figcaption {{ font-size: 0.85em; color: #555; }}\n\
         </style>\n</head>\n<body>\n<h1>{t}</h1>\n\
         <p class=\"totals\"><span>requests <b>{total}</b></span><span>compared <b>{compared}</b></span>\
         <span>matched <b>{matched}</b></span><span>mismatched <b>{mismatched}</b></span>\
         <span>candidate errors <b>{cand_err}</b></span><span>skipped <b>{skipped_n}</b></span>\
         <span>discrepancy rate <b>{rate}</b></span></p>\n<h2>Per operation</h2>\n"
    );
    summary_table(&mut out, report);
    let _ = write!(
        out,
        "<h2>Over time</h2>\n\
         <figure>{discrepancy}<figcaption>Share of compared requests (every outcome but \
         skipped) where the candidate answered differently or failed, per {slot} s.</figcaption></figure>\n\
         <figure>{latency}<figcaption>Latency percentiles per backend as the shadow layer \
         measured them (p50 thin, p95 medium, p99 thick), per {slot} s.</figcaption></figure>\n\
         <figure>{skipped}<figcaption>Requests not compared, by reason (state-changing \
         operations, sampling, a full queue, …), per {slot} s.</figcaption></figure>\n\
         </body>\n</html>\n",
        slot = timeline.slot_s
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
