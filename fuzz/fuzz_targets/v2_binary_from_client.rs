//! The server's V2 binary decoder (client pushes, kind 0) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipstream_protocol::{Frame, FrameRef, Serializer};

fuzz_target!(|data: &[u8]| {
    let v2 = Serializer::V2;
    if let Ok(message) = v2.decode_from_client(FrameRef::Binary(data)) {
        let encoded = v2.encode_to_server(&message).expect("a decoded push re-encodes");
        // Only an empty ref (read back as absent) has two spellings; everything else is canonical.
        if message.join_ref.is_some() && message.msg_ref.is_some() {
            assert_eq!(encoded, Frame::Binary(data.to_vec().into()));
        }
        let again = v2.decode_from_client(encoded.as_frame_ref()).expect("our encoding decodes");
        assert_eq!(again, message);
    }
});
