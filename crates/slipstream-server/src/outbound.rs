//! What a connection's writer receives: ready-made websocket frames, or a close.

use bytes::Bytes;
use slipstream_protocol::{EncodeError, Frame, Message, Serializer};
use tokio::sync::mpsc;

use crate::ws;

/// One item for a connection's writer task.
#[derive(Debug)]
pub(crate) enum Out {
    /// A complete websocket frame (header included), possibly shared with other connections.
    Frame(Bytes),
    /// Send a close frame with this code, then stop writing.
    Close(u16),
}

/// The sending side of a connection's writer queue.
pub(crate) type OutTx = mpsc::UnboundedSender<Out>;

/// Encodes a message for a client with its serializer, as a complete websocket frame.
pub(crate) fn encode(serializer: Serializer, message: &Message) -> Result<Bytes, EncodeError> {
    Ok(match serializer.encode_to_client(message)? {
        Frame::Text(text) => ws::encode_frame(ws::OP_TEXT, text.as_bytes()),
        Frame::Binary(bytes) => ws::encode_frame(ws::OP_BINARY, &bytes),
    })
}
