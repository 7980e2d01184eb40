//! Typed errors of the codec. No decoder panics: every malformed input ends up here.

use std::fmt;

use crate::message::Ref;

/// Which field of a message an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `join_ref`
    JoinRef,
    /// `ref`
    Ref,
    /// `topic`
    Topic,
    /// `event`
    Event,
    /// `payload`
    Payload,
    /// the `status` of a reply
    Status,
}

impl Field {
    /// The field's name as Phoenix spells it.
    pub fn name(self) -> &'static str {
        match self {
            Field::JoinRef => "join_ref",
            Field::Ref => "ref",
            Field::Topic => "topic",
            Field::Event => "event",
            Field::Payload => "payload",
            Field::Status => "status",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not JSON (or a JSON string in it is not valid UTF-8).
    #[error("invalid JSON at line {line}, column {column}: {reason}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        reason: String,
    },
    /// A V2 text frame that is valid JSON but not an array.
    #[error("V2 frame must be a JSON array [join_ref, ref, topic, event, payload], found {found}")]
    NotAnArray {
        /// The JSON kind that was found.
        found: &'static str,
    },
    /// A V2 array with fewer than five elements.
    #[error("V2 frame has {len} elements; it needs 5: [join_ref, ref, topic, event, payload]")]
    WrongArity {
        /// How many elements the array had.
        len: usize,
    },
    /// A V1 text frame that is valid JSON but not an object.
    #[error("V1 frame must be a JSON object with topic, event, payload and ref, found {found}")]
    NotAnObject {
        /// The JSON kind that was found.
        found: &'static str,
    },
    /// A V1 object without one of its required keys.
    #[error("V1 frame is missing the required key `{key}`")]
    MissingKey {
        /// The missing key.
        key: Field,
    },
    /// A field with the wrong JSON type.
    #[error("{field} must be {expected}, found {found}")]
    WrongType {
        /// The field.
        field: Field,
        /// What it must be.
        expected: &'static str,
        /// The JSON kind that was found.
        found: &'static str,
    },
    /// A topic that is not a string. Phoenix answers such a frame with an `unmatched topic` reply
    /// echoing the topic value, so the refs and the raw topic are kept for a server to do the same.
    #[error("topic must be a string, found {topic_json}")]
    TopicNotString {
        /// The frame's join_ref.
        join_ref: Option<Ref>,
        /// The frame's ref.
        msg_ref: Option<Ref>,
        /// The topic's JSON text.
        topic_json: String,
    },
    /// A `phx_reply` whose payload is not `{"status": string, "response": any}`.
    #[error(
        "phx_reply payload must be an object with a string `status` and a `response`: {reason}"
    )]
    MalformedReply {
        /// What was wrong.
        reason: String,
    },
    /// A binary frame shorter than its header says.
    #[error(
        "binary frame truncated: {what} needs bytes {start}..{end}, but the frame has {len} bytes"
    )]
    Truncated {
        /// The part being read (header, topic, …).
        what: &'static str,
        /// Where that part starts.
        start: usize,
        /// Where it ends.
        end: usize,
        /// The frame's length.
        len: usize,
    },
    /// A binary frame whose first byte is not a kind this side accepts.
    #[error("binary frame has kind {kind}; expected {expected}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
        /// What was acceptable.
        expected: &'static str,
    },
    /// A string field of a binary frame that is not UTF-8.
    #[error("binary frame: {field} at bytes {start}..{end} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: Field,
        /// Where it starts.
        start: usize,
        /// Where it ends.
        end: usize,
    },
    /// An empty binary frame.
    #[error("binary frame is empty")]
    Empty,
}

impl DecodeError {
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        DecodeError::InvalidJson {
            line: err.line(),
            column: err.column(),
            reason: err.to_string(),
        }
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field of a binary frame longer than the 255 bytes its one-byte length allows.
    #[error("{field} is {len} bytes long; binary frames allow at most 255")]
    FieldTooLong {
        /// The field.
        field: Field,
        /// Its length in bytes.
        len: usize,
    },
    /// The V1 serializer has no binary frames.
    #[error("the V1 serializer cannot carry binary payloads")]
    BinaryUnsupported,
    /// A reply inside a reply, or a reply payload on a message that is not `phx_reply`.
    #[error(
        "a reply payload belongs only on a phx_reply message, and a reply cannot contain a reply"
    )]
    MisplacedReply,
}

/// Why a `vsn` query parameter was refused (Phoenix answers HTTP 403).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VsnError {
    /// Not a semantic version (`major.minor.patch`).
    #[error("vsn {0:?} is not a version (expected e.g. 2.0.0)")]
    Invalid(String),
    /// A version no serializer matches (`~> 1.0.0` or `~> 2.0.0`).
    #[error("vsn {0} matches no serializer (supported: ~> 1.0.0, ~> 2.0.0)")]
    Unsupported(String),
}
