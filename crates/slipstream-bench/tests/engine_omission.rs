//! Coordinated omission: when the load generator itself falls behind (its runtime stalls),
//! the pushes that were due meanwhile are sent late, and their latency must count from when
//! they were due, not from when they went out, or the stall vanishes from the results.

use std::sync::Arc;
use std::time::Duration;

use slipstream_bench::duration::Rate;
use slipstream_bench::executor::{Plan, RunControl, run};
use slipstream_bench::scenario::Target;
use slipstream_bench::scenario::ping::Ping;
use slipstream_bench::shape::{Segment, Shape};
use slipstream_server::{BackgroundServer, ServerConfig};

#[test]
fn pushes_sent_late_count_from_when_they_were_due() {
    // The server runs on a thread of its own, so only the load generator stalls.
    let server = BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())
        .expect("the demo server starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let scenario = Arc::new(Ping {
            target: Target::new(server.ws_url()),
            topic: "bench:ping".into(),
            event: "ping".into(),
            payload_size: 0,
            rate: Some(Rate::per_second(50.0).unwrap()),
        });
        let plan = Plan {
            shape: Shape::constant(1, Duration::ZERO, Duration::from_millis(1500)).unwrap(),
            segment: Segment::WHOLE,
            iterations: None,
            think: Duration::ZERO,
            grace: Duration::from_secs(5),
            url: server.ws_url(),
        };
        // 600 ms in, the runtime's only thread is blocked for 500 ms: about 25 pushes fall
        // due while nothing can be sent.
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            std::thread::sleep(Duration::from_millis(500));
        });
        let (_control, stop) = RunControl::new();
        run(plan, scenario, stop, |_, _| {}).await
    });
    let latencies = &result.latencies["reply.ping"];
    // The schedule was kept: the late pushes went out in a burst, none skipped.
    assert!((70..=80).contains(&latencies.len()), "{}", latencies.len());
    // Those due in the first half of the stall waited at least 250 ms. Timed from the late
    // send instead, all but the one or two in flight would show a millisecond or so.
    let waited = latencies.count_between(250_000, slipstream_bench::result::MAX_LATENCY_US);
    assert!(waited >= 10, "{waited} samples of 250 ms or more");
    assert!(latencies.max() >= 400_000, "{}", latencies.max());
}
