//! One module per subcommand.

pub mod run;
pub mod serve;
pub mod shell;
pub mod tour;

/// A positive, finite number of seconds as a duration.
pub(crate) fn positive_seconds(seconds: f64) -> Option<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|t| !t.is_zero())
}

/// The embedded demo server (what `slipstream serve` runs) on a free loopback port, for
/// `tour`, `run --demo` and `shell --demo`: everything works on a machine with no server.
pub(crate) fn start_demo() -> anyhow::Result<slipstream_server::BackgroundServer> {
    use anyhow::Context;
    slipstream_server::BackgroundServer::start_demo(
        ([127, 0, 0, 1], 0).into(),
        slipstream_server::ServerConfig::default(),
    )
    .context("could not start the embedded demo server")
}
