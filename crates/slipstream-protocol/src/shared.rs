//! A server's message decoded from a frame it shares: the topic, event and payload are slices
//! of the frame's text (or, when short, inline copies), not allocations of their own.

use crate::shared_str::SharedStr;

use crate::message::{Event, Message, Payload, Ref};

/// A message from a server whose topic, event and JSON payload are slices of the received frame
/// (a shared, reference-counted buffer, or inline copies when short), so decoding one allocates
/// for none of them. What
/// [`Serializer::decode_text_from_server_shared`](crate::Serializer::decode_text_from_server_shared)
/// returns; a client delivers them as they are.
///
/// ```
/// use slipstream_protocol::{SharedStr, Serializer};
/// let frame = SharedStr::from(r#"[null,null,"rooms:lobby","foo",{"bar":"baz"}]"#);
/// let message = Serializer::V2.decode_text_from_server_shared(&frame).unwrap();
/// assert_eq!(message.topic, "rooms:lobby");
/// assert_eq!(message.event, "foo");
/// assert_eq!(message.payload.as_json_str(), Some(r#"{"bar":"baz"}"#));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SharedMessage {
    /// See [`Message::join_ref`].
    pub join_ref: Option<Ref>,
    /// See [`Message::msg_ref`].
    pub msg_ref: Option<Ref>,
    /// The routing key, e.g. `rooms:lobby`.
    pub topic: SharedStr,
    /// The event's name on the wire, e.g. `phx_reply` or `foo`.
    pub event: SharedStr,
    /// The data (a `phx_reply` payload is a [`Payload::Reply`]).
    pub payload: Payload,
}

impl SharedMessage {
    /// The reserved event this message carries (`phx_reply`, `phx_close`…), if any.
    pub fn reserved_event(&self) -> Option<Event> {
        Event::reserved(&self.event)
    }

    /// The same message with an owned topic and event.
    pub fn into_message(self) -> Message {
        Message {
            join_ref: self.join_ref,
            msg_ref: self.msg_ref,
            topic: self.topic.as_str().to_owned(),
            event: Event::from(&*self.event),
            payload: self.payload,
        }
    }
}

impl From<Message> for SharedMessage {
    /// Moves the topic and event name into shared strings (no copy).
    fn from(message: Message) -> Self {
        SharedMessage {
            join_ref: message.join_ref,
            msg_ref: message.msg_ref,
            topic: SharedStr::from(message.topic),
            event: SharedStr::from(message.event.into_name()),
            payload: message.payload,
        }
    }
}
