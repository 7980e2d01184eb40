//! The serializers a Phoenix socket negotiates with its `vsn` parameter, for both sides of the wire.

use crate::binary;
use crate::copy_buffer::CopyBuffer;
use crate::error::{DecodeError, EncodeError, VsnError};
use crate::frame::{Frame, FrameRef};
use crate::message::{Message, MessageRef, Payload};
use crate::shared::SharedMessage;
use crate::shared_str::SharedStr;
use crate::{v1_text, v2_text};

/// A Phoenix serializer.
///
/// Each side uses two methods: a client calls [`encode_to_server`](Self::encode_to_server) and
/// [`decode_from_server`](Self::decode_from_server); a server calls
/// [`decode_from_client`](Self::decode_from_client) and [`encode_to_client`](Self::encode_to_client).
/// The layouts differ by direction (a server's binary push has no ref; only a client's replies
/// carry no status), so the direction is part of the method's name.
///
/// ```
/// use slipstream_protocol::{Event, FrameRef, Message, Payload, Serializer};
///
/// let ping = Message::new(Some("1".into()), Some("2".into()), "rooms:lobby", "ping", Payload::empty());
/// let frame = Serializer::V2.encode_to_server(&ping).unwrap();
/// assert_eq!(frame, slipstream_protocol::Frame::Text(r#"["1","2","rooms:lobby","ping",{}]"#.into()));
///
/// let reply = Serializer::V2
///     .decode_from_server(FrameRef::Text(r#"["1","2","rooms:lobby","phx_reply",{"status":"ok","response":{"pong":"pong"}}]"#))
///     .unwrap();
/// assert_eq!(reply.event, Event::Reply);
/// assert_eq!(reply.payload.as_reply().unwrap().status, "ok");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Serializer {
    /// `vsn=1.0.0` (and no `vsn` at all): JSON objects, no binary frames, no `join_ref` from the server.
    V1,
    /// `vsn=2.0.0`: JSON arrays and binary frames. What every modern client speaks.
    #[default]
    V2,
}

/// `V1 (vsn 1.0.0)` or `V2 (vsn 2.0.0)`.
///
/// ```
/// assert_eq!(slipstream_protocol::Serializer::V2.to_string(), "V2 (vsn 2.0.0)");
/// ```
impl std::fmt::Display for Serializer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Serializer::V1 => "V1",
            Serializer::V2 => "V2",
        };
        write!(f, "{name} (vsn {})", self.vsn())
    }
}

impl Serializer {
    /// The `vsn` value a client sends for this serializer.
    pub fn vsn(self) -> &'static str {
        match self {
            Serializer::V1 => "1.0.0",
            Serializer::V2 => "2.0.0",
        }
    }

    /// Chooses the serializer for a `vsn` query parameter as Phoenix does: absent means `1.0.0`;
    /// a version matching `~> 1.0.0` or `~> 2.0.0` picks V1 or V2; anything else is refused.
    ///
    /// ```
    /// use slipstream_protocol::Serializer;
    /// assert_eq!(Serializer::negotiate(None), Ok(Serializer::V1));
    /// assert_eq!(Serializer::negotiate(Some("2.0.5")), Ok(Serializer::V2));
    /// assert!(Serializer::negotiate(Some("2.1.0")).is_err());
    /// assert!(Serializer::negotiate(Some("banana")).is_err());
    /// ```
    pub fn negotiate(vsn: Option<&str>) -> Result<Serializer, VsnError> {
        let Some(vsn) = vsn else {
            return Ok(Serializer::V1);
        };
        let (major, minor, pre_release) =
            parse_version(vsn).ok_or_else(|| VsnError::Invalid(vsn.to_owned()))?;
        match (major, minor, pre_release) {
            (1, 0, false) => Ok(Serializer::V1),
            (2, 0, false) => Ok(Serializer::V2),
            _ => Err(VsnError::Unsupported(vsn.to_owned())),
        }
    }

    /// Encodes a client's message. Binary payloads become binary frames (V2 only).
    pub fn encode_to_server(self, message: &Message) -> Result<Frame, EncodeError> {
        self.encode_ref_to_server(MessageRef::from(message))
    }

    /// [`encode_to_server`](Self::encode_to_server) for a message whose parts are borrowed: a
    /// client need not build (and allocate) a [`Message`] for each push.
    ///
    /// ```
    /// use slipstream_protocol::{Frame, MessageRef, Payload, Ref, Serializer};
    ///
    /// let (join_ref, push_ref) = (Ref::from("1"), Ref::from("2"));
    /// let payload = Payload::json(&serde_json::json!({"body": "hi"}));
    /// let message = MessageRef {
    ///     join_ref: Some(&join_ref),
    ///     msg_ref: Some(&push_ref),
    ///     topic: "rooms:lobby",
    ///     event: "new_msg",
    ///     payload: &payload,
    /// };
    /// let frame = Serializer::V2.encode_ref_to_server(message).unwrap();
    /// assert_eq!(frame, Frame::Text(r#"["1","2","rooms:lobby","new_msg",{"body":"hi"}]"#.into()));
    /// ```
    pub fn encode_ref_to_server(self, message: MessageRef<'_>) -> Result<Frame, EncodeError> {
        match (message.payload, self) {
            (Payload::Reply(_), _) => Err(EncodeError::MisplacedReply),
            (Payload::Binary(_), Serializer::V1) => Err(EncodeError::BinaryUnsupported),
            (Payload::Binary(bytes), Serializer::V2) => {
                binary::encode_to_server(message, bytes).map(Frame::Binary)
            }
            (Payload::Json(_), Serializer::V1) => v1_text::encode(message, true).map(Frame::Text),
            (Payload::Json(_), Serializer::V2) => v2_text::encode(message).map(Frame::Text),
        }
    }

    /// Decodes a client's frame, as a server does. Payloads stay raw; nothing is parsed as a reply.
    ///
    /// V1 reads a binary websocket frame as JSON text, as Phoenix's V1 serializer does.
    pub fn decode_from_client(self, frame: FrameRef<'_>) -> Result<Message, DecodeError> {
        match (self, frame) {
            (Serializer::V1, FrameRef::Text(text)) => v1_text::decode_text(text, false),
            (Serializer::V1, FrameRef::Binary(bytes)) => v1_text::decode_bytes(bytes, false),
            (Serializer::V2, FrameRef::Text(text)) => v2_text::decode(text, false),
            (Serializer::V2, FrameRef::Binary(bytes)) => binary::decode_from_client(bytes),
        }
    }

    /// Encodes a server's push, reply or broadcast.
    ///
    /// V1 never writes `join_ref`. In V2 a binary payload (or a reply with a binary response)
    /// becomes a binary frame: a reply, a broadcast when both refs are absent, or a push.
    pub fn encode_to_client(self, message: &Message) -> Result<Frame, EncodeError> {
        if message.event != crate::Event::Reply && matches!(message.payload, Payload::Reply(_)) {
            return Err(EncodeError::MisplacedReply);
        }
        let binary = match &message.payload {
            Payload::Binary(_) => true,
            Payload::Reply(reply) => matches!(reply.response, Payload::Binary(_)),
            Payload::Json(_) => false,
        };
        match (self, binary) {
            (Serializer::V1, true) => Err(EncodeError::BinaryUnsupported),
            (Serializer::V1, false) => {
                v1_text::encode(MessageRef::from(message), false).map(Frame::Text)
            }
            (Serializer::V2, true) => binary::encode_to_client(message).map(Frame::Binary),
            (Serializer::V2, false) => v2_text::encode(MessageRef::from(message)).map(Frame::Text),
        }
    }

    /// Decodes a server's frame, as a client does. `phx_reply` payloads become [`Payload::Reply`].
    pub fn decode_from_server(self, frame: FrameRef<'_>) -> Result<Message, DecodeError> {
        match (self, frame) {
            (Serializer::V1, FrameRef::Text(text)) => v1_text::decode_text(text, true),
            (Serializer::V1, FrameRef::Binary(bytes)) => v1_text::decode_bytes(bytes, true),
            (Serializer::V2, FrameRef::Text(text)) => v2_text::decode(text, true),
            (Serializer::V2, FrameRef::Binary(bytes)) => binary::decode_from_server(bytes),
        }
    }

    /// Decodes a server's text frame held in a shared buffer, as
    /// [`decode_from_server`](Self::decode_from_server) does, into a [`SharedMessage`] whose
    /// topic, event and JSON payload are slices of `text` (for V2's usual frames; otherwise they are moved
    /// out of an ordinary decode). Errors are the same.
    pub fn decode_text_from_server_shared(
        self,
        text: &SharedStr,
    ) -> Result<SharedMessage, DecodeError> {
        self.decode_text_from_server_copying(text, &mut CopyBuffer::new())
    }

    /// Decodes a server's text frame as
    /// [`decode_text_from_server_shared`](Self::decode_text_from_server_shared) does, one of a
    /// burst: the short parts it copies go into `copies`, with those of the frames before it
    /// (see [`CopyBuffer`]).
    pub fn decode_text_from_server_copying(
        self,
        text: &SharedStr,
        copies: &mut CopyBuffer,
    ) -> Result<SharedMessage, DecodeError> {
        match self {
            Serializer::V1 => v1_text::decode_text(text, true).map(SharedMessage::from),
            Serializer::V2 => v2_text::decode_shared(text, true, copies),
        }
    }
}

/// Parses `major.minor.patch[-pre][+build]`; returns (major, minor, has pre-release).
fn parse_version(vsn: &str) -> Option<(u64, u64, bool)> {
    let (core, _build) = vsn.split_once('+').unwrap_or((vsn, ""));
    let (core, pre) = match core.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, true),
        Some(_) => return None,
        None => (core, false),
    };
    let mut parts = core.split('.');
    let mut number = || -> Option<u64> {
        let part = parts.next()?;
        let valid = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if valid { part.parse().ok() } else { None }
    };
    let (major, minor, _patch) = (number()?, number()?, number()?);
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, pre))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;
    use crate::message::Message;

    fn server_frame(text: &str) -> Result<Message, DecodeError> {
        Serializer::V2.decode_from_server(FrameRef::Text(text))
    }

    #[test]
    fn replies_are_split_in_one_pass_and_checked() {
        let reply = server_frame(
            r#"["1","2","t","phx_reply",{"extra":[1],"status":"ok","response":{"a":1}}]"#,
        )
        .unwrap();
        let reply = reply.payload.as_reply().unwrap();
        assert_eq!(reply.status, "ok");
        assert_eq!(reply.response.as_json_str(), Some(r#"{"a":1}"#));
        // An escaped event name takes the slower path and gives the same result.
        let escaped =
            server_frame(r#"["1","2","t","phx\u005freply",{"status":"ok","response":{"a":1}}]"#)
                .unwrap();
        assert_eq!(escaped.payload.as_reply().unwrap().status, "ok");
        for bad in [
            r#"["1","2","t","phx_reply","nope"]"#,
            r#"["1","2","t","phx_reply",[1,2]]"#,
            r#"["1","2","t","phx_reply",{"status":1,"response":{}}]"#,
            r#"["1","2","t","phx_reply",{"response":{}}]"#,
            r#"["1","2","t","phx_reply",{"status":"ok"}]"#,
        ] {
            assert!(
                matches!(server_frame(bad), Err(DecodeError::MalformedReply { .. })),
                "{bad}: {:?}",
                server_frame(bad)
            );
        }
        assert!(matches!(
            server_frame(r#"["1","2","t","phx_reply"]"#),
            Err(DecodeError::WrongArity { len: 4 })
        ));
    }

    #[test]
    fn negotiates_like_phoenix() {
        assert_eq!(Serializer::negotiate(Some("1.0.0")), Ok(Serializer::V1));
        assert_eq!(Serializer::negotiate(Some("2.0.0")), Ok(Serializer::V2));
        assert_eq!(Serializer::negotiate(Some("2.0.9")), Ok(Serializer::V2));
        assert!(matches!(
            Serializer::negotiate(Some("3.0.0")),
            Err(VsnError::Unsupported(_))
        ));
        assert!(matches!(
            Serializer::negotiate(Some("2.0")),
            Err(VsnError::Invalid(_))
        ));
        assert!(matches!(
            Serializer::negotiate(Some("02.0.0")),
            Err(VsnError::Invalid(_))
        ));
        assert!(matches!(
            Serializer::negotiate(Some("")),
            Err(VsnError::Invalid(_))
        ));
        assert!(matches!(
            Serializer::negotiate(Some("2.0.0-rc.1")),
            Err(VsnError::Unsupported(_))
        ));
    }
}
