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
