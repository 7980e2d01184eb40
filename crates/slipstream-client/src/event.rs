//! What the connection task reports: every arrival becomes one [`SocketEvent`] in the mailbox.
//!
//! Every type here prints (`Display`) as a short line a person can read, as the errors do.

pub(crate) mod human;

use std::fmt;
use std::time::Duration;

use slipstream_protocol::{Payload, Ref, Reply, SharedStr};

use crate::error::{ConnectError, JoinError, ReplyError};
pub use human::close_code_name;
use human::duration;

/// A push or broadcast the server sent to a topic (anything that is not a reply or a lifecycle
/// notification).
///
/// ```
/// use slipstream_client::{ChannelMessage, Payload};
/// let m = ChannelMessage {
///     topic: "rooms:lobby".into(),
///     event: "foo".into(),
///     payload: Payload::json(&serde_json::json!({"bar": "baz"})),
/// };
/// assert_eq!(m.json().unwrap()["bar"], "baz");
/// ```
///
/// The topic and event are [`SharedStr`]s, and a JSON payload is a
/// [`JsonText`](slipstream_protocol::JsonText): stored inline when short (up to 23 bytes),
/// copied out of the frame up to 512 bytes, and beyond that slices of the frame the message
/// came in, shared rather than copied. They read as `&str`
/// (`m.topic.as_str()`, or any `str` method), compare with strings (`m.event == "foo"`) and
/// print as text; `String::from(m.topic)` makes an owned copy. A message with a part longer
/// than 512 bytes keeps the buffer it was read into alive (the socket's read buffer, 8 KiB by
/// default, or the frame's own when larger), and the copies of messages read in one burst
/// share 4 KiB chunks, each alive while any of its messages is: copy out what you keep for
/// long.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    /// The topic, e.g. `rooms:lobby`.
    pub topic: SharedStr,
    /// The event name, e.g. `foo`.
    pub event: SharedStr,
    /// The payload: JSON or binary.
    pub payload: Payload,
}

impl ChannelMessage {
    /// The payload parsed as JSON (`None` for binary payloads).
    pub fn json(&self) -> Option<serde_json::Value> {
        match &self.payload {
            Payload::Binary(_) => None,
            other => other.to_value().ok(),
        }
    }
}

/// `topic event payload`, e.g. `rooms:lobby foo {"bar":"baz"}`.
///
/// ```
/// use slipstream_client::{ChannelMessage, Payload};
/// let m = ChannelMessage {
///     topic: "rooms:lobby".into(),
///     event: "foo".into(),
///     payload: Payload::json(&serde_json::json!({"bar": "baz"})),
/// };
/// assert_eq!(m.to_string(), r#"rooms:lobby foo {"bar":"baz"}"#);
/// ```
impl fmt::Display for ChannelMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.topic, self.event, self.payload)
    }
}

/// Why the websocket connection ended.
///
/// It prints as words: `client requested`, `heartbeat timed out`,
/// `closed by the server with 1009 (message too big)`, `transport error: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// [`Socket::disconnect`](crate::Socket::disconnect) was called.
    ClientRequested,
    /// A heartbeat was not acknowledged within one heartbeat interval.
    HeartbeatTimeout,
    /// The server sent a close frame.
    ClosedByRemote {
        /// The close code (`None` when the frame had no code).
        code: Option<u16>,
        /// The close reason text.
        reason: String,
    },
    /// The TCP/TLS stream ended or failed without a close frame.
    TransportError(String),
}

impl DisconnectReason {
    /// The server's close code, when it sent a close frame with one (`1009`: a message was too
    /// big for it).
    pub fn close_code(&self) -> Option<u16> {
        match self {
            DisconnectReason::ClosedByRemote { code, .. } => *code,
            _ => None,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClientRequested => f.write_str("client requested"),
            DisconnectReason::HeartbeatTimeout => f.write_str("heartbeat timed out"),
            DisconnectReason::ClosedByRemote { code: None, reason } => {
                f.write_str("closed by the server without a close code")?;
                if !reason.is_empty() {
                    write!(f, ": {reason:?}")?;
                }
                Ok(())
            }
            DisconnectReason::ClosedByRemote {
                code: Some(code),
                reason,
            } => {
                write!(f, "closed by the server with {code}")?;
                if let Some(name) = close_code_name(*code) {
                    write!(f, " ({name})")?;
                }
                if !reason.is_empty() {
                    write!(f, ": {reason:?}")?;
                }
                Ok(())
            }
            DisconnectReason::TransportError(error) => write!(f, "transport error: {error}"),
        }
    }
}

/// Why a topic closed for good (no automatic rejoin follows).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TopicCloseReason {
    /// The server closed the channel (`phx_close`), with its payload.
    ClosedByServer(Payload),
    /// The connection dropped and automatic rejoin is switched off.
    Disconnected,
}

/// `closed by the server` (with the `phx_close` payload unless it is `{}`), or
/// `the connection ended and automatic rejoin is off`.
impl fmt::Display for TopicCloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicCloseReason::ClosedByServer(payload) => {
                f.write_str("closed by the server")?;
                if !is_empty_object(payload) {
                    write!(f, " {payload}")?;
                }
                Ok(())
            }
            TopicCloseReason::Disconnected => {
                f.write_str("the connection ended and automatic rejoin is off")
            }
        }
    }
}

/// Whether a payload is the JSON `{}` (which says nothing worth printing).
fn is_empty_object(payload: &Payload) -> bool {
    payload
        .as_json_str()
        .is_some_and(|json| json.chars().filter(|c| !c.is_whitespace()).eq("{}".chars()))
}

/// One thing that happened on the socket, in arrival order.
///
/// The `await_*` methods of [`Socket`](crate::Socket) each take the first event they match out of the
/// mailbox; [`Socket::flush`](crate::Socket::flush) and [`Socket::next_event`](crate::Socket::next_event)
/// take whatever is there.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SocketEvent {
    /// The websocket is open (after a connect or a reconnect).
    Connected,
    /// A connect attempt failed and no retry is scheduled (the initial connect, unless
    /// `retry_on_initial_connect` is on).
    ConnectFailed(ConnectError),
    /// A reconnect is scheduled after `delay`; `error` is why the last attempt failed, if it did.
    Reconnecting {
        /// 1 for the first retry after a loss, then 2, 3…
        attempt: u32,
        /// How long until the attempt.
        delay: Duration,
        /// The failure of the previous attempt, if there was one.
        error: Option<ConnectError>,
    },
    /// The websocket closed.
    Disconnected(DisconnectReason),
    /// A topic was joined (also after each automatic rejoin), with the server's response.
    Joined {
        /// The topic.
        topic: String,
        /// The join reply's `response`.
        response: Payload,
    },
    /// A join failed.
    JoinFailed {
        /// The topic.
        topic: String,
        /// Why.
        error: JoinError,
        /// When another attempt is scheduled, in how long.
        rejoin_in: Option<Duration>,
    },
    /// A push or broadcast for a topic.
    Message(ChannelMessage),
    /// The outcome of a push: the server's reply, or why none will come.
    Reply {
        /// The ref returned by [`Socket::push`](crate::Socket::push).
        push_ref: Ref,
        /// The topic pushed to.
        topic: String,
        /// The reply, or why there is none.
        result: Result<Reply, ReplyError>,
    },
    /// The server's channel crashed (`phx_error`); a rejoin is scheduled after `rejoin_in`.
    TopicErrored {
        /// The topic.
        topic: String,
        /// The `phx_error` payload (`{}` or `{"reason":"channel_crash"}`).
        payload: Payload,
        /// Delay until the rejoin attempt.
        rejoin_in: Duration,
    },
    /// A topic closed for good, not by our leave.
    TopicClosed {
        /// The topic.
        topic: String,
        /// Why.
        reason: TopicCloseReason,
    },
    /// A [`Socket::leave`](crate::Socket::leave) completed (the server answered, or the channel was
    /// already gone, or the leave timed out — all mean the topic is no longer joined).
    Left {
        /// The topic.
        topic: String,
    },
    /// A frame from the server could not be decoded; it was skipped.
    MalformedFrame {
        /// What was wrong.
        error: String,
    },
}

/// One line per event, e.g. `connected`, `joined rooms:lobby {}`,
/// `reply to 2 on rooms:lobby: ok {"pong":"pong"}`, `message rooms:lobby foo {"bar":"baz"}`,
/// `push 3 to rooms:lobby failed: no reply within the push timeout (10 s)`,
/// `reconnecting (attempt 2 in 52 ms): connection refused by 127.0.0.1:4000: …`,
/// `disconnected: closed by the server with 1000 (normal closure)`.
///
/// ```
/// use slipstream_client::{DisconnectReason, SocketEvent};
/// assert_eq!(SocketEvent::Connected.to_string(), "connected");
/// assert_eq!(
///     SocketEvent::Disconnected(DisconnectReason::ClientRequested).to_string(),
///     "disconnected: client requested"
/// );
/// ```
impl fmt::Display for SocketEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketEvent::Connected => f.write_str("connected"),
            SocketEvent::ConnectFailed(error) => write!(f, "connect failed: {error}"),
            SocketEvent::Reconnecting {
                attempt,
                delay,
                error,
            } => {
                write!(
                    f,
                    "reconnecting (attempt {attempt} in {})",
                    duration(*delay)
                )?;
                match error {
                    Some(error) => write!(f, ": {error}"),
                    None => Ok(()),
                }
            }
            SocketEvent::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            SocketEvent::Joined { topic, response } => write!(f, "joined {topic} {response}"),
            SocketEvent::JoinFailed {
                topic,
                error,
                rejoin_in,
            } => {
                write!(f, "join of {topic} failed: {error}")?;
                match rejoin_in {
                    Some(delay) => write!(f, "; rejoining in {}", duration(*delay)),
                    None => Ok(()),
                }
            }
            SocketEvent::Message(message) => write!(f, "message {message}"),
            SocketEvent::Reply {
                push_ref,
                topic,
                result: Ok(reply),
            } => write!(f, "reply to {push_ref} on {topic}: {reply}"),
            SocketEvent::Reply {
                push_ref,
                topic,
                result: Err(error),
            } => write!(f, "push {push_ref} to {topic} failed: {error}"),
            SocketEvent::TopicErrored {
                topic,
                payload,
                rejoin_in,
            } => {
                write!(f, "channel {topic} crashed")?;
                if !is_empty_object(payload) {
                    write!(f, " {payload}")?;
                }
                write!(f, "; rejoining in {}", duration(*rejoin_in))
            }
            SocketEvent::TopicClosed {
                topic,
                reason: reason @ TopicCloseReason::ClosedByServer(_),
            } => write!(f, "{topic} {reason}"),
            SocketEvent::TopicClosed { topic, reason } => write!(f, "{topic} closed: {reason}"),
            SocketEvent::Left { topic } => write!(f, "left {topic}"),
            SocketEvent::MalformedFrame { error } => {
                write!(f, "malformed frame skipped: {error}")
            }
        }
    }
}

impl SocketEvent {
    /// Whether this event is a *server push*: a [`Message`](Self::Message) or a
    /// [`MalformedFrame`](Self::MalformedFrame), something the server sent of its own accord, as
    /// many times as it likes. Only these count against the mailbox capacity and are dropped when
    /// it is reached ([`SocketBuilder::mailbox_capacity`](crate::SocketBuilder::mailbox_capacity));
    /// every other event (replies, connects, joins, leaves, closes, crashes, disconnects,
    /// reconnects) answers a request or marks a connection or rejoin attempt, and is never
    /// dropped.
    ///
    /// ```
    /// use slipstream_client::{ChannelMessage, Payload, SocketEvent};
    /// let push = SocketEvent::Message(ChannelMessage {
    ///     topic: "rooms:lobby".into(),
    ///     event: "foo".into(),
    ///     payload: Payload::empty(),
    /// });
    /// assert!(push.is_server_push());
    /// assert!(!SocketEvent::Connected.is_server_push());
    /// ```
    pub fn is_server_push(&self) -> bool {
        // No wildcard: a new variant must be classified here.
        match self {
            SocketEvent::Message(_) | SocketEvent::MalformedFrame { .. } => true,
            SocketEvent::Connected
            | SocketEvent::ConnectFailed(_)
            | SocketEvent::Reconnecting { .. }
            | SocketEvent::Disconnected(_)
            | SocketEvent::Joined { .. }
            | SocketEvent::JoinFailed { .. }
            | SocketEvent::Reply { .. }
            | SocketEvent::TopicErrored { .. }
            | SocketEvent::TopicClosed { .. }
            | SocketEvent::Left { .. } => false,
        }
    }
}

/// The client-side state of one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JoinStatus {
    /// Not joined (never joined, left, refused, or closed by the server).
    Closed,
    /// A join was requested and is not answered yet (also while waiting for the connection).
    Joining,
    /// Joined.
    Joined,
    /// A leave was requested and is not answered yet.
    Leaving,
    /// The channel crashed or the connection dropped; a rejoin will follow.
    Errored,
}

impl JoinStatus {
    /// The state as one lowercase word: `closed`, `joining`, `joined`, `leaving`, `errored`.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinStatus::Closed => "closed",
            JoinStatus::Joining => "joining",
            JoinStatus::Joined => "joined",
            JoinStatus::Leaving => "leaving",
            JoinStatus::Errored => "errored",
        }
    }
}

/// The state as one lowercase word (see [`JoinStatus::as_str`]).
impl fmt::Display for JoinStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lobby_message() -> ChannelMessage {
        ChannelMessage {
            topic: "rooms:lobby".into(),
            event: "foo".into(),
            payload: Payload::json(&json!({"bar": "baz"})),
        }
    }

    fn refused() -> ConnectError {
        ConnectError::ConnectionRefused {
            addr: "127.0.0.1:4000".into(),
        }
    }

    #[test]
    fn channel_messages_print_topic_event_payload() {
        assert_eq!(
            lobby_message().to_string(),
            r#"rooms:lobby foo {"bar":"baz"}"#
        );
        let binary = ChannelMessage {
            topic: "t".into(),
            event: "blob".into(),
            payload: Payload::binary(vec![0; 12]),
        };
        assert_eq!(binary.to_string(), "t blob <binary, 12 bytes>");
    }

    #[test]
    fn disconnect_reasons_print_as_words() {
        let text = |r: DisconnectReason| r.to_string();
        assert_eq!(text(DisconnectReason::ClientRequested), "client requested");
        assert_eq!(
            text(DisconnectReason::HeartbeatTimeout),
            "heartbeat timed out"
        );
        assert_eq!(
            text(DisconnectReason::ClosedByRemote {
                code: Some(1009),
                reason: String::new()
            }),
            "closed by the server with 1009 (message too big)"
        );
        assert_eq!(
            text(DisconnectReason::ClosedByRemote {
                code: Some(1000),
                reason: String::new()
            }),
            "closed by the server with 1000 (normal closure)"
        );
        assert_eq!(
            text(DisconnectReason::ClosedByRemote {
                code: Some(4001),
                reason: "kicked".into()
            }),
            r#"closed by the server with 4001: "kicked""#
        );
        assert_eq!(
            text(DisconnectReason::ClosedByRemote {
                code: None,
                reason: String::new()
            }),
            "closed by the server without a close code"
        );
        assert_eq!(
            text(DisconnectReason::TransportError(
                "Connection reset by peer (os error 104)".into()
            )),
            "transport error: Connection reset by peer (os error 104)"
        );
        assert_eq!(
            DisconnectReason::ClosedByRemote {
                code: Some(1012),
                reason: String::new()
            }
            .close_code(),
            Some(1012)
        );
        assert_eq!(DisconnectReason::HeartbeatTimeout.close_code(), None);
    }

    #[test]
    fn topic_close_reasons_and_join_statuses_print_as_words() {
        assert_eq!(
            TopicCloseReason::ClosedByServer(Payload::empty()).to_string(),
            "closed by the server"
        );
        assert_eq!(
            TopicCloseReason::ClosedByServer(Payload::json(&json!({"reason": "kicked"})))
                .to_string(),
            r#"closed by the server {"reason":"kicked"}"#
        );
        assert_eq!(
            TopicCloseReason::Disconnected.to_string(),
            "the connection ended and automatic rejoin is off"
        );
        let statuses = [
            JoinStatus::Closed,
            JoinStatus::Joining,
            JoinStatus::Joined,
            JoinStatus::Leaving,
            JoinStatus::Errored,
        ];
        let words: Vec<String> = statuses.iter().map(ToString::to_string).collect();
        assert_eq!(words, ["closed", "joining", "joined", "leaving", "errored"]);
    }

    #[test]
    fn every_socket_event_prints_as_one_line() {
        let cases = [
            (SocketEvent::Connected, "connected".to_owned()),
            (
                SocketEvent::ConnectFailed(refused()),
                "connect failed: connection refused by 127.0.0.1:4000: nothing listens at that address".into(),
            ),
            (
                SocketEvent::Reconnecting {
                    attempt: 2,
                    delay: Duration::from_nanos(51_895_836),
                    error: Some(refused()),
                },
                "reconnecting (attempt 2 in 52 ms): connection refused by 127.0.0.1:4000: \
                 nothing listens at that address"
                    .into(),
            ),
            (
                SocketEvent::Reconnecting {
                    attempt: 1,
                    delay: Duration::from_secs(10),
                    error: None,
                },
                "reconnecting (attempt 1 in 10 s)".into(),
            ),
            (
                SocketEvent::Disconnected(DisconnectReason::ClosedByRemote {
                    code: Some(1000),
                    reason: String::new(),
                }),
                "disconnected: closed by the server with 1000 (normal closure)".into(),
            ),
            (
                SocketEvent::Joined {
                    topic: "rooms:lobby".into(),
                    response: Payload::json(&json!({"welcome": true})),
                },
                r#"joined rooms:lobby {"welcome":true}"#.into(),
            ),
            (
                SocketEvent::JoinFailed {
                    topic: "rooms:lobby".into(),
                    error: JoinError::Rejected {
                        status: "error".into(),
                        response: Payload::json(&json!({"reason": "unauthorized"})),
                    },
                    rejoin_in: Some(Duration::from_millis(1_500)),
                },
                r#"join of rooms:lobby failed: join rejected with status "error": {"reason":"unauthorized"}; rejoining in 1.5 s"#.into(),
            ),
            (
                SocketEvent::JoinFailed {
                    topic: "t".into(),
                    error: JoinError::NoReply,
                    rejoin_in: None,
                },
                "join of t failed: the server did not answer the join in time".into(),
            ),
            (
                SocketEvent::Message(lobby_message()),
                r#"message rooms:lobby foo {"bar":"baz"}"#.into(),
            ),
            (
                SocketEvent::Reply {
                    push_ref: "2".into(),
                    topic: "rooms:lobby".into(),
                    result: Ok(Reply {
                        status: "ok".into(),
                        response: Payload::json(&json!({"pong": "pong"})),
                    }),
                },
                r#"reply to 2 on rooms:lobby: ok {"pong":"pong"}"#.into(),
            ),
            (
                SocketEvent::Reply {
                    push_ref: "3".into(),
                    topic: "rooms:lobby".into(),
                    result: Err(ReplyError::PushTimeout(Duration::from_secs(10))),
                },
                "push 3 to rooms:lobby failed: no reply within the push timeout (10 s)".into(),
            ),
            (
                SocketEvent::TopicErrored {
                    topic: "rooms:lobby".into(),
                    payload: Payload::empty(),
                    rejoin_in: Duration::from_secs(1),
                },
                "channel rooms:lobby crashed; rejoining in 1 s".into(),
            ),
            (
                SocketEvent::TopicErrored {
                    topic: "rooms:lobby".into(),
                    payload: Payload::json(&json!({"reason": "channel_crash"})),
                    rejoin_in: Duration::from_secs(2),
                },
                r#"channel rooms:lobby crashed {"reason":"channel_crash"}; rejoining in 2 s"#
                    .into(),
            ),
            (
                SocketEvent::TopicClosed {
                    topic: "rooms:lobby".into(),
                    reason: TopicCloseReason::ClosedByServer(Payload::empty()),
                },
                "rooms:lobby closed by the server".into(),
            ),
            (
                SocketEvent::TopicClosed {
                    topic: "rooms:lobby".into(),
                    reason: TopicCloseReason::Disconnected,
                },
                "rooms:lobby closed: the connection ended and automatic rejoin is off".into(),
            ),
            (
                SocketEvent::Left {
                    topic: "rooms:lobby".into(),
                },
                "left rooms:lobby".into(),
            ),
            (
                SocketEvent::MalformedFrame {
                    error: "binary frame is empty".into(),
                },
                "malformed frame skipped: binary frame is empty".into(),
            ),
        ];
        for (event, expected) in cases {
            let text = event.to_string();
            assert_eq!(text, expected);
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
