//! The V2 JSON-array decoders (both sides) on arbitrary UTF-8 text frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipstream_protocol::{FrameRef, Serializer};

fuzz_target!(|text: &str| {
    let v2 = Serializer::V2;
    let frame = FrameRef::Text(text);
    if let Ok(message) = v2.decode_from_client(frame) {
        let encoded = v2.encode_to_server(&message).expect("a decoded client frame re-encodes");
        let again = v2.decode_from_client(encoded.as_frame_ref()).expect("our encoding decodes");
        assert_eq!(again, message);
    }
    if let Ok(message) = v2.decode_from_server(frame) {
        let encoded = v2.encode_to_client(&message).expect("a decoded server frame re-encodes");
        let again = v2.decode_from_server(encoded.as_frame_ref()).expect("our encoding decodes");
        assert_eq!(again, message);
    }
});
