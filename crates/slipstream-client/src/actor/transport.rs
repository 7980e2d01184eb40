//! The transport seam: what the actor needs from a connection, and how it obtains one.
//!
//! The actor reads frames from a [`Stream`] and writes them to a [`Sink`]; it never sees TCP, TLS,
//! the upgrade or HTTP requests. [`connection::open`](super::connection::open) produces a
//! websocket, [`longpoll::open`](crate::longpoll::open) a long-poll session (`plan` picks which);
//! a [`Connector`] set on the builder replaces both (the test kit's in-memory connections).
//! Everything above this seam — refs, joins, reconnects, rejoins — runs the same code either way;
//! only heartbeats depend on the transport (none over long-poll, as phoenix.js).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::{Error, Message};

use crate::error::ConnectError;
use crate::transport::Transport;

/// A connection as the actor uses it: incoming frames, and a sink for outgoing ones (websocket
/// frames, whatever carries them).
pub(crate) trait FrameTransport:
    Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Send + Unpin
{
}

impl<T> FrameTransport for T where
    T: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Send + Unpin
{
}

/// An open connection, whatever carries it.
pub(crate) type BoxTransport = Box<dyn FrameTransport>;

/// A connector's connect attempt in progress.
pub(crate) type ConnectFuture =
    Pin<Box<dyn Future<Output = Result<BoxTransport, ConnectError>> + Send>>;

/// An open connection and the transport that carries it.
pub(crate) struct Opened {
    pub(crate) frames: BoxTransport,
    pub(crate) kind: Transport,
}

/// One connect attempt in progress, whichever transport it tries.
pub(crate) type AttemptFuture = Pin<Box<dyn Future<Output = Result<Opened, ConnectError>> + Send>>;

/// Opens a connection to a URL instead of dialling it (the upgrade timeout still applies).
pub(crate) type Connector = Arc<dyn Fn(url::Url) -> ConnectFuture + Send + Sync>;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::Socket;

    #[tokio::test(start_paused = true)]
    async fn a_connector_replaces_dialling_and_gets_the_connect_url() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let connector: Connector = Arc::new(move |url: url::Url| {
            seen2.lock().unwrap().push(url.to_string());
            Box::pin(async {
                Err(ConnectError::Refused {
                    status: 403,
                    headers: Vec::new(),
                    body: None,
                    path: "/socket/websocket".into(),
                })
            })
        });
        // The host does not resolve: only the connector can answer.
        let socket = Socket::builder("ws://nowhere.invalid/socket")
            .param("token", "t")
            .connector(connector)
            .build()
            .unwrap();
        socket.connect();
        let refused = socket.await_connect(None).await.unwrap_err();
        assert!(matches!(refused, ConnectError::Refused { status: 403, .. }));
        assert_eq!(
            *seen.lock().unwrap(),
            ["ws://nowhere.invalid/socket/websocket?token=t&vsn=2.0.0"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_upgrade_timeout_bounds_a_connector() {
        let connector: Connector = Arc::new(|_| Box::pin(std::future::pending()));
        let socket = Socket::builder("ws://nowhere.invalid/socket")
            .upgrade_timeout(Duration::from_secs(3))
            .connector(connector)
            .build()
            .unwrap();
        socket.connect();
        assert_eq!(
            socket.await_connect(Some(Duration::from_secs(60))).await,
            Err(ConnectError::UpgradeTimeout(Duration::from_secs(3)))
        );
    }
}
