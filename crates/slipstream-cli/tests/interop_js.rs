//! Runs the phoenix.js interop suite (`tests/interop` at the repository root) against this
//! crate's `slipstream` binary, so `cargo test --workspace` covers interoperability with the
//! official JavaScript client.
//!
//! Node.js (20+) and npm are required: when they are missing this test fails, it does not skip.
//! `npm ci` runs first when `tests/interop/node_modules` is missing or older than
//! `package-lock.json`. The node output is streamed to stderr as it comes and repeated in the
//! failure message.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Upper bound for `npm ci` and for the whole node suite (each node test has its own timeout).
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn interop_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("crates/slipstream-cli sits two levels below the repository root");
    root.join("tests").join("interop")
}

fn tool(name: &str) -> String {
    if cfg!(windows) && name == "npm" {
        "npm.cmd".to_owned()
    } else {
        name.to_owned()
    }
}

/// `<tool> --version`, or a panic explaining that the tool is needed.
fn require_tool(name: &str) -> String {
    let out = Command::new(tool(name))
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`{name}` is required to run the phoenix.js interop suite (tests/interop) but \
                 could not be started: {e}. Install Node.js 20+ (which ships npm)."
            )
        });
    assert!(
        out.status.success(),
        "`{name} --version` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A progress line on our stderr, outside the test harness's capture (like the node output).
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "interop: {text}");
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// Why `npm ci` must run, or `None` when node_modules is current.
fn npm_ci_reason(dir: &Path) -> Option<&'static str> {
    let lock = dir.join("package-lock.json");
    let lock_time = modified(&lock).unwrap_or_else(|| panic!("{} is missing", lock.display()));
    // npm writes its record of what node_modules holds here on every install.
    match modified(&dir.join("node_modules").join(".package-lock.json")) {
        None => Some("node_modules is missing"),
        Some(t) if t < lock_time => Some("node_modules is older than package-lock.json"),
        Some(_) => None,
    }
}

/// Output collected from a child process, shared with the threads that read its pipes.
type Collected = Arc<Mutex<String>>;

/// Copies `pipe` line by line to our stderr (live, outside the test harness's capture) and
/// into `collected`.
fn pump(pipe: impl Read + Send + 'static, collected: Collected) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let _ = std::io::stderr().write_all(text.as_bytes());
                    collected
                        .lock()
                        .expect("output lock poisoned")
                        .push_str(&text);
                }
            }
        }
    })
}

/// Runs `cmd` with its output streamed and collected; `None` status = killed after `timeout`.
fn run_streaming(cmd: &mut Command, timeout: Duration) -> (Option<ExitStatus>, String) {
    let description = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {description}: {e}"));
    let collected = Collected::default();
    let readers = [
        pump(
            child.stdout.take().expect("piped stdout"),
            collected.clone(),
        ),
        pump(
            child.stderr.take().expect("piped stderr"),
            collected.clone(),
        ),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("waiting for {description}: {e}"),
        }
    };
    for reader in readers {
        let _ = reader.join();
    }
    let output = collected.lock().expect("output lock poisoned").clone();
    (status, output)
}

#[test]
fn phoenix_js_interop_suite() {
    let dir = interop_dir();
    assert!(
        dir.join("package.json").is_file(),
        "interop suite not found at {}",
        dir.display()
    );
    let bin = env!("CARGO_BIN_EXE_slipstream");
    let node_version = require_tool("node");
    let npm_version = require_tool("npm");
    note(&format!(
        "node {node_version}, npm {npm_version}, SLIPSTREAM_BIN={bin}, dir {}",
        dir.display()
    ));

    if let Some(reason) = npm_ci_reason(&dir) {
        note(&format!("{reason}; running npm ci"));
        let (status, output) = run_streaming(
            Command::new(tool("npm"))
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            NPM_TIMEOUT,
        );
        match status {
            Some(s) if s.success() => {}
            Some(s) => panic!("`npm ci` in {} failed ({s}):\n{output}", dir.display()),
            None => panic!("`npm ci` took longer than {NPM_TIMEOUT:?}:\n{output}"),
        }
    }

    // The test files are listed explicitly so that a suite that finds nothing cannot pass.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.test.mjs files in {}",
        dir.display()
    );

    let started = Instant::now();
    let (status, output) = run_streaming(
        Command::new(tool("node"))
            .args(["--test", "--test-reporter=spec"])
            .args(&files)
            .current_dir(&dir)
            .env("SLIPSTREAM_BIN", bin),
        SUITE_TIMEOUT,
    );
    note(&format!("node --test finished in {:?}", started.elapsed()));
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("phoenix.js interop suite failed ({s}); node output:\n{output}"),
        None => panic!(
            "phoenix.js interop suite still running after {SUITE_TIMEOUT:?}; killed. node output:\n{output}"
        ),
    }
}
