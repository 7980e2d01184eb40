//! Every built-in scenario, with a few users for a couple of seconds, against the demo server
//! in this process: the metrics each promises are there, with the right counts, and no errors.

use std::sync::Arc;
use std::time::Duration;

use slipstream_bench::duration::Rate;
use slipstream_bench::executor::{Plan, RunControl, Scenario, run};
use slipstream_bench::result::RunResult;
use slipstream_bench::scenario::Target;
use slipstream_bench::scenario::connect::Connect;
use slipstream_bench::scenario::fanout::{self, Fanout};
use slipstream_bench::scenario::ping::Ping;
use slipstream_bench::scenario::presence::PresenceScenario;
use slipstream_bench::scenario::reconnect::{Cut, Reconnect};
use slipstream_bench::shape::{Segment, Shape};
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

async fn demo() -> RunningServer {
    spawn_demo("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .await
        .expect("the demo server starts")
}

fn target(server: &RunningServer) -> Target {
    let mut target = Target::new(server.ws_url());
    target.timeout = Duration::from_secs(5);
    target
}

async fn bench(
    scenario: Arc<dyn Scenario>,
    users: u64,
    seconds: f64,
    think: Duration,
) -> RunResult {
    let plan = Plan {
        shape: Shape::constant(users, Duration::ZERO, Duration::from_secs_f64(seconds)).unwrap(),
        segment: Segment::WHOLE,
        iterations: None,
        think,
        grace: Duration::from_secs(10),
        url: "demo".into(),
    };
    let (_control, stop) = RunControl::new();
    run(plan, scenario, stop, |_, _| {}).await
}

fn errors(result: &RunResult) -> Vec<(&String, &u64)> {
    result
        .counters
        .iter()
        .filter(|(name, _)| name.starts_with("errors."))
        .collect()
}

fn count(result: &RunResult, metric: &str) -> u64 {
    result.latencies.get(metric).map_or(0, |h| h.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_holds_every_user_joined() {
    let server = demo().await;
    let scenario = Arc::new(Connect {
        target: target(&server),
        topics: 3,
    });
    let result = bench(scenario, 20, 1.5, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    assert_eq!(count(&result, "connect"), 20);
    assert_eq!(count(&result, "join"), 60);
    assert_eq!(result.counters["iterations"], 20);
    assert!(result.series.iter().any(|i| i.active_users == 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_records_one_reply_per_push() {
    let server = demo().await;
    let scenario = Arc::new(Ping {
        target: target(&server),
        topic: "bench:ping".into(),
        event: "ping".into(),
        payload_size: 16,
        rate: None,
    });
    let result = bench(scenario, 20, 2.0, Duration::from_millis(50)).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    let replies = count(&result, "reply.ping");
    assert!(replies >= 20 * 10, "{replies}");
    assert_eq!(result.counters["pushes"], replies);
    assert_eq!(result.counters["iterations"], replies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_at_a_rate_sends_on_schedule() {
    let server = demo().await;
    let scenario = Arc::new(Ping {
        target: target(&server),
        topic: "bench:ping".into(),
        event: "ping".into(),
        payload_size: 0,
        rate: Some(Rate::per_second(20.0).unwrap()),
    });
    let result = bench(scenario, 5, 2.0, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    // 5 users × 20/s × 2 s, the first push of each at once.
    let replies = count(&result, "reply.ping");
    assert!((190..=215).contains(&replies), "{replies}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_every_message_to_every_receiver() {
    let server = demo().await;
    let scenario = Arc::new(Fanout {
        target: target(&server),
        topic: "bench:fanout".into(),
        senders: 2,
        rate: Rate::per_second(20.0).unwrap(),
        send_after: fanout::DEFAULT_SEND_AFTER,
        per_round: false,
    });
    let result = bench(scenario, 10, 2.0, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    let sent = result.counters["messages.sent"];
    assert!(sent >= 40, "{sent}");
    // 8 receivers see every message of both senders.
    assert_eq!(result.counters["messages.received"], sent * 8);
    assert_eq!(count(&result, "delivery"), sent * 8);
    // Present at 0 (a threshold `messages.lost == 0` must find it), not merely absent.
    assert_eq!(result.counters["messages.lost"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_per_round_has_one_histogram_per_message_reaching_every_receiver() {
    let server = demo().await;
    let scenario = Arc::new(Fanout {
        target: target(&server),
        topic: "bench:fanout".into(),
        senders: 1,
        rate: Rate::per_second(5.0).unwrap(),
        send_after: Duration::from_millis(700),
        per_round: true,
    });
    let result = bench(scenario, 6, 2.0, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    let sent = result.counters["messages.sent"];
    // The sender waited 0.7 s of the 2 s, then sent at 5/s (the first at once): at most 8.
    assert!((1..=8).contains(&sent), "{sent}");
    let rounds: Vec<&String> = result
        .latencies
        .keys()
        .filter(|name| name.starts_with("round."))
        .collect();
    let expected: Vec<String> = (0..sent).map(|q| fanout::round_metric(0, q)).collect();
    assert_eq!(rounds, expected.iter().collect::<Vec<_>>());
    for name in rounds {
        let round = &result.latencies[name];
        // Each of the 5 receivers got each message once; the last delivery is the max.
        assert_eq!(round.len(), 5, "{name}");
        assert!(round.max() <= result.latencies["delivery"].max(), "{name}");
    }
    assert_eq!(count(&result, "delivery"), sent * 5);
    assert_eq!(result.counters["messages.lost"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_times_every_join_and_leave_seen() {
    let server = demo().await;
    let scenario = Arc::new(PresenceScenario::new(
        target(&server),
        "presence:bench".into(),
        Duration::from_millis(600),
    ));
    let result = bench(scenario, 6, 2.0, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    // Joins and leaves seen by every other user, timed as a whole and watcher by watcher.
    let (joins, leaves) = (
        count(&result, "presence.join"),
        count(&result, "presence.leave"),
    );
    assert!(joins > 0 && leaves > 0, "{joins} {leaves}");
    assert!(count(&result, "presence.join.each") >= joins);
    assert!(count(&result, "presence.leave.each") >= leaves);
    // The time until all saw a join is the largest of the times until each did.
    let each = &result.latencies["presence.join.each"];
    assert!(result.latencies["presence.join"].max() <= each.max());
    assert!(result.counters["iterations"] >= 6);
    assert_eq!(result.counters["presence.seen_remote"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_times_every_cut_and_loses_no_push() {
    let server = demo().await;
    let scenario = Arc::new(Reconnect {
        target: target(&server),
        cut: Cut::Kick,
    });
    let result = bench(scenario, 5, 2.0, Duration::from_millis(200)).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    let cuts = count(&result, "reconnect");
    assert!(cuts >= 5, "{cuts}");
    assert_eq!(cuts, result.counters["iterations"]);
    assert_eq!(result.counters["pushes"], cuts);
    assert_eq!(result.counters["pushes.lost"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_that_cannot_connect_are_counted_and_the_run_ends() {
    // A port nothing listens on: take one and free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = Arc::new(Connect {
        target: Target::new(format!("ws://127.0.0.1:{port}/socket/websocket")),
        topics: 1,
    });
    let started = std::time::Instant::now();
    let result = bench(scenario, 4, 30.0, Duration::ZERO).await;
    assert_eq!(result.counters["errors.refused"], 4);
    assert_eq!(count(&result, "connect"), 0);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_rate_a_saturated_server_neither_slows_the_sends_nor_hides_its_queue() {
    let server = demo().await;
    // Replies keep their order, each 250 ms after the one before: the channel answers 4 a
    // second, and the user offers 8.
    server.set_reply_delay(Duration::from_millis(250));
    let mut target = target(&server);
    target.timeout = Duration::from_secs(10);
    let scenario = Arc::new(Ping {
        target,
        topic: "bench:ping".into(),
        event: "ping".into(),
        payload_size: 0,
        rate: Some(Rate::per_second(8.0).unwrap()),
    });
    let result = bench(scenario, 1, 1.5, Duration::ZERO).await;
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    // The sends kept their schedule (12 in 1.5 s), whatever the replies did.
    let replies = count(&result, "reply.ping");
    assert!((11..=13).contains(&replies), "{replies}");
    // Push k, due at k × 125 ms, is answered at (k + 1) × 250 ms: measured from when it was
    // due, the queue shows (a closed loop would wait for each reply and say ~250 ms).
    let latencies = &result.latencies["reply.ping"];
    assert!(latencies.min() >= 240_000, "{}", latencies.min());
    assert!(latencies.max() >= 1_300_000, "{}", latencies.max());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_waits_for_the_server_to_drop_everyone() {
    let server = Arc::new(demo().await);
    let scenario = Arc::new(Reconnect {
        target: target(&server),
        cut: Cut::Server,
    });
    let dropper = {
        let server = server.clone();
        tokio::spawn(async move {
            for _ in 0..2 {
                tokio::time::sleep(Duration::from_millis(800)).await;
                // What a restart does to its websockets (1012, service restart).
                server.close_all_connections(1012);
            }
        })
    };
    let result = bench(scenario, 4, 2.5, Duration::ZERO).await;
    dropper.await.unwrap();
    assert_eq!(errors(&result), Vec::<(&String, &u64)>::new());
    // Two drops of 4 users, each timed to its rejoin, and the ping made meanwhile answered.
    assert_eq!(count(&result, "reconnect"), 8);
    assert_eq!(result.counters["pushes"], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_holds_its_users_with_heartbeats_and_counts_the_drops_without() {
    // The server closes a connection that sends nothing for 600 ms.
    let config = ServerConfig::default().with_idle_timeout(Duration::from_millis(600));
    let server = spawn_demo("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let soak = |heartbeat| {
        let mut target = target(&server);
        target.heartbeat = heartbeat;
        Arc::new(Connect { target, topics: 1 })
    };
    let held = bench(soak(Duration::from_millis(200)), 5, 2.0, Duration::ZERO).await;
    assert_eq!(errors(&held), Vec::<(&String, &u64)>::new());
    // Without heartbeats in time, every user is dropped (and reconnects, and is dropped…).
    let dropped = bench(soak(Duration::from_secs(30)), 5, 2.0, Duration::ZERO).await;
    assert!(
        dropped
            .counters
            .get("errors.disconnect")
            .copied()
            .unwrap_or(0)
            >= 5
    );
}
