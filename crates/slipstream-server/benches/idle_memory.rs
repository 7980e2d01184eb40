//! Server memory per idle joined websocket (issue 15): N clients join `rooms:lobby` and go quiet;
//! the server's resident memory growth is divided by N.
//!
//! ```text
//! cargo bench -p slipstream-server --bench idle_memory -- --sizes 1000,10000
//! ```
//!
//! Also `SLIPSTREAM_BENCH_SIZES` and `SLIPSTREAM_BENCH_SETTLE_MS` (how long the clients stay
//! quiet before the second reading; 2000 by default).
//!
//! As in the broadcast bench, the server runs in a child process (this binary, re-executed with
//! `SLIPSTREAM_BENCH_ROLE=server`), so that its `/proc/<pid>/status` holds the server's memory
//! only and each process has its own 20,000 file descriptors. Per size N, a fresh child is
//! started and left idle for a moment; its `VmHWM` (peak resident set) and `VmRSS` are read;
//! N raw tokio-tungstenite V2 clients (4 KiB read buffers, no write buffer) connect and join,
//! the server's connection count is checked to be N, nothing is sent for the settle time, and
//! both figures are read again. Both differences divided by N are printed, in KiB. The whole run
//! is bounded: every connect + join has 30 s, every answer from the child 30 s.
//!
//! With `--longpoll`, the same is measured for N long-poll sessions (one GET each to open it,
//! one POST with the join, one GET taking the join reply; then the session sits unpolled, which
//! needs a poll window longer than the settle time, set in the child).

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use support::{Result, ServerChild, client_config, connect_all, is_server_child, parse_list};

const TOPIC: &str = "rooms:lobby";
/// How long a fresh server child sits before its baseline is read.
const STARTUP_SETTLE: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() {
    raise_open_files_limit();
    let outcome = if is_server_child() {
        run_server().await
    } else {
        run_bench().await
    };
    if let Err(err) = outcome {
        eprintln!("idle memory bench FAILED: {err}");
        std::process::exit(1);
    }
}

/// Lifts the soft open-files limit to the hard one: 10,000 sockets need 10,000 descriptors in
/// each process.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server role
// ---------------------------------------------------------------------------------------------

async fn run_server() -> Result<()> {
    // The demo app with its defaults, except the idle timeout (the clients stay silent for
    // longer than Phoenix's 60 s while 10,000 of them are set up) and the long-poll window
    // (a session must sit unpolled through the settle time, not be answered 204 and expire).
    let config = slipstream_server::ServerConfig::default()
        .with_idle_timeout(Duration::from_secs(3600))
        .with_longpoll_window(Duration::from_secs(3600));
    support::serve_as_child(config).await
}

/// The server child's memory.
fn memory(server: &ServerChild) -> Result<Memory> {
    Memory::of(server.pid().ok_or("server child has exited")?)
}

/// A process's peak and current resident set, in KiB (`/proc/<pid>/status`).
#[derive(Clone, Copy)]
struct Memory {
    hwm_kib: u64,
    rss_kib: u64,
}

impl Memory {
    fn of(pid: u32) -> Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
            Ok(line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?)
        };
        Ok(Memory {
            hwm_kib: field("VmHWM:")?,
            rss_kib: field("VmRSS:")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Client role
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    WebSocket,
    LongPoll,
}

struct Options {
    sizes: Vec<usize>,
    settle: Duration,
    transports: Vec<Transport>,
}

fn options() -> Result<Options> {
    let mut opts = Options {
        sizes: vec![1_000, 10_000],
        settle: Duration::from_millis(2_000),
        transports: vec![Transport::WebSocket],
    };
    if let Ok(v) = std::env::var("SLIPSTREAM_BENCH_SIZES") {
        opts.sizes = parse_list(&v)?;
    }
    if let Ok(v) = std::env::var("SLIPSTREAM_BENCH_SETTLE_MS") {
        opts.settle = Duration::from_millis(v.parse()?);
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => opts.sizes = parse_list(&args.next().ok_or("--sizes needs a value")?)?,
            "--longpoll" => opts.transports.push(Transport::LongPoll),
            // `cargo bench` passes `--bench`; a name filter may follow it too.
            _ => {}
        }
    }
    if opts.sizes.is_empty() || opts.sizes.contains(&0) {
        return Err("sizes must be non-empty and positive".into());
    }
    Ok(opts)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens one V2 websocket client and joins it to the topic.
async fn websocket_join(port: u16) -> Result<Ws> {
    let url = format!("ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0");
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true).await?;
    ws.send(Message::text(format!(
        r#"["1","1","{TOPIC}","phx_join",{{}}]"#
    )))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().contains(r#""status":"ok""#) => {
                return Ok(ws);
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("join: unexpected {other:?}").into()),
            Some(Err(err)) => return Err(format!("join: {err}").into()),
            None => return Err("join: connection closed".into()),
        }
    }
}

/// One HTTP/1.1 request on a fresh loopback connection; the status and body of the answer.
async fn http(port: u16, method: &str, target: &str, body: &str) -> Result<(u16, String)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await?;
    let answer = String::from_utf8(answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Opens one V2 long-poll session and joins it to the topic (the session then sits unpolled).
async fn longpoll_join(port: u16) -> Result<()> {
    let base = "/socket/longpoll?vsn=2.0.0";
    let (_, body) = http(port, "GET", base, "").await?;
    let token = body
        .split(r#""token":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| format!("open: no token in {body:?}"))?
        .to_owned();
    let target = format!("{base}&token={token}");
    let join = format!(r#"["1","1","{TOPIC}","phx_join",{{}}]"#);
    let (status, _) = http(port, "POST", &target, &join).await?;
    if status != 200 {
        return Err(format!("join POST answered {status}").into());
    }
    let (_, body) = http(port, "GET", &target, "").await?;
    if !body.contains(r#"\"status\":\"ok\""#) {
        return Err(format!("join: {body}").into());
    }
    Ok(())
}

/// What one size measured.
struct SizeResult {
    transport: Transport,
    n: usize,
    before: Memory,
    after: Memory,
}

impl SizeResult {
    fn per_connection(&self, pick: fn(&Memory) -> u64) -> f64 {
        (pick(&self.after) as f64 - pick(&self.before) as f64) / self.n as f64
    }
}

async fn measure(n: usize, transport: Transport, opts: &Options) -> Result<SizeResult> {
    let mut server = ServerChild::start().await?;
    tokio::time::sleep(STARTUP_SETTLE).await;
    let before = memory(&server)?;
    let port = server.port;

    let setup = Instant::now();
    let clients = connect_all(n, || async move {
        match transport {
            Transport::WebSocket => websocket_join(port).await.map(Some),
            Transport::LongPoll => longpoll_join(port).await.map(|()| None),
        }
    })
    .await?;
    let connected = server.connection_count().await?;
    if connected != n {
        return Err(format!("N={n}: the server has {connected} connections, expected {n}").into());
    }
    tokio::time::sleep(opts.settle).await;
    let after = memory(&server)?;
    let still = server.connection_count().await?;
    if still != n {
        return Err(format!("N={n}: after settling the server has {still} connections").into());
    }
    println!(
        "{} N={n}: set up in {:.1} s; server VmHWM {} -> {} KiB, VmRSS {} -> {} KiB",
        name(transport),
        setup.elapsed().as_secs_f64(),
        before.hwm_kib,
        after.hwm_kib,
        before.rss_kib,
        after.rss_kib
    );
    drop(clients);
    server.stop().await?;
    Ok(SizeResult {
        transport,
        n,
        before,
        after,
    })
}

fn name(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => "websocket",
        Transport::LongPoll => "long-poll",
    }
}

async fn run_bench() -> Result<()> {
    let opts = options()?;
    println!(
        "idle joined connections on {TOPIC}: sizes {:?}, {} ms settle, server in a child process",
        opts.sizes,
        opts.settle.as_millis()
    );
    let mut results = Vec::new();
    for &transport in &opts.transports {
        for &n in &opts.sizes {
            results.push(measure(n, transport, &opts).await?);
        }
    }
    let mut table = String::from(
        "\n| transport | N | VmHWM growth per connection (KiB) | VmRSS growth per connection (KiB) |\n\
         |---|---:|---:|---:|\n",
    );
    for r in &results {
        let _ = writeln!(
            table,
            "| {} | {} | {:.1} | {:.1} |",
            name(r.transport),
            r.n,
            r.per_connection(|m| m.hwm_kib),
            r.per_connection(|m| m.rss_kib),
        );
    }
    print!("{table}");
    Ok(())
}
