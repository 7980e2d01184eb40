//! Property tests of the codec: round trips in both directions for every frame layout, the
//! 255-byte limit of binary fields, and decoders that never panic whatever they are given.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;
use slipstream_protocol::{
    EncodeError, Event, Field, Frame, FrameRef, Message, Payload, Ref, Serializer, SharedMessage,
    SharedStr,
};

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Characters that stress JSON escaping and UTF-8 handling, mixed with any `char` at all
/// (which includes control characters, unlike proptest's default `String` strategy).
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::char::range(' ', '~'),
        1 => prop::sample::select(vec![
            '"', '\\', '/', '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1f}', '\u{7f}',
            '\u{80}', 'é', '\u{2028}', '\u{2029}', '\u{feff}', '日', '🎉', '\u{10ffff}',
        ]),
    ]
}

/// Any string, including empty, control characters and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..24).prop_map(String::from_iter)
}

/// Any non-empty string of at most 255 UTF-8 bytes (what a binary frame field can carry).
fn short_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 1..24)
        .prop_map(String::from_iter)
        .prop_filter("fits a binary length byte", |s| s.len() <= 255)
}

/// An event name, built the way a decoder builds it (`phx_join` becomes `Event::Join`, …).
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => text().prop_map(Event::from),
        1 => prop::sample::select(vec![
            "phx_join", "phx_leave", "phx_reply", "phx_error", "phx_close", "heartbeat",
        ])
        .prop_map(Event::from),
    ]
}

fn binary_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => short_text().prop_map(Event::from),
        1 => prop::sample::select(vec!["phx_join", "phx_leave", "heartbeat", "phx_close"])
            .prop_map(Event::from),
    ]
}

/// A JSON number's text, as a ref other than a string (Phoenix echoes such refs as they came).
fn json_number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::from(f).to_string()),
        // Beyond 64 bits, and exponents: kept as text, never converted.
        "-?[1-9][0-9]{20,40}",
        "-?[0-9]\\.[0-9]{1,5}[eE][+-]?[0-9]{1,3}",
    ]
}

/// A ref of a JSON text frame: absent, any string (also empty), or a JSON number.
fn text_ref() -> impl Strategy<Value = Option<Ref>> {
    prop_oneof![
        1 => Just(None),
        3 => text().prop_map(|s| Some(Ref::from(s))),
        1 => json_number_text().prop_map(|n| Some(Ref::from_json_text(&n))),
    ]
}

/// A ref of a binary frame: absent or a non-empty string (an empty one is how "absent" is written).
fn binary_ref() -> impl Strategy<Value = Option<Ref>> {
    prop_oneof![
        1 => Just(None),
        3 => short_text().prop_map(|s| Some(Ref::from(s))),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Any JSON payload, written compactly or pretty-printed (the raw text must survive as is).
fn json_payload() -> impl Strategy<Value = Payload> {
    (json_value(), any::<bool>()).prop_map(|(value, pretty)| {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        Payload::from_json_str(&text).unwrap()
    })
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..96).prop_map(Bytes::from)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn client_round_trip(serializer: Serializer, message: &Message) -> Result<Message, TestCaseError> {
    let frame = serializer
        .encode_to_server(message)
        .map_err(|e| TestCaseError::fail(format!("encode_to_server: {e}")))?;
    serializer
        .decode_from_client(frame.as_frame_ref())
        .map_err(|e| TestCaseError::fail(format!("decode_from_client of {frame:?}: {e}")))
}

fn server_round_trip(serializer: Serializer, message: &Message) -> Result<Message, TestCaseError> {
    let frame = serializer
        .encode_to_client(message)
        .map_err(|e| TestCaseError::fail(format!("encode_to_client: {e}")))?;
    serializer
        .decode_from_server(frame.as_frame_ref())
        .map_err(|e| TestCaseError::fail(format!("decode_from_server of {frame:?}: {e}")))
}

fn is_text(frame: &Frame) -> bool {
    matches!(frame, Frame::Text(_))
}

/// A string of `n` bytes made of two-byte characters when `n` is even (so that a limit counted in
/// characters instead of bytes would be caught).
fn long_field(n: usize) -> String {
    let mut s = "é".repeat(n / 2);
    if n % 2 == 1 {
        s.push('x');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// V1 client → server: every field survives (join_ref is written by a client).
    #[test]
    fn v1_text_client_to_server(
        join_ref in text_ref(), msg_ref in text_ref(), topic in text(), event in event(),
        payload in json_payload(),
    ) {
        let message = Message::new(join_ref, msg_ref, topic, event, payload);
        let frame = Serializer::V1.encode_to_server(&message).unwrap();
        prop_assert!(is_text(&frame));
        prop_assert_eq!(client_round_trip(Serializer::V1, &message)?, message);
    }

    /// V1 server → client pushes and broadcasts: everything but join_ref, which V1 servers never send.
    #[test]
    fn v1_text_server_push(
        join_ref in text_ref(), msg_ref in text_ref(), topic in text(),
        event in event().prop_filter("not a reply", |e| *e != Event::Reply),
        payload in json_payload(),
    ) {
        let message = Message::new(join_ref, msg_ref, topic, event, payload);
        let decoded = server_round_trip(Serializer::V1, &message)?;
        prop_assert_eq!(decoded, Message { join_ref: None, ..message });
    }

    /// V1 server → client replies: status and JSON response survive.
    #[test]
    fn v1_text_server_reply(
        msg_ref in text_ref(), topic in text(), status in text(), response in json_payload(),
    ) {
        let message = Message::reply(None, msg_ref, topic, status, response);
        prop_assert_eq!(server_round_trip(Serializer::V1, &message)?, message);
    }

    /// V2 text, client → server.
    #[test]
    fn v2_text_client_to_server(
        join_ref in text_ref(), msg_ref in text_ref(), topic in text(), event in event(),
        payload in json_payload(),
    ) {
        let message = Message::new(join_ref, msg_ref, topic, event, payload);
        let frame = Serializer::V2.encode_to_server(&message).unwrap();
        prop_assert!(is_text(&frame));
        prop_assert_eq!(client_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 text, server → client pushes (join_ref set, ref null) and broadcasts (both null), and
    /// anything in between: all five fields survive.
    #[test]
    fn v2_text_server_push_and_broadcast(
        join_ref in text_ref(), msg_ref in text_ref(), topic in text(),
        event in event().prop_filter("not a reply", |e| *e != Event::Reply),
        payload in json_payload(),
    ) {
        let message = Message::new(join_ref, msg_ref, topic, event, payload);
        prop_assert_eq!(server_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 text, server → client replies with any status and any JSON response.
    #[test]
    fn v2_text_server_reply(
        join_ref in text_ref(), msg_ref in text_ref(), topic in text(), status in text(),
        response in json_payload(),
    ) {
        let message = Message::reply(join_ref, msg_ref, topic, status, response);
        let frame = Serializer::V2.encode_to_client(&message).unwrap();
        prop_assert!(is_text(&frame));
        prop_assert_eq!(server_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 binary, client → server push (kind 0, five-byte header).
    #[test]
    fn v2_binary_client_to_server(
        join_ref in binary_ref(), msg_ref in binary_ref(), topic in short_text(),
        event in binary_event(), payload in bytes(),
    ) {
        let message = Message::new(join_ref, msg_ref, topic, event, Payload::Binary(payload));
        let frame = Serializer::V2.encode_to_server(&message).unwrap();
        prop_assert!(matches!(&frame, Frame::Binary(b) if b[0] == 0));
        prop_assert_eq!(client_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 binary, server → client push (kind 0, four-byte header, no ref).
    #[test]
    fn v2_binary_server_push(
        join_ref in short_text(), topic in short_text(), event in binary_event(), payload in bytes(),
    ) {
        let message = Message::new(Some(Ref::from(join_ref)), None, topic, event, Payload::Binary(payload));
        let frame = Serializer::V2.encode_to_client(&message).unwrap();
        prop_assert!(matches!(&frame, Frame::Binary(b) if b[0] == 0));
        prop_assert_eq!(server_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 binary, server → client broadcast (kind 2: no refs).
    #[test]
    fn v2_binary_server_broadcast(topic in short_text(), event in binary_event(), payload in bytes()) {
        let message = Message::new(None, None, topic, event, Payload::Binary(payload));
        let frame = Serializer::V2.encode_to_client(&message).unwrap();
        prop_assert!(matches!(&frame, Frame::Binary(b) if b[0] == 2));
        prop_assert_eq!(server_round_trip(Serializer::V2, &message)?, message);
    }

    /// V2 binary, server → client reply (kind 1) with a binary response.
    #[test]
    fn v2_binary_server_reply(
        join_ref in binary_ref(), msg_ref in binary_ref(), topic in short_text(),
        status in short_text(), response in bytes(),
    ) {
        let message = Message::reply(join_ref, msg_ref, topic, status, Payload::Binary(response));
        let frame = Serializer::V2.encode_to_client(&message).unwrap();
        prop_assert!(matches!(&frame, Frame::Binary(b) if b[0] == 1));
        prop_assert_eq!(server_round_trip(Serializer::V2, &message)?, message);
    }
}

// ---------------------------------------------------------------------------------------------
// The 255-byte limit of binary fields
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each string field of each binary layout: 255 bytes encode, anything longer is
    /// `FieldTooLong` naming that field and its length in bytes.
    #[test]
    fn binary_fields_longer_than_255_bytes_are_refused(
        len in 256usize..1200, which in 0usize..4, payload in bytes(),
    ) {
        let ok = long_field(255);
        let long = long_field(len);
        let field = [Field::JoinRef, Field::Ref, Field::Topic, Field::Event][which];
        let pick = |f: Field| if f == field { long.clone() } else { ok.clone() };

        // Client push: join_ref, ref, topic, event.
        let push = Message::new(
            Some(Ref::from(pick(Field::JoinRef))), Some(Ref::from(pick(Field::Ref))),
            pick(Field::Topic), Event::from(pick(Field::Event)), Payload::Binary(payload.clone()),
        );
        prop_assert_eq!(
            Serializer::V2.encode_to_server(&push),
            Err(EncodeError::FieldTooLong { field, len })
        );
        let fits = Message::new(
            Some(Ref::from(ok.clone())), Some(Ref::from(ok.clone())), ok.clone(),
            Event::from(ok.clone()), Payload::Binary(payload.clone()),
        );
        prop_assert_eq!(client_round_trip(Serializer::V2, &fits)?, fits);

        // Server reply: join_ref, ref, topic, status (the event slot is the status here).
        let status_field = if field == Field::Event { Field::Status } else { field };
        let reply = Message::reply(
            Some(Ref::from(pick(Field::JoinRef))), Some(Ref::from(pick(Field::Ref))),
            pick(Field::Topic), pick(Field::Event), Payload::Binary(payload.clone()),
        );
        prop_assert_eq!(
            Serializer::V2.encode_to_client(&reply),
            Err(EncodeError::FieldTooLong { field: status_field, len })
        );

        // Server push (no ref field: a long ref is not written, so only the others count).
        let server_push = Message::new(
            Some(Ref::from(pick(Field::JoinRef))), None, pick(Field::Topic),
            Event::from(pick(Field::Event)), Payload::Binary(payload.clone()),
        );
        let result = Serializer::V2.encode_to_client(&server_push);
        if field == Field::Ref {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result, Err(EncodeError::FieldTooLong { field, len }));
        }

        // Broadcast: topic and event only.
        let broadcast = Message::new(
            None, None, pick(Field::Topic), Event::from(pick(Field::Event)), Payload::Binary(payload),
        );
        let result = Serializer::V2.encode_to_client(&broadcast);
        if matches!(field, Field::Topic | Field::Event) {
            prop_assert_eq!(result, Err(EncodeError::FieldTooLong { field, len }));
        } else {
            prop_assert!(result.is_ok());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoders never panic, and what they accept re-encodes to the same message
// ---------------------------------------------------------------------------------------------

/// Text that looks enough like a frame to get past the first checks now and then.
fn frame_like_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("null".to_owned()),
        Just("\"phx_reply\"".to_owned()),
        Just("\"status\"".to_owned()),
        Just("\"response\"".to_owned()),
        Just("\"topic\"".to_owned()),
        Just("\"event\"".to_owned()),
        Just("\"payload\"".to_owned()),
        Just("\"ref\"".to_owned()),
        Just("\"join_ref\"".to_owned()),
        Just("\"\\u0000\\ud83c\\udf89\\\"\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        text().prop_map(|s| Value::from(s).to_string()),
        json_number_text(),
        text(),
    ];
    prop::collection::vec(token, 0..16).prop_map(|tokens| tokens.concat())
}

/// Bytes that start like a binary frame (kind 0–3, small lengths) more often than chance would.
fn frame_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            0u8..4,
            prop::collection::vec(0u8..8, 0..5),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(kind, header, rest)| {
                let mut frame = vec![kind];
                frame.extend(header);
                frame.extend(rest);
                frame
            }),
    ]
}

/// Decodes with all four decoders (and the shared text decoder); whatever decodes must re-encode and decode to the same message
/// (V1 servers never send join_ref, so it is dropped on that path).
fn check_all_decoders(frame: FrameRef<'_>) -> Result<(), TestCaseError> {
    for serializer in [Serializer::V1, Serializer::V2] {
        if let Ok(message) = serializer.decode_from_client(frame) {
            let again = client_round_trip(serializer, &message)?;
            prop_assert_eq!(again, message);
        }
        let decoded = serializer.decode_from_server(frame);
        if let FrameRef::Text(text) = frame {
            // The shared decoder agrees with the ordinary one, errors included.
            let shared = serializer
                .decode_text_from_server_shared(&SharedStr::from(text))
                .map(SharedMessage::into_message);
            prop_assert_eq!(&shared, &decoded);
        }
        if let Ok(message) = decoded {
            let again = server_round_trip(serializer, &message)?;
            let expected = match serializer {
                Serializer::V1 => Message {
                    join_ref: None,
                    ..message
                },
                Serializer::V2 => message,
            };
            prop_assert_eq!(again, expected);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_strings_never_panic_any_decoder(s in any::<String>()) {
        check_all_decoders(FrameRef::Text(&s))?;
        check_all_decoders(FrameRef::Binary(s.as_bytes()))?;
    }

    #[test]
    fn frame_like_strings_never_panic_any_decoder(s in frame_like_text()) {
        check_all_decoders(FrameRef::Text(&s))?;
        check_all_decoders(FrameRef::Binary(s.as_bytes()))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(b in frame_like_bytes()) {
        check_all_decoders(FrameRef::Binary(&b))?;
        if let Ok(s) = std::str::from_utf8(&b) {
            check_all_decoders(FrameRef::Text(s))?;
        }
    }

    /// Valid frames with one byte changed: close to valid, so the decoders' deeper paths run.
    #[test]
    fn mutated_valid_frames_never_panic_any_decoder(
        message in (text_ref(), text_ref(), text(), event(), json_payload())
            .prop_map(|(j, r, t, e, p)| Message::new(j, r, t, e, p)),
        binary in bytes(), position in any::<prop::sample::Index>(), byte in any::<u8>(),
    ) {
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for serializer in [Serializer::V1, Serializer::V2] {
            if let Ok(Frame::Text(t)) = serializer.encode_to_server(&message) {
                frames.push(t.into_bytes());
            }
        }
        let binary_message = Message::new(
            Some(Ref::from("1")), Some(Ref::from("2")), "rooms:lobby", "ev", Payload::Binary(binary),
        );
        if let Ok(Frame::Binary(b)) = Serializer::V2.encode_to_server(&binary_message) {
            frames.push(b.to_vec());
        }
        for mut frame in frames {
            let i = position.index(frame.len());
            frame[i] = byte;
            check_all_decoders(FrameRef::Binary(&frame))?;
            if let Ok(s) = std::str::from_utf8(&frame) {
                check_all_decoders(FrameRef::Text(s))?;
            }
        }
    }
}
