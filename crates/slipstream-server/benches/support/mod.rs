//! What the server's benches share: the bench binary re-executed as the server child, the
//! parent's handle on it, a size list, the raw clients' settings and connecting many of them.

use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Set to `server` in the child's environment.
const ROLE_ENV: &str = "SLIPSTREAM_BENCH_ROLE";
/// How long the child has for each answer, and a client for its connect + join.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Clients connecting at once.
const CONNECT_CONCURRENCY: usize = 128;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Whether this process is the server child.
pub fn is_server_child() -> bool {
    std::env::var_os(ROLE_ENV).is_some_and(|v| v == "server")
}

/// The server child's life: runs the demo app with `config` on 127.0.0.1:0, prints
/// `port <n>`, answers each `count` line on stdin with the number of open connections, and
/// exits (without a graceful drain) when stdin closes, so it dies with its parent.
pub async fn serve_as_child(config: slipstream_server::ServerConfig) -> Result<()> {
    let server = slipstream_server::spawn_demo("127.0.0.1:0".parse()?, config).await?;
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("port {}\n", server.local_addr().port()).as_bytes())
        .await?;
    stdout.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "count" {
            stdout
                .write_all(format!("{}\n", server.connection_count()).as_bytes())
                .await?;
            stdout.flush().await?;
        }
    }
    std::process::exit(0);
}

/// The parent's handle on a server child (this binary, re-executed).
pub struct ServerChild {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    pub port: u16,
}

impl ServerChild {
    /// Starts a child and waits for its port.
    pub async fn start() -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(ROLE_ENV, "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("server child has no stdin")?;
        let stdout = child.stdout.take().ok_or("server child has no stdout")?;
        let mut stdout = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(TIMEOUT, stdout.next_line())
            .await
            .map_err(|_| "server child did not report its port within 30 s")??
            .ok_or("server child exited before reporting its port")?;
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("server child said {line:?}, expected `port <n>`"))?;
        Ok(ServerChild {
            child,
            stdin,
            stdout,
            port,
        })
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// How many connections the server has open.
    pub async fn connection_count(&mut self) -> Result<usize> {
        self.stdin.write_all(b"count\n").await?;
        self.stdin.flush().await?;
        let line = tokio::time::timeout(TIMEOUT, self.stdout.next_line())
            .await
            .map_err(|_| "server child did not answer `count` within 30 s")??
            .ok_or("server child exited")?;
        Ok(line.trim().parse()?)
    }

    /// Closes the child's stdin and waits (up to 10 s, then kills it) for a clean exit.
    pub async fn stop(mut self) -> Result<()> {
        drop(self.stdin);
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    return Err(format!("server child exited with {status}").into());
                }
            }
            Err(_) => {
                self.child.kill().await?;
                return Err("server child did not exit within 10 s of stdin closing".into());
            }
        }
        Ok(())
    }
}

/// `1000,10_000` as sizes.
pub fn parse_list(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|p| {
            p.trim()
                .replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("bad size {p:?}: {e}").into())
        })
        .collect()
}

/// A raw client's websocket settings: 4 KiB read buffer, no write buffer, 64 KiB frames.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

/// Runs `join` `n` times, [`CONNECT_CONCURRENCY`] at once and each within 30 s; every result,
/// or an error that counts the failures and shows the first.
pub async fn connect_all<T, F, Fut>(n: usize, join: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut pending = Vec::with_capacity(n);
    for _ in 0..n {
        let limit = limit.clone();
        let joined = join();
        pending.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await?;
            tokio::time::timeout(TIMEOUT, joined)
                .await
                .map_err(|_| BoxError::from("connect + join took more than 30 s"))?
        }));
    }
    let mut clients = Vec::with_capacity(n);
    let mut failures = 0usize;
    let mut first_failure = None;
    for task in pending {
        match task.await? {
            Ok(client) => clients.push(client),
            Err(err) => {
                failures += 1;
                first_failure.get_or_insert(err.to_string());
            }
        }
    }
    if failures > 0 {
        return Err(format!(
            "N={n}: {failures} of {n} clients failed to connect or join (first: {})",
            first_failure.unwrap_or_default()
        )
        .into());
    }
    Ok(clients)
}
