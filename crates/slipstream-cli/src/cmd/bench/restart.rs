//! `reconnect --restart-every D` with `--demo`: the embedded server is stopped (its websockets
//! closed with 1012, as a deploy does) and started again on the same port every D, so the
//! users time their reconnects to a real restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slipstream_server::{BackgroundServer, ServerConfig};

/// The demo server, restarted on a schedule until [`Restarter::finish`].
pub struct Restarter {
    server: Arc<Mutex<Option<BackgroundServer>>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Restarter {
    /// Restarts `server` every `every` from now on.
    pub fn start(server: BackgroundServer, every: Duration) -> Restarter {
        let server = Arc::new(Mutex::new(Some(server)));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, done) = (server.clone(), done.clone());
            std::thread::spawn(move || restart_loop(&server, &done, every))
        };
        Restarter {
            server,
            done,
            thread: Some(thread),
        }
    }

    /// Stops restarting, then stops the server.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            server.stop();
        }
    }
}

fn restart_loop(server: &Mutex<Option<BackgroundServer>>, done: &AtomicBool, every: Duration) {
    loop {
        let due = Instant::now() + every;
        while Instant::now() < due {
            if done.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20).min(every));
        }
        let mut slot = server.lock().unwrap_or_else(|p| p.into_inner());
        let Some(old) = slot.take() else {
            return;
        };
        let port = old.running().local_addr().port();
        old.stop();
        match BackgroundServer::start_demo(([127, 0, 0, 1], port).into(), ServerConfig::default()) {
            Ok(new) => *slot = Some(new),
            Err(e) => {
                tracing::error!(port, error = %e, "the demo server could not start again");
                return;
            }
        }
        tracing::info!(port, "demo server restarted");
    }
}
