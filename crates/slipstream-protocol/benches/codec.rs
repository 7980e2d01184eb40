//! Codec throughput: decode and encode of typical frames, V2 text, V2 binary and V1 text.
//!
//! Run with `cargo bench -p slipstream-protocol --bench codec`; figures are in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slipstream_protocol::{Frame, FrameRef, Message, Payload, Ref, Serializer};

/// A chat-style push with a small object payload: the frame a server decodes most often.
const V2_PUSH_SMALL: &str = r#"["3","17","rooms:lobby","new_msg",{"body":"hello there, how are you doing today?","user":"alice"}]"#;

/// The reply a client decodes most often.
const V2_REPLY_SMALL: &str =
    r#"["3","17","rooms:lobby","phx_reply",{"response":{"id":4211},"status":"ok"}]"#;

/// A broadcast as a server sends it to every subscriber: both refs null.
const V2_BROADCAST_SMALL: &str = r#"[null,null,"rooms:lobby","new_msg",{"body":"hello there, how are you doing today?","user":"alice"}]"#;

/// The V1 spelling of `V2_PUSH_SMALL` (as a client sends it).
const V1_PUSH_SMALL: &str = r#"{"event":"new_msg","join_ref":"3","payload":{"body":"hello there, how are you doing today?","user":"alice"},"ref":"17","topic":"rooms:lobby"}"#;

/// The V1 spelling of `V2_REPLY_SMALL` (as a server sends it).
const V1_REPLY_SMALL: &str = r#"{"event":"phx_reply","payload":{"response":{"id":4211},"status":"ok"},"ref":"17","topic":"rooms:lobby"}"#;

/// A push whose payload is about 1 KiB of JSON (an object with a list of small records).
fn v2_push_1kib() -> String {
    let items: Vec<String> = (0..24)
        .map(|i| format!(r#"{{"id":{i},"name":"item-{i:03}","ok":true}}"#))
        .collect();
    let payload = format!(r#"{{"items":[{}],"total":24}}"#, items.join(","));
    format!(r#"["3","18","rooms:lobby","update",{payload}]"#)
}

fn v1_push_1kib(v2: &str) -> String {
    let message = Serializer::V2
        .decode_from_client(FrameRef::Text(v2))
        .unwrap();
    match Serializer::V1.encode_to_server(&message).unwrap() {
        Frame::Text(text) => text,
        Frame::Binary(_) => unreachable!("V1 writes text"),
    }
}

fn binary_push(payload_len: usize) -> Message {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    Message::new(
        Some(Ref::from("3")),
        Some(Ref::from("19")),
        "rooms:lobby",
        "upload",
        Payload::binary(payload),
    )
}

fn binary_reply(payload_len: usize) -> Message {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    Message::reply(
        Some(Ref::from("3")),
        Some(Ref::from("19")),
        "rooms:lobby",
        "ok",
        Payload::binary(payload),
    )
}

fn text_of(frame: Frame) -> String {
    match frame {
        Frame::Text(text) => text,
        Frame::Binary(_) => panic!("expected a text frame"),
    }
}

fn decode(c: &mut Criterion) {
    let push_1kib = v2_push_1kib();
    let v1_push_1kib = v1_push_1kib(&push_1kib);
    let bin_push = Serializer::V2.encode_to_server(&binary_push(64)).unwrap();
    let bin_push_1kib = Serializer::V2.encode_to_server(&binary_push(1024)).unwrap();
    let bin_reply = Serializer::V2.encode_to_client(&binary_reply(64)).unwrap();

    let mut group = c.benchmark_group("decode");
    let from_client: [(&str, Serializer, FrameRef<'_>); 6] = [
        (
            "v2_text_push_small",
            Serializer::V2,
            FrameRef::Text(V2_PUSH_SMALL),
        ),
        (
            "v2_text_push_1kib",
            Serializer::V2,
            FrameRef::Text(&push_1kib),
        ),
        (
            "v2_binary_push_64b",
            Serializer::V2,
            bin_push.as_frame_ref(),
        ),
        (
            "v2_binary_push_1kib",
            Serializer::V2,
            bin_push_1kib.as_frame_ref(),
        ),
        (
            "v1_text_push_small",
            Serializer::V1,
            FrameRef::Text(V1_PUSH_SMALL),
        ),
        (
            "v1_text_push_1kib",
            Serializer::V1,
            FrameRef::Text(&v1_push_1kib),
        ),
    ];
    for (name, serializer, frame) in from_client {
        group.throughput(Throughput::Bytes(frame_len(frame)));
        group.bench_with_input(BenchmarkId::new("from_client", name), &frame, |b, frame| {
            b.iter(|| serializer.decode_from_client(black_box(*frame)).unwrap())
        });
    }
    let from_server: [(&str, Serializer, FrameRef<'_>); 4] = [
        (
            "v2_text_broadcast_small",
            Serializer::V2,
            FrameRef::Text(V2_BROADCAST_SMALL),
        ),
        (
            "v2_text_reply_small",
            Serializer::V2,
            FrameRef::Text(V2_REPLY_SMALL),
        ),
        (
            "v2_binary_reply_64b",
            Serializer::V2,
            bin_reply.as_frame_ref(),
        ),
        (
            "v1_text_reply_small",
            Serializer::V1,
            FrameRef::Text(V1_REPLY_SMALL),
        ),
    ];
    for (name, serializer, frame) in from_server {
        group.throughput(Throughput::Bytes(frame_len(frame)));
        group.bench_with_input(BenchmarkId::new("from_server", name), &frame, |b, frame| {
            b.iter(|| serializer.decode_from_server(black_box(*frame)).unwrap())
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let push_small = Serializer::V2
        .decode_from_client(FrameRef::Text(V2_PUSH_SMALL))
        .unwrap();
    let push_1kib_text = v2_push_1kib();
    let push_1kib = Serializer::V2
        .decode_from_client(FrameRef::Text(&push_1kib_text))
        .unwrap();
    let reply_small = Serializer::V2
        .decode_from_server(FrameRef::Text(V2_REPLY_SMALL))
        .unwrap();
    let bin_push = binary_push(64);
    let bin_push_1kib = binary_push(1024);
    let bin_reply = binary_reply(64);

    let mut group = c.benchmark_group("encode");
    let to_server: [(&str, Serializer, &Message); 6] = [
        ("v2_text_push_small", Serializer::V2, &push_small),
        ("v2_text_push_1kib", Serializer::V2, &push_1kib),
        ("v2_binary_push_64b", Serializer::V2, &bin_push),
        ("v2_binary_push_1kib", Serializer::V2, &bin_push_1kib),
        ("v1_text_push_small", Serializer::V1, &push_small),
        ("v1_text_push_1kib", Serializer::V1, &push_1kib),
    ];
    for (name, serializer, message) in to_server {
        let len = serializer.encode_to_server(message).unwrap().len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("to_server", name), message, |b, m| {
            b.iter(|| serializer.encode_to_server(black_box(m)).unwrap())
        });
    }
    let to_client: [(&str, Serializer, &Message); 3] = [
        ("v2_text_reply_small", Serializer::V2, &reply_small),
        ("v2_binary_reply_64b", Serializer::V2, &bin_reply),
        ("v1_text_reply_small", Serializer::V1, &reply_small),
    ];
    for (name, serializer, message) in to_client {
        let len = serializer.encode_to_client(message).unwrap().len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("to_client", name), message, |b, m| {
            b.iter(|| serializer.encode_to_client(black_box(m)).unwrap())
        });
    }
    group.finish();

    // Keep the fixtures honest: the small frames are the ~100-byte frames BENCHMARKS.md quotes.
    assert!((80..=120).contains(&V2_PUSH_SMALL.len()));
    assert!((900..=1300).contains(&push_1kib_text.len()));
    assert_eq!(
        text_of(Serializer::V2.encode_to_client(&reply_small).unwrap()),
        V2_REPLY_SMALL
    );
}

fn frame_len(frame: FrameRef<'_>) -> u64 {
    match frame {
        FrameRef::Text(text) => text.len() as u64,
        FrameRef::Binary(bytes) => bytes.len() as u64,
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
