//! `wss://`: a caller's rustls configuration is used, and a certificate the default roots don't
//! trust is a distinct TLS error. The server is a TLS-terminating scripted websocket on loopback
//! with a self-signed certificate made for the test.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipstream_client::{ConnectError, Socket};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for 127.0.0.1 and the server configuration that presents it.
fn certificate() -> (
    rustls::pki_types::CertificateDer<'static>,
    Arc<rustls::ServerConfig>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("certificate generation");
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    (cert, Arc::new(server))
}

/// Accepts one TLS websocket and answers its join like `rooms:lobby` does.
async fn serve_one_join(listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    let (tcp, _) = listener.accept().await.expect("accept");
    let Ok(tls) = TlsAcceptor::from(config).accept(tcp).await else {
        return; // the client refused our certificate: nothing more to do
    };
    let mut ws = tokio_tungstenite::accept_async(tls).await.expect("upgrade");
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Text(text) = frame else { continue };
        let request: Value = serde_json::from_str(&text).expect("V2 frame");
        if request[3] == "phx_join" {
            let reply = json!([request[0], request[1], request[2], "phx_reply",
                               {"status": "ok", "response": {"tls": true}}]);
            ws.send(Message::text(reply.to_string()))
                .await
                .expect("reply");
        }
    }
}

#[tokio::test]
async fn a_callers_tls_config_is_used_for_wss() {
    let (cert, server_config) = certificate();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve_one_join(listener, server_config));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("our certificate is a valid root");
    let client_config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let socket = Socket::builder(format!("wss://127.0.0.1:{port}/socket"))
        .tls_config(Arc::new(client_config))
        .build()
        .unwrap();
    socket.connect();
    socket
        .await_connect(Some(Duration::from_secs(10)))
        .await
        .expect("TLS handshake with the trusted certificate");
    socket.join("rooms:lobby", json!({}));
    let response = socket
        .await_join("rooms:lobby", Some(Duration::from_secs(10)))
        .await
        .expect("joined over TLS");
    assert_eq!(response.to_value().unwrap(), json!({"tls": true}));
    socket.disconnect();
    let _ = socket.await_disconnect(Some(Duration::from_secs(5))).await;
    server.abort();
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let (_, server_config) = certificate();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve_one_join(listener, server_config));

    // Default configuration: the webpki roots, which do not include our self-signed certificate.
    let socket = Socket::builder(format!("https://127.0.0.1:{port}/socket"))
        .build()
        .unwrap();
    socket.connect();
    let error = socket
        .await_connect(Some(Duration::from_secs(10)))
        .await
        .expect_err("the certificate is not trusted");
    assert!(
        matches!(error, ConnectError::Tls(_)),
        "expected ConnectError::Tls, got {error:?}"
    );
    server.abort();
}
