//! Decoding Phoenix's long-poll answers: `{"status":…, "token":…, "messages":[…]}`.
//!
//! Every answer comes with HTTP 200; the status that matters is the body's (PROTOCOL.md §9.1).
//! A body that is not such an object is a typed error, never a panic.

use serde::Deserialize;

use super::error::LongPollError;

/// One answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Answer {
    /// The real status: 200, 204, 410, 403, 408, 500…
    pub(crate) status: u16,
    /// The session token (GET answers only).
    #[serde(default)]
    pub(crate) token: Option<String>,
    /// Each string is one serialized text frame, in order (GET answers only).
    #[serde(default)]
    pub(crate) messages: Vec<String>,
}

impl Answer {
    /// Parses a body. `null` for `token` counts as none.
    pub(crate) fn decode(body: &[u8]) -> Result<Answer, LongPollError> {
        serde_json::from_slice(body).map_err(|e| LongPollError::BadBody(e.to_string()))
    }
}

/// What one poll (a GET with the token) said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Polled {
    /// Frames for us (200), possibly none.
    Messages(Vec<String>),
    /// Nothing arrived within the server's window (204): poll again.
    NoContent,
}

/// Interprets the body of a poll: 200 and 204 go on, anything else ends the session.
pub(crate) fn poll_outcome(body: &[u8]) -> Result<Polled, LongPollError> {
    let answer = Answer::decode(body)?;
    match answer.status {
        200 => Ok(Polled::Messages(answer.messages)),
        204 => Ok(Polled::NoContent),
        // With a token held, 410 means the server made a new session: ours is gone.
        410 => Err(LongPollError::SessionLost),
        403 => Err(LongPollError::Refused),
        other => Err(LongPollError::Status(other)),
    }
}

/// Interprets the body of a POST's answer.
pub(crate) fn post_outcome(body: &[u8]) -> Result<(), LongPollError> {
    match Answer::decode(body)?.status {
        200 => Ok(()),
        410 => Err(LongPollError::SessionLost),
        408 => Err(LongPollError::SendTimeout),
        403 => Err(LongPollError::Refused),
        other => Err(LongPollError::Status(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_yields_its_messages_in_order() {
        let body = br#"{"status":200,"token":"T","messages":["[\"1\",\"1\",\"a\",\"phx_reply\",{}]","[null,null,\"a\",\"b\",{}]"]}"#;
        assert_eq!(
            poll_outcome(body).unwrap(),
            Polled::Messages(vec![
                r#"["1","1","a","phx_reply",{}]"#.into(),
                r#"[null,null,"a","b",{}]"#.into()
            ])
        );
        assert_eq!(
            poll_outcome(br#"{"status":204,"token":"T","messages":[]}"#).unwrap(),
            Polled::NoContent
        );
    }

    #[test]
    fn statuses_that_end_a_session_are_typed() {
        assert_eq!(
            poll_outcome(br#"{"status":410,"token":"new","messages":[]}"#),
            Err(LongPollError::SessionLost)
        );
        assert_eq!(
            poll_outcome(br#"{"status":403}"#),
            Err(LongPollError::Refused)
        );
        assert_eq!(
            poll_outcome(br#"{"status":500}"#),
            Err(LongPollError::Status(500))
        );
        assert_eq!(post_outcome(br#"{"status":200}"#), Ok(()));
        assert_eq!(
            post_outcome(br#"{"status":410}"#),
            Err(LongPollError::SessionLost)
        );
        assert_eq!(
            post_outcome(br#"{"status":408}"#),
            Err(LongPollError::SendTimeout)
        );
    }

    #[test]
    fn bad_json_is_a_typed_error_not_a_panic() {
        for body in [
            &b""[..],
            b"not json",
            b"[]",
            b"{\"messages\":[]}",
            b"{\"status\":\"200\"}",
            b"{\"status\":200,\"messages\":[1,2]}",
            b"{\"status\":70000}",
            b"\xff\xfe",
            b"{\"status\":200,\"messages\":[\"unterminated",
        ] {
            assert!(
                matches!(poll_outcome(body), Err(LongPollError::BadBody(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert!(matches!(post_outcome(body), Err(LongPollError::BadBody(_))));
        }
        // Deep nesting costs no stack: skipped iteratively in an unknown field, refused by
        // serde_json's depth limit where a value is parsed.
        let deep = |at: &str| {
            let nest = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            format!("{{\"status\":200,\"{at}\":{nest}}}")
        };
        assert_eq!(
            poll_outcome(deep("x").as_bytes()),
            Ok(Polled::Messages(Vec::new()))
        );
        assert!(matches!(
            poll_outcome(deep("messages").as_bytes()),
            Err(LongPollError::BadBody(_))
        ));
    }

    #[test]
    fn unknown_fields_and_a_null_token_are_fine() {
        let answer = Answer::decode(br#"{"status":410,"token":null,"extra":{"a":1}}"#).unwrap();
        assert_eq!(answer.token, None);
        assert!(answer.messages.is_empty());
    }
}
