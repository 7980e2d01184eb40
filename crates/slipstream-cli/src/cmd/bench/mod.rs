//! `slipstream bench <scenario>`: a load generator that speaks Phoenix, over the engine in
//! `slipstream-bench`; and `slipstream bench report FILES…`, which reads results.
//!
//! This module is the thin part: flags, the runtime, `--demo`, the open-files check, Ctrl-C,
//! the live display, the outputs and the exit code. Virtual users, shapes and metrics are the
//! engine's.

mod args;
mod limits;
mod progress;
mod restart;
mod workers;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};

use slipstream_bench::executor::{self, Plan, RunControl, Scenario};
use slipstream_bench::result::RunResult;
use slipstream_bench::scenario::{self, Target};
use slipstream_bench::shape::Segment;

pub use args::LoadArgs;
use args::{ConnectArgs, CustomArgs, FanoutArgs, PingArgs, PresenceArgs, ReconnectArgs};
use progress::{Figures, Progress};

use super::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE};

/// `slipstream bench`'s help after the list of scenarios.
pub const BENCH_HELP: &str = "\
Examples:
  slipstream bench ping --demo --users 50 --duration 10s
  slipstream bench ping --url wss://app.example/socket/websocket --users 5000 --ramp-up 30s \\
      --duration 2m --threshold 'reply.p99 < 100ms' --threshold 'errors < 0.1%' --out run.json
  slipstream bench fanout --demo --users 200 --senders 2 --rate 20/s
  slipstream bench connect --url ws://host:4000/socket --stages 30s:1000,2m:1000,10s:0
  slipstream bench ping --demo --workers 4 --users 4000
  slipstream bench report run-1.json run-2.json --html report.html

Load shape: --users N reached over --ramp-up, then held for --duration (the run lasts
ramp-up + duration); or --stages DURATION:USERS,… from 0 users, linear between targets (a
ramp down stops the last-started users first, each after its operation under way).
--iterations N is the total for all users (k6's shared iterations). --rate N/s (ping) is an
open model: pushes leave on schedule whatever the replies do, and latency counts from the
intended send time, so a slow server is not hidden (coordinated omission).

Distribution: --segment I/N runs the I-th of N equal shares of the users (users are dealt
round-robin, each keeps its global index), so N machines or pods with I = 1..N run the whole
load; merge their --out files with `slipstream bench report`. As a Kubernetes Indexed Job
(completionMode: Indexed, completions: N, parallelism: N), each pod runs
  slipstream bench ping --url … --users 20000 --segment $((JOB_COMPLETION_INDEX + 1))/N \\
      --out /results/run-$JOB_COMPLETION_INDEX.json
--workers K runs K processes of this binary on this machine, one segment each, and merges
their results into one summary.

Exit codes: 0 the run finished and every threshold passed; 1 a threshold failed, or the run
could not reach its users (some never connected); 2 usage error, too many users for the
open-files limit, or no user could connect at all; 130 Ctrl-C (after the summary and --out
are written; a second Ctrl-C exits at once).";

/// Options of `slipstream bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

/// The scenarios, and `report`.
#[derive(Subcommand, Debug)]
enum BenchCommand {
    #[command(about = scenario::about("connect"))]
    Connect(ConnectArgs),
    #[command(about = scenario::about("ping"))]
    Ping(PingArgs),
    #[command(about = scenario::about("fanout"))]
    Fanout(FanoutArgs),
    #[command(about = scenario::about("presence"))]
    Presence(PresenceArgs),
    #[command(about = scenario::about("reconnect"))]
    Reconnect(ReconnectArgs),
    /// Run a scenario file: every user runs its steps (see `slipstream bench custom --help`).
    #[command(after_help = slipstream_bench::custom::FORMAT_HELP)]
    Custom(CustomArgs),
    /// Merge result files (--out) and print their summary; writes the HTML report, gates on
    /// --threshold.
    Report(super::bench_report::ReportArgs),
}

/// Runs `slipstream bench …`.
pub fn run(args: BenchArgs) -> ExitCode {
    match args.command {
        BenchCommand::Report(args) => super::bench_report::run(args),
        BenchCommand::Connect(a) => {
            let topics = a.topics;
            launch(a.load, 1, Duration::ZERO, None, move |target, _| {
                Ok(Arc::new(scenario::connect::Connect { target, topics }))
            })
        }
        BenchCommand::Ping(a) => launch(a.load, 1, Duration::ZERO, None, move |target, _| {
            Ok(Arc::new(scenario::ping::Ping {
                target,
                topic: a.topic,
                event: a.event,
                payload_size: a.payload_size as usize,
                rate: a.rate,
            }))
        }),
        BenchCommand::Fanout(a) => launch(a.load, 1, Duration::ZERO, None, move |target, _| {
            Ok(Arc::new(scenario::fanout::Fanout {
                target,
                topic: a.topic,
                senders: a.senders,
                rate: a.rate,
                send_after: a.send_after,
                per_round: a.per_round,
            }))
        }),
        BenchCommand::Presence(a) => launch(a.load, 1, Duration::ZERO, None, move |target, _| {
            Ok(Arc::new(scenario::presence::PresenceScenario::new(
                target, a.topic, a.hold,
            )))
        }),
        BenchCommand::Reconnect(a) => {
            if a.restart_every.is_some() && !a.load.demo {
                return usage("--restart-every restarts the embedded server: it needs --demo");
            }
            if a.restart_every.is_some() && a.load.workers > 1 {
                return usage(
                    "--restart-every runs in one process: it cannot be used with --workers",
                );
            }
            // A restarting server cuts the users: they wait for it.
            let cut = if a.restart_every.is_some() {
                scenario::reconnect::Cut::Server
            } else {
                a.cut.into()
            };
            launch(
                a.load,
                1,
                Duration::from_secs(1),
                a.restart_every,
                move |target, _| Ok(Arc::new(scenario::reconnect::Reconnect { target, cut })),
            )
        }
        BenchCommand::Custom(a) => {
            let file = a.file.clone();
            // Parse before anything starts, so a typo is a usage error with its line.
            let source = match std::fs::read_to_string(&file) {
                Ok(source) => source,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", file.display());
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let name = file.display().to_string();
            let program = match slipstream_bench::custom::parse(&source) {
                Ok(program) => program,
                Err(e) => {
                    eprintln!("error: {name}:{e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let sockets = program.sockets_per_user();
            launch(a.load, sockets, Duration::ZERO, None, move |target, _| {
                Ok(Arc::new(slipstream_bench::custom::Custom::new(
                    name, program, target,
                )))
            })
        }
    }
}

/// Checks the flags, then runs the load here or in workers.
fn launch(
    load: LoadArgs,
    sockets_per_user: u64,
    default_think: Duration,
    restart_every: Option<Duration>,
    make: impl FnOnce(Target, &LoadArgs) -> Result<Arc<dyn Scenario>, String> + 'static,
) -> ExitCode {
    super::run::init_logging();
    let shape = match load.shape() {
        Ok(shape) => shape,
        Err(e) => return usage(&e),
    };
    if !load.demo
        && let Err(e) = super::check_url(&load.url)
    {
        eprintln!("error: {e:#}");
        return ExitCode::from(e.exit_code());
    }
    if load.workers > 1 {
        return workers::run(&load, &shape);
    }
    let segment = load.segment.unwrap_or(Segment::WHOLE);
    let users = segment.share_of(shape.peak());
    if let Some(limit) = limits::raise_open_files() {
        let needed = limits::needed(users, sockets_per_user, load.demo);
        if needed > limit {
            return usage(&limits::refusal(users, needed, limit, load.demo));
        }
    }
    let demo = match load.demo.then(super::start_demo).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let url = demo.as_ref().map_or(load.url.clone(), |s| s.ws_url());
    let (demo, restarter) = match (demo, restart_every) {
        (Some(server), Some(every)) => (None, Some(restart::Restarter::start(server, every))),
        (demo, _) => (demo, None),
    };
    let mut target = Target::new(url.clone());
    target.timeout = load.timeout;
    target.buffer = load.socket_buffer;
    target.heartbeat = load.heartbeat;
    // Users keep their global index in a segment, and the segments of `--workers` share this
    // machine's ports: the spread is for the whole load, not this process's share of it.
    target.source_addrs = load
        .source_addrs
        .unwrap_or_else(|| slipstream_bench::scenario::source_addrs_for(&url, shape.peak()));
    if target.source_addrs > 1 {
        eprintln!(
            "spreading {users} users over {} loopback source addresses (127.0.0.1 onwards, \
             by user index among all {})",
            target.source_addrs,
            shape.peak()
        );
    }
    let scenario = match make(target, &load) {
        Ok(scenario) => scenario,
        Err(e) => return usage(&e),
    };
    let plan = Plan {
        shape,
        segment,
        iterations: load.iterations,
        think: load.think.unwrap_or(default_think),
        grace: load.grace,
        url,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let result = runtime.block_on(run_here(plan, scenario, &load, interrupted.clone()));
    // Users are done; sockets still closing are not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(server) = demo {
        server.stop();
    }
    if let Some(restarter) = restarter {
        restarter.finish();
    }
    finish(&load, &result, interrupted.load(Ordering::SeqCst), users)
}

/// The run on this runtime, with Ctrl-C and the display.
async fn run_here(
    plan: Plan,
    scenario: Arc<dyn Scenario>,
    load: &LoadArgs,
    interrupted: Arc<AtomicBool>,
) -> RunResult {
    let (control, stop) = RunControl::new();
    watch_ctrl_c(control, interrupted, !load.worker);
    let total = plan.shape.total();
    let mut display = Progress::new(load.quiet, load.worker, total, &scenario.primary_metric());
    let result = executor::run(plan, scenario, stop, |snapshot, elapsed| {
        display.update(&Figures::from_snapshot(snapshot, elapsed));
    })
    .await;
    display.finish();
    result
}

/// First Ctrl-C: users are told to stop and the run ends with its summary; second: exit 130 at
/// once.
fn watch_ctrl_c(control: RunControl, interrupted: Arc<AtomicBool>, say: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(int) => int,
        Err(e) => {
            tracing::warn!(error = %e, "could not install the Ctrl-C handler");
            return;
        }
    };
    tokio::spawn(async move {
        if int.recv().await.is_none() {
            return;
        }
        interrupted.store(true, Ordering::SeqCst);
        if say {
            eprintln!("\ninterrupted: stopping the users (Ctrl-C again to exit at once)");
        }
        control.stop();
        if int.recv().await.is_some() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// Prints the summary and thresholds, writes the files, and says how the run went.
fn finish(load: &LoadArgs, result: &RunResult, interrupted: bool, users: u64) -> ExitCode {
    let mut failed_io = false;
    if let Some(path) = &load.out
        && let Err(e) = slipstream_bench::file::write(path, result)
    {
        eprintln!("error: {e}");
        failed_io = true;
    }
    if load.worker {
        return if failed_io {
            ExitCode::from(EXIT_USAGE)
        } else if interrupted {
            ExitCode::from(EXIT_INTERRUPTED)
        } else {
            ExitCode::SUCCESS
        };
    }
    let outcomes = slipstream_bench::threshold::check_all(&load.threshold, result);
    if let Some(path) = &load.html {
        let page = slipstream_bench::report::html_with_thresholds(result, &outcomes);
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("error: cannot write {}: {e}", path.display());
            failed_io = true;
        }
    }
    let mut text = slipstream_bench::summary::render(result);
    if !outcomes.is_empty() {
        text.push_str(&slipstream_bench::threshold::render_outcomes(&outcomes));
    }
    // A reader that went away (`| head`) is no reason to fail the run, nor to panic as
    // print! would: the exit code still says how the run went.
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
    }
    let verdict = verdict(result, users, load.iterations.is_some());
    if let Some(text) = &verdict.message {
        eprintln!("{text}");
    }
    if interrupted {
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if failed_io || verdict.code == EXIT_USAGE {
        return ExitCode::from(EXIT_USAGE);
    }
    if verdict.code == EXIT_FAILED || outcomes.iter().any(|o| !o.passed) {
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}

/// Whether the run reached its users.
struct Verdict {
    code: u8,
    message: Option<String>,
}

/// No connect succeeded and some failed: exit 2 (nothing was measured); fewer users ever
/// connected than were planned: exit 1. A shape that ends early by `--iterations` is not held
/// to its users (idle users may never have started).
fn verdict(result: &RunResult, users: u64, by_iterations: bool) -> Verdict {
    let connected = result.latencies.get("connect").map_or(0, |h| h.len());
    let errors = result.errors();
    if connected == 0 && errors > 0 {
        let kinds: Vec<String> = result
            .errors_by_kind()
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        return Verdict {
            code: EXIT_USAGE,
            message: Some(format!(
                "error: no user could connect to {} ({})",
                result.meta.url,
                kinds.join(", ")
            )),
        };
    }
    let failed_connects: u64 = result
        .counters
        .iter()
        .filter(|(name, _)| is_connect_error(name))
        .map(|(_, n)| n)
        .sum();
    if !by_iterations && failed_connects > 0 && connected < users {
        return Verdict {
            code: EXIT_FAILED,
            message: Some(format!(
                "error: the run did not reach its users: {connected} of {users} connected \
                 ({failed_connects} connects failed)"
            )),
        };
    }
    Verdict {
        code: 0,
        message: None,
    }
}

/// The error kinds a failed connect is counted under (see `slipstream_bench::kind`).
fn is_connect_error(name: &str) -> bool {
    let Some(kind) = name.strip_prefix("errors.") else {
        return false;
    };
    matches!(
        kind,
        "refused" | "dns" | "tls" | "auth_token" | "transport" | "timeout"
    ) || kind.starts_with("http_")
}

fn usage(text: &str) -> ExitCode {
    eprintln!("error: {text}");
    ExitCode::from(EXIT_USAGE)
}
