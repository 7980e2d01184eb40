//! Secrets never reach the logs: connect and join parameters are logged with the value of every
//! key containing a filtered word replaced by "[FILTERED]", at any depth, at every level.
//!
//! This binary installs a global subscriber at TRACE that writes into a buffer, so it has only
//! this one test (no other test's logs can race into the buffer).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use slipstream_server::{ServerConfig, spawn_demo};

use crate::support::Captured;
use crate::support::ws::{recv_text, send_text};

/// How long a frame may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// The secret values the client sends, and the one plain value that must be logged.
const CONNECT_SECRETS: [(&str, &str); 3] = [
    ("token", "abc-connect-token"),
    ("password", "p-connect-password"),
    ("api_key", "k-connect-api-key"),
];
const JOIN_SECRETS: [&str; 4] = [
    "t-join-token",
    "p-join-password",
    "x-join-authorization",
    "p-refused-join-password",
];
const PLAIN: &str = "u-plain-user";

/// Connects with secrets in the query, joins with secrets in the params (nested too), has a
/// join refused with a secret, and has a connect refused with a secret; returns the log.
async fn log_of_a_session(config: ServerConfig, captured: &Captured) -> String {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let server = spawn_demo(addr, config).await.expect("demo server starts");
    let query: Vec<String> = CONNECT_SECRETS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let url = format!(
        "{}?vsn=2.0.0&{}&user={PLAIN}",
        server.ws_url(),
        query.join("&")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("websocket connects");
    send_text(
        &mut ws,
        r#"["1","1","rooms:lobby","phx_join",{"token":"t-join-token","nested":{"list":[{"password":"p-join-password"}]},"authorization":"x-join-authorization","user":"u-plain-user"}]"#,
    )
    .await;
    assert!(
        recv_text(&mut ws, PATIENCE)
            .await
            .contains(r#""status":"ok""#)
    );
    send_text(
        &mut ws,
        r#"["2","2","rooms:private","phx_join",{"deny":true,"Password":"p-refused-join-password"}]"#,
    )
    .await;
    assert!(
        recv_text(&mut ws, PATIENCE)
            .await
            .contains(r#""status":"error""#)
    );
    let mut log = captured.until("REFUSED JOIN rooms:private").await;
    assert!(
        log.contains("JOINED rooms:lobby"),
        "no join line in:\n{log}"
    );

    let refused = format!(
        "{}?vsn=2.0.0&reject=true&auth_token=abc-refused-auth",
        server.ws_url()
    );
    assert!(
        tokio_tungstenite::connect_async(refused.as_str())
            .await
            .is_err()
    );
    log.push_str(&captured.until("REFUSED CONNECTION").await);
    server.shutdown().await;
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_join_secrets_are_filtered_at_every_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    // The defaults filter everything sent above.
    let log = log_of_a_session(ServerConfig::default(), &captured).await;
    let secrets = CONNECT_SECRETS
        .iter()
        .map(|(_, v)| *v)
        .chain(JOIN_SECRETS)
        .chain(["abc-refused-auth"]);
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    for shown in [
        r#""token" => "[FILTERED]""#,
        r#""api_key" => "[FILTERED]""#,
        r#""auth_token" => "[FILTERED]""#,
        r#""user" => "u-plain-user""#,
        r#""token":"[FILTERED]""#,
        r#"{"list":[{"password":"[FILTERED]"}]}"#,
        r#""authorization":"[FILTERED]""#,
        r#""user":"u-plain-user""#,
        r#""Password":"[FILTERED]""#,
    ] {
        assert!(log.contains(shown), "{shown} is not in the log:\n{log}");
    }

    // With no filter, the same session logs the values: the capture above did see these lines.
    let config = ServerConfig::default().with_filter_parameters(Vec::<String>::new());
    let log = log_of_a_session(config, &captured).await;
    for secret in ["abc-connect-token", "p-join-password", "abc-refused-auth"] {
        assert!(
            log.contains(secret),
            "{secret} is not in the unfiltered log:\n{log}"
        );
    }
}
