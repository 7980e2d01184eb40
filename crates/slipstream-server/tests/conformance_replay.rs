//! Replays every scenario of `tests/conformance/` (frames recorded from Phoenix 1.7.24 on Bandit)
//! against the demo app and compares what comes back as `tests/conformance/README.md` says: JSON
//! text by value (with placeholders), binary frames, pongs, close codes and HTTP statuses exactly.
//! The websocket scenarios play the client side with a raw tokio-tungstenite client
//! (`replay::run`), the long-poll ones (`lp_*`) with raw HTTP requests (`replay::longpoll::run`).
//!
//! Each scenario is its own test with its own server on port 0, so they run in parallel without
//! seeing each other's broadcasts or presences.
//!
//! `every_scenario_is_replayed` checks that no recording is left out.
//!
//! Timing: `v2_idle_timeout` is recorded with Phoenix's 60 s timeout. By default it runs against a
//! server configured with a 3 s idle timeout and the recorded waits scaled by 3/60; set
//! `SLIPSTREAM_CONFORMANCE_FULL_IDLE=1` to run it with the real 60 s.

mod replay;

/// One test per scenario: `websocket: a, b; longpoll: c, d`.
macro_rules! scenarios {
    (websocket: $($ws:ident),* $(,)?; longpoll: $($lp:ident),* $(,)?) => {
        const REPLAYED: &[&str] = &[$(stringify!($ws),)* $(stringify!($lp)),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $ws() {
                replay::run(stringify!($ws)).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $lp() {
                replay::longpoll::run(stringify!($lp)).await;
            }
        )*
    };
}

scenarios!(
    websocket:
    connect_invalid_vsn,
    connect_no_vsn_defaults_v1,
    connect_reject_403,
    connect_unsupported_vsn,
    connect_with_user_id,
    mixed_binary_broadcast_with_v1_subscriber,
    mixed_v1_v2_broadcast,
    v1_array_frame,
    v1_binary_frame_with_json,
    v1_broadcast_two_sockets,
    v1_channel_crash,
    v1_channel_stop,
    v1_error_reply,
    v1_heartbeat,
    v1_join_error,
    v1_join_ok,
    v1_join_reply_payload,
    v1_leave,
    v1_malformed_json,
    v1_missing_key,
    v1_push_noreply,
    v1_push_reply,
    v1_push_unjoined_topic,
    v1_server_push,
    v1_with_join_ref_key,
    v2_binary_broadcast,
    v2_binary_control_frames,
    v2_binary_echo,
    v2_binary_echo_empty,
    v2_binary_malformed,
    v2_binary_to_json_handler,
    v2_broadcast_two_sockets,
    v2_channel_crash,
    v2_channel_stop,
    v2_client_close,
    v2_client_close_4000,
    v2_disconnect_by_socket_id,
    v2_duplicate_join,
    v2_duplicate_join_same_join_ref,
    v2_echo_json_values,
    v2_echo_non_object_payload,
    v2_error_reply,
    v2_extra_array_elements,
    v2_heartbeat,
    v2_heartbeat_payload_and_join_ref,
    v2_idle_timeout,
    v2_invalid_utf8_text,
    v2_join_crash,
    v2_join_error,
    v2_join_ok,
    v2_join_reply_payload,
    v2_join_unrouted_topic,
    v2_json_number_refs,
    v2_large_payload_1mib,
    v2_leave,
    v2_leave_not_joined,
    v2_malformed_json,
    v2_non_numeric_refs,
    v2_null_join_ref_join,
    v2_oversize_frame_8mib,
    v2_phoenix_topic_other_event,
    v2_presence,
    v2_push_noreply,
    v2_push_reply,
    v2_push_unjoined_topic,
    v2_server_binary_push,
    v2_server_push,
    v2_stale_join_ref,
    v2_too_many_channels,
    v2_unicode_topic,
    v2_unknown_event,
    v2_wrong_shape_array4,
    v2_wrong_shape_object,
    v2_wrong_types,
    v2_ws_ping;
    longpoll:
    lp_binary_reply,
    lp_errors,
    lp_poll_timeout,
    lp_v1_session,
    lp_v2_session,
);

#[test]
fn every_scenario_is_replayed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(replay::conformance_dir())
        .expect("tests/conformance is readable")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .filter(|name| name != "index")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = REPLAYED.iter().map(|name| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every recording must be replayed");
    assert_eq!(listed.len(), 80, "the recordings number 80");
}
