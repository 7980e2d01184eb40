//! `--workers K`: the load in K child processes of this binary, one segment each, merged.
//!
//! Each child is the same command line with `--segment` narrowed to its share (worker w of a
//! run that is itself segment I/N runs segment `w·N + I` of `N·K`, so the children of every
//! segment together still run exactly that segment's users), `--out` to a file of its own, and
//! the hidden `--worker` flag: it prints one figures line a second on stdout (summed here into
//! the live display) and no summary. With `--demo` the server runs here, once, and the
//! children load it. A Ctrl-C here is passed on to the children, which stop and write their
//! files; their results are then merged through the JSON format into one summary.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use slipstream_bench::result::RunResult;
use slipstream_bench::shape::{Segment, Shape};

use super::progress::{Figures, Progress};
use super::{LoadArgs, limits, usage};
use crate::cmd::{EXIT_INTERRUPTED, EXIT_USAGE};

/// Flags of the parent's command line that the children do not get (they get their own).
const DROPPED_WITH_VALUE: &[&str] = &[
    "--workers",
    "--out",
    "--html",
    "--threshold",
    "--segment",
    "--url",
];
/// Flags without a value that the children do not get.
const DROPPED: &[&str] = &["--demo", "--quiet", "-q", "--worker"];

/// The children's command line: the parent's, less what [`DROPPED_WITH_VALUE`] and
/// [`DROPPED`] name.
pub fn child_args(parent: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in parent {
        if skip_value {
            skip_value = false;
            continue;
        }
        let text = arg.to_string_lossy();
        if DROPPED.contains(&text.as_ref()) {
            continue;
        }
        if DROPPED_WITH_VALUE.contains(&text.as_ref()) {
            skip_value = true;
            continue;
        }
        if DROPPED_WITH_VALUE
            .iter()
            .any(|flag| text.starts_with(&format!("{flag}=")))
        {
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// Worker `w` (0-based) of `k`, within the parent's segment.
pub fn child_segment(parent: Segment, w: u32, k: u32) -> Segment {
    Segment {
        index: w * parent.count + parent.index,
        count: parent.count * k,
    }
}

/// Runs the load in `load.workers` children and reports the merged result.
pub fn run(load: &LoadArgs, shape: &Shape) -> ExitCode {
    let k = load.workers;
    let segment = load.segment.unwrap_or(Segment::WHOLE);
    let users = segment.share_of(shape.peak());
    // With --demo the server end of every connection is in this process.
    if load.demo
        && let Some(limit) = limits::raise_open_files()
    {
        let needed = limits::needed(users, 1, false);
        if needed > limit {
            return usage(&limits::refusal(users, needed, limit, true));
        }
    }
    let demo = match load.demo.then(crate::cmd::start_demo).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let url = demo.as_ref().map_or(load.url.clone(), |s| s.ws_url());
    let dir = std::env::temp_dir().join(format!("slipstream-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return usage(&format!("cannot create {}: {e}", dir.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return usage(&format!("cannot find this program to start workers: {e}")),
    };
    let parent_args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let base = child_args(&parent_args);
    let (tx, rx) = mpsc::channel::<(usize, Figures)>();
    let mut children: Vec<(Child, PathBuf)> = Vec::new();
    for w in 0..k {
        let out = dir.join(format!("worker-{w}.json"));
        let mut command = Command::new(&exe);
        command
            .args(&base)
            .arg("--url")
            .arg(&url)
            .arg("--segment")
            .arg(child_segment(segment, w, k).to_string())
            .arg("--out")
            .arg(&out)
            .arg("--worker")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                stop_all(&mut children);
                return usage(&format!("cannot start worker {}: {e}", w + 1));
            }
        };
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            let w = w as usize;
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(figures) = Figures::from_worker_line(&line)
                        && tx.send((w, figures)).is_err()
                    {
                        break;
                    }
                }
            });
        }
        children.push((child, out));
    }
    drop(tx);
    let interrupted = Arc::new(AtomicBool::new(false));
    forward_ctrl_c(
        children.iter().map(|(c, _)| c.id()).collect(),
        interrupted.clone(),
    );
    let mut display = Progress::new(load.quiet, false, shape.total(), "latency (worst worker)");
    let mut latest = vec![Figures::default(); k as usize];
    // The channel closes when every child's stdout has closed, i.e. they have all exited.
    while let Ok((w, figures)) = rx.recv() {
        latest[w] = figures;
        display.update(&Figures::combine(&latest));
    }
    display.finish();
    let mut results = Vec::new();
    let mut worst = 0u8;
    for (w, (mut child, out)) in children.into_iter().enumerate() {
        let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
        if code != 0 && code != i32::from(EXIT_INTERRUPTED) {
            eprintln!("error: worker {} exited with {code}", w + 1);
            worst = worst.max(u8::try_from(code).unwrap_or(1));
        }
        match slipstream_bench::file::read(&out) {
            Ok(result) => results.push(result),
            Err(e) => eprintln!("error: worker {}: {e}", w + 1),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(server) = demo {
        server.stop();
    }
    let Some(merged) = merge(results, segment) else {
        eprintln!("error: no worker produced a result");
        return ExitCode::from(worst.max(EXIT_USAGE));
    };
    let code = super::finish(load, &merged, interrupted.load(Ordering::SeqCst), users);
    if worst == EXIT_USAGE && code == ExitCode::SUCCESS {
        return ExitCode::from(EXIT_USAGE);
    }
    code
}

/// The children's results as one, labelled with the parent's segment.
fn merge(results: Vec<RunResult>, segment: Segment) -> Option<RunResult> {
    let mut results = results.into_iter();
    let mut merged = results.next()?;
    for result in results {
        if let Err(e) = merged.merge(&result) {
            eprintln!("error: cannot merge a worker's result: {e}");
        }
    }
    merged.meta.segment = (segment != Segment::WHOLE).then_some((segment.index, segment.count));
    Some(merged)
}

fn stop_all(children: &mut [(Child, PathBuf)]) {
    for (child, _) in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A first Ctrl-C (or SIGINT sent to this process alone) is passed on to the children so they
/// stop and write their results; a second makes this process exit 130 at once.
fn forward_ctrl_c(pids: Vec<u32>, interrupted: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut int) = signal(SignalKind::interrupt()) else {
                return;
            };
            if int.recv().await.is_none() {
                return;
            }
            interrupted.store(true, Ordering::SeqCst);
            eprintln!("\ninterrupted: stopping the workers (Ctrl-C again to exit at once)");
            for pid in &pids {
                if let Ok(pid) = libc::pid_t::try_from(*pid) {
                    // SAFETY: kill with a pid we spawned and a valid signal number.
                    unsafe { libc::kill(pid, libc::SIGINT) };
                }
            }
            if int.recv().await.is_some() {
                std::thread::sleep(Duration::from_millis(50));
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_get_the_command_line_less_the_parents_own_flags() {
        let args: Vec<OsString> = [
            "bench",
            "ping",
            "--demo",
            "--users",
            "40",
            "--workers=4",
            "--out",
            "run.json",
            "--threshold",
            "errors < 1%",
            "-q",
            "--duration",
            "2s",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let kept: Vec<String> = child_args(&args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["bench", "ping", "--users", "40", "--duration", "2s"]);
    }

    #[test]
    fn workers_split_a_segment_into_segments_of_the_whole() {
        let parent: Segment = "2/3".parse().unwrap();
        let children: Vec<Segment> = (0..4).map(|w| child_segment(parent, w, 4)).collect();
        for g in 0..120u64 {
            let owners = children.iter().filter(|s| s.owns(g)).count();
            assert_eq!(owners, usize::from(parent.owns(g)), "user {g}");
        }
    }
}
