//! The long-poll transport at `<mount>/longpoll`, answered as Phoenix 1.7.24 answers it
//! (docs/protocol.md §9; `tests/conformance/lp_*`).
//!
//! * `GET` without a live session's token runs the connect checks and opens a session: body
//!   `{"status":410,"token":…,"messages":[]}` (410 is how Phoenix says "here is your session"),
//!   or `{"status":403}` when refused. A token that names no live session (forged, expired, from
//!   another server process) opens a new session the same way; a client that held a token then
//!   knows its channels are gone.
//! * `GET` with a token polls: `{"status":200,"token":…,"messages":[…]}` as soon as the connection
//!   has sent something (each message one serialized text frame), or status 204 after the window.
//! * `POST` with a token dispatches a frame or an ndjson batch and answers once the connection has
//!   handled them: `{"status":200}`; 410 when the session is gone; 408 when it took longer than
//!   the window.
//! * `OPTIONS` answers the CORS preflight; any other method gets HTTP 400.
//!
//! JSON answers are HTTP 200 (the real status is in the body) with
//! `access-control-allow-origin: *` and `cache-control: no-store`. The token comes from the
//! `X-Phoenix-Longpoll-Token` header or, failing that, the `token` query parameter.
//!
//! Binary frames cannot travel in a JSON array of strings. As Phoenix, one whose bytes happen to
//! be UTF-8 goes out as that string; any other is dropped with a WARN line, and a poll left with
//! nothing to deliver because of it answers HTTP 500, as Phoenix's does.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::oneshot;

use super::keeper;
use super::{accept_connect, query_params};
use crate::inbound::Inbound;
use crate::longpoll::{Full, Polled, Session, body};
use crate::shared::Shared;
use crate::ws;

/// The header a client may carry its session token in (Phoenix 1.8.10+); it wins over the query.
const TOKEN_HEADER: &str = "x-phoenix-longpoll-token";

/// The header carrying Phoenix 1.8's auth token over long-poll (the raw token).
const AUTH_TOKEN_HEADER: &str = "x-phoenix-authtoken";

/// Answers one long-poll request.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    if method == Method::OPTIONS {
        return preflight(request.headers());
    }
    if method != Method::GET && method != Method::POST {
        return with_cors(StatusCode::BAD_REQUEST.into_response());
    }
    let token = session_token(&request);
    let session = token.as_deref().and_then(|t| shared.longpoll.find(t));
    if method == Method::GET {
        match (session, token) {
            (Some(session), Some(token)) => poll(&shared, &session, token).await,
            _ => open(&shared, &request),
        }
    } else {
        match session {
            Some(session) => publish(&shared, &session, request).await,
            None => status_json(410, json!({})),
        }
    }
}

/// The session token of a request: the header, else the query parameter.
fn session_token(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(TOKEN_HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    query_params(request.uri())
        .into_iter()
        .rev()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// A GET without a live session: the connect checks, then a new session and its token.
fn open(shared: &Arc<Shared>, request: &Request) -> Response {
    let auth_token = shared
        .config
        .auth_token
        .then(|| request.headers().get(AUTH_TOKEN_HEADER))
        .flatten()
        .map(|value| value.as_bytes().to_vec());
    let params: Vec<(String, String)> = query_params(request.uri())
        .into_iter()
        .filter(|(k, _)| k != "token")
        .collect();
    let socket = match accept_connect(shared, params, request.headers(), auth_token, "longpoll") {
        Ok(socket) => socket,
        // Phoenix answers every refused long-poll connect with 403, whatever the reason.
        Err(_) => return status_json(403, json!({})),
    };
    match keeper::open(shared, socket) {
        Ok((session, token)) => {
            tracing::debug!(conn_id = session.id(), "long-poll session opened");
            status_json(410, json!({"token": token, "messages": []}))
        }
        Err(Full) => {
            tracing::warn!(
                "long-poll session refused: {} sessions are open (max_longpoll_sessions)",
                shared.config.max_longpoll_sessions
            );
            with_cors(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// A GET of a live session: its messages as soon as there are some, or 204 after the window.
async fn poll(shared: &Shared, session: &Session, token: String) -> Response {
    let frames = match session.poll(shared.config.longpoll_window).await {
        Polled::Messages(frames) => frames,
        Polled::NoContent => return status_json(204, json!({"token": token, "messages": []})),
        Polled::Gone => return status_json(410, json!({})),
    };
    let mut messages = Vec::with_capacity(frames.len());
    let mut failed = false;
    for frame in &frames {
        match as_message(frame, session.id()) {
            Undeliverable::No(text) => messages.push(text),
            Undeliverable::Broadcast => {}
            Undeliverable::Other => failed = true,
        }
    }
    if messages.is_empty() && failed {
        // What Phoenix answers when its JSON encoder meets the bytes (lp_binary_reply).
        return internal_error();
    }
    status_json(200, json!({"token": token, "messages": messages}))
}

/// Whether a queued frame can travel as a long-poll message.
enum Undeliverable {
    /// It can: its payload as a string.
    No(String),
    /// A binary broadcast that is not UTF-8: skipped. Phoenix would fail the whole poll, and
    /// phoenix.js, meeting a body without a status, stops polling for good; a subscriber that
    /// cannot take a broadcast should not lose its connection to it.
    Broadcast,
    /// A reply or push that is not UTF-8: the poll fails as Phoenix's does, if nothing else
    /// can go (lp_binary_reply).
    Other,
}

/// The kind byte of a V2 binary broadcast frame.
const BINARY_BROADCAST: u8 = 2;

/// One queued websocket frame as a long-poll message: its payload as a string.
fn as_message(frame: &Bytes, conn_id: u64) -> Undeliverable {
    let Some((opcode, payload)) = ws::frame_payload(frame) else {
        return Undeliverable::Other;
    };
    match String::from_utf8(payload.to_vec()) {
        Ok(text) => Undeliverable::No(text),
        Err(_) => {
            let broadcast = opcode == ws::OP_BINARY && payload.first() == Some(&BINARY_BROADCAST);
            tracing::warn!(
                conn_id,
                "a binary {} of {} bytes cannot go to a long-poll client (not UTF-8); dropped",
                if broadcast { "broadcast" } else { "frame" },
                payload.len()
            );
            if broadcast {
                Undeliverable::Broadcast
            } else {
                Undeliverable::Other
            }
        }
    }
}

/// A POST: the body's frames go to the session's connection, answered once it handled them.
async fn publish(shared: &Shared, session: &Session, request: Request) -> Response {
    let batch = body::is_batch(
        request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let limit = shared.config.max_frame_size;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(err) => {
            tracing::info!(conn_id = session.id(), error = %err, "long-poll POST refused: its body could not be read within {limit} bytes (max_frame_size)");
            return with_cors(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        }
    };
    let parsed = body::parse(body, batch);
    if parsed.dropped_lines > 0 {
        tracing::warn!(
            conn_id = session.id(),
            "a long-poll batch had {} lines past the first {}; they were dropped, as Phoenix does",
            parsed.dropped_lines,
            body::MAX_BATCH_LINES
        );
    }
    let window = shared.config.longpoll_window;
    match tokio::time::timeout(window, dispatch(session, parsed.frames)).await {
        Err(_) => status_json(408, json!({})),
        Ok(Err(Gone)) => status_json(410, json!({})),
        Ok(Ok(())) => match parsed.bad_line {
            None => status_json(200, json!({})),
            Some(line) => {
                tracing::info!(
                    conn_id = session.id(),
                    line,
                    "long-poll batch line {line} is neither a text frame nor base64"
                );
                internal_error()
            }
        },
    }
}

/// The session ended while a request used it.
struct Gone;

/// Hands frames to the session's connection and waits until it has handled them all.
async fn dispatch(session: &Session, frames: Vec<ws::WsMessage>) -> Result<(), Gone> {
    let sender = session.sender().ok_or(Gone)?;
    for frame in frames {
        sender
            .send(Inbound::Frame(Ok(frame)))
            .await
            .map_err(|_| Gone)?;
    }
    let (done, handled) = oneshot::channel();
    sender
        .send(Inbound::Barrier(done))
        .await
        .map_err(|_| Gone)?;
    drop(sender);
    handled.await.map_err(|_| Gone)
}

/// An HTTP 200 JSON answer carrying `status` in its body, as Phoenix's long-poll answers.
fn status_json(status: u16, mut body: serde_json::Value) -> Response {
    body["status"] = json!(status);
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    with_cors(response)
}

/// Phoenix's answer when a request fails inside it: HTTP 500, a JSON error, no CORS header.
fn internal_error() -> Response {
    let body = json!({"errors": {"detail": "Internal Server Error"}}).to_string();
    let mut response = (StatusCode::INTERNAL_SERVER_ERROR, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn with_cors(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The CORS preflight: any origin, the asked-for headers, GET/POST/OPTIONS, cached for an hour.
fn preflight(headers: &HeaderMap) -> Response {
    let asked: Vec<&str> = headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&asked.join(", ")) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("get, post, options"),
    );
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    with_cors(response)
}
