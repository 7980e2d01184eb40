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

use std::time::Duration;

use slipstream_protocol::{Payload, Ref};

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
    #[error("connection refused by {addr}")]
    ConnectionRefused {
        /// The address that refused.
        addr: String,
    },
    /// The TLS handshake failed (bad certificate, wrong name, protocol mismatch…).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The server answered the upgrade with something other than `101`
    /// (403 from `connect/3`, 404 for a wrong path, 429, 5xx…).
    #[error("websocket upgrade refused with HTTP {status}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The response headers, in order.
        headers: Vec<(String, String)>,
        /// The response body, if any (lossy UTF-8).
        body: Option<String>,
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
    #[error("no websocket upgrade response within {0:?}")]
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
    #[error("join rejected with status {status:?}: {}", payload_text(.response))]
    Rejected {
        /// The reply status (normally `"error"`).
        status: String,
        /// The server's response.
        response: Payload,
    },
    /// The connection dropped before the join was answered, and no rejoin will follow.
    #[error("disconnected before the join was answered")]
    Disconnected,
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
    #[error("no reply within the push timeout ({0:?})")]
    PushTimeout(Duration),
    /// The connection dropped while the push was on the wire; its reply can never arrive.
    #[error("disconnected before the reply arrived")]
    Disconnected,
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

fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Json(raw) => raw.get().to_owned(),
        Payload::Binary(bytes) => format!("<{} bytes>", bytes.len()),
        Payload::Reply(reply) => format!("{{status: {:?}}}", reply.status),
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
