//! The server crate's modules have a direction (ARCHITECTURE.md, "slipstream-server"): each
//! top-level module sits in one of [`LAYERS`], and nothing below reaches back up. A module may
//! use modules of its own layer or of lower ones, never a higher one, and no modules may use
//! each other in a circle.
//!
//! The graph is built from the source text of `src/**/*.rs`: a node per top-level module (a
//! file `src/x.rs` or a directory `src/x/`), an edge for every path in code that names another
//! one: `crate::x…`, `crate::{x, …}`, and a `super::` chain that climbs to the crate root
//! (inline modules such as `mod tests { … }` count as a level). A name that `lib.rs` re-exports
//! (`crate::Name`) counts as the module it comes from. Comments (so doc links) and string
//! literals are not code.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first, and the top-level modules in each. A new module must be placed
/// here; moving one up or down is a design decision for ARCHITECTURE.md too.
const LAYERS: &[(&str, &[&str])] = &[
    // Wire framing, JSON, settings, plain data: nothing of the server.
    (
        "foundations",
        &[
            "accepted",
            "config",
            "connect",
            "fuzzing",
            "json",
            "log_filter",
            "outcome",
            "ws",
        ],
    ),
    // A connection's input and output, long-poll sessions, what a connection and its channels
    // tell each other, PubSub and its adapter seam, Presence.
    (
        "queues and seams",
        &[
            "inbound", "longpoll", "messages", "outbound", "presence", "pubsub", "writer",
        ],
    ),
    // The server-wide state; it reaches the routes only through the `Routes` seam.
    ("state", &["shared"]),
    // What an application's channel sees.
    ("channel API", &["channel", "context", "endpoint"]),
    // A client's connection, a channel's task, what other nodes send.
    ("drivers", &["cluster", "connection", "runner"]),
    // The socket's routes, HTTP and long-poll requests, the accept loop.
    ("serving", &["http", "server", "socket"]),
    // Applications on the public API.
    ("applications", &["background", "demo"]),
];

/// `module → (module it uses → files where it does)`.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// `src/` of this crate.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as (path relative to `base` with `/`, text).
fn rust_files(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, fs::read_to_string(&path).expect("read source")));
        }
    }
}

/// The module path of a file: `x.rs` and `x/mod.rs` are `[x]`, `x/y.rs` is `[x, y]`, `lib.rs`
/// is the root `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem);
    }
    parts.into_iter().map(str::to_owned).collect()
}

/// The text without comments and without the contents of string and char literals.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i = rest.find('\n').map_or(text.len(), |n| i + n);
        } else if rest.starts_with("/*") {
            i = rest.find("*/").map_or(text.len(), |n| i + n + 2);
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].bytes().take_while(|&b| b == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i = rest[body..]
                .find(&close)
                .map_or(text.len(), |n| i + body + n + close.len());
            out.push_str("\"\"");
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if let Some(len) = (bytes[i] == b'\'')
            .then(|| char_literal_len(&rest[1..]))
            .flatten()
        {
            out.push_str("' '");
            i += 1 + len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length (closing quote included) of a char literal's body, or `None` for a lifetime.
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if first == '\\' {
        return Some(rest.find('\'')? + 1);
    }
    let (at, next) = chars.next()?;
    (next == '\'').then_some(at + 1)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier at the start of `s` (after whitespace).
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    &s[..s.find(|c: char| !is_ident(c)).unwrap_or(s.len())]
}

/// The first segment of each path a `{…}` group (just after its `{`) holds: `x` and `y` in
/// `{x, y::z, w as v}`.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item = true,
            c if at_item && depth == 0 && !c.is_whitespace() => {
                heads.push(ident(&group[i..]).to_owned());
                at_item = false;
            }
            _ => {}
        }
    }
    heads
}

/// A path in code that may leave its module: how far up it starts (`None` for `crate::`, else
/// the number of `super::`), and the segment(s) that follow.
struct PathUse {
    up: Option<usize>,
    heads: Vec<String>,
}

/// Every `crate::`/`super::` path in `code`, each with the module path (relative to the file's
/// own) of the inline module it is written in.
fn path_uses(code: &str) -> Vec<(Vec<String>, PathUse)> {
    let mut found = Vec::new();
    // Inline modules we are in, with the brace depth outside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let c = rest.chars().next().unwrap();
        let starts_word = !code[..i].chars().next_back().is_some_and(is_ident);
        if c == '{' {
            if let Some(name) = pending_mod.take() {
                inline.push((name, depth));
            }
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            if inline.last().is_some_and(|(_, outside)| *outside == depth) {
                inline.pop();
            }
        } else if c == ';' {
            pending_mod = None;
        } else if starts_word && rest.starts_with("mod ") {
            pending_mod = Some(ident(&rest[4..]).to_owned());
        } else if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut up = None;
            let mut tail = rest;
            if let Some(after) = tail.strip_prefix("crate::") {
                tail = after;
            } else {
                let mut n = 0;
                while let Some(after) = tail.strip_prefix("super::") {
                    n += 1;
                    tail = after.trim_start();
                }
                up = Some(n);
            }
            let tail = tail.trim_start();
            let heads = match tail.strip_prefix('{') {
                Some(group) => group_heads(group),
                None => vec![ident(tail).to_owned()],
            };
            let within = inline.iter().map(|(name, _)| name.clone()).collect();
            found.push((within, PathUse { up, heads }));
            i += rest.len() - tail.len();
            continue;
        }
        i += c.len_utf8();
    }
    found
}

/// `Name → module` for every `pub use module::…` in `lib.rs`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for item in code_only(lib).split(';') {
        let Some(path) = item.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, tail)) = path.split_once("::") else {
            continue;
        };
        let tail = tail.trim().trim_start_matches('{').trim_end_matches('}');
        for name in tail.split(',') {
            let name = name.rsplit("::").next().unwrap_or("");
            let name = name.rsplit(" as ").next().unwrap_or("").trim();
            if !name.is_empty() {
                names.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    names
}

/// The module graph of a crate's sources (paths relative to `src/`).
fn graph_of(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(rel, _)| module_path(rel).into_iter().next())
        .collect();
    let reexports = files
        .iter()
        .find(|(rel, _)| rel == "lib.rs")
        .map(|(_, text)| root_reexports(text))
        .unwrap_or_default();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for (rel, text) in files {
        let file_path = module_path(rel);
        let Some(from) = file_path.first() else {
            continue;
        };
        for (within, path) in path_uses(&code_only(text)) {
            let location: Vec<&String> = file_path.iter().chain(&within).collect();
            let at_root = match path.up {
                None => true,
                Some(n) => {
                    assert!(
                        n <= location.len(),
                        "{rel}: a path climbs past the crate root"
                    );
                    n == location.len()
                }
            };
            if !at_root {
                continue; // Still inside `from`.
            }
            for head in &path.heads {
                let to = if modules.contains(head) {
                    head
                } else if let Some(module) = reexports.get(head) {
                    module
                } else {
                    continue;
                };
                if to != from && modules.contains(to) {
                    let uses = graph.get_mut(from).unwrap();
                    uses.entry(to.clone()).or_default().insert(rel.clone());
                }
            }
        }
    }
    graph
}

/// This crate's module graph.
fn graph() -> Graph {
    let base = src();
    let mut files = Vec::new();
    rust_files(&base, &base, &mut files);
    graph_of(&files)
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// One cycle inside `component`, as `a -> b -> … -> a` with the files of each step.
fn describe(graph: &Graph, component: &[String]) -> String {
    let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    // Breadth-first from start's successors back to start.
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = BTreeSet::new();
    'search: while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().map(String::as_str) {
            if !inside.contains(w) {
                continue;
            }
            if w == start {
                previous.insert(start, v);
                break 'search;
            }
            if seen.insert(w) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    let mut path = vec![start];
    let mut at = previous[start];
    while at != start {
        path.push(at);
        at = previous[at];
    }
    path.push(start);
    path.reverse();
    let steps: Vec<String> = path
        .windows(2)
        .map(|step| format!("  {}", edge(graph, step[0], step[1])))
        .collect();
    format!(
        "modules {{{}}} use each other in a circle; one of them:\n{}",
        component.join(", "),
        steps.join("\n")
    )
}

/// `from -> to   (in files)`.
fn edge(graph: &Graph, from: &str, to: &str) -> String {
    let files: Vec<&str> = graph[from][to].iter().map(String::as_str).collect();
    format!("{from} -> {to}   (in {})", files.join(", "))
}

/// What breaks the layering: modules missing from [`LAYERS`] or listed there but absent, and
/// every use of a module in a higher layer.
fn layering_faults(graph: &Graph, layers: &[(&str, &[&str])]) -> Vec<String> {
    let mut layer_of = BTreeMap::new();
    for (at, (_, modules)) in layers.iter().enumerate() {
        for module in *modules {
            assert!(
                layer_of.insert(*module, at).is_none(),
                "{module} is in two layers"
            );
        }
    }
    let mut faults = Vec::new();
    for module in graph.keys() {
        if !layer_of.contains_key(module.as_str()) {
            faults.push(format!("{module} is in no layer: place it in LAYERS"));
        }
    }
    for module in layer_of.keys() {
        if !graph.contains_key(*module) {
            faults.push(format!("{module} is in LAYERS but not in src/"));
        }
    }
    for (from, uses) in graph {
        let Some(&low) = layer_of.get(from.as_str()) else {
            continue;
        };
        for to in uses.keys() {
            if let Some(&high) = layer_of.get(to.as_str())
                && high > low
            {
                faults.push(format!(
                    "{} reaches up from \"{}\" to \"{}\"",
                    edge(graph, from, to),
                    layers[low].0,
                    layers[high].0
                ));
            }
        }
    }
    faults
}

#[test]
fn the_modules_are_layered_and_use_each_other_without_cycles() {
    let graph = graph();
    assert!(
        graph.len() > 10,
        "found too few modules: {:?}",
        graph.keys()
    );
    let mut faults: Vec<String> = cycles(&graph).iter().map(|c| describe(&graph, c)).collect();
    faults.extend(layering_faults(&graph, LAYERS));
    assert!(
        faults.is_empty(),
        "the server crate's modules must keep their direction (ARCHITECTURE.md, \
         slipstream-server; tests/module_layers.rs):\n{}",
        faults.join("\n")
    );
}

#[test]
fn the_path_reader_sees_grouped_and_plain_paths_and_skips_comments_and_strings() {
    let code = code_only(
        "use crate::a::X;\nuse crate::{b, c::{D, E}, f as g};\n// crate::h\nlet s = \"crate::i\";\n\
         fn j<'a>(x: &'a str) { crate::k::l(); let c = '\"'; let d = '{'; crate::m(); }\n\
         mod tests { use super::super::n; }\nuse super::o;",
    );
    let found: Vec<(Vec<String>, Option<usize>, Vec<String>)> = path_uses(&code)
        .into_iter()
        .map(|(within, p)| (within, p.up, p.heads))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        found,
        [
            (s(&[]), None, s(&["a"])),
            (s(&[]), None, s(&["b", "c", "f"])),
            (s(&[]), None, s(&["k"])),
            (s(&[]), None, s(&["m"])),
            (s(&["tests"]), Some(2), s(&["n"])),
            (s(&[]), Some(1), s(&["o"])),
        ]
    );
}

/// The checks catch what they are for, on a made-up crate: a circle through `super::` and a
/// re-exported name, and a use of a higher layer; `super::` inside `mod tests` stays home.
#[test]
fn the_checks_catch_a_circle_and_a_use_of_a_higher_layer() {
    let files: Vec<(String, String)> = [
        ("lib.rs", "mod low; mod mid; mod high;\npub use high::Top;"),
        (
            "low.rs",
            "use super::mid::M;\n#[cfg(test)] mod tests { use super::Low; }",
        ),
        ("mid/mod.rs", "mod inner; pub struct M;"),
        ("mid/inner.rs", "use super::super::{Top, low};"),
        ("high.rs", "pub struct Top; use crate::mid::M;"),
    ]
    .iter()
    .map(|(rel, text)| (rel.to_string(), text.to_string()))
    .collect();
    let graph = graph_of(&files);
    let uses = |m: &str| graph[m].keys().cloned().collect::<Vec<_>>();
    assert_eq!(uses("low"), ["mid"]);
    assert_eq!(uses("mid"), ["high", "low"]);
    assert_eq!(uses("high"), ["mid"]);
    let found = cycles(&graph);
    assert_eq!(found, [vec!["high", "low", "mid"]]);
    let layers: &[(&str, &[&str])] = &[("bottom", &["low"]), ("top", &["mid", "high"])];
    let faults = layering_faults(&graph, layers);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].starts_with("low -> mid"), "{faults:?}");
    let acyclic = graph_of(
        &files[..3]
            .iter()
            .chain(&files[4..])
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert!(cycles(&acyclic).is_empty());
}
