//! Tab completion: function and variable names, and inside a string the topics joined and the
//! events seen so far.

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
    /// Event names seen.
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
}
