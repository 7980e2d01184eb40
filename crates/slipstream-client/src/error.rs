//! One error enum per operation.
//!
//! Every enum is `#[non_exhaustive]` and `Clone` (errors travel inside [`SocketEvent`]s, which a
//! mailbox may hand to any task). Causes from lower layers are kept as text so the enums stay
//! cloneable and small.
//!
//! An `await_*` that runs out of time returns that operation's `Timeout` kind and consumes nothing:
//! the awaited event, if it arrives later, stays in the mailbox.
//!
//! [`SocketEvent`]: crate::SocketEvent

use std::fmt;
use std::time::Duration;

use slipstream_protocol::{Payload, Ref};

use crate::event::DisconnectReason;
use crate::event::human::duration;

/// The builder was given something it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL does not parse, or has a scheme other than `ws`, `wss`, `http` or `https`.
    #[error("invalid socket URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value cannot be sent in an HTTP request.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The default TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// [`SocketBuilder::build`](crate::SocketBuilder::build) was called outside a tokio runtime.
    #[error("Socket::builder(..).build() must be called from inside a tokio runtime")]
    NoRuntime,
    /// The blocking socket's runtime thread could not be started.
    #[error("could not start the blocking socket's runtime: {0}")]
    Runtime(String),
    /// A `vsn` given in the URL or with [`param`](crate::SocketBuilder::param) names no
    /// serializer this client speaks (`1.0.x` is V1, `2.0.x` is V2, as Phoenix negotiates).
    #[error("unsupported vsn in the socket URL or params: {reason}")]
    UnsupportedVsn {
        /// The `vsn` value as given.
        vsn: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two `vsn` values (URL query and params) ask for different serializers.
    #[error("conflicting vsn values {first:?} and {second:?}")]
    ConflictingVsn {
        /// The first `vsn` value met (URL query first, then params).
        first: String,
        /// The one that disagrees with it.
        second: String,
    },
    /// The serializer set with [`serializer`](crate::SocketBuilder::serializer) disagrees with
    /// the `vsn` in the URL or params: the server would decode our frames with the other one.
    #[error(
        "vsn {vsn:?} selects the {} serializer but the serializer was set to {} (vsn {}); \
         drop one of them",
        serializer_name(.vsn_serializer), serializer_name(.serializer), .serializer.vsn()
    )]
    SerializerConflict {
        /// The `vsn` value given.
        vsn: String,
        /// The serializer that `vsn` selects.
        vsn_serializer: slipstream_protocol::Serializer,
        /// The serializer set explicitly.
        serializer: slipstream_protocol::Serializer,
    },
    /// A size or limit setting has a value the socket cannot work with.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// The builder method's name.
        setting: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
}

fn serializer_name(serializer: &slipstream_protocol::Serializer) -> &'static str {
    match serializer {
        slipstream_protocol::Serializer::V1 => "V1",
        slipstream_protocol::Serializer::V2 => "V2",
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// `await_connect` ran out of time (nothing was consumed).
    #[error("timed out waiting for the connection")]
    Timeout,
    /// The host name did not resolve.
    #[error("DNS lookup of {host:?} failed: {reason}")]
    Dns {
        /// The host that did not resolve.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// Nothing listens on the address (TCP connection refused).
    #[error("connection refused by {addr}: nothing listens at that address")]
    ConnectionRefused {
        /// The address that refused (`ip:port`).
        addr: String,
    },
    /// The TLS handshake failed (bad certificate, wrong name, protocol mismatch…).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The URL is `wss://` (or `https://`), but the server answered the TLS handshake with
    /// something that is not TLS, typically plain HTTP: it is probably a `ws://` server.
    #[error(
        "TLS handshake failed: the server at {addr} does not speak TLS ({reason}); \
         is this a ws:// server?"
    )]
    NotTls {
        /// The address dialled (`ip:port`).
        addr: String,
        /// What the TLS library reported.
        reason: String,
    },
    /// The server answered the upgrade with something other than `101`
    /// (403 from `connect/3`, 404 for a wrong path, 429, 5xx…). Over long-poll: the session-
    /// creating GET was answered with another status than Phoenix's "session open" (its body's
    /// 403 when `connect/3` refuses, or an HTTP status such as 404 when long-poll is off).
    ///
    /// Its text names the status and the path tried; for a 404 it adds where Phoenix sockets
    /// usually live (`/socket/websocket`).
    #[error("{}", refused_text(*.status, .path, .body.as_deref()))]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The response headers, in order.
        headers: Vec<(String, String)>,
        /// The response body, if any (lossy UTF-8).
        body: Option<String>,
        /// The path of the URL the upgrade was asked at, e.g. `/socket/websocket` (no query:
        /// it may carry tokens). Empty when unknown.
        path: String,
    },
    /// An auth token was offered as a sub-protocol, but the server did not pick one; the server
    /// probably does not have `auth_token: true` on this socket (Phoenix 1.8+ only).
    #[error(
        "the server accepted the upgrade without selecting a websocket sub-protocol; \
         it probably does not accept auth tokens (socket declared without `auth_token: true`, \
         or Phoenix < 1.8)"
    )]
    AuthTokenNotAccepted,
    /// No `101` answer within the upgrade timeout.
    #[error("no websocket upgrade response within {}", duration(*.0))]
    UpgradeTimeout(Duration),
    /// Any other I/O or websocket handshake error.
    #[error("connection failed: {0}")]
    Transport(String),
    /// The socket was disconnected (by [`Socket::disconnect`](crate::Socket::disconnect)) while connecting.
    #[error("connect cancelled by disconnect")]
    Cancelled,
    /// The connection task is gone; the socket can no longer be used.
    #[error("the socket's connection task has stopped")]
    Closed,
}

/// Why a join did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// `await_join` ran out of time (nothing was consumed).
    #[error("timed out waiting for the join")]
    Timeout,
    /// The server did not answer the join within the push timeout.
    #[error("the server did not answer the join in time")]
    NoReply,
    /// The server refused the join; the payload is its `response`
    /// (e.g. `{"reason":"unauthorized"}`, `{"reason":"unmatched topic"}`).
    #[error("join rejected with status {status:?}: {response}")]
    Rejected {
        /// The reply status (normally `"error"`).
        status: String,
        /// The server's response.
        response: Payload,
    },
    /// The connection ended before the join was answered, and no rejoin will follow; the
    /// reason says how it ended (a close code 1009 means a message was too big for the server).
    #[error("{}", LostBefore("the join was answered", .0))]
    Disconnected(DisconnectReason),
    /// The topic was left or closed before the join was answered.
    #[error("the topic was closed before the join was answered")]
    TopicClosed,
    /// The join could not be encoded.
    #[error("could not encode the join: {0}")]
    Encode(String),
    /// `await_join` of a topic with no join requested, in progress or answered in the mailbox:
    /// no answer can ever come (call `join` first). Returned at once.
    #[error("topic {0:?} has no join in progress nor an answer to await (call join first)")]
    NotRequested(String),
    /// The connection task is gone.
    #[error("the socket's connection task has stopped")]
    Closed,
}

impl JoinError {
    /// The server's response, for a rejected join.
    pub fn rejection(&self) -> Option<&Payload> {
        match self {
            JoinError::Rejected { response, .. } => Some(response),
            _ => None,
        }
    }
}

/// Why a push got no reply.
///
/// A reply with a non-`ok` status is *not* an error: `await_reply` returns it as a [`Reply`](crate::Reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// `await_reply` ran out of time (nothing was consumed; the push may still be answered).
    #[error("timed out waiting for the reply")]
    Timeout,
    /// The server did not answer within the push timeout; the reply will never be reported.
    #[error("no reply within the push timeout ({})", duration(*.0))]
    PushTimeout(Duration),
    /// The connection ended while the push was on the wire; its reply can never arrive. The
    /// reason says how it ended: after a push larger than the server accepts, the server closes
    /// with 1009, and the text says "message too big for the server".
    #[error("{}", LostBefore("the reply arrived", .0))]
    Disconnected(DisconnectReason),
    /// The topic is not joined (and not being joined), so the push was not sent.
    #[error("topic {0:?} is not joined")]
    NotJoined(String),
    /// The topic was closed (left, refused or closed by the server) before the push could be sent
    /// or answered.
    #[error("topic {0:?} was closed")]
    TopicClosed(String),
    /// The channel crashed (the server sent `phx_error`, e.g. its handler raised) while the push
    /// was on the wire; its reply can never arrive. The topic is rejoined on its schedule.
    #[error("the channel for topic {0:?} crashed before the reply arrived")]
    ChannelCrashed(String),
    /// The push was not sent: the connection's outbound queue already held `queued` bytes, at or
    /// over its limit (see
    /// [`outbound_queue_limit`](crate::SocketBuilder::outbound_queue_limit)). The link is not
    /// keeping up (slow, or dead and not yet detected); nothing was written.
    #[error(
        "not sent: {queued} bytes already wait to be written (limit {limit}); \
         the connection is not keeping up"
    )]
    OutboundQueueFull {
        /// Bytes queued when the push was refused.
        queued: usize,
        /// The queue's limit in bytes.
        limit: usize,
    },
    /// The push could not be encoded (e.g. a binary payload on the V1 serializer).
    #[error("could not encode the push: {0}")]
    Encode(String),
    /// The connection task is gone.
    #[error("the socket's connection task has stopped")]
    Closed,
    /// The ref was not returned by a push on this socket, so no reply can ever match it.
    #[error("ref {0} was not returned by a push on this socket")]
    UnknownRef(Ref),
}

/// Why a leave did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaveError {
    /// `await_leave` ran out of time (nothing was consumed).
    #[error("timed out waiting for the leave")]
    Timeout,
    /// `await_leave` of a topic that is not joined, nor being joined or left, with no answered
    /// leave in the mailbox: there is nothing to leave. Returned at once.
    #[error("topic {0:?} is not joined, so there is no leave to await")]
    NotJoined(String),
    /// The connection task is gone.
    #[error("the socket's connection task has stopped")]
    Closed,
}

/// Why a generic await (`await_message`, `await_disconnect`, `next_event`) returned nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AwaitError {
    /// Nothing matching arrived in time (nothing was consumed).
    #[error("timed out")]
    Timeout,
    /// `await_message` for one topic that is not joined, nor being joined, with no matching
    /// message in the mailbox: no message can arrive. Returned at once.
    #[error("topic {0:?} is not joined, so no message can arrive on it")]
    NotJoined(String),
    /// The connection task is gone and the mailbox holds nothing matching.
    #[error("the socket's connection task has stopped")]
    Closed,
}

impl ReplyError {
    /// How the connection ended, for a push cut by a disconnect.
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        match self {
            ReplyError::Disconnected(reason) => Some(reason),
            _ => None,
        }
    }
}

impl JoinError {
    /// How the connection ended, for a join cut by a disconnect.
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        match self {
            JoinError::Disconnected(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Where Phoenix mounts its sockets unless told otherwise (`socket "/socket", …` plus the
/// `/websocket` transport suffix).
const USUAL_SOCKET_PATH: &str = "/socket/websocket";

fn refused_text(status: u16, path: &str, body: Option<&str>) -> String {
    use std::fmt::Write as _;
    let (what, kind) = if path.ends_with("/longpoll") {
        ("long-poll connect", "status")
    } else {
        ("websocket upgrade", "HTTP")
    };
    let mut text = format!("{what} refused with {kind} {status}");
    if let Some(name) = tokio_tungstenite::tungstenite::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        let _ = write!(text, " ({})", name.to_lowercase());
    }
    match (status, path) {
        (404, USUAL_SOCKET_PATH) => {
            let _ = write!(
                text,
                ": no socket at {path}, where Phoenix sockets usually live; check the endpoint's \
                 `socket` path"
            );
        }
        (404, "") => {
            let _ = write!(
                text,
                ": no socket at that path; Phoenix sockets usually live at {USUAL_SOCKET_PATH}"
            );
        }
        (404, _) => {
            let _ = write!(
                text,
                ": no socket at {path}; Phoenix sockets usually live at {USUAL_SOCKET_PATH}"
            );
        }
        (_, "") => {}
        (_, _) => {
            let _ = write!(text, " at {path}");
        }
    }
    // A short one-line body (an error message) says more; a page of HTML does not.
    if let Some(body) = body.map(str::trim)
        && !body.is_empty()
        && body.len() <= 200
        && !body.contains('\n')
        && !body.starts_with('<')
    {
        let _ = write!(text, ": {body:?}");
    }
    text
}

/// "message too big for the server…" after a close with 1009, else "disconnected before …: why".
struct LostBefore<'a>(&'static str, &'a DisconnectReason);

impl fmt::Display for LostBefore<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LostBefore(what, reason) = *self;
        match reason {
            DisconnectReason::ClosedByRemote {
                code: Some(1009),
                reason: text,
            } => {
                f.write_str("message too big for the server: it closed the connection (1009")?;
                if !text.is_empty() {
                    write!(f, ": {text:?}")?;
                }
                write!(f, ") before {what}")
            }
            reason => write!(f, "disconnected before {what}: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_message_shows_the_server_payload() {
        let err = JoinError::Rejected {
            status: "error".into(),
            response: Payload::json(&serde_json::json!({"reason": "unauthorized"})),
        };
        assert_eq!(
            err.to_string(),
            r#"join rejected with status "error": {"reason":"unauthorized"}"#
        );
        assert!(err.rejection().is_some());
        assert!(JoinError::Timeout.rejection().is_none());
    }

    #[test]
    fn auth_token_error_says_what_to_check() {
        let text = ConnectError::AuthTokenNotAccepted.to_string();
        assert!(text.contains("auth_token: true"), "{text}");
    }
}

#[cfg(test)]
mod display {
    use super::*;

    fn refused(status: u16, path: &str) -> ConnectError {
        ConnectError::Refused {
            status,
            headers: Vec::new(),
            body: None,
            path: path.into(),
        }
    }

    #[test]
    fn a_404_says_where_phoenix_sockets_live() {
        assert_eq!(
            refused(404, "/live/websocket").to_string(),
            "websocket upgrade refused with HTTP 404 (not found): no socket at /live/websocket; \
             Phoenix sockets usually live at /socket/websocket"
        );
        assert_eq!(
            refused(404, "/socket/websocket").to_string(),
            "websocket upgrade refused with HTTP 404 (not found): no socket at /socket/websocket, \
             where Phoenix sockets usually live; check the endpoint's `socket` path"
        );
        assert_eq!(
            refused(404, "").to_string(),
            "websocket upgrade refused with HTTP 404 (not found): no socket at that path; \
             Phoenix sockets usually live at /socket/websocket"
        );
    }

    #[test]
    fn other_refusals_name_the_status_and_path() {
        assert_eq!(
            refused(403, "/socket/websocket").to_string(),
            "websocket upgrade refused with HTTP 403 (forbidden) at /socket/websocket"
        );
        assert_eq!(
            refused(499, "").to_string(),
            "websocket upgrade refused with HTTP 499"
        );
        let with_body = ConnectError::Refused {
            status: 429,
            headers: Vec::new(),
            body: Some("slow down\n".into()),
            path: "/socket/websocket".into(),
        };
        assert_eq!(
            with_body.to_string(),
            "websocket upgrade refused with HTTP 429 (too many requests) at /socket/websocket: \
             \"slow down\""
        );
        let html = ConnectError::Refused {
            status: 500,
            headers: Vec::new(),
            body: Some("<html><body>oops</body></html>".into()),
            path: "/socket/websocket".into(),
        };
        assert!(!html.to_string().contains("html"), "{html}");
    }

    #[test]
    fn connect_errors_say_what_to_check() {
        assert_eq!(
            ConnectError::ConnectionRefused {
                addr: "127.0.0.1:4000".into()
            }
            .to_string(),
            "connection refused by 127.0.0.1:4000: nothing listens at that address"
        );
        let not_tls = ConnectError::NotTls {
            addr: "127.0.0.1:4000".into(),
            reason: "received corrupt message of type InvalidContentType".into(),
        };
        assert_eq!(
            not_tls.to_string(),
            "TLS handshake failed: the server at 127.0.0.1:4000 does not speak TLS (received \
             corrupt message of type InvalidContentType); is this a ws:// server?"
        );
        assert_eq!(
            ConnectError::UpgradeTimeout(Duration::from_secs(10)).to_string(),
            "no websocket upgrade response within 10 s"
        );
    }

    #[test]
    fn a_push_cut_by_a_1009_says_the_message_was_too_big() {
        let too_big = |reason: &str| DisconnectReason::ClosedByRemote {
            code: Some(1009),
            reason: reason.into(),
        };
        assert_eq!(
            ReplyError::Disconnected(too_big("")).to_string(),
            "message too big for the server: it closed the connection (1009) before the reply \
             arrived"
        );
        assert_eq!(
            ReplyError::Disconnected(too_big("frame limit is 8000000 bytes")).to_string(),
            "message too big for the server: it closed the connection (1009: \"frame limit is \
             8000000 bytes\") before the reply arrived"
        );
        assert_eq!(
            JoinError::Disconnected(too_big("")).to_string(),
            "message too big for the server: it closed the connection (1009) before the join \
             was answered"
        );
        assert_eq!(
            ReplyError::Disconnected(DisconnectReason::HeartbeatTimeout).to_string(),
            "disconnected before the reply arrived: heartbeat timed out"
        );
        assert_eq!(
            JoinError::Disconnected(DisconnectReason::ClientRequested).to_string(),
            "disconnected before the join was answered: client requested"
        );
        assert_eq!(
            ReplyError::Disconnected(too_big("")).disconnect_reason(),
            Some(&too_big(""))
        );
        assert_eq!(ReplyError::Timeout.disconnect_reason(), None);
    }

    #[test]
    fn durations_in_errors_read_as_people_write_them() {
        assert_eq!(
            ReplyError::PushTimeout(Duration::from_secs(10)).to_string(),
            "no reply within the push timeout (10 s)"
        );
        assert_eq!(
            ReplyError::PushTimeout(Duration::from_millis(250)).to_string(),
            "no reply within the push timeout (250 ms)"
        );
    }
}
