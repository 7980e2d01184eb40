//! Tab completion: function and variable names, and inside a string the topics joined and the
//! events seen so far: received (the live printer records them) or pushed (the shell records
//! the event names its entries push, see [`pushed_events`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rustyline::Helper;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

/// What can be completed; the shell and the live printer keep it up to date.
#[derive(Debug, Default)]
pub struct Words {
    /// Functions and variables.
    pub names: BTreeSet<String>,
    /// Topics joined.
    pub topics: BTreeSet<String>,
    /// Event names seen: received, or pushed.
    pub events: BTreeSet<String>,
}

/// Shared [`Words`].
pub type SharedWords = Arc<Mutex<Words>>;

/// The rustyline helper.
pub struct ShellHelper {
    /// The words to offer.
    pub words: SharedWords,
}

/// The start of the word before `pos` and the candidates for it.
pub fn candidates(words: &Words, line: &str, pos: usize) -> (usize, Vec<String>) {
    let before = line.get(..pos).unwrap_or(line);
    let quotes = before.matches('"').count();
    let (start, pool): (usize, Vec<&String>) = if quotes % 2 == 1 {
        let start = before.rfind('"').map_or(0, |i| i + 1);
        (start, words.topics.iter().chain(&words.events).collect())
    } else {
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        (start, words.names.iter().collect())
    };
    let prefix = &before[start..];
    let mut found: Vec<String> = pool
        .into_iter()
        .filter(|w| w.starts_with(prefix))
        .cloned()
        .collect();
    found.sort();
    found.dedup();
    (start, found)
}

/// The event names `text` pushes as string literals: `"ping"` in `push("rooms:lobby", "ping")`
/// or `s.push(topic, "ping", #{})`. (An event held in a variable is not seen; the ones the
/// server sends are recorded as they arrive.)
pub fn pushed_events(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut events = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut open = i;
                while open < chars.len() && chars[open].is_whitespace() {
                    open += 1;
                }
                if word == "push"
                    && chars.get(open) == Some(&'(')
                    && let Some(event) = arguments(&chars, open + 1)
                        .get(1)
                        .and_then(|a| string_literal(a))
                {
                    events.push(event);
                }
            }
            _ => i += 1,
        }
    }
    events
}

/// The index just after the string that starts at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The arguments of the call whose `(` is just before `from`, as text.
fn arguments(chars: &[char], from: usize) -> Vec<String> {
    let mut args = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let mut i = from;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let end = skip_string(chars, i);
                current.extend(&chars[i..end.min(chars.len())]);
                i = end;
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                args.push(std::mem::take(&mut current));
                return args;
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut current));
                i += 1;
                continue;
            }
            _ => {}
        }
        current.push(c);
        i += 1;
    }
    args
}

/// The text of a plain `"…"` literal (no interpolation), unescaped.
fn string_literal(arg: &str) -> Option<String> {
    let inner = arg.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let words = self.words.lock().unwrap_or_else(|p| p.into_inner());
        Ok(candidates(&words, line, pos))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Words {
        let mut w = Words::default();
        for n in ["await_join", "await_reply", "assert", "join"] {
            w.names.insert(n.into());
        }
        w.topics.insert("rooms:lobby".into());
        w.events.insert("foo".into());
        w.events.insert("presence_diff".into());
        w
    }

    #[test]
    fn completes_names_outside_strings() {
        let line = "let r = await_r";
        assert_eq!(
            candidates(&words(), line, line.len()),
            (8, vec!["await_reply".to_owned()])
        );
        let (_, all) = candidates(&words(), "aw", 2);
        assert_eq!(all, ["await_join", "await_reply"]);
    }

    #[test]
    fn completes_topics_and_events_inside_strings() {
        let line = r#"await_message("ro"#;
        assert_eq!(
            candidates(&words(), line, line.len()),
            (15, vec!["rooms:lobby".to_owned()])
        );
        let line = r#"await_message("rooms:lobby", "p"#;
        assert_eq!(candidates(&words(), line, line.len()).1, ["presence_diff"]);
    }

    #[test]
    fn pushed_event_names_are_read_from_the_entry() {
        assert_eq!(
            pushed_events(r#"let r = push("rooms:lobby", "ping", #{a: [1, 2]}); await_reply(r)"#),
            ["ping"]
        );
        assert_eq!(
            pushed_events(
                "b.push(\"rooms:lobby\", \"push to me\");\npush(t, \"new \\\"msg\\\"\", #{})"
            ),
            ["push to me", "new \"msg\""]
        );
        // Not a socket push, not a literal, in a comment or a string: nothing.
        assert!(pushed_events("let a = []; a.push(1); push(t, e)").is_empty());
        assert!(pushed_events("// push(\"t\", \"x\")\nprint(\"push(t, \\\"y\\\")\")").is_empty());
        assert!(pushed_events("push(\"t\", `x${1}`)").is_empty());
    }
}
