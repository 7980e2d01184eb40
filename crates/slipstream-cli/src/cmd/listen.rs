//! `slipstream listen [URL] TOPIC...`: connect, join every TOPIC, and print each message that
//! arrives on them until Ctrl-C, `--count` messages, `--duration` seconds, or the end of every
//! topic.
//!
//! On a terminal each message is a line for people, `topic event payload`; otherwise (or with
//! `--json`) one JSON object a line, `{"topic":…,"event":…,"payload":…}` (a binary payload goes
//! under `binary` as a list of bytes). What happens to the connection goes to stderr: each join,
//! a refused join with the server's payload, disconnects, reconnect attempts, reconnects and
//! rejoins (the client reconnects and rejoins by itself), crashed and closed channels.
//!
//! Exit codes, the scheme of `slipstream --help`: 0 when `--count` messages came, `--duration`
//! ran out (without `--count`), every topic was closed by the server (without `--count`), or the
//! reader of stdout went away (`| head -1`); 1 when no topic could be joined, or `--count` was not
//! reached before `--duration` ran out or the topics closed; 2 for usage errors and a failed
//! connection; 130 for Ctrl-C.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use slipstream_client::{AwaitError, ChannelMessage, DisconnectReason, Socket, SocketEvent};

use super::CliError;
use super::oneshot::{self, Connection, Ended, Out, note};
use crate::display;

/// Options of `slipstream listen`.
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// `[URL] TOPIC...`: a first argument with `://` is the URL; every other one is a topic to
    /// join.
    #[arg(value_name = "ARGS", hide = true)]
    args: Vec<String>,

    #[command(flatten)]
    connection: Connection,

    /// Exit 0 after N messages (exit 1 if --duration runs out or the topics close first).
    #[arg(long, value_name = "N", value_parser = count)]
    count: Option<u64>,

    /// Stop after this many seconds, counted from when the topics are joined (0.001 to 86400).
    #[arg(long, value_name = "SECONDS", value_parser = duration)]
    duration: Option<Duration>,
}

/// Parses `--count`: a whole number, at least 1.
fn count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("the count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number of messages".into()),
    }
}

/// Parses `--duration`: the bounds of `--timeout`.
fn duration(text: &str) -> Result<Duration, String> {
    super::timeout_seconds(text).map_err(|e| e.replace("the timeout", "the duration"))
}

/// Runs the command.
pub fn run(args: ListenArgs) -> Result<ExitCode, CliError> {
    let (url, topics) = oneshot::split_url(args.args);
    if topics.is_empty() {
        return Err(CliError::Usage(match url {
            Some(url) => format!("listen takes [URL] TOPIC...; name a topic after the URL {url}"),
            None => "listen takes [URL] TOPIC...; name a topic to listen to".into(),
        }));
    }
    let mut seen = BTreeSet::new();
    let topics: Vec<String> = topics
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect();
    let params = args.connection.join_params()?;
    let listen = Listen {
        json: args.connection.json_output(),
        timeout: args.connection.timeout,
        count: args.count,
        duration: args.duration,
    };
    let oneshot = oneshot::Oneshot::start(url, &args.connection)?;
    if let Some(url) = oneshot.demo_url() {
        // Something else has to talk to the room for anything to arrive: say where it is.
        let mut line = format!("the embedded demo server listens at {url}");
        if topics.iter().any(|t| t == "rooms:lobby") {
            line.push_str(&format!(
                "; try: slipstream push {url} rooms:lobby broadcast '{{\"hi\":1}}'"
            ));
        }
        note(&line);
    }
    let ended = oneshot.run(async |socket: &Socket, url: &str| {
        oneshot::connect(socket, url, listen.timeout).await?;
        let joined = join_all(socket, &topics, params, listen.timeout).await?;
        listen.messages(socket, joined).await
    })?;
    Ok(match ended {
        Ended::Done(code) => code,
        Ended::Interrupted => oneshot::interrupted(),
    })
}

/// Joins every topic (all joins go out at once), reporting each answer on stderr; the topics
/// joined, or a failure when none was.
async fn join_all(
    socket: &Socket,
    topics: &[String],
    params: slipstream_client::Payload,
    timeout: Duration,
) -> Result<BTreeSet<String>, CliError> {
    for topic in topics {
        socket.join(topic, params.clone());
    }
    let mut joined = BTreeSet::new();
    for topic in topics {
        match oneshot::await_join(socket, topic, timeout).await {
            Ok(response) => {
                note(&joined_line("joined", topic, &response));
                joined.insert(topic.clone());
            }
            Err(why) => {
                // Not retried: a join that was not answered is given up.
                socket.leave(topic);
                note(&format!("error: {why}"));
            }
        }
    }
    if joined.is_empty() {
        let why = match topics.len() {
            1 => "the topic could not be joined".to_owned(),
            n => format!("none of the {n} topics could be joined"),
        };
        return Err(CliError::Failed(anyhow!("nothing to listen to: {why}")));
    }
    Ok(joined)
}

/// `joined rooms:lobby`, with the server's response when it says something.
fn joined_line(what: &str, topic: &str, response: &slipstream_client::Payload) -> String {
    let shown = display::show_payload(response);
    if shown == "{}" {
        format!("{what} {topic}")
    } else {
        format!("{what} {topic}, response {shown}")
    }
}

/// How to listen, from the options.
struct Listen {
    json: bool,
    timeout: Duration,
    count: Option<u64>,
    duration: Option<Duration>,
}

/// Why listening ended before `--count` (or without one).
enum Stop {
    /// `--duration` ran out.
    Duration,
    /// No topic is left: the server closed them all.
    TopicsClosed,
}

impl Listen {
    /// Prints messages until `--count`, `--duration` or the end of every topic in `open`.
    async fn messages(
        &self,
        socket: &Socket,
        mut open: BTreeSet<String>,
    ) -> Result<ExitCode, CliError> {
        let deadline = self.duration.map(|d| tokio::time::Instant::now() + d);
        let mut out = Out::new();
        let mut printed: u64 = 0;
        let stop = loop {
            let next = tokio::select! {
                event = socket.next_event(Some(Duration::from_secs(3600))) => event,
                () = until(deadline) => break Stop::Duration,
            };
            let event = match next {
                Ok(event) => event,
                Err(AwaitError::Timeout) => continue,
                Err(error) => {
                    return Err(CliError::Connection(anyhow!("the socket stopped: {error}")));
                }
            };
            match event {
                SocketEvent::Message(message) => {
                    if !open.contains(&*message.topic) {
                        continue;
                    }
                    if let Err(failed) = out.line(&self.show(&message)) {
                        return match failed.into_error() {
                            Some(error) => Err(error),
                            // The reader has all it wanted.
                            None => Ok(ExitCode::SUCCESS),
                        };
                    }
                    printed += 1;
                    if self.count.is_some_and(|n| printed >= n) {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                SocketEvent::Reply { .. } => {}
                SocketEvent::Reconnecting {
                    attempt,
                    delay,
                    error,
                } => {
                    // As the shell shows them: the first five in a row, then every tenth.
                    if attempt <= 5 || attempt % 10 == 0 {
                        note(&display::show_reconnecting(attempt, delay, error.as_ref()));
                    }
                }
                SocketEvent::Connected => note("reconnected"),
                SocketEvent::Joined { topic, response } => {
                    note(&joined_line("rejoined", &topic, &response));
                }
                SocketEvent::Disconnected(reason) => {
                    note(&format!(
                        "disconnected: {}",
                        display::show_disconnect(&reason)
                    ));
                    if matches!(reason, DisconnectReason::ClientRequested) {
                        break Stop::TopicsClosed;
                    }
                }
                SocketEvent::ConnectFailed(error) => {
                    return Err(CliError::Connection(anyhow!(
                        "the connection is lost and the client gave up reconnecting: {error}"
                    )));
                }
                SocketEvent::TopicClosed { topic, reason } => {
                    note(&format!(
                        "channel {topic} closed: {}",
                        display::show_topic_close(&reason)
                    ));
                    open.remove(&topic);
                    if open.is_empty() {
                        break Stop::TopicsClosed;
                    }
                }
                SocketEvent::Left { topic } => {
                    open.remove(&topic);
                    if open.is_empty() {
                        break Stop::TopicsClosed;
                    }
                }
                SocketEvent::TopicErrored {
                    topic,
                    payload,
                    rejoin_in,
                } => note(&format!(
                    "channel {topic} crashed: {} (rejoin in {} ms)",
                    display::show_payload(&payload),
                    display::millis(rejoin_in)
                )),
                SocketEvent::JoinFailed {
                    topic,
                    error,
                    rejoin_in,
                } => {
                    if !open.contains(&topic) {
                        continue;
                    }
                    match rejoin_in {
                        Some(delay) => note(&format!(
                            "rejoin of {topic} failed: {error} (next attempt in {} ms)",
                            display::millis(delay)
                        )),
                        None => {
                            note(&format!("rejoin of {topic} failed for good: {error}"));
                            open.remove(&topic);
                            if open.is_empty() {
                                break Stop::TopicsClosed;
                            }
                        }
                    }
                }
                other => note(&display::show_event(&other)),
            }
        };
        self.stopped(stop, printed)
    }

    /// The exit for listening that stopped before `--count` was reached (or had none).
    fn stopped(&self, stop: Stop, printed: u64) -> Result<ExitCode, CliError> {
        let Some(count) = self.count else {
            return Ok(ExitCode::SUCCESS);
        };
        let messages = if count == 1 { "message" } else { "messages" };
        let why = match stop {
            Stop::Duration => format!(
                "within {}",
                oneshot::seconds(self.duration.unwrap_or_default())
            ),
            Stop::TopicsClosed => "before the server closed every topic".into(),
        };
        Err(CliError::Failed(anyhow!(
            "{printed} of the {count} {messages} asked for with --count came {why}"
        )))
    }

    /// A message as a line: JSON, or `topic event payload` for people.
    fn show(&self, message: &ChannelMessage) -> String {
        if self.json {
            let (key, payload) = oneshot::payload_json(&message.payload, "payload");
            format!(
                "{{\"topic\":{},\"event\":{},{}:{payload}}}",
                oneshot::json_string(&message.topic),
                oneshot::json_string(&message.event),
                oneshot::json_string(key)
            )
        } else {
            let event = &message.event;
            // An event with a space (the demo has "push to me") is quoted, so the line still
            // reads as three parts.
            let event = if event.is_empty() || event.contains(char::is_whitespace) {
                format!("{event:?}")
            } else {
                event.to_string()
            };
            format!(
                "{} {event} {}",
                message.topic,
                display::show_payload(&message.payload)
            )
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_and_duration_are_checked() {
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").is_err());
        assert!(count("x").is_err());
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        let error = duration("1e20").unwrap_err();
        assert!(error.contains("the duration must be from"), "{error}");
    }
}
