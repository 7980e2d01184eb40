//! The report's charts: line charts drawn by plotters into SVG strings.
//!
//! Each chart is built from the run as plain data (a [`Chart`] of [`Line`]s), then drawn by
//! [`Chart::svg`]; the data half is where the report's choices live and can be tested
//! without parsing SVG. Plotters' SVG backend writes text as `<text>` elements (escaped) and
//! needs no font files: the browser lays the text out.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::result::{Interval, RunResult, add_group, new_interval_histogram};

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 320);

/// Line colours, in order (a colour-blind-safe qualitative palette).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// How the x axis is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XAxis {
    /// Seconds since the run's first second: `0s`, `30s`, `2m 0s`.
    Elapsed,
    /// Nines of a percentile: x = -log10(1 - q), labelled `0%`, `90%`, `99%`, `99.9%`.
    Nines,
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The legend text.
    pub label: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart, as data.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// Shown above the chart (in the HTML, not in the SVG).
    pub title: String,
    /// The x axis.
    pub x: XAxis,
    /// The y axis' description, with its unit.
    pub y_desc: String,
    /// The lines.
    pub lines: Vec<Line>,
    /// The least x the axis reaches (the run's span on time charts, so that they line up).
    pub x_min_extent: f64,
}

impl Chart {
    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.points.is_empty())
    }

    /// The chart as one `<svg>` element, or why plotters could not draw it.
    pub fn svg(&self) -> Result<String, String> {
        let mut out = String::new();
        self.draw(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn draw(&self, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
        let (x_max, y_max) = self.extent();
        let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        let x_axis = self.x;
        let x_label = move |x: &f64| match x_axis {
            XAxis::Elapsed => elapsed_label(*x),
            XAxis::Nines => nines_label(*x),
        };
        let y_label = |y: &f64| trim_number(*y);
        chart
            .configure_mesh()
            .x_labels(match self.x {
                XAxis::Elapsed => 10,
                XAxis::Nines => (x_max.ceil() as usize + 1).max(2),
            })
            .y_labels(6)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc(match self.x {
                XAxis::Elapsed => "time since start",
                XAxis::Nines => "percentile",
            })
            .y_desc(self.y_desc.as_str())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let mut labelled = false;
        for (i, line) in self.lines.iter().enumerate() {
            if line.points.is_empty() {
                continue;
            }
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(line.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            labelled = true;
        }
        if labelled {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .draw()?;
        }
        root.present()?;
        Ok(())
    }

    /// The axes' upper ends: at least 1, with headroom on y for the legend, and finite.
    fn extent(&self) -> (f64, f64) {
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        let points = || self.lines.iter().flat_map(|l| l.points.iter());
        let x_max = points()
            .map(|p| finite(p.0))
            .fold(finite(self.x_min_extent), f64::max);
        let y_max = points().map(|p| finite(p.1)).fold(0.0, f64::max);
        let x_max = match self.x {
            XAxis::Elapsed => x_max.max(1.0),
            XAxis::Nines => x_max.max(2.0),
        };
        // Headroom above the highest point for the legend in the upper left: about 8% of the
        // height per entry, so the lines stay clear of it.
        let entries = self.lines.iter().filter(|l| !l.points.is_empty()).count();
        let headroom = (1.1 + 0.08 * entries as f64).min(1.7);
        (x_max, (y_max * headroom).max(1.0))
    }
}

/// Whole seconds since the start: `0s`, `45s`, `2m 30s`.
fn elapsed_label(x: f64) -> String {
    let secs = if x.is_finite() && x > 0.0 {
        x.round() as u64
    } else {
        0
    };
    if secs < 60 {
        format!("{secs}s")
    } else {
        crate::summary::format_run_duration_ms(secs.saturating_mul(1_000))
    }
}

/// `90%`, `99%`, `99.9%` for 1, 2, 3 nines (x = -log10(1 - q)).
fn nines_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    format!(
        "{}%",
        trim_number(((q * 100.0) * 1_000.0).round() / 1_000.0)
    )
}

/// A number for an axis: no trailing zeros, no `e` notation for the sizes on our axes.
fn trim_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A unit for latencies up to `max_us`: its name and microseconds per unit.
fn latency_unit(max_us: f64) -> (&'static str, f64) {
    if max_us >= 2_000_000.0 {
        ("s", 1_000_000.0)
    } else if max_us >= 2_000.0 {
        ("ms", 1_000.0)
    } else {
        ("µs", 1.0)
    }
}

/// At most this many points a line on a time chart: a longer run is drawn in windows of
/// several seconds (an hour in windows of 4 s), which keeps the page small and the lines
/// readable.
const MAX_POINTS: u64 = 1_000;

/// The series cut into windows of equal length, from its first second to its last, empty
/// windows included (so that nothing recorded plots as 0 instead of being bridged).
struct Windows<'a> {
    /// The length of a window, in seconds (1 for runs of up to [`MAX_POINTS`] seconds).
    seconds: u64,
    /// Seconds from the first second to the last.
    span: u64,
    /// The windows in order; each has the intervals of its seconds.
    windows: Vec<Vec<&'a Interval>>,
}

impl<'a> Windows<'a> {
    fn of(result: &'a RunResult) -> Self {
        let seconds = || result.series.iter().map(|i| i.unix_second);
        let (Some(first), Some(last)) = (seconds().min(), seconds().max()) else {
            return Windows {
                seconds: 1,
                span: 0,
                windows: Vec::new(),
            };
        };
        let span = last - first;
        let length = span / MAX_POINTS + 1;
        let mut windows = vec![Vec::new(); (span / length + 1) as usize];
        for interval in &result.series {
            windows[((interval.unix_second - first) / length) as usize].push(interval);
        }
        Windows {
            seconds: length,
            span,
            windows,
        }
    }

    /// The x of window `k`: seconds since the first second.
    fn x(&self, k: usize) -> f64 {
        (k as u64 * self.seconds) as f64
    }

    /// How many seconds of the series window `k` covers (the last one may be cut short).
    fn length(&self, k: usize) -> u64 {
        let start = k as u64 * self.seconds;
        (self.span - start.min(self.span))
            .saturating_add(1)
            .min(self.seconds)
    }

    /// One point a window: `per_window` of its intervals, divided by the window's length (a
    /// rate per second).
    fn rate(&self, per_window: impl Fn(&[&Interval]) -> u64) -> Vec<(f64, f64)> {
        self.windows
            .iter()
            .enumerate()
            .map(|(k, w)| (self.x(k), per_window(w) as f64 / self.length(k) as f64))
            .collect()
    }

    /// `" (6 s windows)"` when a window is longer than a second, for titles.
    fn note(&self) -> String {
        if self.seconds > 1 {
            format!(" ({} s windows)", self.seconds)
        } else {
            String::new()
        }
    }
}

fn sum(intervals: &[&Interval], of: impl Fn(&Interval) -> u64) -> u64 {
    intervals.iter().fold(0u64, |n, i| n.saturating_add(of(i)))
}

/// p50, p90 and p99 of `metric` (with its sub-metrics) in each second (or window) that
/// recorded any: the percentiles of all the window's samples together.
pub(crate) fn percentiles_over_time(result: &RunResult, metric: &str) -> Chart {
    const PERCENTILES: [(&str, f64); 3] = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0)];
    let windows = Windows::of(result);
    // Three numbers a window: its histogram is not kept past its row.
    let rows: Vec<(f64, [f64; 3])> = windows
        .windows
        .iter()
        .enumerate()
        .filter_map(|(k, w)| {
            let mut h = new_interval_histogram();
            for interval in w {
                add_group(&mut h, &interval.latencies, metric);
            }
            (!h.is_empty()).then(|| {
                let at = PERCENTILES.map(|(_, p)| h.value_at_percentile(p) as f64);
                (windows.x(k), at)
            })
        })
        .collect();
    let max_us = rows.iter().map(|(_, at)| at[2]).fold(0.0, f64::max);
    let (unit, scale) = latency_unit(max_us);
    let lines = PERCENTILES
        .iter()
        .enumerate()
        .map(|(k, (label, _))| Line {
            label: (*label).to_owned(),
            points: rows.iter().map(|(x, at)| (*x, at[k] / scale)).collect(),
        })
        .collect();
    Chart {
        title: format!("{metric}: latency percentiles over time{}", windows.note()),
        x: XAxis::Elapsed,
        y_desc: format!("latency ({unit})"),
        lines,
        x_min_extent: windows.span as f64,
    }
}

/// The percentile curve of every latency metric over the whole run: x in nines (0%, 90%,
/// 99%, …, as far as the samples reach), y the latency at that percentile.
pub(crate) fn distribution(result: &RunResult) -> Chart {
    let metrics: Vec<(&String, &Histogram<u64>)> = result
        .latencies
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .collect();
    let max_us = metrics
        .iter()
        .map(|(_, h)| h.max() as f64)
        .fold(0.0, f64::max);
    let (unit, scale) = latency_unit(max_us);
    let lines = metrics
        .iter()
        .map(|(name, h)| {
            // As many nines as the samples resolve (10 samples: 90%; 1,000: 99.9%), at most 5.
            let reach = (h.len() as f64).log10().clamp(1.0, 5.0);
            let steps = (reach * 40.0) as usize;
            let points = (0..=steps)
                .map(|k| {
                    let x = reach * k as f64 / steps as f64;
                    let q = 1.0 - 10f64.powf(-x);
                    (x, h.value_at_quantile(q) as f64 / scale)
                })
                .collect();
            Line {
                label: (*name).clone(),
                points,
            }
        })
        .collect();
    Chart {
        title: "Latency distribution (percentile curve)".into(),
        x: XAxis::Nines,
        y_desc: format!("latency ({unit})"),
        lines,
        x_min_extent: 0.0,
    }
}

/// Active users at the end of each second (the most in each window).
pub(crate) fn active_users(result: &RunResult) -> Chart {
    let windows = Windows::of(result);
    let points = windows
        .windows
        .iter()
        .enumerate()
        .filter(|(_, w)| !w.is_empty())
        .map(|(k, w)| {
            let most = w.iter().map(|i| i.active_users).max().unwrap_or(0);
            (windows.x(k), most as f64)
        })
        .collect();
    Chart {
        title: format!("Active users{}", windows.note()),
        x: XAxis::Elapsed,
        y_desc: "users".into(),
        lines: vec![Line {
            label: "active users".into(),
            points,
        }],
        x_min_extent: windows.span as f64,
    }
}

/// Operations (latency samples) per second: one line per metric, and the total when there is
/// more than one metric.
pub(crate) fn throughput(result: &RunResult) -> Chart {
    let windows = Windows::of(result);
    let metrics: Vec<&String> = result.latencies.keys().collect();
    let mut lines: Vec<Line> = Vec::new();
    if metrics.len() > 1 {
        lines.push(Line {
            label: "all operations".into(),
            points: windows.rate(|w| sum(w, Interval::operations)),
        });
    }
    for metric in metrics {
        lines.push(Line {
            label: metric.clone(),
            points: windows.rate(|w| sum(w, |i| i.latencies.get(metric).map_or(0, |h| h.len()))),
        });
    }
    Chart {
        title: format!("Throughput (operations per second){}", windows.note()),
        x: XAxis::Elapsed,
        y_desc: "operations/s".into(),
        lines,
        x_min_extent: windows.span as f64,
    }
}

/// Errors per second: one line per kind (the six most frequent), and all of them together
/// when there is more than one kind.
pub(crate) fn errors(result: &RunResult) -> Chart {
    let windows = Windows::of(result);
    let kinds = result.errors_by_kind();
    let mut lines = Vec::new();
    if kinds.len() != 1 {
        lines.push(Line {
            label: "all errors".into(),
            points: windows.rate(|w| sum(w, Interval::errors)),
        });
    }
    for (kind, _) in kinds.into_iter().take(6) {
        let counter = format!("{}{kind}", crate::result::ERROR_PREFIX);
        lines.push(Line {
            label: kind.to_owned(),
            points: windows.rate(|w| sum(w, |i| i.counters.get(&counter).copied().unwrap_or(0))),
        });
    }
    Chart {
        title: format!("Errors per second{}", windows.note()),
        x: XAxis::Elapsed,
        y_desc: "errors/s".into(),
        lines,
        x_min_extent: windows.span as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{Interval, RunMeta, new_interval_histogram, new_latency_histogram};

    fn run_with_gap() -> RunResult {
        let mut run = RunResult::new(RunMeta::new("ping", "ws://x/socket"));
        for (second, n) in [(100u64, 3u64), (103, 5)] {
            let mut i = Interval::new(second);
            let mut h = new_latency_histogram();
            h.record_n(1_500, n).unwrap();
            i.latencies.insert("reply.ping".into(), h.clone());
            i.counters.insert("errors.refused".into(), n);
            i.active_users = n * 10;
            run.series.push(i);
            run.latencies
                .entry("reply.ping".into())
                .or_insert_with(new_latency_histogram)
                .add(&h)
                .unwrap();
        }
        run.counters.insert("errors.refused".into(), 8);
        run
    }

    #[test]
    fn seconds_with_nothing_count_zero() {
        let run = run_with_gap();
        let chart = throughput(&run);
        assert_eq!(chart.lines.len(), 1, "one metric, no total line");
        assert_eq!(
            chart.lines[0].points,
            vec![(0.0, 3.0), (1.0, 0.0), (2.0, 0.0), (3.0, 5.0)]
        );
        let chart = errors(&run);
        assert_eq!(chart.lines.len(), 1, "one kind: no separate total");
        assert_eq!(chart.lines[0].label, "refused");
        assert_eq!(chart.lines[0].points[3], (3.0, 5.0));
        assert_eq!(elapsed_label(0.0), "0s");
        assert_eq!(elapsed_label(90.0), "1m 30s");
    }

    #[test]
    fn percentiles_are_per_second_in_a_fitting_unit() {
        let chart = percentiles_over_time(&run_with_gap(), "reply");
        assert_eq!(chart.y_desc, "latency (µs)");
        let p99 = &chart.lines[2].points;
        assert_eq!(p99.len(), 2, "only seconds with samples");
        assert_eq!(p99[1].0, 3.0);
        assert_eq!(chart.x_min_extent, 3.0, "time charts span the whole series");
        assert!((1_500.0..1_502.0).contains(&p99[1].1), "{p99:?}");
    }

    #[test]
    fn long_runs_are_drawn_in_windows() {
        // 2,500 seconds, each with one sample of 1 ms and one of (second + 1) µs.
        let mut run = RunResult::new(RunMeta::new("ping", "ws://x/socket"));
        for s in 0..2_500u64 {
            let mut i = Interval::new(1_000_000 + s);
            let mut h = new_interval_histogram();
            h.record(1_000).unwrap();
            h.record(1 + s).unwrap();
            run.latencies
                .entry("reply.ping".into())
                .or_insert_with(new_latency_histogram)
                .add(&h)
                .unwrap();
            i.latencies.insert("reply.ping".into(), h);
            i.counters.insert("errors.refused".into(), 2);
            i.active_users = s;
            run.series.push(i);
        }
        let chart = throughput(&run);
        let points = &chart.lines[0].points;
        assert!(
            points.len() <= MAX_POINTS as usize + 1,
            "{} points",
            points.len()
        );
        assert_eq!(points[1].0, 3.0, "windows of 3 s");
        assert!(
            points.iter().all(|p| p.1 == 2.0),
            "a rate per second, not per window"
        );
        assert!(chart.title.ends_with("(3 s windows)"), "{}", chart.title);
        assert!(errors(&run).lines[0].points.iter().all(|p| p.1 == 2.0));
        let users = active_users(&run);
        assert_eq!(
            users.lines[0].points[1],
            (3.0, 5.0),
            "the most users in the window"
        );
        // The window's percentiles are those of its samples together: seconds 3..=5 hold
        // 1,000 µs three times and 4, 5 and 6 µs: the p50 is 6 µs, the p99 1 ms.
        let p = percentiles_over_time(&run, "reply");
        assert_eq!(p.y_desc, "latency (ms)", "later windows reach 2.5 ms");
        assert_eq!(p.lines[0].points[1].0, 3.0);
        assert!(
            (0.006..0.0061).contains(&p.lines[0].points[1].1),
            "p50 {:?}",
            p.lines[0].points[1]
        );
        assert!(
            (1.0..1.001).contains(&p.lines[2].points[1].1),
            "p99 {:?}",
            p.lines[2].points[1]
        );
        assert_eq!(p.x_min_extent, 2_499.0);
    }

    #[test]
    fn the_distribution_reaches_as_far_as_the_samples() {
        let chart = distribution(&run_with_gap());
        let points = &chart.lines[0].points;
        assert_eq!(points.first().unwrap().0, 0.0);
        assert!(
            (points.last().unwrap().0 - 1.0).abs() < 1e-9,
            "8 samples: up to 90%"
        );
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(0.0), "0%");
    }

    #[test]
    fn a_series_spanning_all_of_time_draws_in_bounded_points() {
        let mut run = run_with_gap();
        run.series[0].unix_second = 0;
        run.series[1].unix_second = u64::MAX;
        for chart in [throughput(&run), errors(&run), active_users(&run)] {
            assert!(chart.lines[0].points.len() <= MAX_POINTS as usize + 1);
            assert!(
                chart.lines[0]
                    .points
                    .iter()
                    .all(|p| p.0.is_finite() && p.1.is_finite())
            );
            chart.svg().unwrap();
        }
        percentiles_over_time(&run, "reply").svg().unwrap();
    }

    #[test]
    fn empty_charts_draw() {
        let run = RunResult::new(RunMeta::new("ping", "ws://x/socket"));
        for chart in [
            percentiles_over_time(&run, "reply"),
            distribution(&run),
            active_users(&run),
            throughput(&run),
            errors(&run),
        ] {
            assert!(chart.is_empty());
            let svg = chart.svg().unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        }
    }
}
