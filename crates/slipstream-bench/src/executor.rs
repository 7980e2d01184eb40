//! The executor: starts and stops virtual users along the load shape, ticks the collector once
//! a second, and stops cleanly.
//!
//! Each virtual user is one tokio task on the caller's runtime (no thread per user); it runs
//! the scenario's [`Scenario::run_user`] and learns from its [`User`] when to stop. The run
//! ends when the shape is over, when `--iterations` are all done, or when [`RunControl::stop`]
//! is called (the CLI's Ctrl-C): users are told to stop (each finishes the operation under way
//! and closes its socket) and get [`Plan::grace`] to do it, after which the ones still running
//! are aborted. The last partial second is ticked too, so the result holds everything recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::recorder::{Collector, Recorder, Snapshot};
use crate::result::{RunMeta, RunResult};
use crate::shape::{Segment, Shape};

/// A boxed user future, what [`Scenario::run_user`] returns.
pub type UserFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What every virtual user of a run does.
pub trait Scenario: Send + Sync + 'static {
    /// The scenario's name, as results show it (`ping`, or a custom file's name).
    fn name(&self) -> String;
    /// The metric the live display follows (`reply.ping`, `connect`, `delivery`, …).
    fn primary_metric(&self) -> String;
    /// One virtual user, from start to stop.
    fn run_user(self: Arc<Self>, user: User) -> UserFuture;

    /// The counters the scenario keeps, so that they are in the result from the start, even
    /// at 0 (a threshold such as `messages.lost == 0` must find its counter). `errors.*`
    /// counters appear with their first error and need not be listed.
    fn counters(&self) -> Vec<String> {
        vec!["iterations".into()]
    }
}

/// How the run is shaped.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Users over time.
    pub shape: Shape,
    /// The share of the load this process runs.
    pub segment: Segment,
    /// Iterations for all users together (k6's `--iterations`, its shared-iterations
    /// executor): when they are all done the run ends, even before the shape does. Split
    /// between segments like users.
    pub iterations: Option<u64>,
    /// The pause between two iterations of a user (closed model).
    pub think: Duration,
    /// How long users get to stop once told to, before they are aborted.
    pub grace: Duration,
    /// The URL, for the result's metadata.
    pub url: String,
}

/// What a virtual user knows: who it is, where to record, and whether to stop.
pub struct User {
    /// The user's global index (0-based; the same whichever segment runs it).
    pub index: u64,
    /// Where this user records.
    pub recorder: Recorder,
    target: watch::Receiver<u64>,
    iterations: Option<Arc<AtomicU64>>,
    think: Duration,
}

impl User {
    /// Whether the user has been told to stop (ramp-down, end of the run, Ctrl-C).
    pub fn should_stop(&self) -> bool {
        *self.target.borrow() <= self.index
    }

    /// Resolves when the user is told to stop; use it in `select!` around waits.
    pub async fn stopped(&self) {
        let mut target = self.target.clone();
        let index = self.index;
        // An error means the executor is gone: stop too.
        let _ = target.wait_for(|t| *t <= index).await;
    }

    /// Claims the next iteration: `false` when the user must stop or every iteration of
    /// `--iterations` is taken. Counts `iterations`.
    pub fn next_iteration(&self) -> bool {
        if self.should_stop() {
            return false;
        }
        if let Some(left) = &self.iterations {
            let claimed =
                left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
            if claimed.is_err() {
                return false;
            }
        }
        self.recorder.count("iterations", 1);
        true
    }

    /// The think time between iterations.
    pub fn think_time(&self) -> Duration {
        self.think
    }

    /// Sleeps the think time; `false` when told to stop meanwhile.
    pub async fn think(&self) -> bool {
        self.sleep(self.think).await
    }

    /// Sleeps `d`; `false` when told to stop meanwhile.
    pub async fn sleep(&self, d: Duration) -> bool {
        if d.is_zero() {
            return !self.should_stop();
        }
        tokio::select! {
            () = tokio::time::sleep(d) => !self.should_stop(),
            () = self.stopped() => false,
        }
    }

    /// Sleeps until `at`; `false` when told to stop meanwhile.
    pub async fn sleep_until(&self, at: Instant) -> bool {
        tokio::select! {
            () = tokio::time::sleep_until(at) => !self.should_stop(),
            () = self.stopped() => false,
        }
    }
}

/// Stops a run from outside (Ctrl-C) and reads its live figures.
#[derive(Clone)]
pub struct RunControl {
    stop: watch::Sender<bool>,
}

impl RunControl {
    /// A control, and the receiver the executor watches.
    pub fn new() -> (RunControl, watch::Receiver<bool>) {
        let (stop, watched) = watch::channel(false);
        (RunControl { stop }, watched)
    }

    /// Tells the run to stop now (users stop, the result is still produced).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// How often the executor looks at the shape's target.
const CONTROL_STEP: Duration = Duration::from_millis(10);

/// How often the executor looks at every user's slot when the target has not moved.
const SCAN_EVERY: Duration = Duration::from_millis(250);

/// Runs `scenario` along `plan` on the current runtime, calling `on_tick` once a second with
/// that second's figures, until the shape ends, the iterations are done or `stop` says so.
pub async fn run(
    plan: Plan,
    scenario: Arc<dyn Scenario>,
    mut stop: watch::Receiver<bool>,
    mut on_tick: impl FnMut(&Snapshot, Duration),
) -> RunResult {
    let collector = Collector::new(scenario.primary_metric());
    collector.declare(&scenario.counters());
    let started_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let started_unix_ms = u64::try_from(started_wall.as_millis()).unwrap_or(0);
    let started = Instant::now();
    let wall_second = |at: Instant| (started_unix_ms + (at - started).as_millis() as u64) / 1000;
    let (target_tx, target_rx) = watch::channel(0u64);
    let iterations = plan
        .iterations
        .map(|total| Arc::new(AtomicU64::new(plan.segment.share_of(total))));
    // Local users are numbered k = 0, 1, … with global index segment.global(k).
    let mut users: Vec<Option<tokio::task::AbortHandle>> = Vec::new();
    let mut tasks = JoinSet::new();
    let total = plan.shape.total();
    // The first tick comes at the next whole second of wall time.
    let mut next_tick = started + Duration::from_millis(1000 - started_unix_ms % 1000);
    let mut scanned: Option<u64> = None;
    let mut next_scan = started;
    tracing::info!(scenario = %scenario.name(), shape = %plan.shape, segment = %plan.segment, "run starting");
    loop {
        let now = Instant::now();
        let elapsed = now - started;
        if elapsed >= total || *stop.borrow() {
            break;
        }
        if let Some(left) = &iterations
            && left.load(Ordering::Acquire) == 0
            && tasks.is_empty()
        {
            break;
        }
        let target = plan.shape.target_at(elapsed);
        target_tx.send_if_modified(|t| std::mem::replace(t, target) != target);
        let local = plan.segment.share_of(target);
        let iterations_left = iterations
            .as_ref()
            .is_none_or(|left| left.load(Ordering::Acquire) > 0);
        // The slots are looked at when the target moves, and otherwise every SCAN_EVERY (for
        // users that finished): not every 10 ms, which would cost O(users) each time.
        let scan = scanned != Some(local) || now >= next_scan;
        if scan {
            scanned = Some(local);
            next_scan = now + SCAN_EVERY;
            // Every user the shape will ever run has run and finished on its own (their
            // connects all failed, say): waiting out the shape would measure nothing.
            let everyone = plan.segment.share_of(plan.shape.peak());
            if tasks.is_empty()
                && everyone > 0
                && users.len() as u64 == everyone
                && users.iter().all(Option::is_some)
            {
                break;
            }
        }
        // A slot above the target whose user has finished may start again on a later ramp up;
        // one below it that finished on its own (its connect failed, its iterations ran out)
        // stays finished: restarting it would turn a failure into a storm of retries.
        for slot in users.iter_mut().skip(local as usize).filter(|_| scan) {
            if slot.as_ref().is_some_and(|h| h.is_finished()) {
                *slot = None;
            }
        }
        for k in (0..local).filter(|_| scan) {
            let k = k as usize;
            if k >= users.len() {
                users.push(None);
            }
            if users[k].is_some() || !iterations_left {
                continue;
            }
            let index = plan.segment.global(k as u64);
            let user = User {
                index,
                recorder: collector.recorder(index),
                target: target_rx.clone(),
                iterations: iterations.clone(),
                think: plan.think,
            };
            let active = collector.user_started();
            let future = scenario.clone().run_user(user);
            users[k] = Some(tasks.spawn(async move {
                let _active = active;
                future.await;
            }));
        }
        // Reap finished users so the set does not grow with churn.
        while let Some(done) = tasks.try_join_next() {
            report_panic(done);
        }
        if now >= next_tick {
            let second = wall_second(next_tick) - 1;
            let snapshot = collector.tick(second);
            on_tick(&snapshot, elapsed);
            next_tick += Duration::from_secs(1);
        }
        let wake = (now + CONTROL_STEP).min(next_tick);
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            _ = stop.changed() => {}
        }
    }
    // Stop every user, give them the grace period, then abort the rest.
    target_tx.send_replace(0);
    let deadline = Instant::now() + plan.grace;
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                Some(done) => report_panic(done),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(users = tasks.len(), "users still running after the grace period; aborted");
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
            () = tokio::time::sleep_until(next_tick) => {
                let snapshot = collector.tick(wall_second(next_tick) - 1);
                on_tick(&snapshot, Instant::now() - started);
                next_tick += Duration::from_secs(1);
            }
        }
    }
    let end = Instant::now();
    let snapshot = collector.tick(wall_second(end));
    on_tick(&snapshot, end - started);
    collector.finish(RunMeta {
        scenario: scenario.name(),
        url: plan.url.clone(),
        users: plan.segment.share_of(plan.shape.peak()),
        started_unix_ms,
        duration_ms: (end - started).as_millis() as u64,
        segment: (plan.segment != Segment::WHOLE)
            .then_some((plan.segment.index, plan.segment.count)),
        runs: 1,
    })
}

fn report_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!("a virtual user panicked; the run goes on without it");
    }
}
