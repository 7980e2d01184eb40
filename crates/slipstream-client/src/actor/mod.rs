//! The connection task.

use std::sync::Arc;

use slipstream_protocol::{Payload, Ref};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::socket::Shared;

/// A request from a [`Socket`](crate::Socket) handle.
#[derive(Debug)]
pub(crate) enum Command {
    Connect,
    Disconnect,
    Reconnect,
    Join {
        topic: String,
        params: Payload,
    },
    Rejoin {
        topic: String,
    },
    Leave {
        topic: String,
    },
    Push {
        topic: String,
        event: String,
        payload: Payload,
        push_ref: Ref,
    },
}

pub(crate) struct Actor {
    #[allow(dead_code)]
    config: Arc<Config>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
}

impl Actor {
    pub(crate) fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        Actor {
            config,
            shared,
            commands,
        }
    }

    pub(crate) async fn run(mut self) {
        while let Some(_cmd) = self.commands.recv().await {}
        self.shared.mailbox.close();
    }
}
