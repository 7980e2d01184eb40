//! Custom scenarios: a file of steps, one a line, that every virtual user runs.
//!
//! The format is declarative, in the spirit of Artillery's, with `slipstream run`'s vocabulary
//! (see [`FORMAT_HELP`]). It is parsed once into [`Step`]s; each user then walks the same steps
//! as plain async code on the shared runtime, so thousands of users cost thousands of small
//! tasks, not threads, and every mistake is found, with its line, before the run starts.

mod parse;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use slipstream_client::{MessagePattern, Payload, Ref, Socket};
use tokio::time::Instant;

pub use parse::{ParseError, Step, Template};

use crate::executor::{Scenario, User, UserFuture};
use crate::scenario::{Target, close, record_reply};

/// The format, for `slipstream bench custom --help`.
pub const FORMAT_HELP: &str = "\
Scenario file: one step a line, run by every user from top to bottom; # starts a comment.
  connect [key=value]...           connect (--url; params user_id=bench-<user> and these)
  join TOPIC [JSON]                join; records `join`
  push TOPIC EVENT [JSON]          push and await the reply; records reply.<event>
  push TOPIC EVENT [JSON] as NAME  push without waiting; later: await_reply NAME
  await_reply NAME                 records reply.<event> from the push
  await_message TOPIC EVENT [PAT]  wait for a message (_ for any topic, event or value);
                                   records message.<event> (the wait)
  leave TOPIC | disconnect
  sleep 100ms | sleep 100ms..1s    a pause (random within the range)
  repeat N ... end                 N times
  loop ... end                     once per iteration until the run stops (--iterations,
                                   then --think after each pass)
  choose ... or ... end            one of the branches, at random
A topic or event with spaces goes in double quotes: push rooms:lobby \"push to me\".
Variables in topics, events and JSON: ${user} (the user's index), ${i} (the innermost
repeat or loop's pass, from 0), ${iteration} (the loop passes so far), ${rand:N} (0 to N-1).

Example (what `ping` does):
  connect
  join bench:ping
  loop
    push bench:ping ping {\"user\": ${user}, \"n\": ${i}}
  end";

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Program {
    steps: Vec<Step>,
}

/// Parses a scenario file; the error names the line.
pub fn parse(source: &str) -> Result<Program, ParseError> {
    parse::parse(source).map(|steps| Program { steps })
}

impl Program {
    /// Sockets a user holds at most (one: `connect` again replaces the first).
    pub fn sockets_per_user(&self) -> u64 {
        1
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

/// A scenario file, run by every user.
pub struct Custom {
    name: String,
    program: Program,
    target: Target,
}

impl Custom {
    /// The scenario named `name` (its file), connecting to `target`.
    pub fn new(name: String, program: Program, target: Target) -> Custom {
        Custom {
            name,
            program,
            target,
        }
    }
}

impl Scenario for Custom {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn primary_metric(&self) -> String {
        first_reply(&self.program.steps).unwrap_or_else(|| "connect".into())
    }

    fn counters(&self) -> Vec<String> {
        ["iterations", "pushes", "messages.received"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let mut state = State {
                rng: user.index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03,
                user,
                socket: None,
                pending: HashMap::new(),
                counters: Vec::new(),
                iteration: 0,
            };
            let _ = self.steps(&self.program.steps, &mut state).await;
            if let Some(socket) = state.socket.take() {
                close(socket).await;
            }
        })
    }
}

/// The metric the live display follows: the first push's event.
fn first_reply(steps: &[Step]) -> Option<String> {
    steps.iter().find_map(|step| match step {
        Step::Push { event, .. } => Some(format!("reply.{}", event.0)),
        Step::Repeat(_, body) | Step::Loop(body) => first_reply(body),
        Step::Choose(branches) => branches.iter().find_map(|b| first_reply(b)),
        _ => None,
    })
}

/// One user's run of the steps.
struct State {
    user: User,
    socket: Option<Socket>,
    /// Pushes named with `as`, awaiting their `await_reply`: ref, event, when sent.
    pending: HashMap<String, (Ref, String, Instant)>,
    /// The pass of each enclosing repeat or loop, innermost last.
    counters: Vec<u64>,
    iteration: u64,
    rng: u64,
}

impl State {
    /// The next pseudo-random number (splitmix64; each user has its own sequence).
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The template with its variables filled in.
    fn fill(&mut self, template: &Template) -> String {
        let text = &template.0;
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').unwrap_or(after.len());
            let name = &after[..end];
            let value = match name {
                "user" => self.user.index,
                "i" => self.counters.last().copied().unwrap_or(0),
                "iteration" => self.iteration,
                _ => match name
                    .strip_prefix("rand:")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    Some(n) if n > 0 => self.random() % n,
                    _ => 0,
                },
            };
            out.push_str(&value.to_string());
            rest = after.get(end + 1..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }

    fn payload(&mut self, template: Option<&Template>) -> Option<Payload> {
        let Some(template) = template else {
            return Some(Payload::json(&serde_json::json!({})));
        };
        let text = self.fill(template);
        match Payload::from_json_str(&text) {
            Ok(payload) => Some(payload),
            Err(e) => {
                self.user.recorder.error("bad_json", &e);
                None
            }
        }
    }
}

/// How a block ended.
enum Flow {
    Next,
    Stop,
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Flow> + Send + 'a>>;

impl Custom {
    fn steps<'a>(&'a self, steps: &'a [Step], state: &'a mut State) -> StepFuture<'a> {
        Box::pin(async move {
            for step in steps {
                if state.user.should_stop() {
                    return Flow::Stop;
                }
                if let Flow::Stop = self.step(step, state).await {
                    return Flow::Stop;
                }
            }
            Flow::Next
        })
    }

    async fn step(&self, step: &Step, state: &mut State) -> Flow {
        match step {
            Step::Connect(params) => {
                if let Some(old) = state.socket.take() {
                    close(old).await;
                }
                let params: Vec<(&str, String)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), state.fill(v)))
                    .collect();
                match self.target.connect(&state.user, &params).await {
                    Some(socket) => {
                        state.socket = Some(socket);
                        Flow::Next
                    }
                    None => Flow::Stop,
                }
            }
            Step::Join(topic, params) => {
                let Some(socket) = state.socket.clone() else {
                    return not_connected(state, "join");
                };
                let topic = state.fill(topic);
                let Some(params) = state.payload(params.as_ref()) else {
                    return Flow::Stop;
                };
                if self.target.join(&state.user, &socket, &topic, params).await {
                    Flow::Next
                } else {
                    Flow::Stop
                }
            }
            Step::Leave(topic) => {
                let Some(socket) = state.socket.clone() else {
                    return not_connected(state, "leave");
                };
                let topic = state.fill(topic);
                socket.leave(&topic);
                if let Err(e) = socket.await_leave(&topic, Some(self.target.timeout)).await {
                    state.user.recorder.error("leave", &e);
                }
                Flow::Next
            }
            Step::Push {
                topic,
                event,
                payload,
                name,
            } => {
                let Some(socket) = state.socket.clone() else {
                    return not_connected(state, "push");
                };
                let (topic, event) = (state.fill(topic), state.fill(event));
                let Some(payload) = state.payload(payload.as_ref()) else {
                    return Flow::Next;
                };
                let sent = Instant::now();
                let r = socket.push(&topic, &event, payload);
                match name {
                    Some(name) => {
                        state.pending.insert(name.clone(), (r, event, sent));
                    }
                    None => {
                        let outcome = socket.await_reply(&r, None).await;
                        record_reply(&state.user, &format!("reply.{event}"), sent, outcome);
                    }
                }
                Flow::Next
            }
            Step::AwaitReply(name) => {
                let Some(socket) = state.socket.clone() else {
                    return not_connected(state, "await_reply");
                };
                match state.pending.remove(name) {
                    Some((r, event, sent)) => {
                        let outcome = socket.await_reply(&r, None).await;
                        record_reply(&state.user, &format!("reply.{event}"), sent, outcome);
                    }
                    None => state.user.recorder.error(
                        "no_such_push",
                        &format!("await_reply {name}: no push named {name} is waiting"),
                    ),
                }
                Flow::Next
            }
            Step::AwaitMessage {
                topic,
                event,
                pattern,
            } => {
                let Some(socket) = state.socket.clone() else {
                    return not_connected(state, "await_message");
                };
                let mut wanted = MessagePattern::any();
                if let Some(topic) = topic {
                    wanted = wanted.topic(state.fill(topic));
                }
                let event_name = event.as_ref().map(|e| state.fill(e));
                if let Some(event) = &event_name {
                    wanted = wanted.event(event.clone());
                }
                if let Some(pattern) = pattern {
                    let text = parse::mark_any(&state.fill(pattern));
                    match serde_json::from_str::<Value>(&text) {
                        Ok(value) => wanted = wanted.payload(parse::to_pattern(value)),
                        Err(e) => {
                            state.user.recorder.error("bad_json", &e);
                            return Flow::Next;
                        }
                    }
                }
                let started = Instant::now();
                let metric = format!("message.{}", event_name.as_deref().unwrap_or("any"));
                tokio::select! {
                    found = socket.await_message(&wanted, Some(self.target.timeout)) => match found {
                        Ok(_) => {
                            state.user.recorder.latency(&metric, started.elapsed());
                            state.user.recorder.count("messages.received", 1);
                        }
                        Err(slipstream_client::AwaitError::Timeout) => {
                            state.user.recorder.error("timeout", &"no matching message in time");
                        }
                        Err(e) => state.user.recorder.error("not_joined", &e),
                    },
                    () = state.user.stopped() => return Flow::Stop,
                }
                Flow::Next
            }
            Step::Sleep(min, max) => {
                let span = max.saturating_sub(*min);
                let extra = if span.is_zero() {
                    Duration::ZERO
                } else {
                    let micros = u64::try_from(span.as_micros()).unwrap_or(u64::MAX).max(1);
                    Duration::from_micros(state.random() % micros)
                };
                if state.user.sleep(*min + extra).await {
                    Flow::Next
                } else {
                    Flow::Stop
                }
            }
            Step::Repeat(n, body) => {
                state.counters.push(0);
                for pass in 0..*n {
                    if let Some(last) = state.counters.last_mut() {
                        *last = pass;
                    }
                    if let Flow::Stop = self.steps(body, state).await {
                        state.counters.pop();
                        return Flow::Stop;
                    }
                }
                state.counters.pop();
                Flow::Next
            }
            Step::Loop(body) => {
                state.counters.push(0);
                let mut pass = 0;
                let mut flow = Flow::Next;
                while state.user.next_iteration() {
                    if let Some(last) = state.counters.last_mut() {
                        *last = pass;
                    }
                    if let Flow::Stop = self.steps(body, state).await {
                        flow = Flow::Stop;
                        break;
                    }
                    pass += 1;
                    state.iteration += 1;
                    if !state.user.think().await {
                        flow = Flow::Stop;
                        break;
                    }
                }
                state.counters.pop();
                // Iterations all done: the steps after the loop still run (a leave, a
                // disconnect); told to stop: they do not.
                if state.user.should_stop() {
                    flow = Flow::Stop;
                }
                flow
            }
            Step::Choose(branches) => {
                let pick = (state.random() % branches.len() as u64) as usize;
                self.steps(&branches[pick], state).await
            }
            Step::Disconnect => {
                if let Some(socket) = state.socket.take() {
                    close(socket).await;
                }
                Flow::Next
            }
        }
    }
}

fn not_connected(state: &State, step: &str) -> Flow {
    state
        .user
        .recorder
        .error("not_connected", &format!("{step} before connect"));
    Flow::Stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_follows_the_first_push() {
        let program = parse("connect\nrepeat 2\n  push bench:a echo {}\nend\n").unwrap();
        assert_eq!(first_reply(program.steps()).as_deref(), Some("reply.echo"));
    }
}
