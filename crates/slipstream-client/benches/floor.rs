//! The client against its floor (issue 12): four scenarios, each run by our client and by a raw
//! tokio-tungstenite client that writes V2 frames by hand and matches replies in a `HashMap`,
//! side by side in one run, against one demo server in a process of its own.
//!
//! ```text
//! cargo bench -p slipstream-client --bench floor
//! cargo bench -p slipstream-client --bench floor -- --scenarios s1,s2 --runs 5 --flavor current
//! ```
//!
//! `--url URL` loads a server already running (e.g. `slipstream serve`) instead of starting one.
//! `--flavor`: `multi` (the default: a multi-thread runtime, the scenario a spawned task),
//! `current` (a current-thread runtime), `block-on` (a multi-thread runtime, the scenario run as
//! `block_on`'s own future, as code written straight in `#[tokio::main]`'s body is). Also
//! `--windows`, `--sockets`, `--s1-count`, `--s2-count`, `--receivers`, `--messages`.
//!
//! * **S1**: one socket, 20,000 sequential push → reply (`ping` on `bench:floor`): client CPU per
//!   1,000 round trips, p50 and p99 latency.
//! * **S2**: one socket, 100,000 pushes with a window of W in flight (100, 1,000 and 10,000 by
//!   default): replies per second and client CPU per 1,000 replies.
//! * **S3**: N sockets (1,000 and 10,000 by default) connect and join, at most 256 connecting at a
//!   time, then sit idle: memory per joined socket (growth of `VmRSS`, and of `VmHWM`, over the
//!   process before the first socket, divided by N) and the time to connect and join all N.
//! * **S4**: 200 receivers joined to one topic, a 201st socket broadcasts 500 messages through it
//!   (`fanout`): client CPU per 1,000 deliveries, and how many deliveries were lost.
//! * **S5**: 100 sockets (at most `--receivers`), each pushing and awaiting its reply in a
//!   closed loop, 100,000 round trips in all (`--s2-count`): what `slipstream bench ping` does.
//!
//! Processes: this binary is the driver, and re-executes itself as the server
//! (`SLIPSTREAM_FLOOR_ROLE=server`: the demo app on 127.0.0.1:0) and as each client run
//! (`SLIPSTREAM_FLOOR_ROLE=client`), so a client's CPU (`getrusage(RUSAGE_SELF)`) and memory
//! (`/proc/self/status`) are its own. Each measurement runs the two clients one after the other,
//! alternating which goes first, `--runs` times (3 by default); the table gives medians and the
//! ratio ours / raw. Any failed connect, join, reply or lost socket fails the run (exit 1); lost
//! broadcasts are counted, not fatal.
//!
//! Run by `cargo test --benches` (no `--bench` argument) it does one small run of each, as a
//! check that the harness works.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::value::RawValue;
use slipstream_client::{MessagePattern, Socket};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const ROLE_ENV: &str = "SLIPSTREAM_FLOOR_ROLE";
const SPEC_ENV: &str = "SLIPSTREAM_FLOOR_SPEC";
const TOPIC: &str = "bench:floor";
/// Every await and every read gives up after this: a stuck run fails instead of hanging.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many sockets connect at a time in S3 (both clients).
const CONNECT_CONCURRENCY: usize = 256;
/// The raw floor's read buffer (tungstenite's own default is 128 KiB).
const RAW_READ_BUFFER: usize = 4 << 10;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

fn main() {
    let outcome = match std::env::var(ROLE_ENV).as_deref() {
        Ok("server") => run_server(),
        Ok("client") => run_client(),
        _ => run_driver(),
    };
    if let Err(err) = outcome {
        eprintln!("floor bench FAILED: {err}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// What one client run is asked to do, and what it reports
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Ours,
    Raw,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Ours => "ours",
            Client::Raw => "raw",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    /// Sequential round trips.
    S1 { count: usize },
    /// Pipelined pushes, `window` in flight.
    S2 { count: usize, window: usize },
    /// Idle joined sockets.
    S3 { sockets: usize },
    /// Broadcast to receivers.
    S4 { receivers: usize, messages: usize },
    /// `users` sockets, each pushing and awaiting its reply in a closed loop, `count` in all
    /// (what `slipstream bench ping` does).
    S5 { users: usize, count: usize },
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::S1 { count } => format!("S1 {count} sequential"),
            Scenario::S2 { count, window } => format!("S2 {count}, {window} in flight"),
            Scenario::S3 { sockets } => format!("S3 {sockets} sockets"),
            Scenario::S4 {
                receivers,
                messages,
            } => format!("S4 {receivers} x {messages}"),
            Scenario::S5 { users, count } => format!("S5 {users} users, {count} closed-loop"),
        }
    }

    fn encode(self) -> String {
        match self {
            Scenario::S1 { count } => format!("s1 {count}"),
            Scenario::S2 { count, window } => format!("s2 {count} {window}"),
            Scenario::S3 { sockets } => format!("s3 {sockets}"),
            Scenario::S4 {
                receivers,
                messages,
            } => format!("s4 {receivers} {messages}"),
            Scenario::S5 { users, count } => format!("s5 {users} {count}"),
        }
    }

    fn decode(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let n =
            |i: usize| -> Result<usize> { Ok(parts.get(i).ok_or("short scenario spec")?.parse()?) };
        Ok(match parts.first().copied() {
            Some("s1") => Scenario::S1 { count: n(1)? },
            Some("s2") => Scenario::S2 {
                count: n(1)?,
                window: n(2)?,
            },
            Some("s3") => Scenario::S3 { sockets: n(1)? },
            Some("s4") => Scenario::S4 {
                receivers: n(1)?,
                messages: n(2)?,
            },
            Some("s5") => Scenario::S5 {
                users: n(1)?,
                count: n(2)?,
            },
            _ => return Err(format!("bad scenario spec {text:?}").into()),
        })
    }
}

/// What a client run measured. Times in nanoseconds, memory in KiB.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    /// Operations counted (round trips, replies, deliveries, sockets).
    ops: u64,
    /// Process CPU (user + system) over the measured part.
    cpu_ns: u64,
    /// Wall time of the measured part.
    wall_ns: u64,
    p50_ns: u64,
    p99_ns: u64,
    /// Resident memory before the first socket, at the end, and the peak.
    rss_before_kib: u64,
    rss_after_kib: u64,
    hwm_kib: u64,
    /// Deliveries that never arrived (S4).
    lost: u64,
}

impl Measured {
    fn to_line(self) -> String {
        format!(
            "result {} {} {} {} {} {} {} {} {}",
            self.ops,
            self.cpu_ns,
            self.wall_ns,
            self.p50_ns,
            self.p99_ns,
            self.rss_before_kib,
            self.rss_after_kib,
            self.hwm_kib,
            self.lost
        )
    }

    fn from_line(line: &str) -> Result<Self> {
        let fields: Vec<u64> = line
            .strip_prefix("result ")
            .ok_or_else(|| format!("client said {line:?}, expected `result …`"))?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let [
            ops,
            cpu_ns,
            wall_ns,
            p50_ns,
            p99_ns,
            rss_before_kib,
            rss_after_kib,
            hwm_kib,
            lost,
        ] = fields[..]
        else {
            return Err(format!("client said {line:?}: wrong field count").into());
        };
        Ok(Measured {
            ops,
            cpu_ns,
            wall_ns,
            p50_ns,
            p99_ns,
            rss_before_kib,
            rss_after_kib,
            hwm_kib,
            lost,
        })
    }

    fn cpu_us_per_op(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.ops.max(1) as f64
    }

    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / (self.wall_ns.max(1) as f64 / 1e9)
    }

    /// Growth of resident memory per socket, and of the peak.
    fn kib_per_socket(&self) -> (f64, f64) {
        let n = self.ops.max(1) as f64;
        (
            self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64 / n,
            self.hwm_kib.saturating_sub(self.rss_before_kib) as f64 / n,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

struct Options {
    scenarios: Vec<String>,
    runs: usize,
    windows: Vec<usize>,
    sockets: Vec<usize>,
    s1_count: usize,
    s2_count: usize,
    receivers: usize,
    messages: usize,
    flavor: String,
    /// A server already running (`--url`), instead of one of our own.
    url: Option<String>,
}

fn parse_list(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|p| Ok(p.trim().replace('_', "").parse::<usize>()?))
        .collect()
}

fn options() -> Result<Options> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a small check then.
    let benching = std::env::args().any(|a| a == "--bench");
    let mut opts = if benching {
        Options {
            scenarios: ["s1", "s2", "s3", "s4", "s5"].map(String::from).to_vec(),
            runs: 3,
            windows: vec![100, 1_000, 10_000],
            sockets: vec![1_000, 10_000],
            s1_count: 20_000,
            s2_count: 100_000,
            receivers: 200,
            messages: 500,
            flavor: "multi".into(),
            url: None,
        }
    } else {
        Options {
            scenarios: ["s1", "s2", "s3", "s4", "s5"].map(String::from).to_vec(),
            runs: 1,
            windows: vec![10],
            sockets: vec![20],
            s1_count: 50,
            s2_count: 200,
            receivers: 5,
            messages: 20,
            flavor: "multi".into(),
            url: None,
        }
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--scenarios" => {
                opts.scenarios = value("--scenarios")?
                    .split(',')
                    .map(|s| s.trim().to_lowercase())
                    .collect()
            }
            "--runs" => opts.runs = value("--runs")?.parse()?,
            "--windows" => opts.windows = parse_list(&value("--windows")?)?,
            "--sockets" => opts.sockets = parse_list(&value("--sockets")?)?,
            "--s1-count" => opts.s1_count = value("--s1-count")?.parse()?,
            "--s2-count" => opts.s2_count = value("--s2-count")?.parse()?,
            "--receivers" => opts.receivers = value("--receivers")?.parse()?,
            "--messages" => opts.messages = value("--messages")?.parse()?,
            "--flavor" => opts.flavor = value("--flavor")?,
            "--url" => opts.url = Some(value("--url")?),
            // `--bench`, and a name filter cargo may pass.
            _ => {}
        }
    }
    if !matches!(opts.flavor.as_str(), "multi" | "current" | "block-on") {
        return Err("--flavor is multi, current or block-on".into());
    }
    Ok(opts)
}

fn run_driver() -> Result<()> {
    let opts = options()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (server, url) = match &opts.url {
            Some(url) => (None, url.clone()),
            None => {
                let server = ServerChild::start().await?;
                let url = format!("ws://127.0.0.1:{}/socket/websocket", server.port);
                (Some(server), url)
            }
        };
        let mut plan = Vec::new();
        for name in &opts.scenarios {
            match name.as_str() {
                "s1" => plan.push(Scenario::S1 {
                    count: opts.s1_count,
                }),
                "s2" => plan.extend(opts.windows.iter().map(|&window| Scenario::S2 {
                    count: opts.s2_count,
                    window,
                })),
                "s3" => plan.extend(opts.sockets.iter().map(|&sockets| Scenario::S3 { sockets })),
                "s4" => plan.push(Scenario::S4 {
                    receivers: opts.receivers,
                    messages: opts.messages,
                }),
                "s5" => plan.push(Scenario::S5 {
                    users: opts.receivers.clamp(1, 100),
                    count: opts.s2_count,
                }),
                other => {
                    return Err(format!("unknown scenario {other:?} (s1 to s5)").into());
                }
            }
        }
        println!(
            "floor bench: {} run(s) each, {} runtime, server {}",
            opts.runs,
            opts.flavor,
            server
                .as_ref()
                .and_then(ServerChild::pid)
                .map_or_else(|| url.clone(), |pid| format!("pid {pid}"))
        );
        let mut report = String::new();
        for scenario in plan {
            let mut ours = Vec::new();
            let mut raw = Vec::new();
            for run in 0..opts.runs {
                let order = if run % 2 == 0 {
                    [Client::Raw, Client::Ours]
                } else {
                    [Client::Ours, Client::Raw]
                };
                for client in order {
                    let m = run_client_child(client, scenario, &url, &opts.flavor).await?;
                    println!(
                        "  {} {}: {}",
                        scenario.label(),
                        client.name(),
                        describe(scenario, &m)
                    );
                    match client {
                        Client::Ours => ours.push(m),
                        Client::Raw => raw.push(m),
                    }
                }
            }
            let row = table_row(scenario, &ours, &raw);
            println!("{row}");
            report.push_str(&row);
            report.push('\n');
        }
        if let Some(server) = server {
            server.stop().await?;
        }
        println!(
            "\n| scenario | figure | ours | raw floor | ours / raw |\n|---|---|---:|---:|---:|"
        );
        print!("{report}");
        Ok(())
    })
}

fn describe(scenario: Scenario, m: &Measured) -> String {
    match scenario {
        Scenario::S1 { .. } => format!(
            "{:.1} µs CPU per round trip, p50 {:.1} µs, p99 {:.1} µs",
            m.cpu_us_per_op(),
            m.p50_ns as f64 / 1e3,
            m.p99_ns as f64 / 1e3
        ),
        Scenario::S2 { .. } => format!(
            "{:.0} replies/s, {:.2} µs CPU per reply",
            m.ops_per_s(),
            m.cpu_us_per_op()
        ),
        Scenario::S3 { .. } => {
            let (rss, hwm) = m.kib_per_socket();
            format!(
                "{rss:.1} KiB resident per socket ({hwm:.1} KiB peak), connect+join all in {:.0} ms, {:.1} µs CPU per socket",
                m.wall_ns as f64 / 1e6,
                m.cpu_us_per_op()
            )
        }
        Scenario::S4 { .. } => format!(
            "{:.2} µs CPU per delivery, {} lost",
            m.cpu_us_per_op(),
            m.lost
        ),
        Scenario::S5 { .. } => format!(
            "{:.0} replies/s, {:.2} µs CPU per reply",
            m.ops_per_s(),
            m.cpu_us_per_op()
        ),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn med(runs: &[Measured], f: impl Fn(&Measured) -> f64) -> f64 {
    median(&mut runs.iter().map(f).collect::<Vec<_>>())
}

/// Markdown rows: medians of each client and their ratio.
fn table_row(scenario: Scenario, ours: &[Measured], raw: &[Measured]) -> String {
    let label = scenario.label();
    let mut rows = String::new();
    let mut row = |figure: &str, unit: &str, digits: usize, f: &dyn Fn(&Measured) -> f64| {
        let (o, r) = (med(ours, f), med(raw, f));
        let ratio = if r > 0.0 {
            format!("{:.2}x", o / r)
        } else {
            "—".to_owned()
        };
        let _ = writeln!(
            rows,
            "| {label} | {figure} | {o:.digits$}{unit} | {r:.digits$}{unit} | {ratio} |"
        );
    };
    match scenario {
        Scenario::S1 { .. } => {
            row("CPU per 1,000 round trips", " ms", 1, &|m| {
                m.cpu_us_per_op()
            });
            row("p50 latency", " µs", 1, &|m| m.p50_ns as f64 / 1e3);
            row("p99 latency", " µs", 1, &|m| m.p99_ns as f64 / 1e3);
        }
        Scenario::S2 { .. } => {
            row("replies/s", "", 0, &|m| m.ops_per_s());
            row("CPU per 1,000 replies", " ms", 2, &|m| m.cpu_us_per_op());
        }
        Scenario::S3 { .. } => {
            row("resident KiB per joined socket", "", 1, &|m| {
                m.kib_per_socket().0
            });
            row("peak KiB per joined socket", "", 1, &|m| {
                m.kib_per_socket().1
            });
            row("connect+join all", " ms", 0, &|m| m.wall_ns as f64 / 1e6);
            row("CPU per socket", " µs", 1, &|m| m.cpu_us_per_op());
        }
        Scenario::S4 { .. } => {
            row("CPU per 1,000 deliveries", " ms", 2, &|m| m.cpu_us_per_op());
            row("deliveries lost", "", 0, &|m| m.lost as f64);
        }
        Scenario::S5 { .. } => {
            row("replies/s", "", 0, &|m| m.ops_per_s());
            row("CPU per 1,000 replies", " ms", 2, &|m| m.cpu_us_per_op());
        }
    }
    rows.pop();
    rows
}

async fn run_client_child(
    client: Client,
    scenario: Scenario,
    url: &str,
    flavor: &str,
) -> Result<Measured> {
    let exe = std::env::current_exe()?;
    let output = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new(exe)
            .env(ROLE_ENV, "client")
            .env(
                SPEC_ENV,
                format!("{} {} {url} {}", client.name(), flavor, scenario.encode()),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| "a client run took over 10 minutes")??;
    if !output.status.success() {
        return Err(format!(
            "{} client run of {} exited with {}",
            client.name(),
            scenario.label(),
            output.status
        )
        .into());
    }
    let stdout = String::from_utf8(output.stdout)?;
    let line = stdout
        .lines()
        .find(|l| l.starts_with("result "))
        .ok_or("client printed no result")?;
    Measured::from_line(line)
}

// ---------------------------------------------------------------------------------------------
// Server role
// ---------------------------------------------------------------------------------------------

fn run_server() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // Phoenix's defaults, except the idle timeout: S3's sockets are idle on purpose.
        let config =
            slipstream_server::ServerConfig::default().with_idle_timeout(Duration::from_secs(3600));
        let server = slipstream_server::spawn_demo("127.0.0.1:0".parse()?, config).await?;
        let mut stdout = tokio::io::stdout();
        stdout
            .write_all(format!("port {}\n", server.local_addr().port()).as_bytes())
            .await?;
        stdout.flush().await?;
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while lines.next_line().await?.is_some() {}
        // Stdin closed: the driver is done (or gone).
        std::process::exit(0);
    })
}

struct ServerChild {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    port: u16,
}

impl ServerChild {
    async fn start() -> Result<Self> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .env(ROLE_ENV, "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("server child has no stdin")?;
        let stdout = child.stdout.take().ok_or("server child has no stdout")?;
        let line = tokio::time::timeout(STEP_TIMEOUT, BufReader::new(stdout).lines().next_line())
            .await
            .map_err(|_| "the server did not report its port")??
            .ok_or("the server exited before reporting its port")?;
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("the server said {line:?}, expected `port <n>`"))?;
        Ok(ServerChild { child, stdin, port })
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn stop(mut self) -> Result<()> {
        drop(self.stdin);
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .map_err(|_| "the server did not exit")??;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Client role: measuring
// ---------------------------------------------------------------------------------------------

/// This process's CPU time (all threads, user + system).
fn cpu_now() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A `VmRSS`/`VmHWM` figure of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Times the measured part of a run: wall and CPU.
struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            wall: Instant::now(),
            cpu: cpu_now(),
        }
    }

    fn stop(&self, m: &mut Measured) {
        m.wall_ns = self.wall.elapsed().as_nanos() as u64;
        m.cpu_ns = cpu_now().saturating_sub(self.cpu).as_nanos() as u64;
    }
}

fn percentiles(m: &mut Measured, mut samples: Vec<u64>) {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0)
    };
    m.p50_ns = at(0.50);
    m.p99_ns = at(0.99);
}

fn run_client() -> Result<()> {
    let spec = std::env::var(SPEC_ENV)?;
    let mut parts = spec.splitn(4, ' ');
    let client = match parts.next() {
        Some("ours") => Client::Ours,
        Some("raw") => Client::Raw,
        other => return Err(format!("bad client {other:?}").into()),
    };
    let flavor = parts.next().ok_or("no flavor")?;
    let url = parts.next().ok_or("no url")?.to_owned();
    let scenario = Scenario::decode(parts.next().ok_or("no scenario")?)?;
    let runtime = match flavor {
        "current" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    let scenario_run = async move {
        match (client, scenario) {
            (Client::Ours, Scenario::S1 { count }) => ours::s1(&url, count).await,
            (Client::Raw, Scenario::S1 { count }) => raw::s1(&url, count).await,
            (Client::Ours, Scenario::S2 { count, window }) => ours::s2(&url, count, window).await,
            (Client::Raw, Scenario::S2 { count, window }) => raw::s2(&url, count, window).await,
            (Client::Ours, Scenario::S3 { sockets }) => ours::s3(&url, sockets).await,
            (Client::Raw, Scenario::S3 { sockets }) => raw::s3(&url, sockets).await,
            (
                Client::Ours,
                Scenario::S4 {
                    receivers,
                    messages,
                },
            ) => ours::s4(&url, receivers, messages).await,
            (
                Client::Raw,
                Scenario::S4 {
                    receivers,
                    messages,
                },
            ) => raw::s4(&url, receivers, messages).await,
            (Client::Ours, Scenario::S5 { users, count }) => ours::s5(&url, users, count).await,
            (Client::Raw, Scenario::S5 { users, count }) => raw::s5(&url, users, count).await,
        }
    };
    let measured = runtime.block_on(async move {
        let limit = Duration::from_secs(540);
        let late = || -> BoxError { "the client run took over 9 minutes".into() };
        if flavor == "block-on" {
            // `block_on`'s own future runs on the calling thread, off the runtime's workers: what
            // code awaiting straight from `#[tokio::main]`'s body does.
            return tokio::time::timeout(limit, scenario_run)
                .await
                .map_err(|_| late())?;
        }
        // Otherwise the scenario is a task on the workers, as an application's tasks are.
        tokio::time::timeout(limit, tokio::spawn(scenario_run))
            .await
            .map_err(|_| late())?
            .map_err(|e| -> BoxError { format!("the client run panicked: {e}").into() })?
    })?;
    println!("{}", measured.to_line());
    // Sockets and tasks are not torn down one by one: the process ends here.
    std::process::exit(0);
}

/// The payload of S1 and S2 pushes (echoed by `bench:*`'s `ping`).
fn ping_payload(n: usize) -> String {
    format!(r#"{{"n":{n},"body":"the quick brown fox jumps over the lazy dog"}}"#)
}

/// The payload of S4's broadcasts: a sequence number and some padding.
fn fanout_payload(seq: usize) -> String {
    format!(r#"{{"seq":{seq},"pad":"{}"}}"#, "x".repeat(80))
}

/// The `seq` of a broadcast's payload.
fn seq_of(payload: &str) -> Result<u64> {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    Ok(serde_json::from_str::<Seq>(payload)?.seq)
}

/// Counts S4's deliveries to one receiver and checks they come in order.
#[derive(Default)]
struct Deliveries {
    next: u64,
    received: u64,
}

impl Deliveries {
    fn record(&mut self, seq: u64) -> Result<()> {
        if seq < self.next {
            return Err(format!("broadcast {seq} came after {}", self.next - 1).into());
        }
        self.next = seq + 1;
        self.received += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Our client
// ---------------------------------------------------------------------------------------------

mod ours {
    use super::*;

    async fn joined(url: &str) -> Result<Socket> {
        let socket = Socket::builder(url).build()?;
        socket.connect();
        socket.await_connect(Some(STEP_TIMEOUT)).await?;
        socket.join(TOPIC, serde_json::json!({}));
        socket.await_join(TOPIC, Some(STEP_TIMEOUT)).await?;
        Ok(socket)
    }

    pub(super) async fn s1(url: &str, count: usize) -> Result<Measured> {
        let socket = joined(url).await?;
        let payloads: Vec<_> = (0..count).map(ping_payload).collect();
        for p in payloads.iter().take(1_000) {
            let r = socket.push(
                TOPIC,
                "ping",
                slipstream_protocol::Payload::from_json_str(p)?,
            );
            socket.await_reply(&r, Some(STEP_TIMEOUT)).await?;
        }
        let mut m = Measured::default();
        let mut samples = Vec::with_capacity(count);
        let watch = Stopwatch::start();
        for p in &payloads {
            let payload = slipstream_protocol::Payload::from_json_str(p)?;
            let sent = Instant::now();
            let r = socket.push(TOPIC, "ping", payload);
            let reply = socket.await_reply(&r, Some(STEP_TIMEOUT)).await?;
            samples.push(sent.elapsed().as_nanos() as u64);
            if !reply.is_ok() {
                return Err(format!("reply with status {}", reply.status).into());
            }
        }
        watch.stop(&mut m);
        m.ops = count as u64;
        percentiles(&mut m, samples);
        Ok(m)
    }

    pub(super) async fn s2(url: &str, count: usize, window: usize) -> Result<Measured> {
        let socket = joined(url).await?;
        let payloads: Vec<_> = (0..count).map(ping_payload).collect();
        let mut m = Measured::default();
        let mut in_flight = std::collections::VecDeque::with_capacity(window);
        let watch = Stopwatch::start();
        let mut next = payloads.iter();
        for p in next.by_ref().take(window) {
            in_flight.push_back(socket.push(
                TOPIC,
                "ping",
                slipstream_protocol::Payload::from_json_str(p)?,
            ));
        }
        while let Some(r) = in_flight.pop_front() {
            let reply = socket.await_reply(&r, Some(STEP_TIMEOUT)).await?;
            if !reply.is_ok() {
                return Err(format!("reply with status {}", reply.status).into());
            }
            if let Some(p) = next.next() {
                in_flight.push_back(socket.push(
                    TOPIC,
                    "ping",
                    slipstream_protocol::Payload::from_json_str(p)?,
                ));
            }
        }
        watch.stop(&mut m);
        m.ops = count as u64;
        Ok(m)
    }

    pub(super) async fn s3(url: &str, sockets: usize) -> Result<Measured> {
        let connect = |url: String| async move { joined(&url).await };
        idle::run(url, sockets, connect, |socket: &mut Socket| {
            socket.is_joined(TOPIC)
        })
        .await
    }

    pub(super) async fn s4(url: &str, receivers: usize, messages: usize) -> Result<Measured> {
        let sender = joined(url).await?;
        let mut sockets = Vec::with_capacity(receivers);
        for _ in 0..receivers {
            sockets.push(joined(url).await?);
        }
        let mut m = Measured::default();
        let watch = Stopwatch::start();
        let pattern = MessagePattern::any().topic(TOPIC).event("fanout");
        let tasks: Vec<_> = sockets
            .into_iter()
            .map(|socket| {
                let pattern = pattern.clone();
                tokio::spawn(async move {
                    let mut seen = Deliveries::default();
                    while seen.received < messages as u64 {
                        // A receiver that hears nothing for 5 s has lost the rest.
                        match socket
                            .await_message(&pattern, Some(Duration::from_secs(5)))
                            .await
                        {
                            Ok(message) => seen.record(seq_of(
                                message.payload.as_json_str().ok_or("binary broadcast")?,
                            )?)?,
                            Err(_) => break,
                        }
                    }
                    Ok::<u64, BoxError>(seen.received)
                })
            })
            .collect();
        for seq in 0..messages {
            sender.push_no_reply(
                TOPIC,
                "fanout",
                slipstream_protocol::Payload::from_json_str(&fanout_payload(seq))?,
            );
        }
        let mut received = 0;
        for task in tasks {
            received += task.await??;
        }
        watch.stop(&mut m);
        m.ops = received;
        m.lost = (receivers * messages) as u64 - received;
        drop(sender);
        Ok(m)
    }

    pub(super) async fn s5(url: &str, users: usize, count: usize) -> Result<Measured> {
        let mut sockets = Vec::with_capacity(users);
        for _ in 0..users {
            sockets.push(joined(url).await?);
        }
        closed_loop::run(sockets, count, |socket: Socket, payload| {
            Box::pin(async move {
                let r = socket.push(
                    TOPIC,
                    "ping",
                    slipstream_protocol::Payload::from_json_str(&payload)?,
                );
                let reply = socket.await_reply(&r, Some(STEP_TIMEOUT)).await?;
                if !reply.is_ok() {
                    return Err(format!("reply with status {}", reply.status).into());
                }
                Ok(socket)
            })
        })
        .await
    }
}

/// S3 for either client: `sockets` connect and join, at most [`CONNECT_CONCURRENCY`] at a time,
/// then sit idle for 2 s; each must still be `alive` at the end.
mod idle {
    use super::*;

    pub(super) async fn run<T, F, Fut>(
        url: &str,
        sockets: usize,
        connect: F,
        alive: impl Fn(&mut T) -> bool,
    ) -> Result<Measured>
    where
        T: Send + 'static,
        F: Fn(String) -> Fut + Copy + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let mut m = Measured {
            rss_before_kib: status_kib("VmRSS:"),
            ..Measured::default()
        };
        let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let watch = Stopwatch::start();
        let tasks: Vec<_> = (0..sockets)
            .map(|_| {
                let (gate, url) = (gate.clone(), url.to_owned());
                tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await?;
                    connect(url).await
                })
            })
            .collect();
        let mut all = Vec::with_capacity(sockets);
        for task in tasks {
            all.push(task.await??);
        }
        watch.stop(&mut m);
        m.ops = sockets as u64;
        tokio::time::sleep(Duration::from_secs(2)).await;
        m.rss_after_kib = status_kib("VmRSS:");
        m.hwm_kib = status_kib("VmHWM:");
        if let Some(gone) = all.iter_mut().position(|socket| !alive(socket)) {
            return Err(format!("socket {gone} is no longer joined").into());
        }
        Ok(m)
    }
}

mod closed_loop {
    use super::*;

    /// Runs `users` loops that share `count` round trips; each loop runs `roundtrip` until the
    /// shared counter is spent. Returns the measurement of the whole.
    pub(super) async fn run<S, F>(sockets: Vec<S>, count: usize, roundtrip: F) -> Result<Measured>
    where
        S: Send + 'static,
        F: Fn(S, String) -> BoxFuture<S> + Send + Sync + Copy + 'static,
    {
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(count));
        let mut m = Measured::default();
        let watch = Stopwatch::start();
        let tasks: Vec<_> = sockets
            .into_iter()
            .map(|mut socket| {
                let left = left.clone();
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while left
                        .fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |n| n.checked_sub(1),
                        )
                        .is_ok()
                    {
                        socket = roundtrip(socket, ping_payload(done as usize)).await?;
                        done += 1;
                    }
                    Ok::<u64, BoxError>(done)
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await??;
        }
        watch.stop(&mut m);
        m.ops = total;
        Ok(m)
    }

    pub(super) type BoxFuture<S> =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S>> + Send>>;
}

// ---------------------------------------------------------------------------------------------
// The raw floor: tokio-tungstenite, V2 frames written by hand, replies matched in a HashMap
// ---------------------------------------------------------------------------------------------

mod raw {
    use super::*;

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    /// A server frame: `[join_ref, ref, topic, event, payload]`.
    type Frame<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        &'a str,
        &'a RawValue,
    );

    fn push_frame(push_ref: u64, event: &str, payload: &str) -> Message {
        Message::text(format!(
            r#"["1","{push_ref}","{TOPIC}","{event}",{payload}]"#
        ))
    }

    async fn next_text(ws: &mut Ws) -> Result<String> {
        loop {
            match tokio::time::timeout(STEP_TIMEOUT, ws.next())
                .await
                .map_err(|_| "no frame within the step timeout")?
            {
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => return Err(format!("unexpected frame {other:?}").into()),
                Some(Err(e)) => return Err(e.into()),
                None => return Err("the server closed the socket".into()),
            }
        }
    }

    /// The reply's ref and whether its status is ok.
    fn reply_of(text: &str) -> Result<(u64, bool)> {
        #[derive(serde::Deserialize)]
        struct ReplyPayload<'a> {
            status: &'a str,
        }
        let (_, push_ref, _, event, payload): Frame = serde_json::from_str(text)?;
        if event != "phx_reply" {
            return Err(format!("expected a reply, got {text}").into());
        }
        let status: ReplyPayload = serde_json::from_str(payload.get())?;
        let push_ref = push_ref.ok_or("a reply without a ref")?.parse()?;
        Ok((push_ref, status.status == "ok"))
    }

    async fn joined(url: &str) -> Result<Ws> {
        let config = WebSocketConfig::default().read_buffer_size(RAW_READ_BUFFER);
        let (mut ws, _) = tokio::time::timeout(
            STEP_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(
                format!("{url}?vsn=2.0.0"),
                Some(config),
                true,
            ),
        )
        .await
        .map_err(|_| "connect timed out")??;
        ws.send(Message::text(format!(
            r#"["1","1","{TOPIC}","phx_join",{{}}]"#
        )))
        .await?;
        let (r, ok) = reply_of(&next_text(&mut ws).await?)?;
        if r != 1 || !ok {
            return Err("the join was not answered ok".into());
        }
        Ok(ws)
    }

    pub(super) async fn s1(url: &str, count: usize) -> Result<Measured> {
        let mut ws = joined(url).await?;
        let payloads: Vec<_> = (0..count).map(ping_payload).collect();
        let mut pending: HashMap<u64, Instant> = HashMap::new();
        let mut next_ref = 1u64;
        let mut roundtrip = async |ws: &mut Ws, payload: &str| -> Result<u64> {
            next_ref += 1;
            let sent = Instant::now();
            pending.insert(next_ref, sent);
            ws.send(push_frame(next_ref, "ping", payload)).await?;
            let (r, ok) = reply_of(&next_text(ws).await?)?;
            let sent = pending.remove(&r).ok_or("a reply to an unknown ref")?;
            if !ok {
                return Err("a reply that is not ok".into());
            }
            Ok(sent.elapsed().as_nanos() as u64)
        };
        for p in payloads.iter().take(1_000) {
            roundtrip(&mut ws, p).await?;
        }
        let mut m = Measured::default();
        let mut samples = Vec::with_capacity(count);
        let watch = Stopwatch::start();
        for p in &payloads {
            samples.push(roundtrip(&mut ws, p).await?);
        }
        watch.stop(&mut m);
        m.ops = count as u64;
        percentiles(&mut m, samples);
        Ok(m)
    }

    pub(super) async fn s2(url: &str, count: usize, window: usize) -> Result<Measured> {
        let mut ws = joined(url).await?;
        let payloads: Vec<_> = (0..count).map(ping_payload).collect();
        let mut pending: HashMap<u64, ()> = HashMap::with_capacity(window);
        let mut m = Measured::default();
        let watch = Stopwatch::start();
        let mut next = payloads.iter();
        let mut next_ref = 1u64;
        for p in next.by_ref().take(window) {
            next_ref += 1;
            pending.insert(next_ref, ());
            ws.feed(push_frame(next_ref, "ping", p)).await?;
        }
        let mut replies = 0;
        while replies < count {
            // Read what is ready; flush what was fed only when nothing is.
            let frame = match ws.next().now_or_never() {
                Some(frame) => frame,
                None => {
                    ws.flush().await?;
                    tokio::time::timeout(STEP_TIMEOUT, ws.next())
                        .await
                        .map_err(|_| "no reply within the step timeout")?
                }
            };
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => return Err(format!("unexpected frame {other:?}").into()),
                Some(Err(e)) => return Err(e.into()),
                None => return Err("the server closed the socket".into()),
            };
            let (r, ok) = reply_of(text.as_str())?;
            pending.remove(&r).ok_or("a reply to an unknown ref")?;
            if !ok {
                return Err("a reply that is not ok".into());
            }
            replies += 1;
            if let Some(p) = next.next() {
                next_ref += 1;
                pending.insert(next_ref, ());
                ws.feed(push_frame(next_ref, "ping", p)).await?;
            }
        }
        watch.stop(&mut m);
        m.ops = count as u64;
        Ok(m)
    }

    pub(super) async fn s3(url: &str, sockets: usize) -> Result<Measured> {
        let connect = |url: String| async move {
            let mut ws = joined(&url).await?;
            let (alive, alive_rx) = tokio::sync::oneshot::channel::<()>();
            // Each socket keeps being read, as a live client would.
            tokio::spawn(async move {
                let _alive = alive;
                while let Some(Ok(_)) = ws.next().await {}
            });
            Ok(alive_rx)
        };
        let open = |rx: &mut tokio::sync::oneshot::Receiver<()>| {
            !matches!(
                rx.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Closed)
            )
        };
        idle::run(url, sockets, connect, open).await
    }

    pub(super) async fn s4(url: &str, receivers: usize, messages: usize) -> Result<Measured> {
        let mut sender = joined(url).await?;
        let mut sockets = Vec::with_capacity(receivers);
        for _ in 0..receivers {
            sockets.push(joined(url).await?);
        }
        let mut m = Measured::default();
        let watch = Stopwatch::start();
        let tasks: Vec<_> = sockets
            .into_iter()
            .map(|mut ws| {
                tokio::spawn(async move {
                    let mut seen = Deliveries::default();
                    while seen.received < messages as u64 {
                        let frame =
                            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                                Ok(Some(Ok(Message::Text(text)))) => text,
                                Ok(Some(Ok(_))) => continue,
                                _ => break,
                            };
                        let (_, _, topic, event, payload): Frame =
                            serde_json::from_str(frame.as_str())?;
                        if topic == TOPIC && event == "fanout" {
                            seen.record(seq_of(payload.get())?)?;
                        }
                    }
                    Ok::<u64, BoxError>(seen.received)
                })
            })
            .collect();
        for seq in 0..messages {
            sender
                .feed(push_frame(seq as u64 + 2, "fanout", &fanout_payload(seq)))
                .await?;
        }
        sender.flush().await?;
        let mut received = 0;
        for task in tasks {
            received += task.await??;
        }
        watch.stop(&mut m);
        m.ops = received;
        m.lost = (receivers * messages) as u64 - received;
        drop(sender);
        Ok(m)
    }

    pub(super) async fn s5(url: &str, users: usize, count: usize) -> Result<Measured> {
        let mut sockets = Vec::with_capacity(users);
        for _ in 0..users {
            sockets.push((joined(url).await?, 1u64));
        }
        closed_loop::run(
            sockets,
            count,
            |(mut ws, mut next_ref): (Ws, u64), payload| {
                Box::pin(async move {
                    next_ref += 1;
                    ws.send(push_frame(next_ref, "ping", &payload)).await?;
                    let (r, ok) = reply_of(&next_text(&mut ws).await?)?;
                    if r != next_ref || !ok {
                        return Err("a reply to another ref, or not ok".into());
                    }
                    Ok((ws, next_ref))
                })
            },
        )
        .await
    }
}
