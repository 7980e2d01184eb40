//! Slipstream's scripting guide, line for line, with the blocking API.
//!
//! ```sh
//! cargo run --example scripting                                        # embedded demo server
//! cargo run --example scripting -- ws://localhost:4000/socket/websocket # any server with the demo channels
//! ```

use std::error::Error;

use serde_json::json;
use slipstream_client::{await_message, blocking};
use slipstream_server::{BackgroundServer, ServerConfig};

fn main() -> Result<(), Box<dyn Error>> {
    // The guide talks to a dev server on localhost:4000. Without an argument we start the
    // embedded demo server on a free port instead, so the example runs anywhere.
    let (url, server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let server =
                BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())?;
            (server.ws_url(), Some(server))
        }
    };

    // Connect. `connect` only asks for a connection; `await_connect` blocks until it is up.
    let socket = blocking::connect(&url)?;
    socket.await_connect()?;
    println!("connected to {url}");

    // Join the guide's channel with some params. Joining is a request too, answered by await_join.
    let topic = "rooms:lobby";
    socket.join(topic, json!({"fizz": "buzz"}));
    socket.await_join(topic)?;
    println!("joined {topic}");

    // Push to a handler that swallows the request. Pushes need no answer, so there is no
    // await_push; what comes back at once is the push's ref ("2": the join was "1").
    let quicksand = socket.push(topic, "quicksand", json!({"a": "b"}));
    println!(
        "quicksand pushed with ref {quicksand:?}",
        quicksand = quicksand.to_string()
    );

    // Push to a handler that replies, and use the ref to wait for that reply.
    let ping = socket.push(topic, "ping", json!({}));
    let reply = socket.await_reply(&ping)?;
    println!(
        "ping replied ({}, {})",
        reply.status,
        reply.response.to_value()?
    );

    // A handler that answers with a server push rather than a reply: the message lands in the
    // mailbox, and flush shows everything that arrived (wait for the first, then drain).
    socket.push(topic, "push to me", json!({}));
    let mut arrived = vec![socket.next_event()?];
    arrived.extend(socket.flush());
    for event in &arrived {
        println!("flush: {event}");
    }

    // Await a message selectively, by pattern on topic, event and payload.
    socket.push(topic, "push to me", json!({}));
    let message = await_message!(socket, topic, "foo", {"bar": "baz"})?;
    println!(
        "await_message!: ({:?}, {:?}, {})",
        message.topic,
        message.event,
        message.payload.to_value()?
    );

    // `_` matches anything: take whatever message comes first.
    socket.push(topic, "push to me", json!({}));
    let message = await_message!(socket, _, _, _)?;
    println!(
        "await_message!(_, _, _): ({:?}, {:?}, {})",
        message.topic,
        message.event,
        message.payload.to_value()?
    );

    // Leave the topic and disconnect, cleanly.
    socket.leave(topic);
    socket.await_leave(topic)?;
    socket.disconnect();
    let reason = socket.await_disconnect()?;
    println!("disconnected: {reason}");

    if let Some(server) = server {
        server.stop();
    }
    Ok(())
}
