//! The scenario file's text to [`Step`]s, with every mistake named by its line.

use std::time::Duration;

use serde_json::Value;
use slipstream_client::Pattern;

use crate::duration::parse_duration;

/// A parse error: the 1-based line and what is wrong. Prints as `LINE: message`, so a caller
/// that prefixes the file name gives the usual `FILE:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct ParseError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong, and what would be right.
    pub message: String,
}

/// Text with `${…}` variables, filled in for each user when the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `connect [key=value]…`: connects with these extra connect params.
    Connect(Vec<(String, Template)>),
    /// `join TOPIC [JSON]`.
    Join(Template, Option<Template>),
    /// `leave TOPIC`.
    Leave(Template),
    /// `push TOPIC EVENT [JSON] [as NAME]`: without a name, the reply is awaited at once.
    Push {
        /// The topic.
        topic: Template,
        /// The event.
        event: Template,
        /// The payload (`{}` when absent).
        payload: Option<Template>,
        /// The name a later `await_reply` uses; `None` awaits the reply at once.
        name: Option<String>,
    },
    /// `await_reply NAME`.
    AwaitReply(String),
    /// `await_message TOPIC EVENT [PATTERN]` (`_` for any topic, event or value).
    AwaitMessage {
        /// The topic, or `None` for any.
        topic: Option<Template>,
        /// The event, or `None` for any.
        event: Option<Template>,
        /// The payload pattern's text, `_` standing for anything.
        pattern: Option<Template>,
    },
    /// `sleep DURATION` or `sleep MIN..MAX` (uniformly random between).
    Sleep(Duration, Duration),
    /// `repeat N … end`.
    Repeat(u64, Vec<Step>),
    /// `loop … end`: once per iteration until the run stops (or `--iterations` are done), with
    /// `--think` after each pass.
    Loop(Vec<Step>),
    /// `choose … or … end`: one branch, at random.
    Choose(Vec<Vec<Step>>),
    /// `disconnect`.
    Disconnect,
}

/// The steps every line may start with, for "did you mean".
const WORDS: &[&str] = &[
    "connect",
    "join",
    "leave",
    "push",
    "await_reply",
    "await_message",
    "sleep",
    "repeat",
    "loop",
    "choose",
    "or",
    "end",
    "disconnect",
];

/// The variables a template may use.
pub const VARIABLES: &[&str] = &["user", "i", "iteration"];

/// Parses a whole file.
pub fn parse(source: &str) -> Result<Vec<Step>, ParseError> {
    let mut parser = Parser {
        lines: source
            .lines()
            .enumerate()
            .map(|(n, text)| (n + 1, strip_comment(text).trim()))
            .filter(|(_, text)| !text.is_empty())
            .collect(),
        at: 0,
    };
    let (steps, closer) = parser.block(None)?;
    if let Some((line, word)) = closer {
        return Err(ParseError {
            line,
            message: format!("`{word}` without a block to close (repeat, loop or choose)"),
        });
    }
    if steps.is_empty() {
        return Err(ParseError {
            line: 1,
            message: "the scenario has no steps".into(),
        });
    }
    Ok(steps)
}

/// The text before a `#` that is not inside a JSON string.
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

struct Parser<'a> {
    lines: Vec<(usize, &'a str)>,
    at: usize,
}

type Closer = Option<(usize, &'static str)>;

impl Parser<'_> {
    /// Steps up to the `end` (or `or`) that closes the block opened on `opened` (`None` for
    /// the top level); returns the closing word.
    fn block(&mut self, opened: Option<(usize, &str)>) -> Result<(Vec<Step>, Closer), ParseError> {
        let mut steps = Vec::new();
        while self.at < self.lines.len() {
            let (line, text) = self.lines[self.at];
            self.at += 1;
            let (word, rest) = split_word(text);
            match word {
                "end" | "or" if opened.is_some() => {
                    expect_nothing(line, word, rest)?;
                    let word = if word == "end" { "end" } else { "or" };
                    return Ok((steps, Some((line, word))));
                }
                "end" | "or" => {
                    return Ok((
                        steps,
                        Some((line, if word == "end" { "end" } else { "or" })),
                    ));
                }
                _ => steps.push(self.step(line, word, rest)?),
            }
        }
        match opened {
            Some((line, word)) => Err(never_closed(line, word)),
            None => Ok((steps, None)),
        }
    }

    fn body(&mut self, line: usize, word: &str) -> Result<Vec<Step>, ParseError> {
        match self.block(Some((line, word)))? {
            (steps, Some((_, "end"))) => non_empty(line, word, steps),
            (_, Some((or_line, _))) => Err(ParseError {
                line: or_line,
                message: format!("`or` belongs in a `choose` block, not in `{word}`"),
            }),
            (_, None) => Err(never_closed(line, word)),
        }
    }

    fn step(&mut self, line: usize, word: &str, rest: &str) -> Result<Step, ParseError> {
        let err = |message: String| ParseError { line, message };
        match word {
            "connect" => {
                let mut params = Vec::new();
                for pair in rest.split_whitespace() {
                    let (key, value) = pair.split_once('=').ok_or_else(|| {
                        err(format!("connect params are key=value, not {pair:?}"))
                    })?;
                    params.push((key.to_owned(), template(line, value)?));
                }
                Ok(Step::Connect(params))
            }
            "join" => {
                let (topic, json) = split_word(rest);
                if topic.is_empty() {
                    return Err(err("join needs a topic: join TOPIC [JSON]".into()));
                }
                Ok(Step::Join(
                    template(line, topic)?,
                    json_arg(line, json, false)?,
                ))
            }
            "leave" => {
                let (topic, more) = split_word(rest);
                if topic.is_empty() {
                    return Err(err("leave needs a topic: leave TOPIC".into()));
                }
                expect_nothing(line, "leave TOPIC", more)?;
                Ok(Step::Leave(template(line, topic)?))
            }
            "push" => {
                let (topic, rest) = split_word(rest);
                let (event, rest) = split_word(rest);
                if event.is_empty() {
                    return Err(err(
                        "push needs a topic and an event: push TOPIC EVENT [JSON] [as NAME]".into(),
                    ));
                }
                let (json, name) = match rest.rsplit_once(" as ") {
                    Some((json, name)) if is_name(name.trim()) => {
                        (json, Some(name.trim().to_owned()))
                    }
                    _ if rest.starts_with("as ") && is_name(rest[3..].trim()) => {
                        ("", Some(rest[3..].trim().to_owned()))
                    }
                    _ => (rest, None),
                };
                Ok(Step::Push {
                    topic: template(line, topic)?,
                    event: template(line, event)?,
                    payload: json_arg(line, json, false)?,
                    name,
                })
            }
            "await_reply" => {
                let (name, more) = split_word(rest);
                if !is_name(name) {
                    return Err(err("await_reply needs the name of a push: push … as NAME, then await_reply NAME".into()));
                }
                expect_nothing(line, "await_reply NAME", more)?;
                Ok(Step::AwaitReply(name.to_owned()))
            }
            "await_message" => {
                let (topic, rest) = split_word(rest);
                let (event, rest) = split_word(rest);
                if event.is_empty() {
                    return Err(err("await_message needs a topic and an event (_ for any): await_message TOPIC EVENT [PATTERN]".into()));
                }
                let any = |t: &str| -> Result<Option<Template>, ParseError> {
                    if t == "_" {
                        Ok(None)
                    } else {
                        template(line, t).map(Some)
                    }
                };
                Ok(Step::AwaitMessage {
                    topic: any(topic)?,
                    event: any(event)?,
                    pattern: json_arg(line, rest, true)?,
                })
            }
            "sleep" => {
                let (arg, more) = split_word(rest);
                expect_nothing(line, "sleep DURATION", more)?;
                let parse = |t: &str| parse_duration(t).map_err(|e| err(e.to_string()));
                match arg.split_once("..") {
                    Some((min, max)) => {
                        let (min, max) = (parse(min)?, parse(max)?);
                        if min > max {
                            return Err(err(format!(
                                "sleep {arg}: the first duration must not be the longer"
                            )));
                        }
                        Ok(Step::Sleep(min, max))
                    }
                    None => {
                        let d = parse(arg)?;
                        Ok(Step::Sleep(d, d))
                    }
                }
            }
            "repeat" => {
                let (count, more) = split_word(rest);
                expect_nothing(line, "repeat N", more)?;
                let n = count.parse().map_err(|_| {
                    err(format!(
                        "repeat needs a whole number of times, not {count:?}"
                    ))
                })?;
                Ok(Step::Repeat(n, self.body(line, "repeat")?))
            }
            "loop" => {
                expect_nothing(line, "loop", rest)?;
                Ok(Step::Loop(self.body(line, "loop")?))
            }
            "choose" => {
                expect_nothing(line, "choose", rest)?;
                let mut branches = Vec::new();
                loop {
                    match self.block(Some((line, "choose")))? {
                        (steps, Some((closer_line, word))) => {
                            branches.push(non_empty(closer_line, "choose branch", steps)?);
                            if word == "end" {
                                break;
                            }
                        }
                        (_, None) => return Err(never_closed(line, "choose")),
                    }
                }
                Ok(Step::Choose(branches))
            }
            "disconnect" => {
                expect_nothing(line, "disconnect", rest)?;
                Ok(Step::Disconnect)
            }
            other => {
                let hint = closest(other)
                    .map(|w| format!("; did you mean `{w}`?"))
                    .unwrap_or_default();
                Err(err(format!(
                    "unknown step `{other}`{hint} (steps: {})",
                    WORDS.join(", ")
                )))
            }
        }
    }
}

fn never_closed(line: usize, word: &str) -> ParseError {
    ParseError {
        line,
        message: format!("`{word}` is never closed: add `end` after its steps"),
    }
}

fn non_empty(line: usize, what: &str, steps: Vec<Step>) -> Result<Vec<Step>, ParseError> {
    if steps.is_empty() {
        return Err(ParseError {
            line,
            message: format!("`{what}` has no steps"),
        });
    }
    Ok(steps)
}

/// The first word and the rest; a word in double quotes may hold spaces (`"push to me"`), and
/// is returned without them.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    if let Some(quoted) = text.strip_prefix('"')
        && let Some(end) = quoted.find('"')
    {
        return (&quoted[..end], quoted[end + 1..].trim_start());
    }
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

fn expect_nothing(line: usize, form: &str, rest: &str) -> Result<(), ParseError> {
    if rest.trim().is_empty() {
        Ok(())
    } else {
        Err(ParseError {
            line,
            message: format!("unexpected {:?} after `{form}`", rest.trim()),
        })
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit())
}

/// Checks the `${…}` variables of a template.
fn template(line: usize, text: &str) -> Result<Template, ParseError> {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| ParseError {
            line,
            message: format!("`${{` without its `}}` in {text:?}"),
        })?;
        let name = &after[..end];
        let known = VARIABLES.contains(&name)
            || name
                .strip_prefix("rand:")
                .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0));
        if !known {
            return Err(ParseError {
                line,
                message: format!(
                    "unknown variable ${{{name}}} (variables: ${{user}}, ${{i}}, ${{iteration}}, ${{rand:N}})"
                ),
            });
        }
        rest = &after[end + 1..];
    }
    Ok(Template(text.to_owned()))
}

/// The marker `_` becomes in a pattern's JSON (a string no payload has).
pub const ANY_MARKER: &str = "\u{0}slipstream-any\u{0}";

/// `_` outside strings replaced by [`ANY_MARKER`] as a JSON string.
pub fn mark_any(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '_' if !in_string => {
                out.push_str(&serde_json::to_string(ANY_MARKER).unwrap_or_default());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// JSON (or, for a pattern, JSON with `_`) as a template, checked with every variable set to 0.
fn json_arg(line: usize, text: &str, pattern: bool) -> Result<Option<Template>, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let template = template(line, text)?;
    let mut probe = fill_probe(text);
    if pattern {
        probe = mark_any(&probe);
    }
    serde_json::from_str::<Value>(&probe).map_err(|e| ParseError {
        line,
        message: format!("{} is not valid JSON: {e}", text),
    })?;
    Ok(Some(template))
}

/// Every `${…}` replaced by `0`, to check the JSON around it.
fn fill_probe(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('0');
        rest = rest[start..]
            .find('}')
            .map_or("", |end| &rest[start + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// A JSON value with [`ANY_MARKER`] strings as a [`Pattern`] with `Any` there.
pub fn to_pattern(value: Value) -> Pattern {
    match value {
        Value::String(s) if s == ANY_MARKER => Pattern::Any,
        Value::Object(map) => {
            Pattern::Object(map.into_iter().map(|(k, v)| (k, to_pattern(v))).collect())
        }
        Value::Array(items) => Pattern::Array(items.into_iter().map(to_pattern).collect()),
        other => Pattern::Exact(other),
    }
}

/// The known step closest to a misspelt one (at most 2 edits away).
fn closest(word: &str) -> Option<&'static str> {
    WORDS
        .iter()
        .map(|w| (edit_distance(word, w), *w))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, w)| w)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_parses_into_nested_steps() {
        let steps = parse(
            "# chat\nconnect token=abc\njoin rooms:lobby {\"user\": \"${user}\"}\nloop\n  push rooms:lobby ping {\"n\": ${i}} as r\n  await_reply r\n  choose\n    sleep 10ms..20ms\n  or\n    await_message rooms:lobby _ {\"a\": _}  # any event\n  end\nend\n",
        )
        .unwrap();
        assert_eq!(steps.len(), 3);
        let Step::Loop(body) = &steps[2] else {
            panic!("{steps:?}")
        };
        assert_eq!(body.len(), 3);
        assert!(matches!(&body[0], Step::Push { name: Some(n), .. } if n == "r"));
        let Step::Choose(branches) = &body[2] else {
            panic!("{body:?}")
        };
        assert_eq!(branches.len(), 2);
        assert!(matches!(
            &branches[1][0],
            Step::AwaitMessage {
                event: None,
                pattern: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn mistakes_name_their_line() {
        let err = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(
            err("connect\njoin bench:a\npusj bench:a ping\n"),
            "3: unknown step `pusj`; did you mean `push`? (steps: connect, join, leave, push, await_reply, await_message, sleep, repeat, loop, choose, or, end, disconnect)"
        );
        assert!(err("connect\nloop\n  sleep 1s\n").starts_with("2: `loop` is never closed"));
        assert!(err("connect\nend\n").starts_with("2: `end` without a block"));
        assert!(err("join rooms:lobby {\"a\":\n").starts_with("1: {\"a\": is not valid JSON"));
        assert!(err("sleep 10\n").contains("a unit is missing"));
        assert!(err("push t e {\"n\": ${who}}\n").starts_with("1: unknown variable ${who}"));
        assert!(err("repeat 3\nor\nend\n").starts_with("2: `or` belongs in a `choose`"));
        assert!(err("\n# nothing\n").contains("no steps"));
    }

    #[test]
    fn quoted_words_may_hold_spaces() {
        let steps =
            parse("push rooms:lobby \"push to me\" {}\nawait_message \"rooms:lobby\" foo").unwrap();
        assert!(matches!(&steps[0], Step::Push { event, .. } if event.0 == "push to me"));
        assert!(
            matches!(&steps[1], Step::AwaitMessage { topic: Some(t), .. } if t.0 == "rooms:lobby")
        );
    }

    #[test]
    fn odd_input_is_an_error_never_a_panic() {
        for source in [
            "push",
            "push t",
            "await_message",
            "await_message t",
            "choose\nor\nend",
            "choose\n  sleep 1s\nor\n",
            "repeat 99999999999999999999999\nsleep 1s\nend",
            "join t ${",
            "join t {\"a\": \"${user\"}",
            "connect a",
            "sleep 2s..1s",
            "await_reply 9x",
            "end\nend",
            "or",
            "loop extra\nend",
            "sleep",
            "push t e {\"#\": 1} # a comment after JSON with a hash in a string",
            "\u{0}\u{1}",
            "join \u{e9}t\u{e9} [1,2,",
            "await_message _ _ _ _",
            "push t \"unterminated",
            "push \"\" \"\"",
        ] {
            let _ = parse(source);
        }
        // The one valid line above parses, its hash inside the JSON string kept.
        let steps = parse("push t e {\"#\": 1} # a comment").unwrap();
        assert!(matches!(&steps[0], Step::Push { payload: Some(p), .. } if p.0 == "{\"#\": 1}"));
    }

    #[test]
    fn underscores_in_patterns_match_anything() {
        let value: Value =
            serde_json::from_str(&mark_any(r#"{"a": _, "b": "_x", "c": [1, _]}"#)).unwrap();
        let pattern = to_pattern(value);
        assert!(
            pattern.matches_value(&serde_json::json!({"a": {"deep": 1}, "b": "_x", "c": [1, "z"]}))
        );
        assert!(!pattern.matches_value(&serde_json::json!({"a": 1, "b": "y", "c": [1, 2]})));
    }
}
