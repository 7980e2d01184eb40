//! The V2 binary frame layouts (docs/protocol.md §5).
//!
//! | kind | direction | header |
//! |---|---|---|
//! | 0 push | client → server | kind, len(join_ref), len(ref), len(topic), len(event) |
//! | 0 push | server → client | kind, len(join_ref), len(topic), len(event) |
//! | 1 reply | server → client | kind, len(join_ref), len(ref), len(topic), len(status) |
//! | 2 broadcast | server → client | kind, len(topic), len(event) |
//!
//! The strings follow the header back to back, then the payload runs to the end of the frame.
//! An absent ref is written with length 0 and read back as `None`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError, Field};
use crate::message::{Event, Message, MessageRef, Payload, Ref, Reply};

const KIND_PUSH: u8 = 0;
const KIND_REPLY: u8 = 1;
const KIND_BROADCAST: u8 = 2;

/// Decodes a client's binary push (what a server reads). Only kind 0 is accepted.
pub(crate) fn decode_from_client(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut reader = Reader::new(frame)?;
    if reader.kind != KIND_PUSH {
        return Err(DecodeError::UnknownKind {
            kind: reader.kind,
            expected: "0 (push)",
        });
    }
    let [join_ref_len, ref_len, topic_len, event_len] = reader.header::<4>()?;
    let join_ref = reader.opt_ref(join_ref_len, Field::JoinRef)?;
    let msg_ref = reader.opt_ref(ref_len, Field::Ref)?;
    let topic = reader.string(topic_len, Field::Topic)?;
    let event = Event::from(reader.string(event_len, Field::Event)?);
    Ok(Message {
        join_ref,
        msg_ref,
        topic,
        event,
        payload: Payload::Binary(reader.rest()),
    })
}

/// Decodes a server's binary push, reply or broadcast (what a client reads).
pub(crate) fn decode_from_server(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut reader = Reader::new(frame)?;
    match reader.kind {
        KIND_PUSH => {
            let [join_ref_len, topic_len, event_len] = reader.header::<3>()?;
            let join_ref = reader.opt_ref(join_ref_len, Field::JoinRef)?;
            let topic = reader.string(topic_len, Field::Topic)?;
            let event = Event::from(reader.string(event_len, Field::Event)?);
            Ok(Message::new(
                join_ref,
                None,
                topic,
                event,
                Payload::Binary(reader.rest()),
            ))
        }
        KIND_REPLY => {
            let [join_ref_len, ref_len, topic_len, status_len] = reader.header::<4>()?;
            let join_ref = reader.opt_ref(join_ref_len, Field::JoinRef)?;
            let msg_ref = reader.opt_ref(ref_len, Field::Ref)?;
            let topic = reader.string(topic_len, Field::Topic)?;
            let status = reader.string(status_len, Field::Status)?;
            let reply = Reply {
                status,
                response: Payload::Binary(reader.rest()),
            };
            Ok(Message::new(
                join_ref,
                msg_ref,
                topic,
                Event::Reply,
                Payload::Reply(Box::new(reply)),
            ))
        }
        KIND_BROADCAST => {
            let [topic_len, event_len] = reader.header::<2>()?;
            let topic = reader.string(topic_len, Field::Topic)?;
            let event = Event::from(reader.string(event_len, Field::Event)?);
            Ok(Message::new(
                None,
                None,
                topic,
                event,
                Payload::Binary(reader.rest()),
            ))
        }
        kind => Err(DecodeError::UnknownKind {
            kind,
            expected: "0 (push), 1 (reply) or 2 (broadcast)",
        }),
    }
}

/// Encodes a client's binary push (kind 0, five-byte header).
pub(crate) fn encode_to_server(
    message: MessageRef<'_>,
    payload: &[u8],
) -> Result<Bytes, EncodeError> {
    let fields = [
        (opt_ref_bytes(message.join_ref), Field::JoinRef),
        (opt_ref_bytes(message.msg_ref), Field::Ref),
        (message.topic.as_bytes(), Field::Topic),
        (message.event.as_bytes(), Field::Event),
    ];
    write_frame(KIND_PUSH, &fields, payload)
}

/// Encodes a server's binary message: a reply (kind 1) for a reply payload, a broadcast (kind 2)
/// when both refs are absent, a push (kind 0, four-byte header, no ref) otherwise.
pub(crate) fn encode_to_client(message: &Message) -> Result<Bytes, EncodeError> {
    match &message.payload {
        Payload::Reply(reply) => {
            let Payload::Binary(response) = &reply.response else {
                return Err(EncodeError::MisplacedReply);
            };
            let fields = [
                (opt_ref_bytes(message.join_ref.as_ref()), Field::JoinRef),
                (opt_ref_bytes(message.msg_ref.as_ref()), Field::Ref),
                (message.topic.as_bytes(), Field::Topic),
                (reply.status.as_bytes(), Field::Status),
            ];
            write_frame(KIND_REPLY, &fields, response)
        }
        Payload::Binary(payload) if message.is_broadcast() => {
            let fields = [
                (message.topic.as_bytes(), Field::Topic),
                (message.event.as_str().as_bytes(), Field::Event),
            ];
            write_frame(KIND_BROADCAST, &fields, payload)
        }
        Payload::Binary(payload) => {
            let fields = [
                (opt_ref_bytes(message.join_ref.as_ref()), Field::JoinRef),
                (message.topic.as_bytes(), Field::Topic),
                (message.event.as_str().as_bytes(), Field::Event),
            ];
            write_frame(KIND_PUSH, &fields, payload)
        }
        Payload::Json(_) => unreachable!("callers send JSON payloads as text frames"),
    }
}

fn opt_ref_bytes(r: Option<&Ref>) -> &[u8] {
    r.map_or(&[][..], |r| r.as_text().as_bytes())
}

fn write_frame(kind: u8, fields: &[(&[u8], Field)], payload: &[u8]) -> Result<Bytes, EncodeError> {
    let strings: usize = fields.iter().map(|(bytes, _)| bytes.len()).sum();
    let mut out = BytesMut::with_capacity(1 + fields.len() + strings + payload.len());
    out.put_u8(kind);
    for (bytes, field) in fields {
        let len = u8::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong {
            field: *field,
            len: bytes.len(),
        })?;
        out.put_u8(len);
    }
    for (bytes, _) in fields {
        out.put_slice(bytes);
    }
    out.put_slice(payload);
    Ok(out.freeze())
}

/// A cursor over a binary frame that reports exactly where it ran out.
struct Reader<'a> {
    frame: &'a [u8],
    pos: usize,
    kind: u8,
}

impl<'a> Reader<'a> {
    fn new(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let kind = *frame.first().ok_or(DecodeError::Empty)?;
        Ok(Reader {
            frame,
            pos: 1,
            kind,
        })
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<(usize, &'a [u8]), DecodeError> {
        let start = self.pos;
        let end = start + len;
        let bytes = self.frame.get(start..end).ok_or(DecodeError::Truncated {
            what,
            start,
            end,
            len: self.frame.len(),
        })?;
        self.pos = end;
        Ok((start, bytes))
    }

    fn header<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (_, bytes) = self.take(N, "header")?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn text(&mut self, len: u8, field: Field) -> Result<&'a str, DecodeError> {
        let (start, bytes) = self.take(usize::from(len), field.name())?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 {
            field,
            start,
            end: start + bytes.len(),
        })
    }

    fn string(&mut self, len: u8, field: Field) -> Result<String, DecodeError> {
        self.text(len, field).map(str::to_owned)
    }

    fn opt_ref(&mut self, len: u8, field: Field) -> Result<Option<Ref>, DecodeError> {
        let s = self.text(len, field)?;
        Ok((!s.is_empty()).then(|| Ref::from(s)))
    }

    fn rest(&self) -> Bytes {
        Bytes::copy_from_slice(&self.frame[self.pos..])
    }
}
