//! `slipstream shell` on a pseudo-terminal made by `script` (util-linux, part of every Debian
//! system): keys in, the terminal's bytes out, collected as they come.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shell on a pseudo-terminal.
pub struct Terminal {
    child: Child,
    keys: ChildStdin,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Terminal {
    /// Starts `slipstream shell URL` with a history file of its own (empty at the start).
    pub fn start(url: &str) -> Self {
        let history = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "terminal-history-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&history);
        let shell = format!("{} shell {url}", env!("CARGO_BIN_EXE_slipstream"));
        let mut child = Command::new("script")
            .args(["-qfec", &shell, "/dev/null"])
            .env("SLIPSTREAM_HISTORY", &history)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "`script` (util-linux) runs the shell on a pseudo-terminal; install util-linux",
            );
        let keys = child.stdin.take().expect("stdin");
        let mut out = child.stdout.take().expect("stdout");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let collected = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            keys,
            screen,
            reader,
        }
    }

    /// Types `text` as a person does: after the shell has answered the line before.
    pub fn type_keys(&mut self, text: &str) {
        std::thread::sleep(Duration::from_millis(800));
        self.keys.write_all(text.as_bytes()).expect("typed");
        self.keys.flush().expect("flushed");
    }

    /// Everything the terminal has shown so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the screen shows `text` (true), or `within` passed (false).
    pub fn wait_for(&self, text: &str, within: Duration) -> bool {
        self.wait_for_after(text, 0, within)
    }

    /// Waits until the screen shows `text` after byte `from` (true), or `within` passed (false).
    pub fn wait_for_after(&self, text: &str, from: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.screen().get(from..).is_some_and(|s| s.contains(text)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Ctrl-D, then how the shell exited and everything the terminal showed.
    pub fn finish(mut self) -> (ExitStatus, String) {
        self.type_keys("\x04");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("script runs") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("script exits");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(self.keys);
        self.reader.join().expect("the reader finished");
        let screen = String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned();
        (status, screen)
    }
}
