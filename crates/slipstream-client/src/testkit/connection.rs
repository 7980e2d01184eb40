//! One accepted in-memory connection, as the test server keeps it.

use std::collections::HashMap;

use slipstream_protocol::{Message, Ref, Serializer};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::error::TestKitError;
use super::frames::Inbox;
use super::transport::{ToClient, encode};

/// A request the test took with an assertion, kept until it is answered.
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    pub(crate) topic: String,
    pub(crate) join_ref: Option<Ref>,
}

#[derive(Debug)]
pub(crate) struct Connection {
    /// `None` once the server dropped or closed the connection.
    to_client: Option<ToClient>,
    pub(crate) inbox: Inbox,
    serializer: Serializer,
    /// Topics whose join the test accepted, with that join's join_ref.
    pub(crate) joined: HashMap<String, Ref>,
    /// Asserted joins and pushes that may still be answered, by ref.
    pub(crate) asked: HashMap<Ref, Asked>,
}

impl Connection {
    pub(crate) fn new(to_client: ToClient, inbox: Inbox, serializer: Serializer) -> Self {
        Connection {
            to_client: Some(to_client),
            inbox,
            serializer,
            joined: HashMap::new(),
            asked: HashMap::new(),
        }
    }

    /// Sends one Phoenix message to the client.
    pub(crate) fn send(&self, message: &Message) -> Result<(), TestKitError> {
        let frame = encode(self.serializer, message).map_err(TestKitError::Encode)?;
        self.send_frame(frame)
    }

    fn send_frame(&self, frame: WsMessage) -> Result<(), TestKitError> {
        let to_client = self.to_client.as_ref().ok_or(TestKitError::NotConnected)?;
        to_client
            .send(Ok(frame))
            .map_err(|_| TestKitError::NotConnected)
    }

    /// Ends the connection without a close frame (the client sees a transport error).
    pub(crate) fn drop_transport(&mut self) {
        self.to_client = None;
    }

    /// Sends a close frame, then ends the connection.
    pub(crate) fn close(&mut self, code: u16, reason: &str) -> Result<(), TestKitError> {
        let frame = WsMessage::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        }));
        let sent = self.send_frame(frame);
        self.to_client = None;
        sent
    }
}
