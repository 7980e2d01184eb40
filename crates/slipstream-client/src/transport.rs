//! [`Transport`]: which way frames travel between the socket and the server.

use std::fmt;

/// How a socket reaches the server: a websocket (the default) or Phoenix's long-poll fallback
/// (HTTP requests, for networks that do not let websockets through; the server must enable it
/// with `longpoll: true`).
///
/// Choose it with [`SocketBuilder::transport`](crate::SocketBuilder::transport), or start with
/// the websocket and fall back with
/// [`SocketBuilder::long_poll_fallback`](crate::SocketBuilder::long_poll_fallback);
/// [`Socket::transport`](crate::Socket::transport) says which one the connection uses.
///
/// Everything above the transport is the same on both: refs, joins, pushes and replies,
/// rejoins, backoff. The differences are the protocol's: long-poll has no heartbeats (a dead
/// server shows as a failed or timed-out poll instead), and a server cannot send binary frames
/// over it (the client can).
///
/// ```
/// use slipstream_client::Transport;
///
/// assert_eq!(Transport::default(), Transport::WebSocket);
/// assert_eq!(Transport::LongPoll.to_string(), "long-poll");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Transport {
    /// One websocket (`…/socket/websocket`).
    #[default]
    WebSocket,
    /// HTTP long-poll (`…/socket/longpoll`): a GET always waiting for the server's frames,
    /// POSTs carrying ours.
    LongPoll,
}

impl Transport {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Transport::WebSocket => 1,
            Transport::LongPoll => 2,
        }
    }

    pub(crate) fn from_u8(n: u8) -> Option<Transport> {
        match n {
            1 => Some(Transport::WebSocket),
            2 => Some(Transport::LongPoll),
            _ => None,
        }
    }
}

/// `websocket` or `long-poll`.
impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::WebSocket => "websocket",
            Transport::LongPoll => "long-poll",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_kept_for_the_getter_round_trips() {
        for t in [Transport::WebSocket, Transport::LongPoll] {
            assert_eq!(Transport::from_u8(t.to_u8()), Some(t));
        }
        assert_eq!(Transport::from_u8(0), None);
        assert_eq!(Transport::WebSocket.to_string(), "websocket");
    }
}
