//! [`Accepted`]: a TCP connection the server accepted, as the accept loop hands it to the HTTP
//! layer and the HTTP layer to the connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A TCP connection the server accepted: its peer, and its place in `max_connections`, given
/// back when the last holder lets go (the HTTP connection, or the websocket it became).
#[derive(Clone)]
pub(crate) struct Accepted {
    pub(crate) peer: SocketAddr,
    pub(crate) _slot: Arc<Slot>,
}

/// One counted TCP connection (or lingering refusal).
pub(crate) struct Slot(pub(crate) Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
