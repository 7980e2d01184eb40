//! Error kinds: the client's typed errors as stable, lower_snake counter names.
//!
//! Every failure a virtual user meets is counted as `errors.<kind>`. The kinds are part of the
//! results' format (thresholds name them, merged files add them), so they never change meaning:
//!
//! | kind | what failed |
//! |---|---|
//! | `refused` | TCP connection refused: nothing listens at the address |
//! | `http_<status>` | the websocket upgrade was answered with that HTTP status (`http_403`, `http_503`) |
//! | `dns`, `tls`, `auth_token`, `transport` | the connect failed at that layer |
//! | `timeout` | a connect, or an await of the engine's own, ran out of time |
//! | `join.<reason>` | a join refused by the server, by its `reason` (`join.unauthorized`, `join.too_many_channels_joined`); `join.rejected` without one |
//! | `join.timeout` | no answer to a join in time |
//! | `push_timeout` | no reply to a push within the push timeout |
//! | `disconnect` | the connection ended while something was awaited, or while a user held it |
//! | `channel_crash` | the channel crashed (`phx_error`) before a reply |
//! | `not_joined`, `topic_closed` | a push to a topic that was not (or no longer) joined |
//! | `outbound_full` | the client's outbound queue was full: the link is not keeping up |
//! | `reply.<status>` | a reply with a status other than `ok` (`reply.error`) |
//! | `closed`, `other` | the socket's task stopped; anything the client adds later |

use slipstream_client::{ConnectError, JoinError, Payload, ReplyError};

/// The kind of a failed connect.
pub fn connect_error(error: &ConnectError) -> String {
    match error {
        ConnectError::ConnectionRefused { .. } => "refused".into(),
        ConnectError::Refused { status, .. } => format!("http_{status}"),
        ConnectError::Timeout | ConnectError::UpgradeTimeout(_) => "timeout".into(),
        ConnectError::Dns { .. } => "dns".into(),
        ConnectError::Tls(_) | ConnectError::NotTls { .. } => "tls".into(),
        ConnectError::AuthTokenNotAccepted => "auth_token".into(),
        ConnectError::Transport(_) => "transport".into(),
        ConnectError::Cancelled | ConnectError::Closed => "closed".into(),
        _ => "other".into(),
    }
}

/// The kind of a failed join.
pub fn join_error(error: &JoinError) -> String {
    match error {
        JoinError::Rejected { response, .. } => match reason_of(response) {
            Some(reason) => format!("join.{reason}"),
            None => "join.rejected".into(),
        },
        JoinError::Timeout | JoinError::NoReply => "join.timeout".into(),
        JoinError::Disconnected(_) => "disconnect".into(),
        JoinError::TopicClosed => "topic_closed".into(),
        JoinError::Closed => "closed".into(),
        _ => "other".into(),
    }
}

/// The kind of a push that got no reply.
pub fn reply_error(error: &ReplyError) -> String {
    match error {
        ReplyError::Timeout => "timeout".into(),
        ReplyError::PushTimeout(_) => "push_timeout".into(),
        ReplyError::Disconnected(_) => "disconnect".into(),
        ReplyError::NotJoined(_) => "not_joined".into(),
        ReplyError::TopicClosed(_) => "topic_closed".into(),
        ReplyError::ChannelCrashed(_) => "channel_crash".into(),
        ReplyError::OutboundQueueFull { .. } => "outbound_full".into(),
        ReplyError::Closed => "closed".into(),
        _ => "other".into(),
    }
}

/// The kind of a reply whose status is not `ok`.
pub fn reply_status(status: &str) -> String {
    format!("reply.{}", snake(status))
}

/// A refusal's `reason` field, lower_snake, if its response has one.
fn reason_of(response: &Payload) -> Option<String> {
    let value = response.to_value().ok()?;
    let reason = value.get("reason")?.as_str()?;
    let reason = snake(reason);
    (!reason.is_empty()).then_some(reason)
}

/// `text` in lower_snake: letters and digits kept (lowercased), every other run of characters
/// one `_`, none at either end, at most 48 characters (a counter name, not a message).
pub fn snake(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        if out.len() >= 48 {
            break;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_lower_snake_and_stable() {
        assert_eq!(
            connect_error(&ConnectError::ConnectionRefused {
                addr: "127.0.0.1:1".into()
            }),
            "refused"
        );
        let refused = ConnectError::Refused {
            status: 403,
            headers: vec![],
            body: None,
            path: "/socket/websocket".into(),
        };
        assert_eq!(connect_error(&refused), "http_403");
        let rejected = JoinError::Rejected {
            status: "error".into(),
            response: Payload::json(&serde_json::json!({"reason": "Too many channels joined"})),
        };
        assert_eq!(join_error(&rejected), "join.too_many_channels_joined");
        let bare = JoinError::Rejected {
            status: "error".into(),
            response: Payload::json(&serde_json::json!({})),
        };
        assert_eq!(join_error(&bare), "join.rejected");
        assert_eq!(
            reply_error(&ReplyError::PushTimeout(std::time::Duration::from_secs(1))),
            "push_timeout"
        );
        assert_eq!(reply_status("Error!"), "reply.error");
        assert_eq!(snake("--a  b--"), "a_b");
    }
}
