//! Every frame of the recorded Phoenix conformance scenarios (`tests/conformance/*.json` at the
//! repository root) through the codec.
//!
//! * Frames a client sent are decoded with `decode_from_client` and re-encoded with
//!   `encode_to_server`; frames the server sent are decoded with `decode_from_server` and
//!   re-encoded with `encode_to_client`. The serializer is the one the frame's socket negotiated
//!   (its `vsn` connect parameter).
//! * A re-encoded binary frame must equal the recorded bytes; a re-encoded text frame must be the
//!   same JSON value as the recorded text (see [`normalize`] for the two places where Phoenix
//!   itself treats different texts as the same message).
//! * The frames Phoenix refuses (the scenarios that end in a 1011/1007 close, and the non-string
//!   topic of `v2_wrong_types`) are listed in [`EXPECTED_FAILURES`] with the error they must give.
//!   Any other decode or encode failure fails the test.
//! * Long-poll scenarios carry frames too: request bodies (one frame, or ndjson lines where a line
//!   not starting with `[` is a base64 binary frame) and the strings of `messages` in responses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipstream_protocol::{DecodeError, Frame, FrameRef, Message, Ref, Serializer};

/// Which way a frame travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// Client → server: `decode_from_client`, then `encode_to_server`.
    FromClient,
    /// Server → client: `decode_from_server`, then `encode_to_client`.
    FromServer,
}

/// The bytes of one recorded frame.
#[derive(Debug)]
enum Data {
    Text(String),
    Binary(Vec<u8>),
    /// A text frame (opcode 1) whose bytes are not UTF-8: no `&str`, so no `FrameRef::Text`.
    TextBytes(Vec<u8>),
}

/// One frame to check, with where it came from.
#[derive(Debug)]
struct RecordedFrame {
    step: usize,
    socket: String,
    direction: Direction,
    serializer: Serializer,
    data: Data,
}

/// What a refused frame must produce.
#[derive(Clone, Copy)]
enum Refusal {
    /// The codec rejects it with this error (named for the failure message).
    Decode(&'static str, fn(&DecodeError) -> bool),
    /// The bytes are not UTF-8 and the frame is a text frame: the websocket layer refuses it
    /// (1007) before any serializer runs, and the codec's text API (`&str`) cannot even hold it.
    NotUtf8,
}

/// A frame that must not decode.
struct ExpectedFailure {
    scenario: &'static str,
    step: usize,
    direction: Direction,
    refusal: Refusal,
}

/// The frames Phoenix refuses, one per row, with the typed error our decoder must give.
const EXPECTED_FAILURES: &[ExpectedFailure] = &[
    ExpectedFailure {
        scenario: "v2_malformed_json",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("InvalidJson", |e| {
            matches!(e, DecodeError::InvalidJson { .. })
        }),
    },
    ExpectedFailure {
        scenario: "v2_wrong_shape_array4",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("WrongArity { len: 4 }", |e| {
            matches!(e, DecodeError::WrongArity { len: 4 })
        }),
    },
    ExpectedFailure {
        scenario: "v2_wrong_shape_object",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode(
            "NotAnArray { found: object }",
            |e| matches!(e, DecodeError::NotAnArray { found } if found.contains("object")),
        ),
    },
    ExpectedFailure {
        scenario: "v2_wrong_types",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("TopicNotString { \"1\", \"2\", 42 }", |e| {
            *e == DecodeError::TopicNotString {
                join_ref: Some(Ref::from("1")),
                msg_ref: Some(Ref::from("2")),
                topic_json: "42".into(),
            }
        }),
    },
    // Phoenix echoes the non-string topic in its `unmatched topic` reply; a client cannot route
    // that frame to any channel either.
    ExpectedFailure {
        scenario: "v2_wrong_types",
        step: 3,
        direction: Direction::FromServer,
        refusal: Refusal::Decode("TopicNotString { null, \"2\", 42 }", |e| {
            *e == DecodeError::TopicNotString {
                join_ref: None,
                msg_ref: Some(Ref::from("2")),
                topic_json: "42".into(),
            }
        }),
    },
    ExpectedFailure {
        scenario: "v2_binary_malformed",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("UnknownKind { kind: 1 }", |e| {
            matches!(e, DecodeError::UnknownKind { kind: 1, .. })
        }),
    },
    ExpectedFailure {
        scenario: "v2_invalid_utf8_text",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::NotUtf8,
    },
    ExpectedFailure {
        scenario: "v1_missing_key",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("MissingKey { key: Ref }", |e| {
            matches!(
                e,
                DecodeError::MissingKey {
                    key: slipstream_protocol::Field::Ref
                }
            )
        }),
    },
    ExpectedFailure {
        scenario: "v1_malformed_json",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode("InvalidJson", |e| {
            matches!(e, DecodeError::InvalidJson { .. })
        }),
    },
    ExpectedFailure {
        scenario: "v1_array_frame",
        step: 2,
        direction: Direction::FromClient,
        refusal: Refusal::Decode(
            "NotAnObject { found: array }",
            |e| matches!(e, DecodeError::NotAnObject { found } if found.contains("array")),
        ),
    },
];

/// Close codes that mean "the server refused the frame just sent": 1011 (the socket process
/// crashed decoding it) and 1007 (not UTF-8). 1009 (too big) is the web server's size limit,
/// not a codec matter: those frames must decode.
const REFUSAL_CLOSE_CODES: &[u64] = &[1011, 1007];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = conformance_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "index.json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The serializer a socket negotiated from its `vsn` parameter, or `None` if the connect was refused.
fn socket_serializer(connect: &Value) -> Option<Serializer> {
    let vsn = connect["params"].get("vsn").and_then(Value::as_str);
    Serializer::negotiate(vsn).ok()
}

/// Expands a `text_parts` frame and checks it against its recorded length and SHA-256.
fn expand_text_parts(body: &Value) -> String {
    let mut text = String::new();
    for part in body["text_parts"]
        .as_array()
        .expect("text_parts is an array")
    {
        match part {
            Value::String(s) => text.push_str(s),
            Value::Object(repeat) => {
                let chunk = repeat["repeat"].as_str().expect("repeat is a string");
                let count = repeat["count"].as_u64().expect("count is an integer");
                text.push_str(&chunk.repeat(usize::try_from(count).unwrap()));
            }
            other => panic!("unexpected text part {other}"),
        }
    }
    assert_eq!(
        Some(text.len() as u64),
        body["byte_length"].as_u64(),
        "text_parts byte_length"
    );
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        Some(digest.as_str()),
        body["sha256"].as_str(),
        "text_parts sha256"
    );
    text
}

fn base64(value: &Value) -> Vec<u8> {
    BASE64
        .decode(value.as_str().expect("base64 field is a string"))
        .expect("valid base64")
}

/// The frame a websocket `send`/`expect` body carries; `None` for control frames and closes.
fn websocket_frame(body: &Value) -> Option<Data> {
    if let Some(text) = body.get("text") {
        Some(Data::Text(text.as_str().expect("text").to_owned()))
    } else if body.get("text_parts").is_some() {
        Some(Data::Text(expand_text_parts(body)))
    } else if let Some(text) = body.get("recorded_text") {
        Some(Data::Text(text.as_str().expect("recorded_text").to_owned()))
    } else if let Some(b) = body.get("binary_base64") {
        Some(Data::Binary(base64(b)))
    } else if let Some(b) = body.get("text_bytes_base64") {
        let bytes = base64(b);
        Some(match String::from_utf8(bytes) {
            Ok(text) => Data::Text(text),
            Err(e) => Data::TextBytes(e.into_bytes()),
        })
    } else {
        for control in ["ping_base64", "pong_base64", "close"] {
            if body.get(control).is_some() {
                return None;
            }
        }
        panic!("unknown websocket step body {body}")
    }
}

/// All frames of a websocket scenario, in step order.
fn websocket_frames(scenario: &Value) -> Vec<RecordedFrame> {
    let mut sockets = BTreeMap::new();
    sockets.insert("a".to_owned(), socket_serializer(&scenario["connect"]));
    if let Some(extra) = scenario.get("extra_connections").and_then(Value::as_object) {
        for (name, connect) in extra {
            sockets.insert(name.clone(), socket_serializer(connect));
        }
    }
    let mut frames = Vec::new();
    for (step, body) in scenario["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let socket = body.get("socket").and_then(Value::as_str).unwrap_or("a");
        let mut bodies = Vec::new();
        if let Some(send) = body.get("send") {
            bodies.push((Direction::FromClient, send));
        }
        if let Some(expect) = body.get("expect") {
            bodies.push((Direction::FromServer, expect));
        }
        if let Some(unordered) = body.get("expect_unordered") {
            let list = unordered.as_array().expect("expect_unordered is an array");
            bodies.extend(list.iter().map(|e| (Direction::FromServer, e)));
        }
        for (direction, frame_body) in bodies {
            let Some(data) = websocket_frame(frame_body) else {
                continue;
            };
            let serializer = sockets
                .get(socket)
                .unwrap_or_else(|| panic!("step {step} names unknown socket {socket}"))
                .unwrap_or_else(|| panic!("step {step}: socket {socket} was refused at connect"));
            frames.push(RecordedFrame {
                step,
                socket: socket.to_owned(),
                direction,
                serializer,
                data,
            });
        }
    }
    frames
}

/// All frames of a long-poll scenario: request bodies and the `messages` of responses.
fn longpoll_frames(scenario: &Value) -> Vec<RecordedFrame> {
    let default_vsn = scenario["connect"]["params"].get("vsn").cloned();
    let mut serializer = None;
    let mut frames = Vec::new();
    for (step, body) in scenario["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let mut push = |direction, serializer, data| {
            frames.push(RecordedFrame {
                step,
                socket: "longpoll".to_owned(),
                direction,
                serializer,
                data,
            })
        };
        if let Some(request) = body.get("http_request") {
            let vsn = request["query"].get("vsn").or(default_vsn.as_ref());
            serializer = Serializer::negotiate(vsn.and_then(Value::as_str)).ok();
            let Some(text) = request.get("body").and_then(Value::as_str) else {
                continue;
            };
            if request["method"] != "POST" {
                continue; // e.g. the refused PUT of lp_errors: its body is no frame
            }
            let serializer = serializer.expect("POST on a socket with a valid vsn");
            if request["content_type"] == "application/x-ndjson" {
                for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
                    if line.starts_with('[') {
                        push(Direction::FromClient, serializer, Data::Text(line.into()));
                    } else {
                        let bytes = BASE64.decode(line).expect("ndjson base64 line");
                        push(Direction::FromClient, serializer, Data::Binary(bytes));
                    }
                }
            } else {
                push(Direction::FromClient, serializer, Data::Text(text.into()));
            }
        }
        if let Some(response) = body.get("http_response") {
            let parsed;
            let json = match response.get("recorded_body") {
                Some(recorded) => {
                    parsed = serde_json::from_str::<Value>(recorded.as_str().expect("body"))
                        .expect("recorded_body is JSON");
                    &parsed
                }
                None => response.get("json").unwrap_or(&Value::Null),
            };
            let Some(messages) = json.get("messages").and_then(Value::as_array) else {
                continue;
            };
            let serializer = serializer.expect("a poll answered with messages has a valid vsn");
            for message in messages {
                let text = message.as_str().expect("long-poll messages are strings");
                // A binary frame travels as a JSON string holding its raw bytes (docs/protocol.md §14.4, Phoenix
                // 1.7.24); a text frame is a JSON array (V2) or object (V1).
                let data = if text.starts_with('[') || text.starts_with('{') {
                    Data::Text(text.into())
                } else {
                    Data::Binary(text.as_bytes().to_vec())
                };
                push(Direction::FromServer, serializer, data);
            }
        }
    }
    frames
}

/// The recorded text as Phoenix reads it, so that it compares with our re-encoding:
/// * V2 ignores array elements after the fifth (`[join_ref, ref, topic, event, payload | _]`);
/// * V1 reads `topic`, `event`, `payload`, `ref` and an optional `join_ref`, so an absent
///   `join_ref` is the same message as `"join_ref": null` (our V1 client encoder always writes
///   the key) and other keys are ignored.
fn normalize(mut value: Value, serializer: Serializer, direction: Direction) -> Value {
    match (serializer, &mut value) {
        (Serializer::V2, Value::Array(elements)) => elements.truncate(5),
        (Serializer::V1, Value::Object(map)) => {
            map.retain(|k, _| ["topic", "event", "payload", "ref", "join_ref"].contains(&&**k));
            if direction == Direction::FromClient {
                map.entry("join_ref").or_insert(Value::Null);
            }
        }
        _ => {}
    }
    value
}

#[derive(Default)]
struct Counts {
    decoded: usize,
    refused: usize,
    byte_identical: usize,
}

/// Decodes one frame; on success re-encodes it and compares. Returns the decode error, if any.
fn check_frame(name: &str, frame: &RecordedFrame, counts: &mut Counts) -> Result<(), String> {
    let where_ = format!(
        "{name} step {} (socket {}, {:?}, {:?})",
        frame.step, frame.socket, frame.direction, frame.serializer
    );
    let frame_ref = match &frame.data {
        Data::Text(text) => FrameRef::Text(text),
        Data::Binary(bytes) => FrameRef::Binary(bytes),
        Data::TextBytes(_) => return Err("not UTF-8".into()),
    };
    let decoded: Message = match frame.direction {
        Direction::FromClient => frame.serializer.decode_from_client(frame_ref),
        Direction::FromServer => frame.serializer.decode_from_server(frame_ref),
    }
    .map_err(|e| format!("{e:?}"))?;
    let encoded = match frame.direction {
        Direction::FromClient => frame.serializer.encode_to_server(&decoded),
        Direction::FromServer => frame.serializer.encode_to_client(&decoded),
    }
    .unwrap_or_else(|e| panic!("{where_}: decoded {decoded:?} but cannot re-encode it: {e}"));
    counts.decoded += 1;
    match (&frame.data, &encoded) {
        (Data::Binary(original), Frame::Binary(again)) => {
            assert_eq!(
                original.as_slice(),
                &again[..],
                "{where_}: binary re-encoding differs"
            );
            counts.byte_identical += 1;
        }
        // V1 reads a binary websocket frame as JSON text; our encoder answers with a text frame.
        (Data::Binary(original), Frame::Text(again)) if frame.serializer == Serializer::V1 => {
            let original: Value = serde_json::from_slice(original).expect("V1 binary is JSON");
            let original = normalize(original, frame.serializer, frame.direction);
            let again: Value = serde_json::from_str(again).expect("our encoding is JSON");
            assert_eq!(original, again, "{where_}: re-encoding differs");
        }
        (Data::Text(original), Frame::Text(again)) => {
            if original == again {
                counts.byte_identical += 1;
            } else {
                // What Phoenix sends, we encode identically (key order, escapes, refs): a
                // server built on this codec can be compared with the recordings byte for byte.
                assert_ne!(
                    frame.direction,
                    Direction::FromServer,
                    "{where_}: server frame re-encoded differently\n original: {}\n ours:     {}",
                    abbreviate(original),
                    abbreviate(again)
                );
            }
            let original_value: Value = serde_json::from_str(original).expect("decoded => JSON");
            let original_value = normalize(original_value, frame.serializer, frame.direction);
            let again_value: Value = serde_json::from_str(again)
                .unwrap_or_else(|e| panic!("{where_}: our encoding {again:?} is not JSON: {e}"));
            assert_eq!(
                original_value,
                again_value,
                "{where_}: re-encoding differs\n original: {}\n ours:     {}",
                abbreviate(original),
                abbreviate(again)
            );
        }
        (data, encoded) => panic!(
            "{where_}: frame kind changed on re-encoding: {} -> {}",
            match data {
                Data::Text(_) => "text",
                _ => "binary",
            },
            match encoded {
                Frame::Text(_) => "text",
                Frame::Binary(_) => "binary",
            }
        ),
    }
    Ok(())
}

fn abbreviate(text: &str) -> String {
    if text.len() <= 300 {
        text.to_owned()
    } else {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &text[..end], text.len())
    }
}

/// Checks a refused frame against its table row.
fn check_refusal(name: &str, frame: &RecordedFrame, row: &ExpectedFailure) {
    let where_ = format!("{name} step {}", frame.step);
    match row.refusal {
        Refusal::NotUtf8 => {
            let Data::TextBytes(bytes) = &frame.data else {
                panic!("{where_}: expected a text frame with invalid UTF-8, found {frame:?}");
            };
            assert!(std::str::from_utf8(bytes).is_err());
        }
        Refusal::Decode(expected, matches) => {
            let frame_ref = match &frame.data {
                Data::Text(text) => FrameRef::Text(text),
                Data::Binary(bytes) => FrameRef::Binary(bytes),
                Data::TextBytes(_) => panic!("{where_}: expected {expected}, frame is not UTF-8"),
            };
            let result = match frame.direction {
                Direction::FromClient => frame.serializer.decode_from_client(frame_ref),
                Direction::FromServer => frame.serializer.decode_from_server(frame_ref),
            };
            match result {
                Ok(message) => panic!("{where_}: expected {expected}, but it decoded: {message:?}"),
                Err(err) => assert!(matches(&err), "{where_}: expected {expected}, got {err:?}"),
            }
        }
    }
}

/// Whether a scenario ends with the server closing the socket because of a frame it received.
fn closes_for_refused_frame(scenario: &Value) -> bool {
    scenario["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s.get("expect")?.get("close")?.as_u64())
        .any(|code| REFUSAL_CLOSE_CODES.contains(&code))
}

#[test]
fn every_recorded_frame_round_trips_or_is_refused_as_phoenix_refuses_it() {
    let files = scenario_files();
    assert!(
        files.len() >= 80,
        "expected the ~85 recorded scenarios in {}, found {}",
        conformance_dir().display(),
        files.len()
    );
    let mut used_rows = vec![false; EXPECTED_FAILURES.len()];
    let mut failures = Vec::new();
    let mut total = Counts::default();
    for path in &files {
        let scenario = load(path);
        let name = scenario["name"].as_str().expect("name").to_owned();
        assert_eq!(
            Some(name.as_str()),
            path.file_stem().and_then(|s| s.to_str()),
            "scenario name matches file name"
        );
        let frames = match scenario["transport"].as_str() {
            Some("websocket") => websocket_frames(&scenario),
            Some("longpoll") => longpoll_frames(&scenario),
            other => panic!("{name}: unknown transport {other:?}"),
        };
        let mut counts = Counts::default();
        let mut refused_here = 0;
        for frame in &frames {
            let row = EXPECTED_FAILURES.iter().position(|row| {
                row.scenario == name && row.step == frame.step && row.direction == frame.direction
            });
            match row {
                Some(i) => {
                    check_refusal(&name, frame, &EXPECTED_FAILURES[i]);
                    used_rows[i] = true;
                    counts.refused += 1;
                    refused_here += 1;
                }
                None => {
                    if let Err(err) = check_frame(&name, frame, &mut counts) {
                        failures.push(format!(
                            "{name} step {} (socket {}, {:?}, {:?}): {err}",
                            frame.step, frame.socket, frame.direction, frame.serializer
                        ));
                    }
                }
            }
        }
        if closes_for_refused_frame(&scenario) {
            assert!(
                refused_here > 0,
                "{name}: the server closed for a bad frame, but no frame of it is in EXPECTED_FAILURES"
            );
        }
        println!(
            "{name:<48} {:>3} frames: {:>3} round-tripped ({:>3} byte-identical), {} refused",
            frames.len(),
            counts.decoded,
            counts.byte_identical,
            counts.refused
        );
        total.decoded += counts.decoded;
        total.refused += counts.refused;
        total.byte_identical += counts.byte_identical;
    }
    println!(
        "total: {} scenarios, {} frames round-tripped ({} byte-identical), {} refused as expected",
        files.len(),
        total.decoded,
        total.byte_identical,
        total.refused
    );
    assert!(
        failures.is_empty(),
        "frames that failed to decode:\n{}",
        failures.join("\n")
    );
    for (row, used) in EXPECTED_FAILURES.iter().zip(&used_rows) {
        assert!(
            used,
            "EXPECTED_FAILURES row {} step {} matched no frame",
            row.scenario, row.step
        );
    }
    assert!(total.decoded > 300, "suspiciously few frames checked");
}

/// Size limits are the server's business: the ~8 MiB frame Bandit refuses with 1009 is a
/// perfectly good frame for the codec.
#[test]
fn the_oversize_frame_decodes_at_the_codec_level() {
    let scenario = load(&conformance_dir().join("v2_oversize_frame_8mib.json"));
    let big = websocket_frames(&scenario)
        .into_iter()
        .find_map(|f| match f.data {
            Data::Text(text) if text.len() > 8_000_000 => Some(text),
            _ => None,
        })
        .expect("the scenario has an 8 MiB text frame");
    let message = Serializer::V2
        .decode_from_client(FrameRef::Text(&big))
        .expect("an 8 MiB frame decodes");
    assert_eq!(message.event.as_str(), "echo");
    let payload_start = big.find('{').expect("the payload is an object");
    assert_eq!(
        message.payload.as_json_str(),
        Some(&big[payload_start..big.len() - 1])
    );
}
