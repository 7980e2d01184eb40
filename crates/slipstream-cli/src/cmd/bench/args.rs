//! The flags of `slipstream bench <scenario>`: where to connect, the load shape, the outputs,
//! and each scenario's own.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use slipstream_bench::duration::{Rate, parse_duration};
use slipstream_bench::shape::{Segment, Shape};
use slipstream_bench::threshold::Threshold;

/// The flags every scenario takes.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// The websocket URL, e.g. wss://example.com/socket/websocket.
    #[arg(long, default_value = super::super::run::DEFAULT_URL, help_heading = "Target")]
    pub url: String,

    /// Start the embedded demo server on a free loopback port and load it instead of --url.
    #[arg(long, conflicts_with = "url", help_heading = "Target")]
    pub demo: bool,

    /// How long a connect, a join or a reply may take before it counts as an error.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, help_heading = "Target")]
    pub timeout: Duration,

    /// How often each socket sends its heartbeat.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = heartbeat, help_heading = "Target")]
    pub heartbeat: Duration,

    /// Loopback source addresses to spread the users over (127.0.0.1 onwards, one per user in
    /// turn). Default: one per 20,000 users when the server is on loopback, else the system's
    /// choice. One source address has about 28,000 ports towards one server.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536), help_heading = "Target")]
    pub source_addrs: Option<u32>,

    /// Each socket's websocket read and write buffer (bytes each; memory per user).
    #[arg(long, value_name = "BYTES", default_value_t = slipstream_bench::scenario::DEFAULT_BUFFER, value_parser = buffer, help_heading = "Target")]
    pub socket_buffer: usize,

    /// Virtual users at full load.
    #[arg(
        long,
        short = 'u',
        value_name = "N",
        default_value_t = 10,
        help_heading = "Load shape"
    )]
    pub users: u64,

    /// Reach --users linearly over this time (default: all at once).
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Load shape")]
    pub ramp_up: Option<Duration>,

    /// How long the full load holds, after the ramp-up [default: 10s; 10m with --iterations].
    #[arg(long, short = 'd', value_name = "DURATION", value_parser = duration, help_heading = "Load shape")]
    pub duration: Option<Duration>,

    /// Stages instead of --users/--ramp-up/--duration: DURATION:USERS,… from 0 users, linear
    /// between targets (e.g. 30s:1000,2m:1000,10s:0).
    #[arg(long, value_name = "STAGES", value_parser = stages, conflicts_with_all = ["users", "ramp_up", "duration"], help_heading = "Load shape")]
    pub stages: Option<Shape>,

    /// Iterations of all users together (k6's shared iterations): the run ends when they are
    /// done, or at the end of the shape if sooner.
    #[arg(long, value_name = "N", help_heading = "Load shape")]
    pub iterations: Option<u64>,

    /// Pause between a user's iterations (closed model).
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Load shape")]
    pub think: Option<Duration>,

    /// How long users get to finish once told to stop, before they are cut off.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration, help_heading = "Load shape")]
    pub grace: Duration,

    /// Run only the I-th of N equal shares of the users (k6's execution segments), e.g. 1/4;
    /// merge the N result files with `slipstream bench report`.
    #[arg(long, value_name = "I/N", help_heading = "Distribution")]
    pub segment: Option<Segment>,

    /// Run the load in K worker processes on this machine (each a segment) and merge them.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256), help_heading = "Distribution")]
    pub workers: u32,

    /// A pass/fail check on the results, e.g. 'reply.p99 < 50ms' or 'errors < 0.1%'
    /// (repeatable): a failed one exits 1.
    #[arg(long, value_name = "EXPR", help_heading = "Results")]
    pub threshold: Vec<Threshold>,

    /// Write every histogram, counter and per-second series to this JSON file (for `bench
    /// report`).
    #[arg(long, value_name = "FILE", help_heading = "Results")]
    pub out: Option<PathBuf>,

    /// Write an HTML report with plots to this file.
    #[arg(long, value_name = "FILE", help_heading = "Results")]
    pub html: Option<PathBuf>,

    /// No live progress on stderr (the summary is still printed).
    #[arg(long, short = 'q', help_heading = "Results")]
    pub quiet: bool,

    /// A worker of --workers: print one progress line a second on stdout for the parent, no
    /// summary.
    #[arg(long, hide = true)]
    pub worker: bool,
}

impl LoadArgs {
    /// The load shape the flags describe.
    pub fn shape(&self) -> Result<Shape, String> {
        if let Some(stages) = &self.stages {
            return Ok(stages.clone());
        }
        let hold = self.duration.unwrap_or(if self.iterations.is_some() {
            Duration::from_secs(600)
        } else {
            Duration::from_secs(10)
        });
        Shape::constant(self.users, self.ramp_up.unwrap_or_default(), hold)
            .map_err(|e| e.to_string())
    }
}

/// `connect`'s flags.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Topics each user joins (bench:connect:0, bench:connect:1, …); 0 only connects.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=100), help_heading = "Scenario")]
    pub topics: u32,
}

/// `ping`'s flags.
#[derive(Args, Debug, Clone)]
pub struct PingArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// The topic every user joins (the demo's bench:* answers ping with its payload).
    #[arg(long, default_value = "bench:ping", help_heading = "Scenario")]
    pub topic: String,
    /// The event pushed; its latency is reported as reply.EVENT.
    #[arg(long, default_value = "ping", help_heading = "Scenario")]
    pub event: String,
    /// Bytes of padding in each payload.
    #[arg(long, value_name = "BYTES", default_value_t = 64, value_parser = clap::value_parser!(u64).range(0..=1_048_576), help_heading = "Scenario")]
    pub payload_size: u64,
    /// Pushes a second per user, open model (latency from the intended send time), e.g.
    /// 10/s; without it each user pushes again as soon as it has its reply (and --think).
    #[arg(long, value_name = "N/s", help_heading = "Scenario")]
    pub rate: Option<Rate>,
}

/// `fanout`'s flags.
#[derive(Args, Debug, Clone)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// The topic (a bench:* topic on the demo server).
    #[arg(long, default_value = "bench:fanout", help_heading = "Scenario")]
    pub topic: String,
    /// How many of the users send (the others receive).
    #[arg(long, value_name = "S", default_value_t = 1, help_heading = "Scenario")]
    pub senders: u64,
    /// Messages a second per sender.
    #[arg(
        long,
        value_name = "N/s",
        default_value = "10/s",
        help_heading = "Scenario"
    )]
    pub rate: Rate,
    /// How long each sender waits after its join before its first message (e.g. the ramp-up,
    /// so every message goes to every user).
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = duration, help_heading = "Scenario")]
    pub send_after: Duration,
    /// Also record each message's deliveries as `round.<sender>.<seq>`: its max is the time
    /// until that message's last delivery, its count the receivers it reached (exact across
    /// --workers). One histogram per message: for tens of messages, not thousands.
    #[arg(long, help_heading = "Scenario")]
    pub per_round: bool,
}

/// `presence`'s flags.
#[derive(Args, Debug, Clone)]
pub struct PresenceArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// The topic (a presence:* topic on the demo server).
    #[arg(long, default_value = "presence:bench", help_heading = "Scenario")]
    pub topic: String,
    /// How long each user stays joined before leaving (then --think, then it joins again).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration, help_heading = "Scenario")]
    pub hold: Duration,
}

/// `reconnect`'s flags.
#[derive(Args, Debug, Clone)]
pub struct ReconnectArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Who cuts the connections: kick (each user asks the demo server's rooms:lobby to cut its
    /// own, once an iteration, then --think) or server (users wait for the server to drop
    /// them, e.g. while you redeploy it).
    #[arg(long, value_enum, default_value = "kick", help_heading = "Scenario")]
    pub cut: CutArg,
    /// With --demo: restart the embedded server every DURATION (websockets closed with 1012,
    /// the same port again); implies --cut server.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Scenario")]
    pub restart_every: Option<Duration>,
}

/// `--cut`'s values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum CutArg {
    /// Each user has the server cut its own connection.
    Kick,
    /// Users wait for the server to drop them.
    Server,
}

impl From<CutArg> for slipstream_bench::scenario::reconnect::Cut {
    fn from(cut: CutArg) -> Self {
        match cut {
            CutArg::Kick => Self::Kick,
            CutArg::Server => Self::Server,
        }
    }
}

/// `custom`'s flags.
#[derive(Args, Debug, Clone)]
pub struct CustomArgs {
    /// The scenario file (see `slipstream bench custom --help`).
    pub file: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

fn heartbeat(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d < Duration::from_millis(100) {
        return Err("the heartbeat interval must be at least 100ms".into());
    }
    Ok(d)
}

fn buffer(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1024..=16 << 20).contains(&n) => Ok(n),
        Ok(_) => Err("the buffer must be from 1024 to 16777216 bytes".into()),
        Err(e) => Err(format!("not a number of bytes: {e}")),
    }
}

fn stages(text: &str) -> Result<Shape, String> {
    Shape::parse_stages(text).map_err(|e| e.to_string())
}
