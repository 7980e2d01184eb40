//! Integration tests: one binary (one link) with a module per subject.

mod support;

/// The chat_bot example's client, shared with its tests.
#[path = "../examples/chat_bot/bot.rs"]
mod chat_bot;

mod auth_token;
mod blocking;
mod callback;
mod chat_bot_example;
mod demo;
mod errors;
mod lifecycle;
mod longpoll;
mod policies;
mod reliability;
mod testkit;
mod tls;
mod wire_formats;
