//! The executor on tokio's paused clock, with a scenario that needs no network: users start
//! and stop along the shape, iterations are shared, a stop from outside ends the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use slipstream_bench::executor::{Plan, RunControl, Scenario, User, UserFuture, run};
use slipstream_bench::shape::{Segment, Shape};

/// Each iteration records a 1 ms "tick" latency; tracks how many users run at most.
#[derive(Default)]
struct Ticker {
    running: AtomicU64,
    peak: AtomicU64,
    started: AtomicU64,
}

impl Scenario for Ticker {
    fn name(&self) -> String {
        "ticker".into()
    }

    fn primary_metric(&self) -> String {
        "tick".into()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            while user.next_iteration() {
                user.recorder.latency("tick", Duration::from_millis(1));
                if !user.think().await {
                    break;
                }
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

fn plan(shape: Shape) -> Plan {
    Plan {
        shape,
        segment: Segment::WHOLE,
        iterations: None,
        think: Duration::from_millis(100),
        grace: Duration::from_secs(1),
        url: "ws://127.0.0.1:1/socket/websocket".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn users_follow_the_stages_and_ramp_down_cleanly() {
    let scenario = Arc::new(Ticker::default());
    let (_control, stop) = RunControl::new();
    let mut seen = Vec::new();
    let shape = Shape::parse_stages("2s:10,2s:10,2s:0").unwrap();
    let result = run(plan(shape), scenario.clone(), stop, |s, _| {
        seen.push(s.active_users)
    })
    .await;
    assert_eq!(scenario.peak.load(Ordering::SeqCst), 10);
    assert_eq!(scenario.started.load(Ordering::SeqCst), 10);
    assert_eq!(scenario.running.load(Ordering::SeqCst), 0);
    assert!(seen.contains(&10), "{seen:?}");
    // The ramp down stopped users one by one before the end, not all at once at it.
    let peak = seen.iter().position(|&n| n == 10).unwrap();
    assert!(
        seen[peak..].iter().any(|&n| (1..10).contains(&n)),
        "{seen:?}"
    );
    // ~10 users × 2 s at full load × 10 iterations a second, plus the ramps.
    let ticks = result.latencies["tick"].len();
    assert!((250..=450).contains(&ticks), "{ticks}");
    assert_eq!(result.counters["iterations"], ticks);
    assert_eq!(result.meta.users, 10);
    assert!(result.meta.duration_ms >= 6000 && result.meta.duration_ms < 7500);
}

#[tokio::test(start_paused = true)]
async fn iterations_are_shared_by_all_users_and_end_the_run() {
    let scenario = Arc::new(Ticker::default());
    let (_control, stop) = RunControl::new();
    let mut plan = plan(Shape::constant(5, Duration::ZERO, Duration::from_secs(600)).unwrap());
    plan.iterations = Some(42);
    let result = run(plan, scenario, stop, |_, _| {}).await;
    assert_eq!(result.counters["iterations"], 42);
    assert!(
        result.meta.duration_ms < 5000,
        "{}",
        result.meta.duration_ms
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_from_outside_ends_the_run_with_its_results() {
    let scenario = Arc::new(Ticker::default());
    let (control, stop) = RunControl::new();
    let plan = plan(Shape::constant(3, Duration::ZERO, Duration::from_secs(30)).unwrap());
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        control.stop();
    });
    let result = run(plan, scenario.clone(), stop, |_, _| {}).await;
    stopper.await.unwrap();
    assert!(
        result.meta.duration_ms < 3000,
        "{}",
        result.meta.duration_ms
    );
    assert!(result.counters["iterations"] >= 50);
    assert_eq!(scenario.running.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn two_segments_run_the_users_of_the_whole() {
    let mut total = 0;
    for segment in ["1/2", "2/2"] {
        let scenario = Arc::new(Ticker::default());
        let (_control, stop) = RunControl::new();
        let mut plan = plan(Shape::constant(7, Duration::ZERO, Duration::from_secs(1)).unwrap());
        plan.segment = segment.parse().unwrap();
        let result = run(plan, scenario.clone(), stop, |_, _| {}).await;
        assert_eq!(result.meta.users, scenario.started.load(Ordering::SeqCst));
        total += result.meta.users;
    }
    assert_eq!(total, 7);
}
