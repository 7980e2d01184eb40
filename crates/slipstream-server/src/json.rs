//! Re-encoding a client's JSON the way Phoenix does (decode with Jason, encode again), by value:
//! a duplicated key keeps its FIRST value, object keys come out sorted, strings are written with
//! raw UTF-8. Numbers keep their exact text, so big integers survive (no float rounding).
//!
//! # Any shape, in linear time
//!
//! A client chooses the payload, so nothing here recurses: the text is walked with an explicit
//! stack, and the work is linear in its size (plus sorting each object's keys).
//! Jason decodes arbitrarily deep input, and so do we: a 1,000,000-deep array is re-encoded like
//! any other. [`normalize`] runs in two passes over the text. The first checks it and records,
//! for every object, its entries sorted by key with duplicates dropped. The second writes the
//! output, jumping to each kept entry's value in sorted order; a dropped duplicate's value is
//! never read again.
//!
//! # What is refused
//!
//! Jason refuses a `\u` escape that is half of a surrogate pair (`"\ud800"`), and so does the
//! standard `String` decoding of `serde_json`; our codec lets it through (it does not decode
//! strings). Such text, or any text that is not JSON, gives a [`NormalizeError`]; [`normalize`]
//! then returns the payload unchanged, so the client gets back exactly what it sent, as before
//! this module was iterative. Numbers are never parsed: `1e999999` (which Jason refuses, as no
//! float holds it) and 10,000-digit integers come back as written.

use std::borrow::Cow;

use slipstream_protocol::{JsonText, Payload};

/// Why a JSON text could not be re-encoded. Positions are byte offsets into the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The text is not JSON at this position.
    #[error("invalid JSON at byte {0}")]
    Syntax(usize),
    /// A `\u` escape at this position is half of a UTF-16 surrogate pair, which no string can
    /// hold (Jason refuses it too).
    #[error("lone UTF-16 surrogate in the \\u escape at byte {0}")]
    LoneSurrogate(usize),
    /// The text is 4 GiB or more (far beyond any frame the server accepts).
    #[error("a JSON text of {0} bytes is too large to re-encode")]
    TooLarge(usize),
}

type Result<T> = std::result::Result<T, NormalizeError>;

/// Re-encodes a JSON payload as Phoenix would echo it; binary payloads are returned unchanged,
/// and so is JSON that [`normalize_str`] refuses (see the [module docs](self)).
///
/// ```
/// use slipstream_server::{json::normalize, Payload};
/// let p = Payload::from_json_str(r#"{"b":1,"a":2,"b":3,"big":123456789012345678901234567890}"#).unwrap();
/// assert_eq!(normalize(p).as_json_str(), Some(r#"{"a":2,"b":1,"big":123456789012345678901234567890}"#));
///
/// // Any depth: a million nested arrays are fine.
/// let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
/// let p = Payload::from_json_str(&deep).unwrap();
/// assert_eq!(normalize(p).as_json_str(), Some(deep.as_str()));
/// ```
pub fn normalize(payload: Payload) -> Payload {
    let Payload::Json(json) = &payload else {
        return payload;
    };
    match normalize_str(json.as_str()).map(JsonText::parse) {
        Ok(Ok(json)) => Payload::Json(json),
        _ => payload,
    }
}

/// Re-encodes JSON text as Phoenix would echo it: first duplicate key wins, keys sorted, no
/// whitespace, strings re-escaped with raw UTF-8, numbers kept as written.
///
/// ```
/// use slipstream_server::json::{NormalizeError, normalize_str};
/// assert_eq!(normalize_str(r#" {"b": "\u00e9\ud83d\ude00", "a": [1e999999, -0.50]} "#),
///            Ok(r#"{"a":[1e999999,-0.50],"b":"é😀"}"#.to_owned()));
/// assert_eq!(normalize_str(r#"["\ud800"]"#), Err(NormalizeError::LoneSurrogate(2)));
/// ```
pub fn normalize_str(text: &str) -> Result<String> {
    let objects = sorted_objects(text)?;
    write_normalized(text, &objects)
}

/// The raw text of member `key` of the JSON object `text`: the first one if the key is repeated
/// (as Jason keeps it), `None` if there is none. Nothing else is parsed, so the other members
/// and the value may be of any depth. An error if `text` is not a JSON object.
///
/// ```
/// use slipstream_server::json::object_field;
/// let deep = format!(r#"{{"x":{}{},"user":"ann","user":"bob"}}"#, "[".repeat(9999), "]".repeat(9999));
/// assert_eq!(object_field(&deep, "user"), Ok(Some(r#""ann""#)));
/// assert_eq!(object_field(&deep, "nobody"), Ok(None));
/// assert!(object_field("[1]", "user").is_err());
/// ```
pub fn object_field<'a>(text: &'a str, key: &str) -> Result<Option<&'a str>> {
    let mut walker = Walker::new(text);
    match walker.next_event()? {
        Some(Event::ObjectStart(_)) => {}
        _ => return Err(NormalizeError::Syntax(skip_ws(text.as_bytes(), 0))),
    }
    while let Some(Event::Key {
        key: found,
        value_at,
        ..
    }) = walker.next_event()?
    {
        let end = walker.skip_value()?;
        if found == key {
            return Ok(text.get(value_at..end));
        }
    }
    Ok(None)
}

/// A decoded key: `len` bytes at `start` of the text (no escapes) or of the first pass's arena
/// (the decoded text of the keys that have escapes).
#[derive(Clone, Copy)]
struct Key {
    start: u32,
    len: u32,
    in_arena: bool,
}

/// One object's entry as the first pass records it. Positions are `u32` (the text is checked to
/// be shorter than 4 GiB) to keep a deep payload's bookkeeping small: 24 bytes an entry.
struct Entry {
    /// The decoded key (what sorting and duplicate detection compare).
    key: Key,
    /// Where the key's string starts (its opening quote).
    key_at: u32,
    /// Where the entry's value starts.
    value_at: u32,
    /// How many objects open before the value (the index of the next one to open).
    objects_before: u32,
}

/// One object of the text, in the order the objects open.
struct Object {
    /// Where its `{` is.
    start: u32,
    /// Just after its `}`.
    end: u32,
    /// Its entries (sorted, deduplicated) are `first..last` of [`Objects::entries`].
    first: u32,
    last: u32,
    /// How many objects open before its `}` (the index of the next one to open after it).
    after: u32,
}

/// What the first pass learns: every object's kept entries, in key order.
struct Objects {
    objects: Vec<Object>,
    entries: Vec<Entry>,
}

impl Objects {
    /// Object number `index` in opening order, which must be the one whose `{` is at `at`.
    fn at(&self, index: u32, at: usize) -> Result<&Object> {
        self.objects
            .get(index as usize)
            .filter(|o| o.start as usize == at)
            .ok_or(NormalizeError::Syntax(at))
    }

    fn entry(&self, i: u32) -> Result<&Entry> {
        self.entries
            .get(i as usize)
            .ok_or(NormalizeError::Syntax(0))
    }
}

/// The text of a decoded key.
fn key_str<'a>(text: &'a str, arena: &'a str, key: Key) -> &'a str {
    let (start, end) = (key.start as usize, key.start as usize + key.len as usize);
    let from = if key.in_arena { arena } else { text };
    from.get(start..end).unwrap_or_default()
}

/// First pass: checks the text and sorts every object's entries (stable, so the first of equal
/// keys comes first and is the one kept).
fn sorted_objects(text: &str) -> Result<Objects> {
    if u32::try_from(text.len()).is_err() {
        return Err(NormalizeError::TooLarge(text.len()));
    }
    // Every position and count below is at most the text's length, so `as u32` is exact.
    let mut objects = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut arena = String::new();
    // The entries of the objects still open, innermost last, and for each open object: its
    // index and where its entries begin in `pending`.
    let mut pending: Vec<Entry> = Vec::new();
    let mut open: Vec<(u32, u32)> = Vec::new();
    let mut walker = Walker::new(text);
    while let Some(event) = walker.next_event()? {
        match event {
            Event::ObjectStart(start) => {
                open.push((objects.len() as u32, pending.len() as u32));
                objects.push(Object {
                    start: start as u32,
                    end: start as u32,
                    first: 0,
                    last: 0,
                    after: 0,
                });
            }
            Event::Key { key, at, value_at } => {
                let key = match key {
                    Cow::Borrowed(s) => Key {
                        start: at as u32 + 1,
                        len: s.len() as u32,
                        in_arena: false,
                    },
                    Cow::Owned(s) => {
                        let start = arena.len() as u32;
                        arena.push_str(&s);
                        Key {
                            start,
                            len: s.len() as u32,
                            in_arena: true,
                        }
                    }
                };
                pending.push(Entry {
                    key,
                    key_at: at as u32,
                    value_at: value_at as u32,
                    objects_before: objects.len() as u32,
                });
            }
            Event::ObjectEnd(end) => {
                let (index, base) = open.pop().ok_or(NormalizeError::Syntax(end))?;
                let base = base as usize;
                let mine = pending.get_mut(base..).unwrap_or_default();
                mine.sort_by(|a, b| key_str(text, &arena, a.key).cmp(key_str(text, &arena, b.key)));
                let first = entries.len();
                for entry in pending.drain(base..) {
                    let duplicate = entries.len() > first
                        && entries.last().is_some_and(|last| {
                            key_str(text, &arena, last.key) == key_str(text, &arena, entry.key)
                        });
                    if !duplicate {
                        entries.push(entry);
                    }
                }
                let (last, after) = (entries.len() as u32, objects.len() as u32);
                if let Some(object) = objects.get_mut(index as usize) {
                    object.end = end as u32;
                    object.first = first as u32;
                    object.last = last;
                    object.after = after;
                }
            }
            Event::ArrayStart | Event::ArrayEnd | Event::String | Event::Scalar => {}
        }
    }
    Ok(Objects { objects, entries })
}

/// Where the second pass is inside an object: the next entry to write and the end of its
/// entries, then [`Object::end`] and [`Object::after`].
struct ObjectFrame {
    next: u32,
    last: u32,
    end: u32,
    after: u32,
}

/// Second pass: writes the text with every object's entries in the first pass's order.
///
/// `at` is where it reads; `next_object` is the opening-order index of the next object at or
/// after `at`, so that finding an object's entries costs no search. The stack is one byte per
/// open container (`true` for an object) plus one [`ObjectFrame`] per open object.
fn write_normalized(text: &str, objects: &Objects) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<bool> = Vec::new();
    let mut frames: Vec<ObjectFrame> = Vec::new();
    let mut at = skip_ws(bytes, 0);
    let mut next_object = 0;
    loop {
        // A value starts at `at`.
        match bytes.get(at) {
            Some(b'[') => {
                out.push('[');
                at = skip_ws(bytes, at + 1);
                if bytes.get(at) == Some(&b']') {
                    out.push(']');
                    at += 1;
                } else {
                    open.push(false);
                    continue;
                }
            }
            Some(b'{') => {
                let object = objects.at(next_object, at)?;
                out.push('{');
                if object.first == object.last {
                    out.push('}');
                    at = object.end as usize;
                    next_object = object.after;
                } else {
                    let entry = objects.entry(object.first)?;
                    write_string(text, entry.key_at as usize, &mut out)?;
                    out.push(':');
                    at = entry.value_at as usize;
                    next_object = entry.objects_before;
                    open.push(true);
                    frames.push(ObjectFrame {
                        next: object.first + 1,
                        last: object.last,
                        end: object.end,
                        after: object.after,
                    });
                    continue;
                }
            }
            Some(b'"') => at = write_string(text, at, &mut out)?,
            Some(_) => {
                let end = scalar_end(bytes, at)?;
                out.push_str(text.get(at..end).ok_or(NormalizeError::Syntax(at))?);
                at = end;
            }
            None => return Err(NormalizeError::Syntax(at)),
        }
        // A value ended just before `at`: close what is complete, then find the next value.
        loop {
            match open.last() {
                None => return Ok(out),
                Some(false) => {
                    at = skip_ws(bytes, at);
                    match bytes.get(at) {
                        Some(b',') => {
                            out.push(',');
                            at = skip_ws(bytes, at + 1);
                            break;
                        }
                        Some(b']') => {
                            out.push(']');
                            at += 1;
                            open.pop();
                        }
                        _ => return Err(NormalizeError::Syntax(at)),
                    }
                }
                Some(true) => {
                    let frame = frames.last_mut().ok_or(NormalizeError::Syntax(at))?;
                    if frame.next < frame.last {
                        let entry = objects.entry(frame.next)?;
                        frame.next += 1;
                        out.push(',');
                        write_string(text, entry.key_at as usize, &mut out)?;
                        out.push(':');
                        at = entry.value_at as usize;
                        next_object = entry.objects_before;
                        break;
                    }
                    out.push('}');
                    at = frame.end as usize;
                    next_object = frame.after;
                    frames.pop();
                    open.pop();
                }
            }
        }
    }
}

/// A step of [`Walker`]: positions are byte offsets into the text.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// `[` opens an array.
    ArrayStart,
    /// `]` ends an array.
    ArrayEnd,
    /// `{` at this position.
    ObjectStart(usize),
    /// `}` ends an object; the position just after it.
    ObjectEnd(usize),
    /// An object key (decoded), where its string starts, and where its value starts.
    Key {
        key: Cow<'a, str>,
        at: usize,
        value_at: usize,
    },
    /// A string value (not decoded, so a lone surrogate in it is not noticed here).
    String,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

/// What the walker expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    /// Just after `[`: a value or `]`.
    ValueOrEnd,
    /// Just after `{`: a key or `}`.
    KeyOrEnd,
    /// After a value: `,`, the end of the container, or the end of the text.
    Next,
    Done,
}

/// Walks JSON text one token at a time, with an explicit stack (one byte per open container):
/// no recursion, so any depth is fine, and every byte is looked at a bounded number of times.
/// It checks the grammar as it goes; after the last value it checks that only whitespace is left.
pub(crate) struct Walker<'a> {
    text: &'a str,
    at: usize,
    /// `true` for an open object, `false` for an open array; innermost last.
    open: Vec<bool>,
    expect: Expect,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Walker {
            text,
            at: 0,
            open: Vec::new(),
            expect: Expect::Value,
        }
    }

    /// The next step, `None` at the end of the text, or why the text is not JSON.
    pub(crate) fn next_event(&mut self) -> Result<Option<Event<'a>>> {
        let bytes = self.text.as_bytes();
        loop {
            self.at = skip_ws(bytes, self.at);
            let at = self.at;
            let byte = bytes.get(at).copied();
            match self.expect {
                Expect::Done => return Ok(None),
                Expect::ValueOrEnd if byte == Some(b']') => return Ok(Some(self.close(at))),
                Expect::KeyOrEnd if byte == Some(b'}') => return Ok(Some(self.close(at))),
                Expect::KeyOrEnd => return self.key().map(Some),
                Expect::Value | Expect::ValueOrEnd => {
                    let event = match byte {
                        Some(b'[') => {
                            self.open.push(false);
                            self.at += 1;
                            self.expect = Expect::ValueOrEnd;
                            return Ok(Some(Event::ArrayStart));
                        }
                        Some(b'{') => {
                            self.open.push(true);
                            self.at += 1;
                            self.expect = Expect::KeyOrEnd;
                            return Ok(Some(Event::ObjectStart(at)));
                        }
                        Some(b'"') => {
                            self.at = string_end(bytes, at)?;
                            Event::String
                        }
                        Some(_) => {
                            self.at = scalar_end(bytes, at)?;
                            Event::Scalar
                        }
                        None => return Err(NormalizeError::Syntax(at)),
                    };
                    self.expect = Expect::Next;
                    return Ok(Some(event));
                }
                Expect::Next => match (self.open.last(), byte) {
                    (None, None) => {
                        self.expect = Expect::Done;
                        return Ok(None);
                    }
                    (Some(false), Some(b',')) => {
                        self.at += 1;
                        self.expect = Expect::Value;
                    }
                    (Some(true), Some(b',')) => {
                        self.at += 1;
                        return self.key().map(Some);
                    }
                    (Some(false), Some(b']')) | (Some(true), Some(b'}')) => {
                        return Ok(Some(self.close(at)));
                    }
                    _ => return Err(NormalizeError::Syntax(at)),
                },
            }
        }
    }

    /// Skips the value that comes next (right after a [`Event::Key`], or at the start), however
    /// deep; returns where it ends.
    pub(crate) fn skip_value(&mut self) -> Result<usize> {
        let mut depth = 0usize;
        while let Some(event) = self.next_event()? {
            match event {
                Event::ArrayStart | Event::ObjectStart(_) => depth += 1,
                Event::ArrayEnd | Event::ObjectEnd(_) => depth = depth.saturating_sub(1),
                Event::Key { .. } | Event::String | Event::Scalar => {}
            }
            if depth == 0 {
                return Ok(self.at);
            }
        }
        Err(NormalizeError::Syntax(self.at))
    }

    /// Consumes the `]` or `}` at `at`.
    fn close(&mut self, at: usize) -> Event<'a> {
        self.at = at + 1;
        self.expect = Expect::Next;
        match self.open.pop() {
            Some(true) => Event::ObjectEnd(self.at),
            _ => Event::ArrayEnd,
        }
    }

    /// Reads `"key" :` at the current position.
    fn key(&mut self) -> Result<Event<'a>> {
        let bytes = self.text.as_bytes();
        let at = skip_ws(bytes, self.at);
        if bytes.get(at) != Some(&b'"') {
            return Err(NormalizeError::Syntax(at));
        }
        let end = string_end(bytes, at)?;
        let key = decode_string(self.text, at, end)?;
        let colon = skip_ws(bytes, end);
        if bytes.get(colon) != Some(&b':') {
            return Err(NormalizeError::Syntax(colon));
        }
        self.at = skip_ws(bytes, colon + 1);
        self.expect = Expect::Value;
        Ok(Event::Key {
            key,
            at,
            value_at: self.at,
        })
    }
}

/// The first position at or after `at` that is not JSON whitespace.
fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Just after the string whose opening quote is at `at`; checks its escapes' syntax and that it
/// holds no raw control character (JSON's rules).
fn string_end(bytes: &[u8], at: usize) -> Result<usize> {
    let mut i = at + 1;
    loop {
        match bytes.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    hex4(bytes, i + 2).ok_or(NormalizeError::Syntax(i))?;
                    i += 6;
                }
                _ => return Err(NormalizeError::Syntax(i)),
            },
            Some(0x00..=0x1f) | None => return Err(NormalizeError::Syntax(i)),
            Some(_) => i += 1,
        }
    }
}

/// The value of the four hex digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |n, &d| {
        let v = (d as char).to_digit(16)?;
        Some(n * 16 + v)
    })
}

/// Just after the number or literal at `at`, checked against JSON's grammar.
fn scalar_end(bytes: &[u8], at: usize) -> Result<usize> {
    for literal in [&b"true"[..], b"false", b"null"] {
        if bytes.get(at..at + literal.len()) == Some(literal) {
            return Ok(at + literal.len());
        }
    }
    let digits = |mut i: usize| {
        let from = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let bad = NormalizeError::Syntax(at);
    let mut i = at;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i).ok_or(bad.clone())?,
        _ => return Err(bad),
    };
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1).ok_or(NormalizeError::Syntax(i))?;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        let mut j = i + 1;
        if let Some(b'+' | b'-') = bytes.get(j) {
            j += 1;
        }
        i = digits(j).ok_or(NormalizeError::Syntax(i))?;
    }
    Ok(i)
}

/// One piece of a string's content: raw text, or the character an escape stands for.
enum Piece<'a> {
    Raw(&'a str),
    Char(char),
}

/// Calls `f` with each piece of the string whose quotes are at `at` and `end - 1`, decoding
/// escapes (a surrogate pair becomes its one character); returns `end`.
fn string_pieces<'a>(
    text: &'a str,
    at: usize,
    end: usize,
    mut f: impl FnMut(Piece<'a>),
) -> Result<usize> {
    let bytes = text.as_bytes();
    let bad = |i| NormalizeError::Syntax(i);
    let mut i = at + 1;
    let mut raw_from = i;
    while i + 1 < end {
        if bytes.get(i) != Some(&b'\\') {
            i += 1;
            continue;
        }
        if raw_from < i {
            f(Piece::Raw(text.get(raw_from..i).ok_or(bad(i))?));
        }
        let escape = bytes.get(i + 1).copied().ok_or(bad(i))?;
        let (ch, len) = match escape {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = hex4(bytes, i + 2).ok_or(bad(i))?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = (bytes.get(i + 6..i + 8) == Some(b"\\u"))
                            .then(|| hex4(bytes, i + 8))
                            .flatten()
                            .filter(|low| (0xDC00..=0xDFFF).contains(low))
                            .ok_or(NormalizeError::LoneSurrogate(i))?;
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(code).ok_or(bad(i))?, 12)
                    }
                    0xDC00..=0xDFFF => return Err(NormalizeError::LoneSurrogate(i)),
                    _ => (char::from_u32(unit).ok_or(bad(i))?, 6),
                }
            }
            _ => return Err(bad(i)),
        };
        f(Piece::Char(ch));
        i += len;
        raw_from = i;
    }
    if raw_from < end - 1 {
        f(Piece::Raw(
            text.get(raw_from..end - 1).ok_or(bad(raw_from))?,
        ));
    }
    Ok(end)
}

/// The content of the string from `at` (its opening quote) to `end`, decoded; borrowed when it
/// has no escape.
pub(crate) fn decode_string(text: &str, at: usize, end: usize) -> Result<Cow<'_, str>> {
    let content = text
        .get(at + 1..end - 1)
        .ok_or(NormalizeError::Syntax(at))?;
    if !content.contains('\\') {
        return Ok(Cow::Borrowed(content));
    }
    let mut out = String::with_capacity(content.len());
    string_pieces(text, at, end, |piece| match piece {
        Piece::Raw(raw) => out.push_str(raw),
        Piece::Char(ch) => out.push(ch),
    })?;
    Ok(Cow::Owned(out))
}

/// Writes the string that starts at `at` re-escaped as `serde_json` writes strings (only `"`,
/// `\` and control characters are escaped); returns where it ended in `text`.
fn write_string(text: &str, at: usize, out: &mut String) -> Result<usize> {
    let end = string_end(text.as_bytes(), at)?;
    out.push('"');
    // Raw pieces never need escaping: JSON forbids `"`, `\` and control characters in them.
    string_pieces(text, at, end, |piece| match piece {
        Piece::Raw(raw) => out.push_str(raw),
        Piece::Char(ch) => push_escaped(ch, out),
    })?;
    out.push('"');
    Ok(end)
}

/// Writes one decoded character the way `serde_json` escapes it.
pub(crate) fn push_escaped(ch: char, out: &mut String) {
    match ch {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0}'..='\u{1f}' => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let n = ch as usize;
            out.push_str("\\u00");
            out.push(char::from(HEX[n >> 4]));
            out.push(char::from(HEX[n & 0xf]));
        }
        _ => out.push(ch),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The recursive implementation this module had before, kept as the reference for shallow
    /// input: the iterative one must give the same output, or fail where it failed.
    mod reference {
        use serde::de::{Deserializer, MapAccess, Visitor};
        use serde_json::value::RawValue;

        pub fn normalize(text: &str) -> Result<String, serde_json::Error> {
            let raw: &RawValue = serde_json::from_str(text)?;
            let mut out = String::new();
            write_value(raw, &mut out)?;
            Ok(out)
        }

        fn write_value(raw: &RawValue, out: &mut String) -> Result<(), serde_json::Error> {
            let text = raw.get().trim();
            match text.as_bytes().first() {
                Some(b'{') => {
                    let Entries(mut entries) = serde_json::from_str(text)?;
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    entries.dedup_by(|later, first| later.0 == first.0);
                    out.push('{');
                    for (i, (key, value)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(key)?);
                        out.push(':');
                        write_value(value, out)?;
                    }
                    out.push('}');
                }
                Some(b'[') => {
                    let items: Vec<&RawValue> = serde_json::from_str(text)?;
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_value(item, out)?;
                    }
                    out.push(']');
                }
                Some(b'"') => {
                    let s: String = serde_json::from_str(text)?;
                    out.push_str(&serde_json::to_string(&s)?);
                }
                _ => out.push_str(text),
            }
            Ok(())
        }

        struct Entries<'a>(Vec<(String, &'a RawValue)>);

        impl<'de> serde::Deserialize<'de> for Entries<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(EntriesVisitor)
            }
        }

        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
    }

    fn norm(text: &str) -> String {
        normalize_str(text).unwrap_or_else(|err| format!("error: {err}"))
    }

    #[test]
    fn first_duplicate_wins_and_numbers_keep_their_text() {
        let p = Payload::from_json_str(
            r#"{"z":[1,{"y":2,"x":"caf\u00e9"}],"dup":1,"dup":2,"f":2.50,"n":null}"#,
        )
        .unwrap_or_else(|_| Payload::empty());
        assert_eq!(
            normalize(p).as_json_str(),
            Some(r#"{"dup":1,"f":2.50,"n":null,"z":[1,{"x":"café","y":2}]}"#)
        );
    }

    #[test]
    fn duplicates_compare_decoded_keys_and_skip_the_later_values() {
        // "\u0061" is "a": the later one is a duplicate, and its value (even a broken string)
        // is never re-encoded.
        assert_eq!(
            norm(r#"{"a":1,"\u0061":"\ud800","b":{}}"#),
            r#"{"a":1,"b":{}}"#
        );
        // A key with an escape is re-escaped the canonical way.
        assert_eq!(
            norm(r#"{"q\"\/\u0001":[ ] , "\t":{ "x" : [ true,false ,null ] }}"#),
            r#"{"\t":{"x":[true,false,null]},"q\"/\u0001":[]}"#
        );
    }

    #[test]
    fn escapes_surrogate_pairs_and_lone_surrogates() {
        assert_eq!(
            norm(r#""\ud83d\ude00 \u00e9 \u2028 \u007f""#),
            "\"😀 é \u{2028} \u{7f}\""
        );
        assert_eq!(
            norm(r#""\u001f\b\f\n\r\t\"\\\/""#),
            r#""\u001f\b\f\n\r\t\"\\/""#
        );
        assert_eq!(
            normalize_str(r#""\ud800""#),
            Err(NormalizeError::LoneSurrogate(1))
        );
        assert_eq!(
            normalize_str(r#""x\udc00""#),
            Err(NormalizeError::LoneSurrogate(2))
        );
        assert_eq!(
            normalize_str(r#""\ud800\u0041""#),
            Err(NormalizeError::LoneSurrogate(1))
        );
        assert_eq!(
            normalize_str(r#"{"\ud800":1}"#),
            Err(NormalizeError::LoneSurrogate(2))
        );
        // The payload then comes back as it was sent.
        let p =
            Payload::from_json_str(r#"{"b":"\udead","a":1}"#).unwrap_or_else(|_| Payload::empty());
        assert_eq!(normalize(p).as_json_str(), Some(r#"{"b":"\udead","a":1}"#));
    }

    #[test]
    fn text_that_is_not_json_is_an_error_never_a_panic() {
        for bad in [
            "",
            " ",
            "[",
            "]",
            "{",
            "}",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{1:2}",
            "[1 2]",
            "01",
            "1.",
            "1e",
            "-",
            "+1",
            ".5",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\u{1}\"",
            "[1]]",
            "[1] x",
            "{\"a\":1}}",
            "[}",
            "{]",
            "\"\\",
            "\"\\u\"",
        ] {
            assert!(
                matches!(normalize_str(bad), Err(NormalizeError::Syntax(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn huge_numbers_keep_their_text() {
        let digits = "7".repeat(10_000);
        let text = format!("[1e999999,-{digits},{digits}.5E-999999,0,-0.0e+1]");
        assert_eq!(norm(&text), text);
    }

    #[test]
    fn deep_arrays_and_objects_of_any_depth() {
        // In a thread with a small stack: nothing here may depend on the stack.
        let run = || {
            let depth = 1_000_000;
            let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert!(norm(&arrays) == arrays);
            let objects = format!("{}1{}", r#"{"b":0,"a":"#.repeat(depth), "}".repeat(depth));
            let sorted = format!(
                "{}1{}",
                r#"{"a":"#.repeat(depth),
                r#","b":0}"#.repeat(depth)
            );
            assert!(norm(&objects) == sorted);
            let mixed = format!("{}{}", r#"[{"k":"#.repeat(depth), "}]".repeat(depth));
            assert!(matches!(
                normalize_str(&mixed),
                Err(NormalizeError::Syntax(_))
            ));
            let mixed = format!("{}null{}", r#"[{"k":"#.repeat(depth), "}]".repeat(depth));
            assert!(norm(&mixed) == mixed);
        };
        on_a_small_stack(run);
    }

    /// Runs `f` on a thread with a 64 KiB stack, so any recursion over deep input overflows.
    pub(crate) fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(f)
            .map(|t| t.join())
            .unwrap_or_else(|err| panic!("thread: {err}"))
            .unwrap_or_else(|_| panic!("deep input failed"));
    }

    #[test]
    fn many_keys_and_many_duplicates() {
        let n = 100_000;
        let mut text = String::from("{");
        for i in 0..n {
            // Every key twice; the first time with the value that must win.
            text.push_str(&format!("\"k{}\":{i},\"k{}\":\"later\",", n - i, n - i));
        }
        text.push_str("\"end\":true}");
        let out = norm(&text);
        assert!(!out.contains("later"));
        assert_eq!(
            reference::normalize(&text).ok().as_deref(),
            Some(out.as_str())
        );
    }

    #[test]
    fn huge_string() {
        let text = format!("\"{}\\n{}\"", "é".repeat(1_000_000), "x".repeat(1_000_000));
        assert_eq!(norm(&text), text);
    }

    /// A tiny deterministic generator of JSON texts with whitespace, duplicates and escapes.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }

        fn ws(&mut self, out: &mut String) {
            for _ in 0..self.next(3) {
                out.push([' ', '\n', '\t', '\r'][self.next(4) as usize]);
            }
        }

        fn string(&mut self, out: &mut String) {
            const PIECES: &[&str] = &[
                "a",
                "b",
                "é",
                "😀",
                "\\n",
                "\\u0000",
                "\\u001F",
                "\\\"",
                "\\\\",
                "\\/",
                "\\ud83d\\ude00",
                "\\u00e9",
                "\\u2028",
                "\\b",
                "",
                "z",
            ];
            out.push('"');
            for _ in 0..self.next(4) {
                out.push_str(PIECES[self.next(PIECES.len() as u64) as usize]);
            }
            out.push('"');
        }

        fn value(&mut self, out: &mut String, depth: u32) {
            self.ws(out);
            match self.next(if depth > 4 { 4 } else { 7 }) {
                0 => out.push_str(
                    ["1", "-0.5e10", "12345678901234567890123", "0"][self.next(4) as usize],
                ),
                1 => out.push_str(["true", "false", "null"][self.next(3) as usize]),
                2 | 3 => self.string(out),
                4 => {
                    out.push('[');
                    let n = self.next(4);
                    for i in 0..n {
                        if i > 0 {
                            out.push(',');
                        }
                        self.value(out, depth + 1);
                    }
                    self.ws(out);
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    let n = self.next(5);
                    for i in 0..n {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        self.string(out);
                        self.ws(out);
                        out.push(':');
                        self.value(out, depth + 1);
                    }
                    self.ws(out);
                    out.push('}');
                }
            }
            self.ws(out);
        }
    }

    #[test]
    fn same_output_as_the_recursive_reference() {
        let mut rng = Gen(7);
        for _ in 0..5_000 {
            let mut text = String::new();
            rng.value(&mut text, 0);
            let expected = reference::normalize(&text).ok();
            assert_eq!(normalize_str(&text).ok(), expected, "for {text}");
        }
    }
}
