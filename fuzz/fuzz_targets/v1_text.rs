//! The V1 decoders (both sides) on arbitrary bytes: as a text frame when they are UTF-8, and as a
//! binary frame always (V1 reads a binary frame as JSON text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipstream_protocol::{FrameRef, Message, Serializer};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(FrameRef::Text(text));
    }
    check(FrameRef::Binary(data));
});

fn check(frame: FrameRef<'_>) {
    let v1 = Serializer::V1;
    if let Ok(message) = v1.decode_from_client(frame) {
        let encoded = v1.encode_to_server(&message).expect("a decoded client frame re-encodes");
        let again = v1.decode_from_client(encoded.as_frame_ref()).expect("our encoding decodes");
        assert_eq!(again, message);
    }
    if let Ok(message) = v1.decode_from_server(frame) {
        let encoded = v1.encode_to_client(&message).expect("a decoded server frame re-encodes");
        let again = v1.decode_from_server(encoded.as_frame_ref()).expect("our encoding decodes");
        // A V1 server never writes join_ref.
        assert_eq!(again, Message { join_ref: None, ..message });
    }
}
