//! Which transport a connect attempt dials: the configured one, or the websocket first with a
//! fall back to long-poll (phoenix.js's `longPollFallbackMs`), remembered for the socket's life.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::connection;
use super::transport::{BoxTransport, Opened};
use crate::config::Config;
use crate::error::ConnectError;
use crate::event::human::duration;
use crate::transport::Transport;

/// What one attempt tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    Only(Transport),
    /// The websocket; if it has not opened within the time (or failed), long-poll.
    Fallback(Duration),
}

impl Plan {
    /// The plan for the next attempt: long-poll for good once a fallback has happened.
    pub(super) fn choose(config: &Config, fell_back: bool) -> Plan {
        match (config.transport, config.long_poll_fallback) {
            (Transport::WebSocket, Some(_)) if fell_back => Plan::Only(Transport::LongPoll),
            (Transport::WebSocket, Some(after)) => Plan::Fallback(after),
            (transport, _) => Plan::Only(transport),
        }
    }

    /// Runs the attempt (each transport within the upgrade timeout).
    pub(super) async fn open(
        self,
        config: Arc<Config>,
        url: url::Url,
    ) -> Result<Opened, ConnectError> {
        match self {
            Plan::Only(Transport::LongPoll) => long_poll(config, url).await,
            Plan::Only(_) => websocket(&config, url).await,
            Plan::Fallback(after) => {
                match tokio::time::timeout(after, websocket(&config, url.clone())).await {
                    Ok(Ok(opened)) => return Ok(opened),
                    Ok(Err(error)) => {
                        tracing::info!(%error, "websocket failed; falling back to long-poll");
                    }
                    Err(_) => tracing::info!(
                        waited = %duration(after),
                        "websocket not open in time; falling back to long-poll"
                    ),
                }
                long_poll(config, url).await
            }
        }
    }
}

/// `websocket`, `long-poll`, or `websocket, then long-poll after 300 ms`.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Only(transport) => write!(f, "{transport}"),
            Plan::Fallback(after) => {
                write!(f, "websocket, then long-poll after {}", duration(*after))
            }
        }
    }
}

async fn websocket(config: &Config, url: url::Url) -> Result<Opened, ConnectError> {
    let ws = connection::open(config, url).await?;
    Ok(Opened {
        frames: Box::new(ws) as BoxTransport,
        kind: Transport::WebSocket,
    })
}

async fn long_poll(config: Arc<Config>, url: url::Url) -> Result<Opened, ConnectError> {
    let session = crate::longpoll::open(config, url).await?;
    Ok(Opened {
        frames: Box::new(session) as BoxTransport,
        kind: Transport::LongPoll,
    })
}
