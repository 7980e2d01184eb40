//! The server's handling of a client's JSON payload: `slipstream_server::json::normalize`, which
//! the demo's `echo` and `broadcast` apply to whatever a client sends (issue 10, item 1).
//!
//! The first input byte picks the mode: even, the rest is raw bytes (used when it is JSON the
//! codec accepts); odd, the rest drives a generated JSON document (`arbitrary`): a tree with
//! duplicate keys, escapes and odd numbers, optionally wrapped in up to 20,000 levels of arrays or
//! objects. `normalize` runs on a thread with a 2 MiB stack, as a channel does on a tokio worker
//! (a stack overflow there is caught and its input saved, see `catch_stack_overflow_on_this_thread`).
//!
//! Checks: no panic or stack overflow; the result is JSON equal by value to the input under
//! Phoenix's rules (the first of duplicated keys wins; compared through serde_json for inputs it
//! can parse, i.e. up to 128 levels); keys come out sorted and unique; normalising twice changes
//! nothing; a deep wrapper comes out as the same wrapper around the normalised core.
#![no_main]

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock, mpsc};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use slipstream_server::Payload;
use slipstream_server::json::normalize;

/// The stack of a tokio worker thread, where channels run.
const WORKER_STACK: usize = 2 * 1024 * 1024;
/// Generated trees deeper than this end in `null` (depth is what `Deep` is for).
const TREE_DEPTH: usize = 24;
/// The deepest wrapper: 40 KB of `[`/`]` at most, the size of the frame that killed the server
/// (issue 10), far deeper than a 2 MiB stack allowed the old recursive code. Deeper would only
/// slow every run down.
const MAX_DEPTH: u16 = 20_000;

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Digits, an optional fraction and exponent: numbers beyond i64/f64 must keep their text.
    Number {
        negative: bool,
        digits: Vec<u8>,
        fraction: Vec<u8>,
        exponent: Option<i16>,
    },
    Str(String, Escape),
    Array(Vec<Json>),
    Object(Vec<(String, Escape, Json)>),
}

/// How a string is written: all are the same value.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Escape {
    /// serde_json's own escaping (raw UTF-8).
    Plain,
    /// Everything outside ASCII as `\uXXXX` (surrogate pairs beyond the BMP).
    NonAscii,
    /// Every character as `\uXXXX`, and `\/` for slashes.
    All,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Nest {
    Arrays,
    Objects,
    Alternating,
}

#[derive(Arbitrary, Debug)]
enum Doc {
    /// A tree, with whitespace between tokens when `spaced`.
    Tree { root: Json, spaced: bool },
    /// `depth` levels (modulo `MAX_DEPTH + 1`) of `nest` around a tree.
    Deep { depth: u16, nest: Nest, core: Json },
}

fn digits(raw: &[u8]) -> String {
    raw.iter().map(|d| char::from(b'0' + d % 10)).collect()
}

fn string(out: &mut String, s: &str, escape: Escape) {
    match escape {
        Escape::Plain => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Escape::NonAscii | Escape::All => {
            out.push('"');
            for c in s.chars() {
                if matches!(escape, Escape::NonAscii) && c.is_ascii() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if c < ' ' => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                } else if matches!(escape, Escape::All) && c == '/' {
                    out.push_str("\\/");
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let _ = write!(out, "\\u{unit:04X}");
                    }
                }
            }
            out.push('"');
        }
    }
}

fn render(out: &mut String, json: &Json, spaced: bool, depth: usize) {
    let gap = if spaced { " \n\t" } else { "" };
    match json {
        _ if depth > TREE_DEPTH => out.push_str("null"),
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Json::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
        }
        Json::Float(_) => out.push('0'),
        Json::Number {
            negative,
            digits: d,
            fraction,
            exponent,
        } => {
            if *negative {
                out.push('-');
            }
            let int = digits(d);
            // No leading zeros in JSON: "0" alone, or a non-zero first digit.
            match int.trim_start_matches('0') {
                "" => out.push('0'),
                rest => out.push_str(rest),
            }
            if !fraction.is_empty() {
                out.push('.');
                out.push_str(&digits(fraction));
            }
            if let Some(e) = exponent {
                let _ = write!(out, "e{e:+}");
            }
        }
        Json::Str(s, escape) => string(out, s, *escape),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                render(out, item, spaced, depth + 1);
            }
            out.push_str(gap);
            out.push(']');
        }
        Json::Object(entries) => {
            out.push('{');
            for (i, (key, escape, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                string(out, key, *escape);
                out.push_str(gap);
                out.push(':');
                out.push_str(gap);
                render(out, value, spaced, depth + 1);
            }
            out.push_str(gap);
            out.push('}');
        }
    }
}

/// The opening and closing text of `depth` levels of `nest`.
fn wrapper(depth: usize, nest: Nest) -> (String, String) {
    let (mut open, mut close) = (String::new(), String::new());
    for level in 0..depth {
        let array = match nest {
            Nest::Arrays => true,
            Nest::Objects => false,
            Nest::Alternating => level % 2 == 0,
        };
        open.push_str(if array { "[" } else { "{\"k\":" });
        close.push(if array { ']' } else { '}' });
    }
    (open, close.chars().rev().collect())
}

/// A serde_json value read with Phoenix's rule for duplicated keys: the first one wins.
struct FirstWins;

impl<'de> DeserializeSeed<'de> for FirstWins {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstWins {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(FirstWins)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(FirstWins)?;
            out.entry(key).or_insert(value);
        }
        Ok(Value::Object(out))
    }
}

fn first_wins(text: &str) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = FirstWins.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Checks that every object in `text` has its keys sorted and unique (serde_json's own reader,
/// so only for shallow documents).
struct SortedKeys;

impl<'de> DeserializeSeed<'de> for SortedKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SortedKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(SortedKeys)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut last: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if let Some(previous) = &last {
                assert!(
                    previous < &key,
                    "keys out of order or repeated: {previous:?} then {key:?}"
                );
            }
            map.next_value_seed(SortedKeys)?;
            last = Some(key);
        }
        Ok(())
    }
}

/// A thread with a tokio worker's stack that runs `normalize` for the target.
struct Worker {
    jobs: mpsc::Sender<Payload>,
    results: mpsc::Receiver<Payload>,
}

static WORKER: OnceLock<Mutex<Worker>> = OnceLock::new();

/// Without sanitizers libFuzzer's crash handler runs on the faulting stack, so a stack overflow
/// would kill the process before the input is saved. Give the handler an alternate stack: make
/// the installed SIGSEGV/SIGBUS handlers (libFuzzer's) run `SA_ONSTACK`, and give the worker
/// thread a signal stack of its own (`sigaltstack` is per thread).
fn catch_stack_overflow_on_this_thread() {
    const SIGNAL_STACK: usize = 256 * 1024;
    let stack: &'static mut [u8] = Box::leak(vec![0u8; SIGNAL_STACK].into_boxed_slice());
    // SAFETY: plain libc calls on valid pointers; the signal stack is leaked, so it outlives the
    // thread; the handlers are the ones already installed, only their flags change.
    unsafe {
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            let mut action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut action) == 0 {
                action.sa_flags |= libc::SA_ONSTACK;
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        let alt = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: SIGNAL_STACK,
        };
        libc::sigaltstack(&alt, std::ptr::null_mut());
    }
}

fn worker() -> &'static Mutex<Worker> {
    WORKER.get_or_init(|| {
        let (jobs, job_rx) = mpsc::channel::<Payload>();
        let (result_tx, results) = mpsc::channel();
        std::thread::Builder::new()
            .name("normalize".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                catch_stack_overflow_on_this_thread();
                for payload in job_rx {
                    if result_tx.send(normalize(payload)).is_err() {
                        break;
                    }
                }
            })
            .expect("a thread for normalize");
        Mutex::new(Worker { jobs, results })
    })
}

/// `normalize` on the stack a channel has.
fn normalized(text: &str) -> Option<String> {
    let payload = Payload::from_json_str(text).ok()?;
    let worker = worker().lock().expect("the worker lock");
    worker.jobs.send(payload).expect("the worker is alive");
    let out = worker.results.recv().expect("normalize returned");
    let json = out
        .as_json_str()
        .expect("a JSON payload stays JSON")
        .to_owned();
    Some(json)
}

/// The by-value checks for a document serde_json can read.
fn check_shallow(input: &str, output: &str) {
    let Some(expected) = first_wins(input) else {
        return;
    };
    let actual: Value = serde_json::from_str(output)
        .unwrap_or_else(|e| panic!("normalize made unreadable JSON ({e}): {output}"));
    assert_eq!(actual, expected, "input {input}");
    let mut de = serde_json::Deserializer::from_str(output);
    SortedKeys.deserialize(&mut de).expect("the output reads");
    assert_eq!(
        normalized(output).as_deref(),
        Some(output),
        "normalising twice changed it"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        if let Some(output) = normalized(text) {
            check_shallow(text, &output);
        }
        return;
    }
    let Ok(doc) = Doc::arbitrary_take_rest(Unstructured::new(rest)) else {
        return;
    };
    match doc {
        Doc::Tree { root, spaced } => {
            let mut text = String::new();
            render(&mut text, &root, spaced, 0);
            let output =
                normalized(&text).unwrap_or_else(|| panic!("generated invalid JSON: {text}"));
            check_shallow(&text, &output);
        }
        Doc::Deep { depth, nest, core } => {
            let mut core_text = String::new();
            render(&mut core_text, &core, false, 0);
            let core_out =
                normalized(&core_text).unwrap_or_else(|| panic!("invalid core: {core_text}"));
            let depth = depth % (MAX_DEPTH + 1);
            let (open, close) = wrapper(usize::from(depth), nest);
            let text = format!("{open}{core_text}{close}");
            let output = normalized(&text).expect("a wrapped document is JSON");
            assert!(
                output.len() == open.len() + core_out.len() + close.len()
                    && output.starts_with(&open)
                    && output.ends_with(&close)
                    && output[open.len()..output.len() - close.len()] == core_out,
                "{depth} levels of {nest:?} around {core_text} did not come out as the same levels around {core_out}"
            );
        }
    }
});
