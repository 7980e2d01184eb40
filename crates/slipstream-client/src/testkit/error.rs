//! What a test-kit assertion reports when the client did not do what the test expected.

use std::fmt;
use std::time::Duration;

use slipstream_protocol::Ref;

use crate::event::human::duration;

/// A failed expectation, or a request the test server cannot carry out.
///
/// The messages say what was expected and what the client sent instead, so a test can simply
/// return the error (`?`) or `unwrap` it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestKitError {
    /// The client made no connect attempt in time.
    #[error("the client made no connect attempt within {}", duration(*.waited))]
    NoConnectAttempt {
        /// How long the test server waited.
        waited: Duration,
    },
    /// The client tried to connect, though the test expected it not to.
    #[error("expected no connect attempt, but the client connected to {url}")]
    UnexpectedConnect {
        /// The URL of the attempt.
        url: String,
    },
    /// The helper needs an accepted connection and there is none.
    #[error("no connection is open: call accept_connect first")]
    NotConnected,
    /// Nothing matching arrived in time.
    #[error("expected {expected} within {}; {}", duration(*.waited), Seen(.seen))]
    Timeout {
        /// What the assertion waited for.
        expected: String,
        /// How long it waited.
        waited: Duration,
        /// The frames received meanwhile (left in the inbox for later assertions).
        seen: Vec<String>,
    },
    /// The client closed the connection before sending what the assertion waited for.
    #[error("expected {expected}, but the client closed the connection")]
    ClientClosed {
        /// What the assertion waited for.
        expected: String,
    },
    /// A `refute_*` helper saw what it refutes.
    #[error("expected no {refuted}, but the client sent {frame}")]
    Refuted {
        /// What was refuted.
        refuted: String,
        /// The frame that matched.
        frame: String,
    },
    /// [`TestServer::reply`](super::TestServer::reply) for a ref no asserted request carries.
    #[error("no asserted request with ref {0} waits for a reply")]
    UnknownRef(Ref),
    /// A server-side channel operation on a topic whose join the test server did not accept.
    #[error("topic {0:?} is not joined on the test server")]
    NotJoined(String),
    /// The frame for the client could not be encoded.
    #[error("could not encode the frame for the client: {0}")]
    Encode(String),
}

/// What the client sent instead, one frame per line.
struct Seen<'a>(&'a [String]);

impl fmt::Display for Seen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("the client sent nothing else");
        }
        f.write_str("the client sent instead:")?;
        for frame in self.0 {
            write!(f, "\n  {frame}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_lists_what_the_client_sent_one_frame_per_line() {
        let error = TestKitError::Timeout {
            expected: "a push matching rooms:lobby ping _".into(),
            waited: Duration::from_secs(5),
            seen: vec![
                "rooms:lobby phx_join {} (ref 1, join_ref 1)".into(),
                "rooms:lobby pong {} (ref 2, join_ref 1)".into(),
            ],
        };
        assert_eq!(
            error.to_string(),
            "expected a push matching rooms:lobby ping _ within 5 s; the client sent instead:\n  \
             rooms:lobby phx_join {} (ref 1, join_ref 1)\n  \
             rooms:lobby pong {} (ref 2, join_ref 1)"
        );
        let error = TestKitError::Timeout {
            expected: "a leave of \"t\"".into(),
            waited: Duration::from_millis(1500),
            seen: Vec::new(),
        };
        assert_eq!(
            error.to_string(),
            "expected a leave of \"t\" within 1.5 s; the client sent nothing else"
        );
        assert_eq!(
            TestKitError::NoConnectAttempt {
                waited: Duration::from_secs(5)
            }
            .to_string(),
            "the client made no connect attempt within 5 s"
        );
    }
}
