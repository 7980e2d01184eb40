//! Script failures and how they are reported.
//!
//! The vocabulary's functions fail by throwing a [`Failure`] (a Rhai value of type `Failure`, so a
//! script may `try { … } catch (e) { print(e.kind) }`). When nothing catches it, the runner turns
//! the Rhai error into a [`ScriptError`], which knows its exit code and how to show itself with
//! the script line it happened on.

use std::fmt;

use rhai::{Dynamic, EvalAltResult, ParseError, Position};

use crate::cmd::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE};

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
    /// What to try next, when there is advice to give (see [`super::hints`]).
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with only a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            expected: None,
            received: None,
            hint: None,
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

    /// Adds `hint` when there is one.
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
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
        write_hint(f, self.hint.as_deref())
    }
}

/// Writes `hint: …` on a line of its own, when there is a hint.
fn write_hint(f: &mut fmt::Formatter<'_>, hint: Option<&str>) -> fmt::Result {
    match hint {
        Some(hint) => write!(f, "\n  hint: {hint}"),
        None => Ok(()),
    }
}

/// Why a script (or one shell entry) did not run to its end.
#[derive(Debug, Clone)]
pub enum ScriptError {
    /// The source is not valid Rhai.
    Syntax {
        /// Rhai's description.
        message: String,
        /// Where: for something missing, the end of the line it is missing from (Rhai notices
        /// only at the next token, often the next line).
        position: Position,
        /// What to try instead (an Elixir habit), when known.
        hint: Option<String>,
        /// The innermost bracket still open where the error was noticed, and where it is.
        unclosed: Option<(char, Position)>,
    },
    /// A vocabulary function failed and nothing caught it.
    Failed {
        /// The failure.
        failure: Failure,
        /// Where it was thrown.
        position: Position,
    },
    /// Any other runtime error: a `throw`, a type error, an unknown function…
    Runtime {
        /// What went wrong, in words (with the signatures of the function called wrongly).
        message: String,
        /// Where.
        position: Position,
        /// What to try instead ("did you mean …?"), when known.
        hint: Option<String>,
    },
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Syntax {
                message,
                hint,
                unclosed,
                ..
            } => {
                write!(f, "syntax error: {message}")?;
                let unclosed = unclosed
                    .map(|(c, at)| format!("the `{c}` at {} is never closed", line_column(at)));
                write_hint(f, hint.as_deref().or(unclosed.as_deref()))
            }
            ScriptError::Failed { failure, .. } => write!(f, "{failure}"),
            ScriptError::Runtime { message, hint, .. } => {
                f.write_str(message)?;
                write_hint(f, hint.as_deref())
            }
        }
    }
}

impl std::error::Error for ScriptError {}

/// `line:column` (or `line`).
fn line_column(at: Position) -> String {
    match (at.line(), at.position()) {
        (Some(line), Some(column)) => format!("{line}:{column}"),
        (Some(line), None) => line.to_string(),
        _ => "?".into(),
    }
}

impl ScriptError {
    /// The `slipstream run` exit code: 2 when the script could not run as written (syntax,
    /// connection, usage), 1 when it ran and failed (assertion, await, any other runtime error),
    /// 130 when Ctrl-C stopped it.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScriptError::Syntax { .. } => EXIT_USAGE,
            ScriptError::Failed { failure, .. } => match failure.kind {
                FailureKind::Connection | FailureKind::Usage => EXIT_USAGE,
                FailureKind::Assertion | FailureKind::Await => EXIT_FAILED,
                FailureKind::Interrupted => EXIT_INTERRUPTED,
            },
            ScriptError::Runtime { .. } => EXIT_FAILED,
        }
    }

    /// Whether Ctrl-C stopped it (rather than it failing).
    pub fn is_interrupted(&self) -> bool {
        matches!(self, ScriptError::Failed { failure, .. } if failure.kind == FailureKind::Interrupted)
    }

    /// Where it happened.
    pub fn position(&self) -> Position {
        match self {
            ScriptError::Syntax { position, .. }
            | ScriptError::Failed { position, .. }
            | ScriptError::Runtime { position, .. } => *position,
        }
    }

    /// The same error `lines` lines further down: for a shell entry that started on line
    /// `lines + 1` of the input.
    pub fn shifted(mut self, lines: usize) -> Self {
        let shift = |at: &mut Position| {
            if let Some(line) = at.line() {
                let line = u16::try_from(line + lines).unwrap_or(u16::MAX);
                *at = match at.position() {
                    Some(column) => Position::new(line, u16::try_from(column).unwrap_or(u16::MAX)),
                    None => Position::new(line, 0),
                };
            }
        };
        match &mut self {
            ScriptError::Syntax {
                position, unclosed, ..
            } => {
                shift(position);
                if let Some((_, at)) = unclosed {
                    shift(at);
                }
            }
            ScriptError::Failed { position, .. } | ScriptError::Runtime { position, .. } => {
                shift(position)
            }
        }
        self
    }

    /// The error as a person should see it: a headline naming `name:line:column`, the source
    /// line, then the details (expected / received) and the hint.
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
        let mut out = match position.line() {
            Some(_) => format!("error: {headline} at {name}:{}", line_column(position)),
            None => format!("error: {headline} in {name}"),
        };
        if let Some(line) = position.line()
            && let Some(text) = source.lines().nth(line.saturating_sub(1))
        {
            out.push_str(&format!("\n  {line} | {}", text.trim_end()));
        }
        out.push_str(&format!("\n  {self}"));
        out
    }

    /// A syntax error in `source`, placed where the fix goes.
    pub fn from_parse(error: &ParseError, source: &str) -> Self {
        syntax(error.err_type(), error.position(), source)
    }

    /// A runtime error, explained with what the script `known`s.
    pub fn from_eval(error: &EvalAltResult, known: &Known<'_>) -> Self {
        // Report the innermost error: the line inside a script function where it happened.
        let inner = error.unwrap_inner();
        match inner {
            EvalAltResult::ErrorParsing(kind, position) => syntax(kind, *position, ""),
            EvalAltResult::ErrorRuntime(value, position) => match value.read_lock::<Failure>() {
                Some(failure) => ScriptError::Failed {
                    failure: failure.clone(),
                    position: *position,
                },
                None => ScriptError::Runtime {
                    message: format!("uncaught throw: {}", super::convert::show(value)),
                    position: *position,
                    hint: None,
                },
            },
            EvalAltResult::ErrorTerminated(_, position) => ScriptError::Failed {
                failure: Failure::new(FailureKind::Interrupted, "interrupted by Ctrl-C"),
                position: *position,
            },
            EvalAltResult::ErrorFunctionNotFound(signature, position) => {
                let (message, hint) = missing_function(signature, known);
                ScriptError::Runtime {
                    message,
                    position: *position,
                    hint,
                }
            }
            EvalAltResult::ErrorVariableNotFound(name, position) => ScriptError::Runtime {
                message: format!("there is no variable {name}"),
                position: *position,
                hint: missing_variable(name, *position, known),
            },
            other => ScriptError::Runtime {
                message: strip_position(&other.to_string()),
                position: other.position(),
                hint: None,
            },
        }
    }

    /// The name of the script function the error happened in (the innermost one), if any.
    pub fn function_of(error: &EvalAltResult) -> Option<&str> {
        let mut name = None;
        let mut at = error;
        while let EvalAltResult::ErrorInFunctionCall(function, _, inner, _) = at {
            name = Some(function.as_str());
            at = inner;
        }
        name
    }
}

impl From<ParseError> for ScriptError {
    fn from(error: ParseError) -> Self {
        ScriptError::from_parse(&error, "")
    }
}

impl From<Box<EvalAltResult>> for ScriptError {
    fn from(error: Box<EvalAltResult>) -> Self {
        ScriptError::from_eval(&error, &Known::default())
    }
}

/// What the script being run has besides the vocabulary, to explain its errors with.
#[derive(Debug, Default)]
pub struct Known<'a> {
    /// Its own functions: each name with its parameters.
    pub functions: Vec<(String, Vec<String>)>,
    /// Its variables.
    pub variables: Vec<String>,
    /// The source that ran.
    pub source: &'a str,
}

/// Rhai's messages end with ` (line 3, position 5)`; the report shows the place itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(at) if message.ends_with(')') => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

/// Rhai's type names as a script writer knows them.
fn type_name(rhai: &str) -> &str {
    match rhai {
        "&str | ImmutableString | String" | "ImmutableString" | "String" | "&str" => "string",
        "i64" | "i32" => "int",
        "f64" | "f32" => "float",
        other => other,
    }
}

/// "2 or 3 arguments", "no arguments", "0 to 3 arguments".
fn count_arguments(arities: &[usize]) -> String {
    let mut arities = arities.to_vec();
    arities.sort_unstable();
    arities.dedup();
    let word = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match arities.as_slice() {
        [] | [0] => "no arguments".into(),
        [n] => format!("{n} {}", word(*n)),
        [a, b] => format!("{a} or {b} {}", word(*b)),
        [first, .., last] if last - first + 1 == arities.len() => {
            format!("{first} to {last} arguments")
        }
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(usize::to_string).collect();
            format!("{} or {last} arguments", init.join(", "))
        }
    }
}

/// The message and hint for Rhai's `Function not found: push (&str | ImmutableString | String)`:
/// the forms the function has, or the name it is probably a typo of.
fn missing_function(signature: &str, known: &Known<'_>) -> (String, Option<String>) {
    let (name, args) = match signature.split_once(" (") {
        Some((name, args)) => (name, args.strip_suffix(')').unwrap_or(args)),
        None => (signature, ""),
    };
    let mut types: Vec<&str> = if args.is_empty() {
        Vec::new()
    } else {
        args.split(", ").map(type_name).collect()
    };
    let is_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    if !is_name {
        return (
            format!("`{name}` cannot combine ({})", types.join(", ")),
            None,
        );
    }
    if let Some(entry) = super::help::entry(name) {
        let methods = entry.method_forms();
        let (shown, forms) = if types.first() == Some(&"Socket") && !methods.is_empty() {
            types.remove(0);
            (format!("s.{name}"), methods)
        } else {
            (
                name.to_owned(),
                entry.forms.iter().map(|f| (*f).to_owned()).collect(),
            )
        };
        let arities: Vec<usize> = forms
            .iter()
            .map(|f| super::help::parameters(f).len())
            .collect();
        let headline = if arities.contains(&types.len()) {
            format!("{shown} cannot take ({}); it takes", types.join(", "))
        } else {
            format!(
                "{shown} takes {}, not {}",
                count_arguments(&arities),
                types.len()
            )
        };
        let forms: Vec<String> = forms.iter().map(|f| format!("\n    {f}")).collect();
        return (
            format!("{headline}:{}", forms.concat()),
            Some(format!("help(\"{name}\") explains it, with an example")),
        );
    }
    let own: Vec<&(String, Vec<String>)> =
        known.functions.iter().filter(|(n, _)| n == name).collect();
    if !own.is_empty() {
        let arities: Vec<usize> = own.iter().map(|(_, p)| p.len()).collect();
        let forms: Vec<String> = own
            .iter()
            .map(|(n, p)| format!("\n    fn {n}({})", p.join(", ")))
            .collect();
        return (
            format!(
                "{name} takes {}, not {}:{}",
                count_arguments(&arities),
                types.len(),
                forms.concat()
            ),
            None,
        );
    }
    let message = format!("no function matches {name}({})", types.join(", "));
    let candidates = super::help::ENTRIES
        .iter()
        .filter(|e| e.is_function())
        .map(|e| e.name)
        .chain(known.functions.iter().map(|(n, _)| n.as_str()));
    let hint = match super::help::closest(name, candidates) {
        Some(near) => Some(format!("did you mean {near}?")),
        None if matches!(name, "puts" | "inspect" | "println" | "log") => {
            Some("print(…) prints a line".into())
        }
        None => None,
    };
    (message, hint)
}

/// The hint for Rhai's `Variable not found: name`.
fn missing_variable(name: &str, at: Position, known: &Known<'_>) -> Option<String> {
    if let Some(after) = text_at(known.source, at).and_then(|t| t.strip_prefix(name)) {
        let after = after.trim_start();
        let assigns =
            (after.starts_with('=') && !after.starts_with("==") && !after.starts_with("=>"))
                || ["+=", "-=", "*=", "/="]
                    .iter()
                    .any(|op| after.starts_with(op));
        if assigns {
            return Some(format!("declare it first: let {name} = …"));
        }
    }
    match name {
        "IO" | "console" => return Some("print(…) prints a line".into()),
        "null" | "undefined" | "None" => return Some("Rhai's nil is ()".into()),
        _ => {}
    }
    let candidates = known.variables.iter().map(String::as_str).chain(
        super::help::ENTRIES
            .iter()
            .filter(|e| !e.is_function())
            .map(|e| e.name),
    );
    super::help::closest(name, candidates).map(|near| format!("did you mean {near}?"))
}

/// `source` from `at` to the end of its line.
fn text_at(source: &str, at: Position) -> Option<&str> {
    let line = source.lines().nth(at.line()?.checked_sub(1)?)?;
    let column = at.position().unwrap_or(1).saturating_sub(1);
    let start = line
        .char_indices()
        .nth(column)
        .map_or(line.len(), |(i, _)| i);
    Some(&line[start..])
}

/// `source`'s line `at` is on, up to `at` (not included).
fn text_before(source: &str, at: Position) -> Option<&str> {
    let line = source.lines().nth(at.line()?.checked_sub(1)?)?;
    let column = at.position().unwrap_or(1).saturating_sub(1);
    let end = line
        .char_indices()
        .nth(column)
        .map_or(line.len(), |(i, _)| i);
    Some(&line[..end])
}

/// A syntax error placed where the fix goes, with a hint when it looks like an Elixir habit.
fn syntax(kind: &rhai::ParseErrorType, at: Position, source: &str) -> ScriptError {
    use rhai::ParseErrorType as P;
    let message = kind.to_string();
    let missing = matches!(
        kind,
        P::MissingToken(..) | P::MissingSymbol(..) | P::UnexpectedEOF | P::ExprExpected(..)
    );
    let mut position = at;
    // Rhai notices a missing `)`, `;` or `}` at the next token; when that starts a line (or is
    // the end of the source), what is missing is missing from the end of the line before.
    if missing
        && !source.is_empty()
        && text_before(source, at).is_none_or(|before| before.trim().is_empty())
        && let Some(end) = end_of_line_before(source, at)
    {
        position = end;
    }
    let unclosed = if missing && !source.is_empty() {
        unclosed_bracket(source, at)
    } else {
        None
    };
    ScriptError::Syntax {
        hint: habit(kind, &message, at, source),
        message,
        position,
        unclosed,
    }
}

/// The end of the last line with code before `at`'s line.
fn end_of_line_before(source: &str, at: Position) -> Option<Position> {
    let lines: Vec<&str> = source.lines().collect();
    let before = at
        .line()
        .unwrap_or(lines.len() + 1)
        .saturating_sub(1)
        .min(lines.len());
    let (index, text) = lines[..before].iter().enumerate().rev().find(|(_, l)| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("//")
    })?;
    let line = u16::try_from(index + 1).ok()?;
    let column = u16::try_from(text.trim_end().chars().count() + 1).unwrap_or(u16::MAX);
    Some(Position::new(line, column))
}

/// The innermost bracket still open at `until`, skipping strings and comments.
fn unclosed_bracket(source: &str, until: Position) -> Option<(char, Position)> {
    let (stop_line, stop_column) = (
        until.line().unwrap_or(usize::MAX),
        until.position().unwrap_or(0),
    );
    let mut open: Vec<(char, usize, usize)> = Vec::new();
    let (mut line, mut column) = (1usize, 0usize);
    let mut chars = source.chars().peekable();
    let mut quote: Option<char> = None;
    let mut comment: Option<bool> = None; // Some(true): a block comment; Some(false): to the end of the line
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        if (line, column) >= (stop_line, stop_column) {
            break;
        }
        match (comment, quote) {
            (Some(false), _) => {
                if c == '\n' {
                    comment = None;
                }
            }
            (Some(true), _) => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    column += 1;
                    comment = None;
                }
            }
            (None, Some(q)) => {
                if c == '\\' {
                    if chars.next().is_some() {
                        column += 1;
                    }
                } else if c == q || (c == '\n' && q != '`') {
                    quote = None;
                }
            }
            (None, None) => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '/' if chars.peek() == Some(&'/') => comment = Some(false),
                '/' if chars.peek() == Some(&'*') => comment = Some(true),
                '(' | '[' | '{' => open.push((c, line, column)),
                ')' | ']' | '}' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    let (c, line, column) = open.pop()?;
    Some((
        c,
        Position::new(
            u16::try_from(line).ok()?,
            u16::try_from(column).unwrap_or(u16::MAX),
        ),
    ))
}

/// A hint for a syntax error that looks like an Elixir habit.
fn habit(kind: &rhai::ParseErrorType, message: &str, at: Position, source: &str) -> Option<String> {
    use rhai::ParseErrorType as P;
    let here = text_at(source, at).unwrap_or("");
    let before = text_before(source, at).unwrap_or("");
    let line = source
        .lines()
        .nth(at.line().unwrap_or(1).saturating_sub(1))
        .unwrap_or("");
    let word = |w: &str| {
        line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|t| t == w)
    };
    if let P::UnknownOperator(op) = kind
        && op == "|>"
    {
        return Some(
            "Rhai has no pipe: call the functions in turn (let r = push(…); await_reply(r)) \
             or nest them (await_reply(push(…)))"
                .into(),
        );
    }
    if let P::Reserved(word) = kind {
        return match word.as_str() {
            "nil" => Some("Rhai's nil is ()".into()),
            "case" | "cond" => Some("Rhai's case is switch: switch x { 1 => …, _ => … }".into()),
            _ => None,
        };
    }
    let next_is_name = |rest: &str| {
        rest.chars()
            .nth(1)
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    };
    if here.starts_with('_') && !next_is_name(here) {
        return Some(if before.trim_end().ends_with("let") {
            "`_` cannot be a variable; to ignore a value, leave out `let _ =`".into()
        } else {
            "`_` is not a pattern in Rhai: use ANY, e.g. await_message(ANY, \"foo\", ANY)".into()
        });
    }
    if here.starts_with(':') && next_is_name(here) {
        return Some("Rhai has no atoms: write a string, e.g. \"lobby\" for :lobby".into());
    }
    if here.starts_with("%{") || (before.ends_with('%') && here.starts_with('{')) {
        return Some("Rhai's maps are written #{key: value}, not %{…}".into());
    }
    if here.starts_with('>') && before.ends_with('<') {
        return Some("Rhai joins strings with +: \"rooms:\" + id".into());
    }
    if message.contains("'fn'") || (word("fn") && line.contains("->")) {
        return Some(
            "Rhai's anonymous functions are |x| x * 2; named ones are fn double(x) { x * 2 }"
                .into(),
        );
    }
    let first = line.split_whitespace().next().unwrap_or("");
    if first == "def" || first == "defp" {
        return Some("Rhai's functions are fn name(x) { … }".into());
    }
    if word("do") && (message.contains("'{'") || word("end")) {
        return Some("Rhai's blocks are braces: if cond { … } (no do … end)".into());
    }
    None
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
            hint: None,
            unclosed: None,
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
    fn a_hint_is_a_line_under_the_failure() {
        let error = ScriptError::Failed {
            failure: Failure::new(
                FailureKind::Connection,
                "connection refused by 127.0.0.1:4000",
            )
            .with_hint(Some(
                "start one with `slipstream serve`, or use --demo".into(),
            )),
            position: Position::new(1, 1),
        };
        assert_eq!(
            error.report("t.rhai", "await_connect()"),
            "error: connection failed at t.rhai:1:1\n  1 | await_connect()\n  \
             connection refused by 127.0.0.1:4000\n  \
             hint: start one with `slipstream serve`, or use --demo"
        );
        let none = Failure::new(FailureKind::Usage, "x").with_hint(None);
        assert_eq!(none.hint, None);
    }

    #[test]
    fn positions_are_stripped_from_rhai_messages() {
        assert_eq!(
            strip_position("Function not found: f (line 3, position 5)"),
            "Function not found: f"
        );
        assert_eq!(strip_position("plain"), "plain");
    }

    #[test]
    fn shifting_moves_the_error_and_its_open_bracket() {
        let error = ScriptError::Syntax {
            message: "x".into(),
            position: Position::new(2, 8),
            hint: None,
            unclosed: Some(('(', Position::new(2, 6))),
        }
        .shifted(10);
        assert_eq!(error.position(), Position::new(12, 8));
        assert!(
            error
                .to_string()
                .ends_with("hint: the `(` at 12:6 is never closed"),
            "{error}"
        );
    }

    #[test]
    fn argument_counts_read_as_words() {
        assert_eq!(count_arguments(&[0]), "no arguments");
        assert_eq!(count_arguments(&[1]), "1 argument");
        assert_eq!(count_arguments(&[2, 3]), "2 or 3 arguments");
        assert_eq!(count_arguments(&[0, 1, 2, 3]), "0 to 3 arguments");
        assert_eq!(count_arguments(&[0, 2, 4]), "0, 2 or 4 arguments");
    }

    fn compile_error(source: &str) -> ScriptError {
        let engine = rhai::Engine::new();
        let error = engine.compile(source).expect_err("a syntax error");
        ScriptError::from_parse(&error, source)
    }

    #[test]
    fn a_missing_bracket_is_reported_where_it_is_missing() {
        // Rhai notices the missing `)` at the next line's first token (3:1).
        let error = compile_error("print(1);\nprint(2\nprint(3);\n");
        assert_eq!(error.position(), Position::new(2, 8), "{error}");
        assert!(
            error.to_string().contains("the `(` at 2:6 is never closed"),
            "{error}"
        );
        // ...or at the end of the source, after blank lines.
        let error = compile_error("print(1);\nprint(2\n\n\n");
        assert_eq!(error.position(), Position::new(2, 8), "{error}");
        // A `}` missing at the end: the block's `{` is named.
        let error = compile_error("print(1);\nfn f() {\n  print(2);\n\n");
        assert_eq!(error.position(), Position::new(3, 12), "{error}");
        assert!(
            error.to_string().contains("the `{` at 2:8 is never closed"),
            "{error}"
        );
        // A `;` missing at the end of a line.
        let error = compile_error("print(1)\nprint(2)\n");
        assert_eq!(error.position(), Position::new(1, 9), "{error}");
        // An unterminated string: where it starts, as Rhai says.
        let error = compile_error("print(1);\nprint(\"abc);\nprint(3);\n");
        assert_eq!(error.position(), Position::new(2, 7), "{error}");
        // An error in the middle of a line stays where it is.
        let error = compile_error("let x = 1;\nlet y = ;\n");
        assert_eq!(error.position(), Position::new(2, 9), "{error}");
        // Comments and strings do not count as brackets.
        let error = compile_error("// (\nlet s = \"(\";\njoin(\"t\"\n\n");
        assert!(
            error.to_string().contains("the `(` at 3:5 is never closed"),
            "{error}"
        );
    }

    #[test]
    fn elixir_habits_get_a_hint() {
        let hint = |source: &str| {
            let error = compile_error(source);
            match error {
                ScriptError::Syntax { hint, .. } => {
                    hint.unwrap_or_else(|| panic!("no hint for {source}"))
                }
                other => panic!("{other}"),
            }
        };
        assert!(hint("await_message(_, \"foo\", _)").contains("use ANY"));
        assert!(hint("await_message(ANY, \"foo\", #{a: _})").contains("use ANY"));
        assert!(hint("let _ = 3").contains("leave out"));
        assert!(hint("let x = 1 |> print()").contains("no pipe"));
        assert!(hint("join(:lobby)").contains("no atoms"));
        assert!(hint("let m = %{a: 1}").contains("#{key: value}"));
        assert!(hint("if true do print(1) end").contains("braces"));
        assert!(hint("let f = fn x -> x end").contains("|x| x * 2"));
        assert!(hint("let f = fn(x) -> x end").contains("|x| x * 2"));
        assert!(hint("let x = nil;").contains("()"));
        assert!(hint("let a = \"x\" <> \"y\"").contains("with +"));
        assert!(hint("def f(x) do x end").contains("fn name(x)"));
    }
}
