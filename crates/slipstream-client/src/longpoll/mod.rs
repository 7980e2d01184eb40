//! The long-poll transport (PROTOCOL.md §9): Phoenix's HTTP fallback for networks that do not
//! let a websocket through, behind the same seam as the websocket (`actor::transport`).
//!
//! * `url`: the poll URL from the websocket URL, and the session token's query parameter;
//! * `http`: the HTTP/1.1 client, dialled by the websocket's own TCP/TLS code;
//! * `body`: decoding the answers' JSON bodies into typed outcomes;
//! * `batch`: the bounded send queue and how frames are grouped into POST bodies;
//! * `session`: an open session as a stream and sink of frames, and how one is opened;
//! * `error`: what ends a session.

mod batch;
mod body;
mod error;
mod http;
mod session;
mod url;

pub(crate) use session::open;
