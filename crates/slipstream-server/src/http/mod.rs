//! The HTTP side: `/health`, and the websocket upgrade with Phoenix's checks in Phoenix's order
//! (sub-protocol / auth token, serializer from `vsn`, the connect hook) — every refusal is an
//! empty-bodied 403 unless the hook picks another status. The long-poll transport's requests
//! are answered in `longpoll`, and its sessions' connections run under `keeper`.

mod keeper;
mod longpoll;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use slipstream_protocol::Serializer;

use crate::accepted::Accepted;
use crate::connect::{ConnectInfo, ConnectResult, SocketInfo};
use crate::connection;
use crate::log_filter;
use crate::shared::Shared;
use crate::ws;

const TOKEN_PREFIX: &str = "base64url.bearer.phx.";

/// The server's routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(&shared.config.websocket_path(), any(websocket))
        .route(&shared.config.longpoll_path(), any(longpoll::handle))
        .with_state(shared)
}

async fn websocket(State(shared): State<Arc<Shared>>, mut request: Request) -> Response {
    if request.method() != Method::GET {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return (StatusCode::BAD_REQUEST, "websocket upgrade expected").into_response();
    };
    if !is_upgrade {
        return (StatusCode::BAD_REQUEST, "websocket upgrade expected").into_response();
    }
    if shared
        .hang_upgrades
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        tracing::info!("websocket upgrade left unanswered (fault injection)");
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let refuse = shared
        .refuse_status
        .load(std::sync::atomic::Ordering::Relaxed);
    if refuse != 0 {
        tracing::info!(status = refuse, "websocket refused (fault injection)");
        return StatusCode::from_u16(refuse)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            .into_response();
    }
    let (auth_token, protocol) = if shared.config.auth_token {
        match auth_subprotocols(headers) {
            Ok(found) => found,
            Err(why) => {
                tracing::info!(reason = why, "websocket refused (sub-protocol)");
                return StatusCode::FORBIDDEN.into_response();
            }
        }
    } else {
        (None, None)
    };
    let params = query_params(request.uri());
    let socket = match accept_connect(&shared, params, headers, auth_token, "websocket") {
        Ok(socket) => socket,
        Err(status) => return status.into_response(),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let accepted = request.extensions_mut().remove::<Accepted>();
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => connection::run_upgraded(upgraded, shared, socket, accepted).await,
            Err(err) => tracing::warn!(error = %err, "websocket upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&ws::accept_key(key.as_bytes())) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        out.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol),
        );
    }
    response
}

/// The query parameters of a request, in order.
pub(crate) fn query_params(uri: &axum::http::Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Phoenix's connect checks that follow the transport's own, for either transport: the
/// serializer from `vsn`, then the socket's connect hook. Logs the outcome as Phoenix does;
/// a refusal is the HTTP status to answer (the transport decides how to carry it).
pub(crate) fn accept_connect(
    shared: &Shared,
    params: Vec<(String, String)>,
    headers: &axum::http::HeaderMap,
    auth_token: Option<Vec<u8>>,
    transport: &str,
) -> Result<Arc<SocketInfo>, StatusCode> {
    let vsn = params
        .iter()
        .rev()
        .find(|(k, _)| k == "vsn")
        .map(|(_, v)| v.as_str());
    let serializer = match Serializer::negotiate(vsn) {
        Ok(serializer) => serializer,
        Err(err) => {
            tracing::info!(error = %err, "{transport} refused (serializer)");
            return Err(StatusCode::FORBIDDEN);
        }
    };
    let started = std::time::Instant::now();
    let info = ConnectInfo {
        params,
        headers: headers.clone(),
        auth_token,
        serializer,
    };
    let socket_id = match shared.socket.connect(&info) {
        ConnectResult::Accept { socket_id } => socket_id,
        ConnectResult::Refuse(status) => {
            tracing::info!(%status, "REFUSED CONNECTION\n  Parameters: {}", show_params(&info.params, shared));
            return Err(status);
        }
    };
    tracing::info!(
        "CONNECTED TO socket in {:?}\n  Transport: :{transport}\n  Serializer: {serializer:?}\n  Parameters: {}",
        started.elapsed(),
        show_params(&info.params, shared)
    );
    Ok(Arc::new(SocketInfo {
        params: info.params,
        socket_id,
        auth_token: info.auth_token,
        serializer,
    }))
}

/// Phoenix 1.8's auth-token sub-protocol (docs/protocol.md §12): takes the token out of the offered
/// protocols and checks the rest; returns the token and the protocol to echo (`phoenix`).
fn auth_subprotocols(
    headers: &axum::http::HeaderMap,
) -> Result<(Option<Vec<u8>>, Option<&'static str>), &'static str> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let (tokens, rest): (Vec<&str>, Vec<&str>) =
        offered.iter().partition(|p| p.starts_with(TOKEN_PREFIX));
    let token = match tokens.as_slice() {
        [] => None,
        [one] => {
            let encoded = one[TOKEN_PREFIX.len()..].trim_end_matches('=');
            let decoded = STANDARD_NO_PAD
                .decode(encoded)
                .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
                .map_err(|_| "auth token is not base64")?;
            Some(decoded)
        }
        _ => return Err("more than one auth token offered"),
    };
    let protocol = if rest.is_empty() {
        None
    } else if rest.contains(&"phoenix") {
        Some("phoenix")
    } else {
        return Err("no offered sub-protocol is allowed (expected `phoenix`)");
    };
    Ok((token, protocol))
}

/// Connect params the way Phoenix's log shows them, secrets filtered:
/// `%{"token" => "[FILTERED]", "user_id" => "7", "vsn" => "2.0.0"}`.
fn show_params(params: &[(String, String)], shared: &Shared) -> String {
    log_filter::connect_params(params, &shared.config.filter_parameters)
}
