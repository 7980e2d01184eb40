//! What can go wrong on a long-poll session, once it is open.

use std::time::Duration;

use crate::error::ConnectError;
use crate::event::human::duration;

/// Why a long-poll request failed or a session ended. Turned into the transport error the
/// connection task sees (so it disconnects and reconnects on its schedule), or, for the request
/// that opens a session, into a [`ConnectError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LongPollError {
    /// The request could not be made: DNS, TCP or TLS failed.
    #[error("{0}")]
    Connect(ConnectError),
    /// The server answered with an HTTP status other than 200 (Phoenix puts the real status
    /// in the body and always answers 200).
    #[error("long-poll request answered with HTTP {0}")]
    Http(u16),
    /// The body is not the JSON object Phoenix sends.
    #[error("long-poll response is not Phoenix's JSON: {0}")]
    BadBody(String),
    /// The body is larger than the socket accepts.
    #[error("long-poll response larger than {limit} bytes (max_message_size)")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The server no longer knows the session (status 410 while holding a token): every topic
    /// is gone with it.
    #[error("long-poll session lost: the server no longer knows it")]
    SessionLost,
    /// The server refused the request (status 403).
    #[error("long-poll request refused with status 403")]
    Refused,
    /// The server did not acknowledge a POST in time (status 408): part of it may be lost.
    #[error("long-poll send not acknowledged by the server in time (status 408)")]
    SendTimeout,
    /// Any other status in the body (500, …).
    #[error("long-poll server answered with status {0}")]
    Status(u16),
    /// No answer within the request timeout.
    #[error("no long-poll response within {}", duration(*.0))]
    Timeout(Duration),
    /// The HTTP exchange failed after the connection was made.
    #[error("long-poll request failed: {0}")]
    Request(String),
}

impl LongPollError {
    /// As the error of the transport's stream or sink.
    pub(crate) fn into_transport_error(self) -> tokio_tungstenite::tungstenite::Error {
        tokio_tungstenite::tungstenite::Error::Io(std::io::Error::other(self))
    }
}
