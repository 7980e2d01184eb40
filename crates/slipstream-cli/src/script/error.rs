//! Script failures and how they are reported.
//!
//! The vocabulary's functions fail by throwing a [`Failure`] (a Rhai value of type `Failure`, so a
//! script may `try { … } catch (e) { print(e.kind) }`). When nothing catches it, the runner turns
//! the Rhai error into a [`ScriptError`], which knows its exit code and how to show itself with
//! the script line it happened on.

use std::fmt;

use rhai::{Dynamic, EvalAltResult, ParseError, Position};

/// What kind of thing failed; decides the runner's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// `assert` / `assert_eq` did not hold.
    Assertion,
    /// An await ran out of time or got an answer that is a failure (join refused, no reply…).
    Await,
    /// The socket could not connect (bad URL, connection refused, upgrade refused…).
    Connection,
    /// A function was used wrongly (a value that cannot be a payload, no socket yet…).
    Usage,
    /// Ctrl-C interrupted the script.
    Interrupted,
}

impl FailureKind {
    /// The name scripts see as `e.kind`.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Assertion => "assertion",
            FailureKind::Await => "await",
            FailureKind::Connection => "connection",
            FailureKind::Usage => "usage",
            FailureKind::Interrupted => "interrupted",
        }
    }
}

/// A failure thrown by one of the vocabulary's functions.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// One line saying what failed.
    pub message: String,
    /// What was expected, when that is known.
    pub expected: Option<String>,
    /// What was received instead, when that is known.
    pub received: Option<String>,
}

impl Failure {
    /// A failure with only a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            expected: None,
            received: None,
        }
    }

    /// Adds what was expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Adds what was received.
    pub fn received(mut self, received: impl Into<String>) -> Self {
        self.received = Some(received.into());
        self
    }

    /// The Rhai error that throws this failure at `position`.
    pub fn into_error(self, position: Position) -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(self), position))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(expected) = &self.expected {
            write!(f, "\n  expected: {expected}")?;
        }
        if let Some(received) = &self.received {
            write!(f, "\n  received: {received}")?;
        }
        Ok(())
    }
}

/// Why a script (or one shell line) did not run to its end.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScriptError {
    /// The source is not valid Rhai.
    #[error("syntax error: {message}")]
    Syntax {
        /// Rhai's description.
        message: String,
        /// Where.
        position: Position,
    },
    /// A vocabulary function failed and nothing caught it.
    #[error("{failure}")]
    Failed {
        /// The failure.
        failure: Failure,
        /// Where it was thrown.
        position: Position,
    },
    /// Any other runtime error: a `throw`, a type error, an unknown function…
    #[error("{message}")]
    Runtime {
        /// Rhai's description.
        message: String,
        /// Where.
        position: Position,
    },
}

impl ScriptError {
    /// The `slipstream run` exit code: 2 when the script could not run as written (syntax,
    /// connection, usage), 1 when it ran and failed (assertion, await, any other runtime error),
    /// 130 when Ctrl-C stopped it.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScriptError::Syntax { .. } => 2,
            ScriptError::Failed { failure, .. } => match failure.kind {
                FailureKind::Connection | FailureKind::Usage => 2,
                FailureKind::Assertion | FailureKind::Await => 1,
                FailureKind::Interrupted => 130,
            },
            ScriptError::Runtime { .. } => 1,
        }
    }

    /// Where it happened.
    pub fn position(&self) -> Position {
        match self {
            ScriptError::Syntax { position, .. }
            | ScriptError::Failed { position, .. }
            | ScriptError::Runtime { position, .. } => *position,
        }
    }

    /// The error as a person should see it: a headline naming `name:line:column`, the source
    /// line, then the details (expected / received).
    pub fn report(&self, name: &str, source: &str) -> String {
        let position = self.position();
        let headline = match self {
            ScriptError::Syntax { .. } => "syntax error",
            ScriptError::Failed { failure, .. } => match failure.kind {
                FailureKind::Assertion => "assertion failed",
                FailureKind::Await => "await failed",
                FailureKind::Connection => "connection failed",
                FailureKind::Usage => "usage error",
                FailureKind::Interrupted => "interrupted",
            },
            ScriptError::Runtime { .. } => "script error",
        };
        let mut out = match (position.line(), position.position()) {
            (Some(line), Some(column)) => format!("error: {headline} at {name}:{line}:{column}"),
            (Some(line), None) => format!("error: {headline} at {name}:{line}"),
            _ => format!("error: {headline} in {name}"),
        };
        if let Some(line) = position.line()
            && let Some(text) = source.lines().nth(line.saturating_sub(1))
        {
            out.push_str(&format!("\n  {line} | {}", text.trim_end()));
        }
        out.push_str(&format!("\n  {self}"));
        out
    }
}

impl From<ParseError> for ScriptError {
    fn from(error: ParseError) -> Self {
        ScriptError::Syntax {
            message: error.err_type().to_string(),
            position: error.position(),
        }
    }
}

impl From<Box<EvalAltResult>> for ScriptError {
    fn from(error: Box<EvalAltResult>) -> Self {
        // Report the innermost error: the line inside a script function where it happened.
        let inner = error.unwrap_inner();
        match inner {
            EvalAltResult::ErrorParsing(kind, position) => ScriptError::Syntax {
                message: kind.to_string(),
                position: *position,
            },
            EvalAltResult::ErrorRuntime(value, position) => match value.read_lock::<Failure>() {
                Some(failure) => ScriptError::Failed {
                    failure: failure.clone(),
                    position: *position,
                },
                None => ScriptError::Runtime {
                    message: format!("uncaught throw: {}", super::convert::show(value)),
                    position: *position,
                },
            },
            EvalAltResult::ErrorTerminated(_, position) => ScriptError::Failed {
                failure: Failure::new(FailureKind::Interrupted, "interrupted by Ctrl-C"),
                position: *position,
            },
            other => ScriptError::Runtime {
                message: strip_position(&other.to_string()),
                position: other.position(),
            },
        }
    }
}

/// Rhai's messages end with ` (line 3, position 5)`; the report shows the place itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(at) if message.ends_with(')') => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind() {
        let at = Position::new(1, 1);
        let failed = |kind| ScriptError::Failed {
            failure: Failure::new(kind, "x"),
            position: at,
        };
        assert_eq!(failed(FailureKind::Assertion).exit_code(), 1);
        assert_eq!(failed(FailureKind::Await).exit_code(), 1);
        assert_eq!(failed(FailureKind::Connection).exit_code(), 2);
        assert_eq!(failed(FailureKind::Usage).exit_code(), 2);
        let syntax = ScriptError::Syntax {
            message: "x".into(),
            position: at,
        };
        assert_eq!(syntax.exit_code(), 2);
    }

    #[test]
    fn report_shows_the_line_expected_and_received() {
        let error = ScriptError::Failed {
            failure: Failure::new(FailureKind::Assertion, "assert_eq failed")
                .expected("\"error\"")
                .received("\"ok\""),
            position: Position::new(2, 1),
        };
        let report = error.report("t.rhai", "let a = 1;\nassert_eq(a, 2);\n");
        assert_eq!(
            report,
            "error: assertion failed at t.rhai:2:1\n  2 | assert_eq(a, 2);\n  assert_eq failed\n  expected: \"error\"\n  received: \"ok\""
        );
    }

    #[test]
    fn positions_are_stripped_from_rhai_messages() {
        assert_eq!(
            strip_position("Function not found: f (line 3, position 5)"),
            "Function not found: f"
        );
        assert_eq!(strip_position("plain"), "plain");
    }
}
