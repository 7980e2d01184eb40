//! Shared by the CLI's integration tests: the demo server in-process, and running `slipstream`.

#![allow(dead_code)] // each test binary uses its own part

pub mod terminal;

use std::path::PathBuf;
use std::process::{Command, Output};

use slipstream_server::{BackgroundServer, ServerConfig};

/// The demo server on a free loopback port, on its own runtime; stopped on drop.
pub struct DemoServer {
    _server: BackgroundServer,
    url: String,
}

impl DemoServer {
    /// Starts the server.
    pub fn start() -> Self {
        let server =
            BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())
                .expect("the demo server starts");
        let url = server.ws_url();
        DemoServer {
            _server: server,
            url,
        }
    }

    /// Starts the server on loopback port `port` (e.g. the port of one just stopped, to restart
    /// it where its clients reconnect).
    pub fn start_on(port: u16) -> Self {
        let server =
            BackgroundServer::start_demo(([127, 0, 0, 1], port).into(), ServerConfig::default())
                .unwrap_or_else(|e| panic!("the demo server starts on port {port}: {e}"));
        let url = server.ws_url();
        DemoServer {
            _server: server,
            url,
        }
    }

    /// Its websocket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Refuses every websocket upgrade with 503 from now on; long-poll still works.
    pub fn refuse_websockets(&self) {
        self._server.running().set_refuse_connects(Some(503));
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self._server.running().local_addr().port()
    }

    /// Stops it as a deploy does: its websockets are closed with 1012 (service restart) and the
    /// port is free when this returns.
    pub fn stop(self) {
        self._server.stop();
    }
}

/// The `slipstream` binary under test.
pub fn slipstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipstream"))
}

/// Writes `source` to a fresh file under the test target's scratch directory.
pub fn script_file(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scripts");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, source).expect("script written");
    path
}

/// What a finished command printed.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn from(output: Output) -> Self {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `slipstream ARGS` with `input` on its stdin, run to its end. The shell gets a history file
/// of its own (under the test target's scratch directory), never the user's.
pub fn with_stdin(args: &[&str], input: &str) -> Ran {
    use std::io::Write;
    use std::process::Stdio;
    let history = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "stdin-history-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut child = slipstream()
        .args(args)
        .env("SLIPSTREAM_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream starts");
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    // A command that stops before reading (a bad flag, a bad URL) closes its stdin: that is
    // what such a test checks, so a broken pipe is no failure; any other write error is.
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "input written: {e}"
        );
    }
    Ran::from(child.wait_with_output().expect("slipstream exits"))
}
