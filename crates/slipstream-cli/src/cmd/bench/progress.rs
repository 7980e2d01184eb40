//! What `bench` shows while it runs, on stderr: one live line redrawn in place (indicatif) when
//! stderr is a terminal, a plain line every few seconds when it is not (CI logs), nothing with
//! `--quiet`. A worker of `--workers` prints one machine-readable line a second on stdout
//! instead, which its parent sums.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use slipstream_bench::duration::format_duration;
use slipstream_bench::recorder::Snapshot;

/// How often the plain (not a terminal) display prints a line.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// One second's figures, as the display shows them; also what a worker reports to its parent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// Time into the run.
    pub elapsed: Duration,
    /// Users running.
    pub active_users: u64,
    /// Operations in the last second.
    pub ops: u64,
    /// The primary metric's median in the last second, µs.
    pub p50_us: Option<u64>,
    /// The primary metric's 99th percentile in the last second, µs.
    pub p99_us: Option<u64>,
    /// Errors so far.
    pub errors: u64,
}

impl Figures {
    /// The figures of a collector's snapshot.
    pub fn from_snapshot(snapshot: &Snapshot, elapsed: Duration) -> Figures {
        Figures {
            elapsed,
            active_users: snapshot.active_users,
            ops: snapshot.ops,
            p50_us: snapshot.p50_us,
            p99_us: snapshot.p99_us,
            errors: snapshot.errors_total,
        }
    }

    /// The worker's line: `tick ELAPSED_MS USERS OPS P50 P99 ERRORS` (`-` for no latency).
    pub fn to_worker_line(self) -> String {
        let us = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        format!(
            "tick {} {} {} {} {} {}",
            self.elapsed.as_millis(),
            self.active_users,
            self.ops,
            us(self.p50_us),
            us(self.p99_us),
            self.errors
        )
    }

    /// Reads a worker's line; `None` for any other line.
    pub fn from_worker_line(line: &str) -> Option<Figures> {
        let mut parts = line.strip_prefix("tick ")?.split(' ');
        let mut next = || parts.next();
        let number = |s: Option<&str>| s?.parse::<u64>().ok();
        let latency = |s: Option<&str>| match s? {
            "-" => Some(None),
            v => v.parse().ok().map(Some),
        };
        Some(Figures {
            elapsed: Duration::from_millis(number(next())?),
            active_users: number(next())?,
            ops: number(next())?,
            p50_us: latency(next())?,
            p99_us: latency(next())?,
            errors: number(next())?,
        })
    }

    /// Several workers' figures as one: users, operations and errors add; the latencies shown
    /// are the worst worker's (percentiles do not add; the summary merges the histograms).
    pub fn combine(all: &[Figures]) -> Figures {
        Figures {
            elapsed: all.iter().map(|f| f.elapsed).max().unwrap_or_default(),
            active_users: all.iter().map(|f| f.active_users).sum(),
            ops: all.iter().map(|f| f.ops).sum(),
            p50_us: all.iter().filter_map(|f| f.p50_us).max(),
            p99_us: all.iter().filter_map(|f| f.p99_us).max(),
            errors: all.iter().map(|f| f.errors).sum(),
        }
    }
}

/// A latency in µs as people read it: `850µs`, `1.25ms`, `2.50s`.
pub fn latency(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

/// The line the display shows: `12s/30s  users 20  ops/s 2310  p50 1.20ms  p99 4.51ms  errors 0`.
pub fn line(figures: &Figures, total: Duration, metric: &str) -> String {
    let show = |v: Option<u64>| v.map_or("-".to_owned(), latency);
    format!(
        "{}/{}  users {}  ops/s {}  {metric} p50 {}  p99 {}  errors {}",
        match figures.elapsed.as_secs() {
            0 => "0s".to_owned(),
            secs => format_duration(Duration::from_secs(secs)),
        },
        format_duration(total),
        figures.active_users,
        figures.ops,
        show(figures.p50_us),
        show(figures.p99_us),
        figures.errors
    )
}

/// The display of one run.
pub enum Progress {
    /// Nothing shown.
    Quiet,
    /// A worker: lines for the parent on stdout.
    Worker,
    /// A live line on a terminal.
    Live {
        bar: ProgressBar,
        total: Duration,
        metric: String,
    },
    /// Plain lines every [`PLAIN_EVERY`].
    Plain {
        last: Option<Instant>,
        total: Duration,
        metric: String,
    },
}

impl Progress {
    /// The display for a run of `total` following `metric`: live when stderr is a terminal.
    pub fn new(quiet: bool, worker: bool, total: Duration, metric: &str) -> Progress {
        if worker {
            return Progress::Worker;
        }
        if quiet {
            return Progress::Quiet;
        }
        let metric = metric.to_owned();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(total.as_secs().max(1)),
                ProgressDrawTarget::stderr(),
            );
            let style = ProgressStyle::with_template("{bar:24.cyan/blue} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            Progress::Live { bar, total, metric }
        } else {
            Progress::Plain {
                last: None,
                total,
                metric,
            }
        }
    }

    /// Shows one second's figures.
    pub fn update(&mut self, figures: &Figures) {
        match self {
            Progress::Quiet => {}
            Progress::Worker => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", figures.to_worker_line());
                let _ = out.flush();
            }
            Progress::Live { bar, total, metric } => {
                bar.set_position(figures.elapsed.as_secs());
                bar.set_message(line(figures, *total, metric));
            }
            Progress::Plain {
                last,
                total,
                metric,
            } => {
                if last.is_none_or(|at| at.elapsed() >= PLAIN_EVERY) {
                    *last = Some(Instant::now());
                    eprintln!("{}", line(figures, *total, metric));
                }
            }
        }
    }

    /// Clears the live line before the summary is printed.
    pub fn finish(&self) {
        if let Progress::Live { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_lines_round_trip_and_combine() {
        let a = Figures {
            elapsed: Duration::from_millis(3000),
            active_users: 5,
            ops: 100,
            p50_us: Some(900),
            p99_us: Some(4000),
            errors: 1,
        };
        let b = Figures {
            p50_us: None,
            p99_us: None,
            ..a
        };
        assert_eq!(Figures::from_worker_line(&a.to_worker_line()), Some(a));
        assert_eq!(Figures::from_worker_line(&b.to_worker_line()), Some(b));
        assert_eq!(Figures::from_worker_line("summary"), None);
        let both = Figures::combine(&[a, b]);
        assert_eq!((both.active_users, both.ops, both.errors), (10, 200, 2));
        assert_eq!(both.p99_us, Some(4000));
    }

    #[test]
    fn the_line_reads_as_words_and_units() {
        let figures = Figures {
            elapsed: Duration::from_millis(12_400),
            active_users: 20,
            ops: 2310,
            p50_us: Some(1200),
            p99_us: Some(850),
            errors: 0,
        };
        assert_eq!(
            line(&figures, Duration::from_secs(30), "reply.ping"),
            "12s/30s  users 20  ops/s 2310  reply.ping p50 1.20ms  p99 850µs  errors 0"
        );
        assert_eq!(latency(2_500_000), "2.50s");
    }
}
