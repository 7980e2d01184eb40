//! `connect`: each user connects, joins `topics` topics (`bench:connect:0`, `bench:connect:1`,
//! …) and holds them until stopped, the client heartbeating meanwhile: a soak.
//!
//! Records `connect` and `join` latencies, `errors.disconnect` for every connection lost while
//! holding (the client reconnects and rejoins by itself; each rejoin is a `join` again). Each
//! user is one iteration, so `--iterations N` caps the connections made.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use slipstream_client::{DisconnectReason, Payload, SocketEvent};

use super::{Target, close};
use crate::executor::{Scenario, User, UserFuture};

/// The `connect` scenario.
#[derive(Debug, Clone)]
pub struct Connect {
    /// Where and how to connect.
    pub target: Target,
    /// Topics each user joins (0 connects only).
    pub topics: u32,
}

impl Scenario for Connect {
    fn name(&self) -> String {
        "connect".into()
    }

    fn primary_metric(&self) -> String {
        "connect".into()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            if !user.next_iteration() {
                return;
            }
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            for k in 0..self.topics {
                let topic = format!("bench:connect:{k}");
                if !self
                    .target
                    .join(&user, &socket, &topic, Payload::json(&json!({})))
                    .await
                {
                    break;
                }
            }
            loop {
                tokio::select! {
                    event = socket.next_event(Some(Duration::from_secs(60))) => match event {
                        Ok(SocketEvent::Disconnected(reason)) if reason != DisconnectReason::ClientRequested => {
                            user.recorder.error("disconnect", &reason);
                        }
                        Ok(SocketEvent::JoinFailed { error, .. }) => {
                            user.recorder.error(&crate::kind::join_error(&error), &error);
                        }
                        Ok(_) => {}
                        Err(slipstream_client::AwaitError::Timeout) => {}
                        Err(_) => break,
                    },
                    () = user.stopped() => break,
                }
            }
            close(socket).await;
        })
    }
}
