//! The waterfall of a page load, as browsers' developer tools draw it: for
//! each object, the connection it went over, when its request started,
//! when the first byte of the response arrived and when the body ended.
//! `-v` and `--stats` print it as a text table; `--waterfall FILE` draws it
//! as SVG in the style of `tunstack ladder --svg`. Pure functions over the
//! rows the page loader records.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

/// One object of the page load; times count from the page's first request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Row {
    /// The URL's path (and query), as requested.
    pub object: String,
    /// The connection's number (1 for the first one opened).
    pub conn: u64,
    /// The connection was opened for this object (its handshake is part of
    /// the wait for the first byte).
    pub new_conn: bool,
    /// The request started (a pooled connection taken, or a new one opened).
    pub start: Duration,
    /// The response's first byte arrived.
    pub first_byte: Option<Duration>,
    /// The body ended.
    pub end: Duration,
    /// Body bytes saved.
    pub bytes: u64,
    pub status: u16,
}

/// Width of the text timeline, in characters.
const BAR: usize = 40;
/// Longest object name shown before it is shortened.
const NAME: usize = 48;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The span the waterfall covers: the latest end (at least 1 µs).
fn span(rows: &[Row]) -> Duration {
    rows.iter()
        .map(|r| r.end)
        .max()
        .unwrap_or_default()
        .max(Duration::from_micros(1))
}

/// Distinct connections the rows used.
fn connections(rows: &[Row]) -> usize {
    rows.iter().map(|r| r.conn).collect::<BTreeSet<_>>().len()
}

/// `name` cut to `max` characters, with an ellipsis where it was cut.
fn shortened(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let tail: String = name
        .chars()
        .rev()
        .take(max.saturating_sub(1))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// The text table (for stderr): one line per object in start order, with
/// a timeline where `-` is waiting for the first byte (handshake included
/// on a new connection) and `=` is receiving.
pub(super) fn text(rows: &[Row]) -> String {
    let total = span(rows);
    let mut out = format!(
        "waterfall: {} objects over {} connection{} in {:.3} ms (times in ms from the first request; \
         +N: connection N opened for the object; timeline: - waiting, = receiving)\n",
        rows.len(),
        connections(rows),
        if connections(rows) == 1 { "" } else { "s" },
        ms(total)
    );
    let width = rows
        .iter()
        .map(|r| r.object.chars().count().min(NAME))
        .max()
        .unwrap_or(0)
        .max("object".len());
    let _ = writeln!(
        out,
        "{:>5} {:>5} {:>10} {:>10} {:>10} {:>10} {:>6}  {:<width$}  timeline",
        "#", "conn", "start", "first byte", "end", "bytes", "status", "object"
    );
    // Integer arithmetic: a time on a column boundary lands on it exactly.
    let col = |d: Duration| {
        let c = d.as_nanos().saturating_mul(BAR as u128) / total.as_nanos().max(1);
        usize::try_from(c).unwrap_or(BAR).min(BAR - 1)
    };
    for (i, r) in rows.iter().enumerate() {
        let mut bar = [b' '; BAR];
        let (s, e) = (col(r.start), col(r.end));
        let f = r.first_byte.map_or(e, col).clamp(s, e);
        for (j, c) in bar.iter_mut().enumerate() {
            if (s..f).contains(&j) {
                *c = b'-';
            } else if (f..=e).contains(&j) {
                *c = b'=';
            }
        }
        let conn = if r.new_conn {
            format!("+{}", r.conn)
        } else {
            r.conn.to_string()
        };
        let _ = writeln!(
            out,
            "{:>5} {:>5} {:>10.3} {:>10} {:>10.3} {:>10} {:>6}  {:<width$}  |{}|",
            i + 1,
            conn,
            ms(r.start),
            r.first_byte
                .map_or_else(|| "-".to_string(), |t| format!("{:.3}", ms(t))),
            ms(r.end),
            r.bytes,
            r.status,
            shortened(&r.object, NAME),
            String::from_utf8_lossy(&bar)
        );
    }
    out
}

/// Text safe inside SVG (XML) content and attribute values.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A round tick spacing (1, 2 or 5 × 10^k ms) giving about six ticks.
fn tick_ms(total_ms: f64) -> f64 {
    let raw = (total_ms / 6.0).max(1e-3);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

// The SVG's layout, in pixels.
/// The label column's width.
const LABEL: f64 = 340.0;
/// The plot's width.
const PLOT: f64 = 640.0;
/// A row's height.
const ROW: f64 = 18.0;
/// The top margin: title, legend and time axis.
const TOP: f64 = 56.0;

/// The waterfall as a standalone SVG document: a time axis, then one
/// `<g class="object">` per object with its label, a wait bar (request
/// sent, no byte back yet) and a receive bar, and a tooltip.
pub(super) fn svg(rows: &[Row]) -> String {
    let total = ms(span(rows));
    let w = LABEL + PLOT + 20.0;
    let h = TOP + ROW * rows.len() as f64 + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"monospace\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"18\">page load: {} objects over {} connections in {total:.1} ms</text>",
        rows.len(),
        connections(rows)
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"36\" font-size=\"10\"><tspan fill=\"#9bb7d4\">■</tspan> waiting for the first byte (with the handshake on a new connection, +N)  <tspan fill=\"steelblue\">■</tspan> receiving</text>"
    );
    svg_axis(&mut out, total, h);
    for (i, r) in rows.iter().enumerate() {
        svg_row(&mut out, i, r, total);
    }
    out.push_str("</svg>\n");
    out
}

/// The time axis of a waterfall `total` ms long: a tick line down to `h`
/// and a label at each round step.
fn svg_axis(out: &mut String, total: f64, h: f64) {
    let step = tick_ms(total);
    // Sub-millisecond steps get the decimals they need, no float noise.
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    for k in 0..=(total / step + 1e-9) as usize {
        let t = k as f64 * step;
        let tx = LABEL + t / total * PLOT;
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{h}\" stroke=\"#ddd\"/>",
            TOP - 6.0
        );
        let _ = writeln!(
            out,
            "<text x=\"{tx:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{t:.decimals$} ms</text>",
            TOP - 9.0
        );
    }
}

/// Row `i` of a waterfall `total` ms long: object `r`'s label, wait bar,
/// receive bar and tooltip.
fn svg_row(out: &mut String, i: usize, r: &Row, total: f64) {
    let x = |d: Duration| LABEL + ms(d) / total * PLOT;
    let y = TOP + ROW * i as f64;
    let conn = if r.new_conn {
        format!("+{}", r.conn)
    } else {
        r.conn.to_string()
    };
    let first = r.first_byte.unwrap_or(r.end).clamp(r.start, r.end);
    let _ = writeln!(out, "<g class=\"object\">");
    let _ = writeln!(
        out,
        "<title>{}: connection {}, start {:.3} ms, first byte {}, end {:.3} ms, {} bytes, status {}</title>",
        escaped(&r.object),
        r.conn,
        ms(r.start),
        r.first_byte
            .map_or_else(|| "-".to_string(), |t| format!("{:.3} ms", ms(t))),
        ms(r.end),
        r.bytes,
        r.status
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"{:.1}\">{:>3} {:>4} {}</text>",
        y + 13.0,
        i + 1,
        conn,
        escaped(&shortened(&r.object, 34))
    );
    let _ = writeln!(
        out,
        "<rect class=\"wait\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" fill=\"#9bb7d4\"/>",
        x(r.start),
        y + 3.0,
        (x(first) - x(r.start)).max(0.5)
    );
    let _ = writeln!(
        out,
        "<rect class=\"recv\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" fill=\"steelblue\"/>",
        x(first),
        y + 3.0,
        (x(r.end) - x(first)).max(0.5)
    );
    out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(object: &str, conn: u64, new_conn: bool, t: [u64; 3]) -> Row {
        Row {
            object: object.into(),
            conn,
            new_conn,
            start: Duration::from_millis(t[0]),
            first_byte: Some(Duration::from_millis(t[1])),
            end: Duration::from_millis(t[2]),
            bytes: 100,
            status: 200,
        }
    }

    fn sample() -> Vec<Row> {
        vec![
            row("/index.html", 1, true, [0, 50, 60]),
            row("/a.css", 1, false, [60, 110, 120]),
            row("/b&<c>.png", 2, true, [60, 150, 200]),
        ]
    }

    #[test]
    fn text_has_one_line_per_object_with_its_times_and_a_timeline() {
        let t = text(&sample());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("waterfall: 3 objects over 2 connections in 200.000 ms"));
        assert_eq!(lines.len(), 5, "{t}");
        let f: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(
            &f[..8],
            [
                "3",
                "+2",
                "60.000",
                "150.000",
                "200.000",
                "100",
                "200",
                "/b&<c>.png"
            ]
        );
        let bar = lines[4].split('|').nth(1).unwrap();
        assert_eq!(bar.len(), BAR);
        // 60..150 of 200 ms waiting, then receiving to the end.
        assert_eq!(bar.find('-'), Some(12));
        assert_eq!(bar.find('='), Some(30));
        assert!(bar.ends_with('='));
        let f: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(f[1], "1", "a reused connection has no +");
    }

    #[test]
    fn a_row_without_a_first_byte_or_with_zero_times_still_renders() {
        let mut r = row("/x", 1, true, [0, 0, 0]);
        r.first_byte = None;
        let t = text(std::slice::from_ref(&r));
        assert!(t.contains(" - "), "{t}");
        let s = svg(&[r]);
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
        assert!(text(&[]).starts_with("waterfall: 0 objects"));
        assert!(svg(&[]).ends_with("</svg>\n"));
    }

    #[test]
    fn svg_has_a_group_per_object_and_escapes_names() {
        let s = svg(&sample());
        assert_eq!(s.matches("<g class=\"object\">").count(), 3);
        assert_eq!(s.matches("<rect class=\"wait\"").count(), 3);
        assert_eq!(s.matches("<rect class=\"recv\"").count(), 3);
        assert!(s.contains("/b&amp;&lt;c&gt;.png"));
        assert!(!s.contains("b&<"));
        assert_eq!(s.matches("<g").count(), s.matches("</g>").count());
        assert!(s.starts_with("<svg ") && s.ends_with("</svg>\n"));
    }

    #[test]
    fn ticks_are_round_and_long_names_are_cut_from_the_left() {
        assert_eq!(tick_ms(200.0), 50.0);
        assert_eq!(tick_ms(1000.0), 200.0);
        assert_eq!(tick_ms(6.0), 1.0);
        let s = svg(&[row("/x", 1, true, [0, 0, 1])]);
        assert!(s.contains(">0.2 ms<") && s.contains(">1.0 ms<"), "{s}");
        assert_eq!(s.matches("<line class=\"tick\"").count(), 6, "{s}");
        let long = format!("/{}", "x".repeat(100));
        let s = shortened(&long, 10);
        assert_eq!(s.chars().count(), 10);
        assert!(s.starts_with('…') && s.ends_with('x'));
    }
}
