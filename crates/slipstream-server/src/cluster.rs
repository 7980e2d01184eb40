//! A node among others: what arrives from the other nodes, and the presence heartbeat.
//!
//! Started by the server when its config names a PubSub engine other than the local one.

use std::sync::{Arc, Weak};

use crate::config::PubSubConfig;
use crate::pubsub::adapter::{Body, Inbox, NodeMessage, broadcast_payload};
use crate::pubsub::redis;
use crate::shared::Shared;
use crate::ws;

/// Connects the server to its PubSub engine, if it has one, and starts the heartbeat.
pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<()> {
    let PubSubConfig::Redis { url, channel } = &shared.config.pubsub else {
        return Ok(());
    };
    // This node's state is where the adapter hands what other nodes send.
    let inbox: Weak<Shared> = Arc::downgrade(shared);
    let adapter = redis::start(url, channel, inbox).map_err(|err| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the PubSub URL {url} is not a Redis URL: {err}"),
        )
    })?;
    shared.pubsub.set_adapter(Arc::new(adapter));
    tokio::spawn(heartbeat(Arc::downgrade(shared)));
    tracing::info!(node = %shared.pubsub.node().name, "node {} shares PubSub and Presence over {url}", shared.pubsub.node().name);
    Ok(())
}

/// What the PubSub adapter receives from other nodes goes to [`receive`].
impl Inbox for Shared {
    fn receive(&self, message: NodeMessage) {
        receive(self, message);
    }
}

/// Handles a message from another node (this node's own are ignored).
fn receive(shared: &Shared, message: NodeMessage) {
    if message.from == *shared.pubsub.node() {
        return;
    }
    match message.body {
        Body::Broadcast {
            topic,
            event,
            json,
            binary,
        } => {
            if event == "disconnect" {
                shared.close_connections(ws::CLOSE_NORMAL, |c| {
                    c.socket_id.as_deref() == Some(topic.as_str())
                });
            }
            let payload = broadcast_payload(json, binary);
            if let Err(err) = shared.pubsub.broadcast_local(&topic, &event, payload, None) {
                tracing::debug!(%topic, error = %err, "a broadcast from another node stopped");
            }
        }
        body => {
            let diffs = shared.presence.receive(
                &shared.pubsub,
                &message.from,
                body,
                shared.config.node_heartbeat,
            );
            send_diffs(shared, diffs);
        }
    }
}

/// Sends this node's clients the presence diffs it learned of.
fn send_diffs(shared: &Shared, diffs: Vec<(String, serde_json::Value)>) {
    for (topic, diff) in diffs {
        let payload = slipstream_protocol::Payload::json(&diff);
        let _ = shared
            .pubsub
            .broadcast_local(&topic, "presence_diff", payload, None);
    }
}

/// Every `node_heartbeat`: tell the others this node lives, and forget nodes gone silent.
async fn heartbeat(shared: Weak<Shared>) {
    let Some(period) = shared.upgrade().map(|s| s.config.node_heartbeat) else {
        return;
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let diffs = shared
            .presence
            .tick(&shared.pubsub, shared.config.node_timeout);
        send_diffs(&shared, diffs);
    }
}
