//! Macros that build a [`MessagePattern`](crate::MessagePattern) from the guide's three patterns.

/// Builds a [`MessagePattern`](crate::MessagePattern) from a topic, an event and a payload pattern,
/// each `_` for anything. Topic and event are one token each (a literal, a variable, or an
/// expression in parentheses); the payload follows [`pattern!`](macro@crate::pattern).
///
/// ```
/// use slipstream_client::{message_pattern, ChannelMessage, Payload};
/// let topic = "rooms:lobby";
/// let foo = message_pattern!(topic, "foo", {"bar": "baz"});
/// let anything = message_pattern!(_, _, _);
/// let m = ChannelMessage {
///     topic: "rooms:lobby".into(),
///     event: "foo".into(),
///     payload: Payload::json(&serde_json::json!({"bar": "baz", "more": 1})),
/// };
/// assert!(foo.matches(&m) && anything.matches(&m));
/// assert!(!message_pattern!(_, "bar", _).matches(&m));
/// ```
#[macro_export]
macro_rules! message_pattern {
    ($topic:tt, $event:tt, $payload:tt $(,)?) => {{
        let mut pattern = $crate::MessagePattern::any().payload($crate::pattern!($payload));
        if let ::std::option::Option::Some(topic) = $crate::__text_pattern!($topic) {
            pattern = pattern.topic(topic);
        }
        if let ::std::option::Option::Some(event) = $crate::__text_pattern!($event) {
            pattern = pattern.event(event);
        }
        pattern
    }};
}

/// Waits on a [`blocking::Socket`](crate::blocking::Socket) for the first message matching the
/// guide's three patterns, like Slipstream's `await_message!(topic, event, payload)`; `_` matches
/// anything. Returns what [`blocking::Socket::await_message`](crate::blocking::Socket::await_message)
/// returns. (With the async socket, pass [`message_pattern!`](crate::message_pattern) to
/// [`Socket::await_message`](crate::Socket::await_message).)
///
/// ```no_run
/// use slipstream_client::{await_message, blocking};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let socket = blocking::connect("ws://localhost:4000/socket/websocket")?;
/// let message = await_message!(socket, "rooms:lobby", "foo", {"bar": "baz"})?;
/// let anything = await_message!(socket, _, _, _)?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! await_message {
    ($socket:expr, $topic:tt, $event:tt, $payload:tt $(,)?) => {
        $socket.await_message(&$crate::message_pattern!($topic, $event, $payload))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __text_pattern {
    (_) => {
        ::std::option::Option::<::std::string::String>::None
    };
    ($text:tt) => {
        ::std::option::Option::Some(::std::string::String::from($text))
    };
}
