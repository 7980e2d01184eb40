//! Broadcast fan-out: one `fanout` push on `bench:fanout`, delivered to N subscribed websockets.
//!
//! ```text
//! cargo bench -p slipstream-server --bench broadcast -- --sizes 1000,10000 --rounds 50
//! ```
//!
//! Also `SLIPSTREAM_BENCH_SIZES`, `SLIPSTREAM_BENCH_ROUNDS`, `SLIPSTREAM_BENCH_WARMUP`.
//!
//! The server and the clients run in two processes: 10,000 loopback websockets need a file
//! descriptor at each end, and one process may only hold 20,000 on the machine this was written
//! for. So this binary is also the server: with `SLIPSTREAM_BENCH_ROLE=server` it runs the demo
//! app on 127.0.0.1:0, prints `port <n>`, answers `count` lines on stdin with the number of open
//! websockets, and exits when stdin closes (so it dies with its parent, whatever happens).
//!
//! Otherwise, per size N, it starts a fresh server child, connects N V2 clients (raw
//! tokio-tungstenite, small buffers), joins each to `bench:fanout`, checks the server sees N
//! connections, and times rounds: client 0 pushes `fanout` with a ~100-byte payload and the round
//! ends when all N clients (client 0 included) have read the broadcast. Every delivery is checked
//! to carry the current round's number. It exits non-zero on any failed connection, join, lost
//! socket, wrong frame, or a round that takes longer than 30 s.

mod support;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, Stream, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use support::{Result, ServerChild, client_config, connect_all, is_server_child, parse_list};

const TOPIC: &str = "bench:fanout";
/// What every delivery starts with; the round number follows.
const FRAME_PREFIX: &str = r#"[null,null,"bench:fanout","fanout",{"r":"#;
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() {
    let outcome = if is_server_child() {
        run_server().await
    } else {
        run_bench().await
    };
    if let Err(err) = outcome {
        eprintln!("broadcast bench FAILED: {err}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Server role
// ---------------------------------------------------------------------------------------------

async fn run_server() -> Result<()> {
    // The demo app with Phoenix's defaults, except the idle timeout: the bench clients send
    // nothing between their join and the rounds, and setting up 10,000 of them can be slow.
    let config =
        slipstream_server::ServerConfig::default().with_idle_timeout(Duration::from_secs(3600));
    support::serve_as_child(config).await
}

// ---------------------------------------------------------------------------------------------
// Client role
// ---------------------------------------------------------------------------------------------

struct Options {
    sizes: Vec<usize>,
    rounds: usize,
    warmup: usize,
}

fn options() -> Result<Options> {
    let mut opts = Options {
        sizes: vec![1_000, 10_000],
        rounds: 50,
        warmup: 5,
    };
    if let Ok(v) = std::env::var("SLIPSTREAM_BENCH_SIZES") {
        opts.sizes = parse_list(&v)?;
    }
    if let Ok(v) = std::env::var("SLIPSTREAM_BENCH_ROUNDS") {
        opts.rounds = v.parse()?;
    }
    if let Ok(v) = std::env::var("SLIPSTREAM_BENCH_WARMUP") {
        opts.warmup = v.parse()?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--sizes" => opts.sizes = parse_list(&value("--sizes")?)?,
            "--rounds" => opts.rounds = value("--rounds")?.parse()?,
            "--warmup" => opts.warmup = value("--warmup")?.parse()?,
            // `cargo bench` passes `--bench`; a name filter may follow it too.
            _ => {}
        }
    }
    if opts.sizes.is_empty() || opts.sizes.contains(&0) || opts.rounds == 0 {
        return Err("sizes must be non-empty and positive, rounds at least 1".into());
    }
    Ok(opts)
}

/// What all reader tasks share with the driver.
struct Shared {
    /// The round being delivered.
    round: AtomicU64,
    /// Deliveries of the current round.
    delivered: AtomicUsize,
    /// Told when `delivered` reaches `n`.
    done: Notify,
    n: usize,
    /// Frames that were not the current round's broadcast (the first one is kept).
    wrong: AtomicUsize,
    wrong_example: std::sync::Mutex<Option<String>>,
    /// Client streams that ended or failed.
    lost: AtomicUsize,
}

impl Shared {
    fn bad_frame(&self, what: String) {
        self.wrong.fetch_add(1, Ordering::Relaxed);
        let mut example = self.wrong_example.lock().unwrap_or_else(|e| e.into_inner());
        example.get_or_insert(what);
    }
}

/// Counts one client's deliveries until its stream ends.
async fn read_loop<S, E>(mut stream: S, shared: Arc<Shared>)
where
    S: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    while let Some(item) = stream.next().await {
        match item {
            Ok(Message::Text(text)) => {
                let round = text
                    .as_str()
                    .strip_prefix(FRAME_PREFIX)
                    .and_then(|rest| rest.split_once(','))
                    .and_then(|(digits, _)| digits.parse::<u64>().ok());
                if round != Some(shared.round.load(Ordering::Acquire)) {
                    shared.bad_frame(format!("unexpected frame {:?}", text.as_str()));
                    continue;
                }
                if shared.delivered.fetch_add(1, Ordering::AcqRel) + 1 == shared.n {
                    shared.done.notify_one();
                }
            }
            Ok(Message::Close(frame)) => {
                shared.bad_frame(format!("server closed a client: {frame:?}"));
                break;
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(other) => shared.bad_frame(format!("unexpected message {other:?}")),
            Err(err) => {
                shared.bad_frame(format!("client read error: {err}"));
                break;
            }
        }
    }
    shared.lost.fetch_add(1, Ordering::Relaxed);
    shared.done.notify_one();
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens one V2 client and joins it to the bench topic.
async fn connect_and_join(url: &str) -> Result<Ws> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true).await?;
    let join = format!(r#"["1","1","{TOPIC}","phx_join",{{}}]"#);
    ws.send(Message::text(join)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let text = text.as_str();
                if text.starts_with(r#"["1","1","bench:fanout","phx_reply",{"#)
                    && text.contains(r#""status":"ok""#)
                {
                    return Ok(ws);
                }
                return Err(format!("join failed: {text}").into());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("join: unexpected {other:?}").into()),
            Some(Err(err)) => return Err(format!("join: {err}").into()),
            None => return Err("join: connection closed".into()),
        }
    }
}

/// On-CPU nanoseconds of every live thread of a process (from `/proc/<pid>/task/*/schedstat`).
fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the thread just exited
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

struct SizeResult {
    n: usize,
    rounds: usize,
    median: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
    server_cpu_per_delivery_ns: Option<f64>,
    client_cpu_per_delivery_ns: Option<f64>,
}

impl SizeResult {
    fn per_delivery_ns(&self) -> f64 {
        self.median.as_nanos() as f64 / self.n as f64
    }

    fn deliveries_per_sec(&self) -> f64 {
        self.n as f64 / self.median.as_secs_f64()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn bench_size(n: usize, opts: &Options) -> Result<SizeResult> {
    let mut server = ServerChild::start().await?;
    let url = format!("ws://127.0.0.1:{}/socket/websocket?vsn=2.0.0", server.port);

    let setup = Instant::now();
    let clients = connect_all(n, || {
        let url = url.clone();
        async move { connect_and_join(&url).await }
    })
    .await?;
    let connected = server.connection_count().await?;
    println!(
        "N={n}: {n} clients connected and joined in {:.1} s; server reports {connected} connections",
        setup.elapsed().as_secs_f64()
    );
    if connected != n {
        return Err(format!("N={n}: the server has {connected} connections, expected {n}").into());
    }

    let shared = Arc::new(Shared {
        round: AtomicU64::new(0),
        delivered: AtomicUsize::new(0),
        done: Notify::new(),
        n,
        wrong: AtomicUsize::new(0),
        wrong_example: std::sync::Mutex::new(None),
        lost: AtomicUsize::new(0),
    });
    let mut clients = clients.into_iter();
    let (mut pusher, first_stream) = clients.next().ok_or("no clients")?.split();
    let mut readers = Vec::with_capacity(n);
    readers.push(tokio::spawn(read_loop(first_stream, shared.clone())));
    for ws in clients {
        readers.push(tokio::spawn(read_loop(ws, shared.clone())));
    }

    // ~100 bytes of payload: {"r":<round>,"pad":"..."}
    let pad = "x".repeat(80);
    let total = opts.warmup + opts.rounds;
    let mut times = Vec::with_capacity(opts.rounds);
    let (mut server_cpu0, mut client_cpu0) = (None, None);
    let server_pid = server.pid();
    let client_pid = std::process::id();
    for round in 1..=total as u64 {
        if round == opts.warmup as u64 + 1 {
            server_cpu0 = server_pid.and_then(cpu_ns);
            client_cpu0 = cpu_ns(client_pid);
        }
        shared.round.store(round, Ordering::Release);
        shared.delivered.store(0, Ordering::Release);
        let push = format!(r#"[null,"{round}","{TOPIC}","fanout",{{"r":{round},"pad":"{pad}"}}]"#);
        let start = Instant::now();
        pusher.send(Message::text(push)).await?;
        let finished = tokio::time::timeout_at((start + ROUND_TIMEOUT).into(), async {
            loop {
                shared.done.notified().await;
                if shared.delivered.load(Ordering::Acquire) >= n
                    || shared.lost.load(Ordering::Relaxed) > 0
                {
                    break;
                }
            }
        })
        .await;
        let elapsed = start.elapsed();
        let lost = shared.lost.load(Ordering::Relaxed);
        let wrong = shared.wrong.load(Ordering::Relaxed);
        if lost > 0 || wrong > 0 {
            let example = shared
                .wrong_example
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default();
            return Err(format!(
                "N={n}, round {round}: {lost} client streams ended, {wrong} wrong frames ({example})"
            )
            .into());
        }
        if finished.is_err() {
            return Err(format!(
                "N={n}, round {round}: only {} of {n} deliveries after {} s",
                shared.delivered.load(Ordering::Acquire),
                ROUND_TIMEOUT.as_secs()
            )
            .into());
        }
        if round > opts.warmup as u64 {
            times.push(elapsed);
        }
    }
    let deliveries = (opts.rounds * n) as f64;
    let server_cpu = server_pid
        .and_then(cpu_ns)
        .zip(server_cpu0)
        .map(|(b, a)| b.saturating_sub(a) as f64 / deliveries);
    let client_cpu = cpu_ns(client_pid)
        .zip(client_cpu0)
        .map(|(b, a)| b.saturating_sub(a) as f64 / deliveries);

    let still = server.connection_count().await?;
    if still != n {
        return Err(format!("N={n}: after the rounds the server has {still} connections").into());
    }
    for reader in &readers {
        reader.abort();
    }
    drop(pusher);
    drop(readers);
    server.stop().await?;

    times.sort();
    Ok(SizeResult {
        n,
        rounds: opts.rounds,
        median: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        min: times[0],
        max: times[times.len() - 1],
        server_cpu_per_delivery_ns: server_cpu,
        client_cpu_per_delivery_ns: client_cpu,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn ns(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"))
}

async fn run_bench() -> Result<()> {
    let opts = options()?;
    println!(
        "broadcast fan-out on {TOPIC}: sizes {:?}, {} rounds (+{} warm-up), server in a child process",
        opts.sizes, opts.rounds, opts.warmup
    );
    let mut results = Vec::new();
    for &n in &opts.sizes {
        let result = bench_size(n, &opts).await?;
        println!(
            "N={n}: median {} ms, p99 {} ms, {:.0} deliveries/s, {:.0} ns per delivery",
            ms(result.median),
            ms(result.p99),
            result.deliveries_per_sec(),
            result.per_delivery_ns()
        );
        results.push(result);
    }

    let mut table = String::new();
    table.push_str(
        "\n| N | rounds | median round (ms) | p99 round (ms) | min / max (ms) | deliveries/s | wall per delivery (ns) | server CPU per delivery (ns) | client CPU per delivery (ns) |\n",
    );
    table.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &results {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} / {} | {:.0} | {:.0} | {} | {} |",
            r.n,
            r.rounds,
            ms(r.median),
            ms(r.p99),
            ms(r.min),
            ms(r.max),
            r.deliveries_per_sec(),
            r.per_delivery_ns(),
            ns(r.server_cpu_per_delivery_ns),
            ns(r.client_cpu_per_delivery_ns),
        );
    }
    print!("{table}");
    if let (Some(small), Some(big)) = (results.first(), results.last())
        && results.len() > 1
    {
        println!(
            "\nper-delivery wall cost, N={} vs N={}: {:.2}x",
            big.n,
            small.n,
            big.per_delivery_ns() / small.per_delivery_ns()
        );
    }
    Ok(())
}
