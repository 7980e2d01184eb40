//! The vocabulary, once: what `help()` and `help("push")` print, the signatures an arity or
//! type error shows, the names the shell completes and "did you mean …?" draws on.
//!
//! [`ENTRIES`] is the only list. A test (`every_registered_function_has_an_entry`) reads the
//! registrations in `engine.rs` and `socket.rs` and fails when a function scripts can call has
//! no entry here; another calls every form listed here on a real engine and fails when the
//! engine has no such function. So the help cannot go stale.

/// The groups `help()` shows, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Sockets: connect, disconnect.
    Connecting,
    /// Topics: join, leave.
    Joining,
    /// Pushes and their replies.
    Pushing,
    /// What the server sends: the mailbox and its awaits.
    Awaiting,
    /// What `await_message` matches with.
    Patterns,
    /// Everything else: time, checks, JSON, Rhai's own most used functions, help.
    Utilities,
}

impl Group {
    const ALL: [Group; 6] = [
        Group::Connecting,
        Group::Joining,
        Group::Pushing,
        Group::Awaiting,
        Group::Patterns,
        Group::Utilities,
    ];

    fn title(self) -> &'static str {
        match self {
            Group::Connecting => "Connecting",
            Group::Joining => "Joining topics",
            Group::Pushing => "Pushing",
            Group::Awaiting => "Awaiting what the server sends",
            Group::Patterns => "Patterns (for await_message)",
            Group::Utilities => "Utilities",
        }
    }
}

/// Which forms also exist as a method of a `Socket` (`b.join("rooms:lobby")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methods {
    /// None: a plain function only.
    None,
    /// Every form.
    All,
    /// The first `n` forms.
    First(usize),
}

/// One name of the vocabulary.
#[derive(Debug)]
pub struct Entry {
    /// The name scripts use.
    pub name: &'static str,
    /// Where `help()` lists it.
    pub group: Group,
    /// Its forms with their parameters' types, fewest parameters first:
    /// `push(topic: string, event: string)`. A constant has its bare name.
    pub forms: &'static [&'static str],
    /// What it returns, when it returns something worth naming.
    pub returns: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// A line to paste into the shell.
    pub example: &'static str,
    /// Which forms are also methods of a socket.
    pub methods: Methods,
}

impl Entry {
    /// Whether scripts call it (a function), rather than read it (a constant).
    pub fn is_function(&self) -> bool {
        self.forms.iter().all(|f| f.contains('('))
    }

    /// The forms as a socket's methods: `s.push(topic: string, event: string)`.
    pub fn method_forms(&self) -> Vec<String> {
        let n = match self.methods {
            Methods::None => 0,
            Methods::All => self.forms.len(),
            Methods::First(n) => n,
        };
        self.forms[..n].iter().map(|f| format!("s.{f}")).collect()
    }

    /// The forms in one short line, without types: `push(topic, event[, payload])`.
    pub fn synopsis(&self) -> String {
        synopsis(self.name, self.forms)
    }

    /// What `help("name")` prints.
    pub fn render(&self) -> String {
        let returns = if self.returns.is_empty() {
            String::new()
        } else {
            format!(" -> {}", self.returns)
        };
        let mut out: Vec<String> = self.forms.iter().map(|f| format!("{f}{returns}")).collect();
        out.push(format!("  {}", self.summary));
        let n = match self.methods {
            Methods::None => 0,
            Methods::All => self.forms.len(),
            Methods::First(n) => n,
        };
        if n > 0 {
            out.push(format!(
                "  also a method of a socket from socket(): s.{}",
                synopsis(self.name, &self.forms[..n])
            ));
        }
        out.push(format!("  example: {}", self.example));
        out.join("\n")
    }
}

/// `forms` in one short line, without types: `push(topic, event[, payload])`.
fn synopsis(name: &str, forms: &[&str]) -> String {
    if !forms.iter().all(|f| f.contains('(')) {
        return name.to_owned();
    }
    let params: Vec<Vec<&str>> = forms
        .iter()
        .map(|f| parameters(f).iter().map(|(name, _)| *name).collect())
        .collect();
    // Forms that each add one parameter to the one before: optional trailing parameters.
    let chain = params
        .windows(2)
        .all(|w| w[1].len() == w[0].len() + 1 && w[1][..w[0].len()] == w[0][..]);
    if !chain {
        let shorts: Vec<String> = params
            .iter()
            .map(|p| format!("{name}({})", p.join(", ")))
            .collect();
        return shorts.join(", ");
    }
    let mut text = params[0].join(", ");
    let mut closing = String::new();
    for (i, p) in params.iter().enumerate().skip(1) {
        text.push_str(if i == 1 && params[0].is_empty() {
            "["
        } else {
            "[, "
        });
        text.push_str(p[p.len() - 1]);
        closing.push(']');
    }
    format!("{name}({text}{closing})")
}

/// The parameters of a form: `(name, type)` pairs.
pub fn parameters(form: &str) -> Vec<(&str, &str)> {
    let Some(open) = form.find('(') else {
        return Vec::new();
    };
    let inner = form[open + 1..].trim_end_matches(')');
    inner
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(": ") {
            Some((name, ty)) => (name, ty),
            None => (p, "value"),
        })
        .collect()
}

/// The whole vocabulary.
pub const ENTRIES: &[Entry] = &[
    // Connecting
    Entry {
        name: "connect",
        group: Group::Connecting,
        forms: &["connect()", "connect(url: string)"],
        returns: "",
        summary: "opens the default socket (to the shell's URL, or url); returns at once",
        example: "connect(); await_connect();",
        methods: Methods::First(1),
    },
    Entry {
        name: "await_connect",
        group: Group::Connecting,
        forms: &["await_connect()"],
        returns: "",
        summary: "waits until connected, or fails saying why (refused, wrong path…)",
        example: "connect(); await_connect();",
        methods: Methods::All,
    },
    Entry {
        name: "socket",
        group: Group::Connecting,
        forms: &["socket()", "socket(url: string)"],
        returns: "Socket",
        summary: "a further socket, not connected; every socket function is its method",
        example: "let b = socket(); b.connect(); b.await_connect();",
        methods: Methods::None,
    },
    Entry {
        name: "disconnect",
        group: Group::Connecting,
        forms: &["disconnect()"],
        returns: "",
        summary: "closes the socket; returns at once",
        example: "disconnect(); await_disconnect()",
        methods: Methods::All,
    },
    Entry {
        name: "await_disconnect",
        group: Group::Connecting,
        forms: &["await_disconnect()"],
        returns: "map",
        summary: "waits until disconnected; returns why: #{type, reason, code}",
        example: "disconnect(); await_disconnect().reason",
        methods: Methods::All,
    },
    Entry {
        name: "is_connected",
        group: Group::Connecting,
        forms: &["is_connected()"],
        returns: "bool",
        summary: "whether the socket is connected now",
        example: "is_connected()",
        methods: Methods::All,
    },
    // Joining
    Entry {
        name: "join",
        group: Group::Joining,
        forms: &["join(topic: string)", "join(topic: string, params: map)"],
        returns: "",
        summary: "asks to join topic (with the join params); returns at once",
        example: "join(\"rooms:lobby\", #{fizz: \"buzz\"}); await_join(\"rooms:lobby\")",
        methods: Methods::All,
    },
    Entry {
        name: "await_join",
        group: Group::Joining,
        forms: &["await_join(topic: string)"],
        returns: "map",
        summary: "waits for the join: the server's response, or fails if it refused",
        example: "join(\"rooms:lobby\"); await_join(\"rooms:lobby\")",
        methods: Methods::All,
    },
    Entry {
        name: "leave",
        group: Group::Joining,
        forms: &["leave(topic: string)"],
        returns: "",
        summary: "asks to leave topic; returns at once",
        example: "leave(\"rooms:lobby\"); await_leave(\"rooms:lobby\")",
        methods: Methods::All,
    },
    Entry {
        name: "await_leave",
        group: Group::Joining,
        forms: &["await_leave(topic: string)"],
        returns: "",
        summary: "waits until topic is left",
        example: "leave(\"rooms:lobby\"); await_leave(\"rooms:lobby\")",
        methods: Methods::All,
    },
    Entry {
        name: "is_joined",
        group: Group::Joining,
        forms: &["is_joined(topic: string)"],
        returns: "bool",
        summary: "whether topic is joined now",
        example: "is_joined(\"rooms:lobby\")",
        methods: Methods::All,
    },
    // Pushing
    Entry {
        name: "push",
        group: Group::Pushing,
        forms: &[
            "push(topic: string, event: string)",
            "push(topic: string, event: string, payload: map | blob)",
        ],
        returns: "ref (a string)",
        summary: "sends event (a map or blob payload) to a joined topic; returns its ref",
        example: "let r = push(\"rooms:lobby\", \"ping\", #{}); await_reply(r)",
        methods: Methods::All,
    },
    Entry {
        name: "await_reply",
        group: Group::Pushing,
        forms: &["await_reply(ref: string)"],
        returns: "#{status, response}",
        summary: "waits for the reply to the push with that ref",
        example: "await_reply(push(\"rooms:lobby\", \"ping\")).status",
        methods: Methods::All,
    },
    // Awaiting
    Entry {
        name: "await_message",
        group: Group::Awaiting,
        forms: &[
            "await_message()",
            "await_message(topic: pattern)",
            "await_message(topic: pattern, event: pattern)",
            "await_message(topic: pattern, event: pattern, payload: pattern)",
        ],
        returns: "#{topic, event, payload}",
        summary: "waits for a matching server push and takes it; maps match partially",
        example: "push(\"rooms:lobby\", \"push to me\"); await_message(\"rooms:lobby\", \"foo\", #{bar: \"baz\"})",
        methods: Methods::All,
    },
    Entry {
        name: "await_event",
        group: Group::Awaiting,
        forms: &["await_event()"],
        returns: "map",
        summary: "waits for the next event of any kind and takes it",
        example: "await_event().type",
        methods: Methods::All,
    },
    Entry {
        name: "flush",
        group: Group::Awaiting,
        forms: &["flush()"],
        returns: "array",
        summary: "takes every waiting event (each a map with a type); does not wait",
        example: "flush()",
        methods: Methods::All,
    },
    Entry {
        name: "dropped",
        group: Group::Awaiting,
        forms: &["dropped()"],
        returns: "int",
        summary: "how many server pushes a full mailbox dropped",
        example: "dropped()",
        methods: Methods::All,
    },
    Entry {
        name: "set_timeout",
        group: Group::Awaiting,
        forms: &["set_timeout(ms: int)"],
        returns: "",
        summary: "how long each await waits from now on, in ms (default 5000)",
        example: "set_timeout(500); await_message(ANY, \"never\")",
        methods: Methods::None,
    },
    Entry {
        name: "timeout",
        group: Group::Awaiting,
        forms: &["timeout()"],
        returns: "int",
        summary: "the await timeout, in ms",
        example: "timeout()",
        methods: Methods::None,
    },
    // Patterns
    Entry {
        name: "ANY",
        group: Group::Patterns,
        forms: &["ANY"],
        returns: "",
        summary: "the wildcard (Elixir's _): any topic, event, payload or map value",
        example: "await_message(ANY, \"foo\", #{bar: ANY})",
        methods: Methods::None,
    },
    Entry {
        name: "prefix",
        group: Group::Patterns,
        forms: &["prefix(text: string)"],
        returns: "a topic pattern",
        summary: "every topic that starts with text (Elixir's \"rooms:\" <> _)",
        example: "await_message(prefix(\"rooms:\"), \"foo\")",
        methods: Methods::None,
    },
    // Utilities
    Entry {
        name: "sleep",
        group: Group::Utilities,
        forms: &["sleep(ms: int)"],
        returns: "",
        summary: "waits ms milliseconds (Ctrl-C stops it)",
        example: "sleep(300); flush()",
        methods: Methods::None,
    },
    Entry {
        name: "assert",
        group: Group::Utilities,
        forms: &["assert(cond: bool)", "assert(cond: bool, message: string)"],
        returns: "",
        summary: "fails unless cond is true (exit 1 in run)",
        example: "assert(is_joined(\"rooms:lobby\"), \"still joined\")",
        methods: Methods::None,
    },
    Entry {
        name: "assert_eq",
        group: Group::Utilities,
        forms: &[
            "assert_eq(actual: value, expected: value)",
            "assert_eq(actual: value, expected: value, message: string)",
        ],
        returns: "",
        summary: "fails unless the two are equal (maps by content), showing both",
        example: "assert_eq(await_reply(push(\"rooms:lobby\", \"ping\")).status, \"ok\")",
        methods: Methods::None,
    },
    Entry {
        name: "to_json",
        group: Group::Utilities,
        forms: &["to_json(value: value)"],
        returns: "string",
        summary: "the value as JSON text",
        example: "to_json(#{a: [1, 2]})",
        methods: Methods::None,
    },
    Entry {
        name: "from_json",
        group: Group::Utilities,
        forms: &["from_json(text: string)"],
        returns: "value",
        summary: "the value of a JSON text (objects become maps)",
        example: "from_json(\"{\\\"a\\\": 1}\").a",
        methods: Methods::None,
    },
    Entry {
        name: "blob",
        group: Group::Utilities,
        forms: &["blob()", "blob(len: int)"],
        returns: "blob",
        summary: "bytes, for a binary payload",
        example: "let b = blob(); b.push(1); push(\"rooms:lobby\", \"binary\", b)",
        methods: Methods::None,
    },
    Entry {
        name: "print",
        group: Group::Utilities,
        forms: &["print(value: value)"],
        returns: "",
        summary: "prints a line (maps and arrays as JSON)",
        example: "print(`joined: ${is_joined(\"rooms:lobby\")}`)",
        methods: Methods::None,
    },
    Entry {
        name: "debug",
        group: Group::Utilities,
        forms: &["debug(value: value)"],
        returns: "",
        summary: "logs a value (shown with RUST_LOG=script=info)",
        example: "debug(flush())",
        methods: Methods::None,
    },
    Entry {
        name: "type_of",
        group: Group::Utilities,
        forms: &["type_of(value: value)"],
        returns: "string",
        summary: "the name of a value's type",
        example: "type_of(await_reply(push(\"rooms:lobby\", \"ping\")))",
        methods: Methods::None,
    },
    Entry {
        name: "len",
        group: Group::Utilities,
        forms: &["len(value: string | array | map | blob)"],
        returns: "int",
        summary: "the length of a string, array, map or blob",
        example: "len(flush())",
        methods: Methods::None,
    },
    Entry {
        name: "keys",
        group: Group::Utilities,
        forms: &["keys(map: map)"],
        returns: "array",
        summary: "a map's keys",
        example: "keys(await_join(\"rooms:lobby\"))",
        methods: Methods::None,
    },
    Entry {
        name: "values",
        group: Group::Utilities,
        forms: &["values(map: map)"],
        returns: "array",
        summary: "a map's values",
        example: "values(#{a: 1})",
        methods: Methods::None,
    },
    Entry {
        name: "help",
        group: Group::Utilities,
        forms: &["help()", "help(name: string)"],
        returns: "",
        summary: "this list, or one name explained, with an example",
        example: "help(\"push\")",
        methods: Methods::None,
    },
];

/// The entry for `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name)
}

/// Every name of the vocabulary, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ENTRIES.iter().map(|e| e.name).collect();
    names.sort_unstable();
    names
}

/// What `help()` prints.
pub fn overview() -> String {
    let width = ENTRIES
        .iter()
        .map(|e| e.synopsis().chars().count())
        .filter(|w| *w <= 32)
        .max()
        .unwrap_or(0);
    let mut out =
        vec!["The vocabulary (help(\"push\") explains one name, with an example):".to_owned()];
    for group in Group::ALL {
        out.push(String::new());
        out.push(group.title().to_owned());
        for e in ENTRIES.iter().filter(|e| e.group == group) {
            out.push(format!("  {:<width$}  {}", e.synopsis(), e.summary));
        }
    }
    out.push(String::new());
    out.push(
        "Every socket function is also a method of a socket from socket(url): b.join(\"rooms:lobby\")."
            .to_owned(),
    );
    out.push("Rhai, the language: https://rhai.rs/book".to_owned());
    out.join("\n")
}

/// The lower-case edit distance of two names (a swap of two neighbours counts as one edit).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidate nearest to `name`, if one is near enough to be a typo of it (and is not it).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = match name.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;
    use crate::script::{Session, SessionOptions};

    /// The names registered with `register_fn("name"` or `on_default!("name"` in a source file.
    fn registered(source: &str) -> Vec<String> {
        let mut names = Vec::new();
        for marker in ["register_fn(", "on_default!("] {
            for (at, _) in source.match_indices(marker) {
                let rest = source[at + marker.len()..].trim_start();
                if let Some(rest) = rest.strip_prefix('"')
                    && let Some(end) = rest.find('"')
                {
                    names.push(rest[..end].to_owned());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Conversions Rhai calls itself when it prints a value: not vocabulary.
    const NOT_VOCABULARY: &[&str] = &["to_string", "to_debug"];

    #[test]
    fn every_registered_function_has_an_entry() {
        let mut found = registered(include_str!("engine.rs"));
        found.extend(registered(include_str!("socket.rs")));
        assert!(
            found.iter().any(|n| n == "push") && found.iter().any(|n| n == "sleep"),
            "the scan finds the registrations: {found:?}"
        );
        let missing: Vec<&String> = found
            .iter()
            .filter(|n| !NOT_VOCABULARY.contains(&n.as_str()) && entry(n).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "registered but not in help.rs's ENTRIES (add an entry): {missing:?}"
        );
    }

    /// A value of a parameter's type, as script text.
    fn sample(ty: &str) -> &'static str {
        match ty.split(" | ").next().unwrap_or(ty) {
            "string" => "\"rooms:lobby\"",
            "int" => "1",
            "bool" => "true",
            "map" => "#{}",
            "pattern" => "ANY",
            _ => "\"x\"",
        }
    }

    fn session() -> Session {
        Session::new(SessionOptions {
            url: "ws://127.0.0.1:9/socket/websocket".into(),
            timeout: Duration::from_millis(1),
            cancel: Arc::new(AtomicBool::new(false)),
            print: Box::new(|_| {}),
            on_socket: None,
            on_join: None,
            mailbox_capacity: 10,
            transport: slipstream_client::Transport::WebSocket,
        })
    }

    fn call(form: &str) -> String {
        let (name, receiver) = match form.strip_prefix("s.") {
            Some(rest) => (rest, "socket()."),
            None => (form, ""),
        };
        let name = &name[..name.find('(').unwrap_or(name.len())];
        if !form.contains('(') {
            return name.to_owned();
        }
        let args: Vec<&str> = parameters(form).iter().map(|(_, ty)| sample(ty)).collect();
        format!("{receiver}{name}({})", args.join(", "))
    }

    #[test]
    fn every_form_in_the_help_exists_on_the_engine() {
        for e in ENTRIES {
            let forms = e
                .forms
                .iter()
                .map(|f| (*f).to_owned())
                .chain(e.method_forms());
            for form in forms {
                let text = call(&form);
                let session = session();
                if let Err(error) = session.engine.run(&text)
                    && let rhai::EvalAltResult::ErrorFunctionNotFound(signature, _) =
                        error.unwrap_inner()
                {
                    panic!("help lists {form}, but the engine has no {signature} (ran `{text}`)");
                }
            }
        }
    }

    #[test]
    fn the_overview_lists_every_name_in_its_group() {
        let text = overview();
        for e in ENTRIES {
            assert!(
                text.contains(&e.synopsis()),
                "{} missing from\n{text}",
                e.name
            );
        }
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in\n{text}"));
        assert!(at("Connecting") < at("connect([url])"));
        assert!(at("connect([url])") < at("Joining topics"));
        assert!(at("Patterns") < at("prefix(text)"));
        assert!(
            text.contains("await_message([topic[, event[, payload]]])"),
            "{text}"
        );
        assert!(text.contains("push(topic, event[, payload])"), "{text}");
    }

    #[test]
    fn one_entry_shows_forms_meaning_and_an_example() {
        let text = entry("push").unwrap().render();
        assert!(
            text.starts_with("push(topic: string, event: string) -> ref"),
            "{text}"
        );
        assert!(
            text.contains("push(topic: string, event: string, payload: map | blob)"),
            "{text}"
        );
        assert!(text.contains("also a method of a socket"), "{text}");
        assert!(text.contains("example: let r = push("), "{text}");
        assert!(!entry("ANY").unwrap().render().contains("method"));
    }

    #[test]
    fn typos_find_their_name() {
        assert_eq!(distance("await_jion", "await_join"), 1);
        assert_eq!(closest("await_jion", names()), Some("await_join"));
        assert_eq!(closest("conect", names()), Some("connect"));
        assert_eq!(closest("any", names()), Some("ANY"));
        assert_eq!(closest("push", names()), None, "a name is not its own typo");
        assert_eq!(closest("zzzzzz", names()), None);
    }
}
