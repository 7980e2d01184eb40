//! `slipstream bench report FILE... [--html PATH] [--out PATH] [--threshold T]...`: merge the
//! result files of one or more runs (`slipstream bench --out`, from several processes or
//! machines, e.g. the N shares of `--segment I/N`), print the merged summary, write the HTML
//! report, and check thresholds.
//!
//! The HTML goes to `--html PATH`, by default `report.html` in the directory of the first
//! file (replacing one that is there); `--no-html` writes none. `--out PATH` also writes the
//! merged result file, which `report` reads like any other.
//!
//! Exit codes, the scheme of `slipstream --help`: 0 when every threshold is met (or none was
//! given); 1 when one is violated (a `✗` line says which, and what was observed); 2 for usage
//! errors: a bad `--threshold`, a file that cannot be read or is not a result file (named in
//! the message), runs that do not merge (different scenarios), or a report that cannot be
//! written.
//!
//! The work is done by `slipstream_bench` (`merge::merge_files`, `summary`, `threshold`,
//! `report`); this module only wires it to the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use slipstream_bench::threshold::{self, Threshold};
use slipstream_bench::{file, merge, report, summary};

use super::{EXIT_FAILED, EXIT_USAGE};

/// Examples and exit codes, shown after the options in `--help`.
pub const REPORT_HELP: &str = "\
Examples:
  slipstream bench report run.json
  slipstream bench report seg-*.json --html merged.html --out merged.json
  slipstream bench report run.json --no-html --threshold 'reply.p99 < 50ms' \\
      --threshold 'errors < 0.1%'

Thresholds: METRIC.STAT OP DURATION (reply.p99 < 50ms; STAT one of p50 p90 p95 p99
p99.9 min max mean; reply is every reply.* metric), errors OP PERCENT (errors over
errors + latency samples), COUNTER OP COUNT (messages.lost == 0), NAME.rate OP N/s.
Something the run never recorded fails (no samples).

Exit codes: 0 every threshold met (or none given); 1 a threshold violated; 2 usage
error, a file that cannot be read or is not a result file, runs of different scenarios,
a report that cannot be written.";

/// Options of `slipstream bench report`.
#[derive(Args, Debug)]
#[command(after_help = REPORT_HELP)]
pub struct ReportArgs {
    /// Result files written by `slipstream bench --out`; several are merged into one.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    files: Vec<PathBuf>,

    /// Where to write the HTML report [default: report.html beside the first FILE].
    #[arg(long, value_name = "PATH", conflicts_with = "no_html")]
    html: Option<PathBuf>,

    /// Write no HTML report.
    #[arg(long)]
    no_html: bool,

    /// Also write the merged result file to PATH (readable by `bench report`).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// A threshold the merged run must meet, e.g. 'reply.p99 < 50ms' or 'errors < 0.1%';
    /// repeat for more. A violated one exits 1.
    #[arg(long = "threshold", value_name = "THRESHOLD")]
    thresholds: Vec<Threshold>,
}

/// Runs the command.
pub fn run(args: ReportArgs) -> ExitCode {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let merged = match merge::merge_files(&args.files) {
        Ok(merged) => merged,
        Err(e) => return usage(e.to_string()),
    };
    for warning in &merged.warnings {
        eprintln!("warning: {warning}");
    }
    let result = merged.result;
    print!("{}", summary::render(&result));

    let outcomes = threshold::check_all(&args.thresholds, &result);
    if !args.no_html {
        let path = args
            .html
            .unwrap_or_else(|| report::default_html_path(&args.files[0]));
        let page = report::html_with_thresholds(&result, &outcomes);
        if let Err(e) = std::fs::write(&path, page) {
            return usage(format!(
                "could not write the report {}: {e}",
                path.display()
            ));
        }
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.out {
        if let Err(e) = file::write(path, &result) {
            return usage(e.to_string());
        }
        eprintln!("wrote {}", path.display());
    }
    if outcomes.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!();
    print!("{}", threshold::render_outcomes(&outcomes));
    if outcomes.iter().all(|o| o.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
