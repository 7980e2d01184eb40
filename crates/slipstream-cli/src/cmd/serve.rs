//! `slipstream serve`: runs the demo app until Ctrl-C or SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use slipstream_server::{ServerConfig, spawn_demo};
use tracing_subscriber::EnvFilter;

/// Options of `slipstream serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TCP port (0 picks a free one; the real port is printed).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Close a websocket that sent nothing for this many milliseconds (Phoenix: 60000).
    #[arg(long, value_name = "N")]
    idle_timeout_ms: Option<u64>,
    /// Close a websocket whose unsent frames pass this many bytes: a client that stopped
    /// reading (close code 1008). Default 4 MiB.
    #[arg(long, value_name = "BYTES")]
    max_outbound_bytes: Option<usize>,
    /// Answer HTTP 503 to TCP connections beyond this many open at once. Default 16384, or less
    /// under a lower open-file limit.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Close a TCP connection whose HTTP request head has not arrived within this many
    /// milliseconds (0: never). Default 10000.
    #[arg(long, value_name = "MS", visible_alias = "handshake-timeout")]
    handshake_timeout_ms: Option<u64>,
    /// Connect and join parameters logged as `"[FILTERED]"`: a key (at any depth) is filtered when
    /// it contains one of these, ignoring case. Replaces the default
    /// password,token,secret,api_key,auth; an empty list ("") logs every value.
    #[arg(long, value_name = "A,B,C")]
    filter_parameters: Option<String>,
    /// Hold a long-poll GET this many milliseconds when there is nothing to deliver (Phoenix:
    /// 10000); a session that gets no GET for 1.5 times this long ends.
    #[arg(long, value_name = "MS")]
    longpoll_window_ms: Option<u64>,
    /// Answer HTTP 503 to a long-poll GET that would open a session beyond this many. Default
    /// 16384.
    #[arg(long, value_name = "N")]
    max_longpoll_sessions: Option<usize>,
    /// Testing aid: answer every websocket upgrade with this HTTP status (e.g. 503), so clients
    /// can only connect over long-poll (a fallback test).
    #[arg(long, value_name = "STATUS", hide = true)]
    refuse_websocket: Option<u16>,
}

/// Runs the server; prints `listening on http://ADDR:PORT` on stdout once bound, then the
/// websocket URL and a ready-to-paste `slipstream shell` command. Any failure (binding the
/// port, say) is exit code 2.
pub fn run(args: ServeArgs) -> Result<(), super::CliError> {
    run_server(args).map_err(super::CliError::Connection)
}

fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,slipstream_server=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::default();
    if let Some(ms) = args.idle_timeout_ms {
        config = config.with_idle_timeout(Duration::from_millis(ms));
    }
    if let Some(bytes) = args.max_outbound_bytes {
        config = config.with_max_outbound_bytes(bytes);
    }
    if let Some(max) = args.max_connections {
        config = config.with_max_connections(max);
    }
    if let Some(ms) = args.handshake_timeout_ms {
        config = config.with_handshake_timeout(Duration::from_millis(ms));
    }
    if let Some(list) = &args.filter_parameters {
        config = config.with_filter_parameters(filter_list(list));
    }
    if let Some(ms) = args.longpoll_window_ms {
        config = config.with_longpoll_window(Duration::from_millis(ms));
    }
    if let Some(max) = args.max_longpoll_sessions {
        config = config.with_max_longpoll_sessions(max);
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let server = spawn_demo(addr, config)
        .await
        .with_context(|| format!("binding {addr}"))?;
    if let Some(status) = args.refuse_websocket {
        server.set_refuse_connects(Some(status));
    }
    let shutdown = shutdown_signal()?;
    // The first line stays exactly `listening on http://ADDR:PORT`: scripts and tests parse it.
    // The banner goes out in one write, so a reader of the first line has the others too.
    let reachable = reachable(server.local_addr());
    let ws_url = format!("ws://{reachable}/socket/websocket");
    let banner = format!(
        "listening on http://{}\nwebsocket: {ws_url}\ntry: slipstream shell {ws_url}\n\
         long-poll: http://{reachable}/socket/longpoll\n",
        server.local_addr()
    );
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(banner.as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    shutdown.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// An address a client on this machine can connect to: a wildcard bind (`0.0.0.0`, `::`) is
/// reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The words of a `--filter-parameters` list: comma-separated, trimmed, empty ones dropped.
fn filter_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Installs the Ctrl-C and SIGTERM handlers now (before the banner says the server is up, so a
/// signal sent right after it is caught) and returns the future that waits for either.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// Installs the Ctrl-C handler and returns the future that waits for it.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::{filter_list, reachable};

    #[test]
    fn a_wildcard_bind_is_reached_through_loopback() {
        assert_eq!(
            reachable("0.0.0.0:4000".parse().unwrap()).to_string(),
            "127.0.0.1:4000"
        );
        assert_eq!(
            reachable("[::]:4000".parse().unwrap()).to_string(),
            "[::1]:4000"
        );
        assert_eq!(
            reachable("10.0.0.1:80".parse().unwrap()).to_string(),
            "10.0.0.1:80"
        );
    }

    #[test]
    fn filter_parameters_are_a_comma_separated_list() {
        assert_eq!(
            filter_list("password, pin,,ssn "),
            ["password", "pin", "ssn"]
        );
        assert!(filter_list("").is_empty());
    }
}
