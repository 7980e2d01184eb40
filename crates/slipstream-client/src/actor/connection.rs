//! Opening the websocket: DNS, TCP, TLS and the upgrade, each failure its own [`ConnectError`].

use base64::Engine as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::Config;
use crate::error::ConnectError;

/// The websocket the actor owns.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The `Sec-WebSocket-Protocol` value phoenix.js sends for an auth token: `phoenix` plus the
/// token in standard base64 without padding.
pub(crate) fn auth_token_protocols(token: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(token.as_bytes());
    format!("phoenix, base64url.bearer.phx.{encoded}")
}

/// Opens one connection to `url`, within the upgrade timeout.
pub(crate) async fn open(config: &Config, url: url::Url) -> Result<WsStream, ConnectError> {
    let token = config.auth_token.as_ref().map(|f| f());
    match tokio::time::timeout(config.upgrade_timeout, open_inner(config, url, token)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::UpgradeTimeout(config.upgrade_timeout)),
    }
}

async fn open_inner(
    config: &Config,
    url: url::Url,
    token: Option<String>,
) -> Result<WsStream, ConnectError> {
    let stream = dial(config, &url).await?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Transport(e.to_string()))?;
    for (name, value) in &config.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    if let Some(token) = &token {
        let value = HeaderValue::from_str(&auth_token_protocols(token))
            .map_err(|e| ConnectError::Transport(format!("auth token header: {e}")))?;
        request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    // The configured limits bound what one connection can make us buffer (see the builder).
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config.websocket)).await
    {
        Ok((ws, _response)) => Ok(ws),
        Err(e) => Err(map_handshake_error(e, token.is_some(), url.path())),
    }
}

/// DNS, TCP and (for `wss`/`https`) TLS to `url`'s host, each failure its own [`ConnectError`]:
/// the websocket and the long-poll transport dial the same way.
pub(crate) async fn dial(
    config: &Config,
    url: &url::Url,
) -> Result<MaybeTlsStream<TcpStream>, ConnectError> {
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(ConnectError::Transport("URL has no host".into())),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = connect_tcp(&host, port, config.local_addr).await?;
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    if matches!(url.scheme(), "wss" | "https") {
        // Only a TLS failure names the peer, so only TLS asks the kernel for its address.
        let addr = tcp
            .peer_addr()
            .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string());
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| ConnectError::Tls(format!("invalid server name {host:?}: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(config.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_error(&e, addr))?;
        Ok(MaybeTlsStream::Rustls(tls))
    } else {
        Ok(MaybeTlsStream::Plain(tcp))
    }
}

/// A failed TLS handshake: [`ConnectError::NotTls`] when the server's first bytes were not a
/// TLS record at all (a plain HTTP server answers a ClientHello with `HTTP/1.1 400 …`), else
/// [`ConnectError::Tls`].
/// Connects to `addr` from `ip` (any free port): a bind failure says which address it was.
async fn connect_from(
    ip: std::net::IpAddr,
    addr: std::net::SocketAddr,
) -> std::io::Result<TcpStream> {
    let socket = if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket
        .bind(std::net::SocketAddr::new(ip, 0))
        .map_err(|e| std::io::Error::new(e.kind(), format!("binding local address {ip}: {e}")))?;
    socket.connect(addr).await
}

fn tls_error(error: &std::io::Error, addr: String) -> ConnectError {
    use rustls::InvalidMessage;
    let not_tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidMessage(
                    InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion
                )
            )
        });
    if not_tls {
        ConnectError::NotTls {
            addr,
            reason: error.to_string(),
        }
    } else {
        ConnectError::Tls(error.to_string())
    }
}

async fn connect_tcp(
    host: &str,
    port: u16,
    local: Option<std::net::IpAddr>,
) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ConnectError::Dns {
            host: host.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Dns {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    }
    let mut last = None;
    for addr in addrs {
        let attempt = match local {
            None => TcpStream::connect(addr).await,
            Some(ip) if ip.is_ipv4() != addr.is_ipv4() => continue,
            Some(ip) => connect_from(ip, addr).await,
        };
        match attempt {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some((addr, e)),
        }
    }
    if last.is_none()
        && let Some(ip) = local
    {
        return Err(ConnectError::Transport(format!(
            "{host}:{port} has no address of the local address {ip}'s family"
        )));
    }
    match last {
        Some((addr, e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ConnectError::ConnectionRefused {
                addr: addr.to_string(),
            })
        }
        Some((addr, e)) => Err(ConnectError::Transport(format!("{addr}: {e}"))),
        None => Err(ConnectError::Transport("no address to connect to".into())),
    }
}

fn map_handshake_error(
    error: tokio_tungstenite::tungstenite::Error,
    offered_token: bool,
    path: &str,
) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => ConnectError::Refused {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: response
                .body()
                .as_ref()
                .filter(|b| !b.is_empty())
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            path: path.to_owned(),
        },
        Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol,
        )) if offered_token => ConnectError::AuthTokenNotAccepted,
        other => ConnectError::Transport(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_token_uses_standard_base64_without_padding() {
        // docs/protocol.md §12's example: token `secret-token`.
        assert_eq!(
            auth_token_protocols("secret-token"),
            "phoenix, base64url.bearer.phx.c2VjcmV0LXRva2Vu"
        );
        // standard alphabet (`+`, `/`), no `=` padding
        assert_eq!(
            auth_token_protocols(">>>?"),
            "phoenix, base64url.bearer.phx.Pj4+Pw"
        );
    }
}
