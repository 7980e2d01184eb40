//! The long-poll transport below HTTP: a session's state between requests (`session`), its
//! signed token (`token`) and the frames a POST body carries (`body`).
//!
//! Nothing here answers a request or runs a connection: the HTTP side (`http::longpoll`) does,
//! and its keeper (`http::keeper`) runs each session's connection. So the server's state can
//! hold the sessions without depending on the layers that use them.

pub(crate) mod body;
mod session;
mod token;

pub(crate) use session::{Full, Polled, Session, Sessions};
