//! Opening a long-poll session and keeping it: the session's connection runs as any other
//! ([`connection::serve`]), with its frames coming from POSTs; its keeper task moves what the
//! connection sends into the session for GETs to take, and ends the session when the connection
//! ends, when the server closes it, or when no GET came for 1.5 times the poll window.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::connect::SocketInfo;
use crate::connection::{self, Wiring};
use crate::longpoll::{Full, Session};
use crate::outbound::{self, Out};
use crate::shared::Shared;

/// Opens a session for an accepted connect and starts its connection; returns its token.
pub(crate) fn open(
    shared: &Arc<Shared>,
    socket: Arc<SocketInfo>,
) -> Result<(Arc<Session>, String), Full> {
    let conn_id = shared.next_id();
    let (out, out_rx, queue) = outbound::queue(shared.config.max_outbound_bytes);
    let (frames_tx, frames) = mpsc::channel(8);
    let session = Session::new(conn_id, frames_tx, queue.clone());
    let token = shared
        .longpoll
        .insert(session.clone(), shared.config.max_longpoll_sessions)?;
    let wiring = Wiring {
        conn_id,
        frames,
        out,
        queue,
        idle_close: false,
    };
    let serve = connection::serve(shared.clone(), socket, wiring);
    tokio::spawn(keep(shared.clone(), session.clone(), out_rx, serve));
    Ok((session, token))
}

/// Why a session's keeper ended it.
enum Ended {
    /// The connection ended on its own (a malformed frame, the queue overflowing, ...).
    Connection,
    /// The connection sent a close (the server closed it, or a socket-id disconnect).
    Closed(u16),
    /// No GET for 1.5 times the window.
    Expired,
}

/// Runs a session's connection and ends the session with it (see the module docs).
async fn keep(
    shared: Arc<Shared>,
    session: Arc<Session>,
    mut out: mpsc::UnboundedReceiver<Out>,
    serve: impl std::future::Future<Output = ()>,
) {
    let window = shared.config.longpoll_window;
    let expiry = window + window / 2;
    tokio::pin!(serve);
    let mut check = tokio::time::interval(expiry.min(Duration::from_secs(1)));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut finished = false;
    let ended = loop {
        tokio::select! {
            _ = &mut serve => {
                finished = true;
                break Ended::Connection;
            }
            item = out.recv() => match item {
                Some(Out::Frame(frame)) => session.push(frame),
                Some(Out::Close(code)) => break Ended::Closed(code),
                None => break Ended::Connection,
            },
            _ = check.tick() => {
                if session.expired(expiry) {
                    break Ended::Expired;
                }
            }
        }
    };
    let id = session.id();
    match ended {
        Ended::Connection if session.queue().is_full() => {
            let queued = session.queue().queued();
            tracing::warn!(
                conn_id = id,
                "long-poll session {id} is not polling: {queued} bytes wait for it, past the \
                 limit of {} (max_outbound_bytes); ending it",
                shared.config.max_outbound_bytes
            );
        }
        Ended::Connection => tracing::debug!(conn_id = id, "long-poll session ended"),
        Ended::Closed(code) => {
            tracing::debug!(conn_id = id, code, "long-poll session closed by the server")
        }
        Ended::Expired => tracing::info!(
            conn_id = id,
            "long-poll session {id} got no poll for {} ms; ending it",
            expiry.as_millis()
        ),
    }
    session.end(&shared.longpoll);
    // Nothing more can be delivered: free the queue now, then let the connection finish.
    drop(out);
    if !finished {
        serve.await;
    }
    tracing::debug!(conn_id = id, "connection ended");
}
