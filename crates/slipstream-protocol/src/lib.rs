//! The Phoenix Channels wire format, with no I/O.
//!
//! * [`Message`] is the five-field message (`join_ref`, `ref`, `topic`, `event`, `payload`) that
//!   travels in both directions; [`Payload`] keeps JSON raw until someone asks for it and carries
//!   binary bytes and replies (any status string, any JSON or binary response).
//! * [`Serializer`] is Phoenix's V1 (JSON object) or V2 (JSON array + binary frames) serializer,
//!   negotiated from the `vsn` query parameter, with an encoder and a decoder for each side.
//! * A client can decode a text frame it holds in a shared buffer into a [`SharedMessage`],
//!   whose topic, event and JSON payload ([`JsonText`]) are slices of that buffer (or inline
//!   copies, when short) rather than allocations of their own.
//! * Every malformed input gives a [`DecodeError`] that says what was wrong and where; decoders
//!   never panic.
//!
//! ```
//! use slipstream_protocol::{Frame, FrameRef, Message, Payload, Serializer};
//!
//! // A server decodes a client's push…
//! let push = Serializer::V2
//!     .decode_from_client(FrameRef::Text(r#"["1","2","rooms:lobby","ping",{}]"#))
//!     .unwrap();
//! // …and answers it.
//! let reply = Message::reply(push.join_ref, push.msg_ref, push.topic, "ok",
//!                            Payload::json(&serde_json::json!({"pong": "pong"})));
//! let frame = Serializer::V2.encode_to_client(&reply).unwrap();
//! assert_eq!(frame, Frame::Text(
//!     r#"["1","2","rooms:lobby","phx_reply",{"response":{"pong":"pong"},"status":"ok"}]"#.into()));
//! ```

mod binary;
mod copy_buffer;
mod error;
mod frame;
mod json;
mod json_text;
mod message;
mod plain_text;
mod serializer;
mod shared;
mod shared_str;
mod v1_text;
mod v2_text;

pub use copy_buffer::CopyBuffer;
pub use error::{DecodeError, EncodeError, Field, VsnError};
pub use frame::{Frame, FrameRef};
pub use json_text::JsonText;
pub use message::{Event, Message, MessageRef, PHOENIX_TOPIC, Payload, Ref, Reply};
pub use serializer::Serializer;
pub use shared::SharedMessage;
pub use shared_str::SharedStr;
