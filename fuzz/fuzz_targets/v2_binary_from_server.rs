//! The client's V2 binary decoder (server pushes, replies and broadcasts) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipstream_protocol::{FrameRef, Serializer};

fuzz_target!(|data: &[u8]| {
    let v2 = Serializer::V2;
    if let Ok(message) = v2.decode_from_server(FrameRef::Binary(data)) {
        let encoded = v2.encode_to_client(&message).expect("a decoded server frame re-encodes");
        let again = v2.decode_from_server(encoded.as_frame_ref()).expect("our encoding decodes");
        assert_eq!(again, message);
    }
});
