//! The fast path of V2 text decoding, for the frames servers send: refs that are `null` or plain
//! strings, a plain string topic and event, then the payload and the closing bracket.
//!
//! "Plain" means without escapes or control characters, so the text between the quotes is the
//! value itself. Those four elements are found by scanning the bytes; only the payload goes
//! through serde_json (which validates it, as the exact decoder does). A frame of any other
//! shape, and any error, makes [`parse`] give up (`None`): the exact decoder then reads the
//! frame from the start and reports precisely what is wrong. So this path never decides an
//! outcome the exact one would not; it reaches the same message sooner.

use crate::copy_buffer::CopyBuffer;
use crate::shared_str::SharedStr;
use serde_json::value::RawValue;

use crate::json::{self, PayloadElement, SplitReply};
use crate::json_text::JsonText;
use crate::message::{Event, Message, Payload, Ref};
use crate::plain_text::plain_prefix_len;
use crate::shared::SharedMessage;

/// A frame of the common shape, its payload decoded, its other elements still in the frame.
pub(super) struct Parts<'a> {
    join_ref: Option<&'a str>,
    msg_ref: Option<&'a str>,
    topic: &'a str,
    event: &'a str,
    payload: Payload,
}

/// Reads a frame of the common shape, or `None` when the frame has another shape or is invalid.
/// `keep` makes the payload's JSON text out of the part of `text` it was read from.
pub(super) fn parse<'a>(
    text: &'a str,
    parse_replies: bool,
    keep: impl FnOnce(&'a RawValue) -> JsonText,
) -> Option<Parts<'a>> {
    let mut cursor = Cursor { text, pos: 0 };
    cursor.expect(b'[')?;
    let join_ref = cursor.null_or_plain_string()?;
    cursor.expect(b',')?;
    let msg_ref = cursor.null_or_plain_string()?;
    cursor.expect(b',')?;
    let topic = cursor.null_or_plain_string()??;
    cursor.expect(b',')?;
    let event = cursor.null_or_plain_string()??;
    cursor.expect(b',')?;
    let is_reply = event == Event::Reply.as_str();
    // The payload is all that is left before the closing bracket. Extra elements (which Phoenix
    // ignores) make it invalid JSON, so they are left to the exact decoder.
    let payload = cursor.last_element()?;
    let payload = if parse_replies && is_reply {
        PayloadElement::Reply(serde_json::from_str::<SplitReply<'_>>(payload).ok()?.0)
    } else {
        PayloadElement::Raw(serde_json::from_str::<&RawValue>(payload).ok()?)
    };
    let payload = json::read_payload(payload, is_reply, parse_replies, keep).ok()?;
    Some(Parts {
        join_ref,
        msg_ref,
        topic,
        event,
        payload,
    })
}

/// A `keep` for [`parse`] that takes the payload out of the shared `frame`: a copy in `copies`
/// when short, else a slice (see [`SharedStr::part_of_frame`]).
pub(super) fn sliced<'f>(
    frame: &'f SharedStr,
    copies: &'f mut CopyBuffer,
) -> impl FnOnce(&RawValue) -> JsonText + 'f {
    move |raw| JsonText::checked(frame.part_of_frame(raw.get(), copies))
}

impl Parts<'_> {
    /// The message, with its own copies of the topic and event.
    pub(super) fn into_message(self) -> Message {
        Message {
            join_ref: self.join_ref.map(Ref::from),
            msg_ref: self.msg_ref.map(Ref::from),
            topic: self.topic.to_owned(),
            event: Event::from(self.event),
            payload: self.payload,
        }
    }

    /// The message, its topic and event taken out of `frame` (the text these parts were read
    /// from) as [`SharedStr::part_of_frame`] does; [`sliced`] does the same for the payload.
    pub(super) fn into_shared(self, frame: &SharedStr, copies: &mut CopyBuffer) -> SharedMessage {
        SharedMessage {
            join_ref: self.join_ref.map(Ref::from),
            msg_ref: self.msg_ref.map(Ref::from),
            topic: frame.part_of_frame(self.topic, copies),
            event: frame.part_of_frame(self.event, copies),
            payload: self.payload,
        }
    }
}

/// A position in the frame's text. Every method returns `None` where the frame leaves the
/// common shape.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips whitespace, then takes `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.text.as_bytes().get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    /// The rest of the frame up to its closing bracket (and the whitespace after that), or
    /// `None` if the frame does not end with a bracket.
    fn last_element(&self) -> Option<&'a str> {
        self.text
            .get(self.pos..)?
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .strip_suffix(']')
    }

    /// `null` (`Some(None)`), or a string without escapes or control characters.
    fn null_or_plain_string(&mut self) -> Option<Option<&'a str>> {
        self.skip_whitespace();
        let bytes = self.text.as_bytes();
        match bytes.get(self.pos)? {
            b'n' if bytes.get(self.pos..self.pos + 4)? == b"null" => {
                self.pos += 4;
                Some(None)
            }
            b'"' => {
                let start = self.pos + 1;
                let end = start + plain_prefix_len(&bytes[start..]);
                if bytes.get(end) != Some(&b'"') {
                    return None;
                }
                self.pos = end + 1;
                // Both ends are next to ASCII quotes, so on character boundaries.
                Some(Some(self.text.get(start..end)?))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::copy_buffer::CopyBuffer;
    use crate::json_text::JsonText;
    use crate::shared_str::SharedStr;
    use proptest::prelude::*;

    use super::super::decode_exact;

    /// JSON texts for the four head elements, in the common shape.
    const PLAIN_HEADS: &[&str] = &[
        "null",
        r#""""#,
        r#""1""#,
        r#""rooms:lobby""#,
        r#""phx_reply""#,
        r#""phx_join""#,
        r#""push to me""#,
        r#""é☃""#,
    ];

    /// JSON texts for head elements outside the common shape, valid or not.
    const OTHER_HEADS: &[&str] = &[
        "nul",
        r#""\u0031""#,
        "nullx",
        r#""rooms:\"quoted\"""#,
        r#""phx\u005freply""#,
        "\"tab\there\"",
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        "7",
        "4.5",
        "true",
        "{}",
        "[]",
        r#""unterminated"#,
    ];

    /// JSON texts for the payload.
    const PAYLOADS: &[&str] = &[
        "{}",
        r#"{"bar":"baz"}"#,
        r#"{"status":"ok","response":{"pong":"pong"}}"#,
        r#"{"response":{},"status":"error"}"#,
        r#"{"status":1,"response":{}}"#,
        r#"{"status":"ok"}"#,
        "[1,2]",
        r#""text""#,
        "12",
        "null",
        "{",
        "{}}",
    ];

    fn head() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            6 => proptest::sample::select(PLAIN_HEADS),
            1 => proptest::sample::select(OTHER_HEADS),
        ]
    }

    fn frame() -> impl Strategy<Value = String> {
        let heads = prop_oneof![
            9 => proptest::collection::vec(head(), 4),
            1 => proptest::collection::vec(head(), 0..4),
        ];
        let space = proptest::sample::select(&["", " ", "\n\t "][..]);
        let end = prop_oneof![
            6 => Just("]"),
            1 => proptest::sample::select(&["", "] x", "]]", ",0]", ", null ]"][..]),
        ];
        (
            heads,
            proptest::option::weighted(0.95, proptest::sample::select(PAYLOADS)),
            space,
            end,
        )
            .prop_map(|(heads, payload, space, end)| {
                let mut parts = heads;
                parts.extend(payload);
                format!(
                    "{space}[{space}{}{space}{end}{space}",
                    parts.join(&format!("{space},{space}"))
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Whatever the fast path decodes, the exact decoder decodes to the same message.
        #[test]
        fn agrees_with_the_exact_decoder(text in frame(), parse_replies: bool) {
            let frame = SharedStr::from(text.clone());
            let mut copies = CopyBuffer::new();
            if let Some(parts) = super::parse(&frame, parse_replies, super::sliced(&frame, &mut copies)) {
                let exact = decode_exact(&text, parse_replies);
                let shared = parts.into_shared(&frame, &mut copies).into_message();
                prop_assert_eq!(Ok(shared), exact.clone(), "frame {} (shared)", text);
                let owned = super::parse(&text, parse_replies, JsonText::from).map(super::Parts::into_message);
                prop_assert_eq!(owned.map(Ok), Some(exact), "frame {}", text);
            }
        }
    }

    #[test]
    fn takes_the_frames_servers_send() {
        for text in [
            r#"[null,null,"rooms:lobby","foo",{"bar":"baz"}]"#,
            r#"["1","2","rooms:lobby","phx_reply",{"status":"ok","response":{}}]"#,
            r#" [ null , "3" , "phoenix" , "phx_reply" , {"response":{},"status":"ok"} ] "#,
            r#"[null,null,"rooms:é","new msg",[1,"two"]]"#,
        ] {
            let fast = super::parse(text, true, JsonText::from).map(super::Parts::into_message);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast.map(Ok), Some(decode_exact(text, true)), "{text}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_the_exact_decoder() {
        for text in [
            r#"[1,null,"t","e",{}]"#,
            r#"[null,null,7,"e",{}]"#,
            r#"[null,null,null,"e",{}]"#,
            r#"[null,null,"t",null,{}]"#,
            r#"[null,null,"t\"","e",{}]"#,
            r#"[null,null,"t","e"]"#,
            r#"[null,null,"t","e",{},1]"#,
            r#"[null,null,"t","e",{}] x"#,
            r#"[null,null,"t","phx_reply",{"status":"ok"}]"#,
            r#"{"topic":"t"}"#,
        ] {
            assert!(super::parse(text, true, JsonText::from).is_none(), "{text}");
        }
    }
}
