//! The load shape, as k6 names it: how many virtual users run at each moment.
//!
//! A shape is a list of stages, each a duration and a target: the number of users moves
//! linearly from the previous target (0 before the first stage) to the stage's target over the
//! stage's duration (`--stages 30s:1000,2m:1000,10s:0`). `--users N --ramp-up R --duration D`
//! is the shape `R:N,D:N` (or, without a ramp-up, N users from the start for D): `--duration` is
//! how long the full load holds, so the run lasts R + D.
//!
//! Users have global indices 0, 1, 2, …; when the target is T, the users below T run. A ramp
//! down stops the highest indices first (the last started), each at its next safe point.
//! Everything here is a pure function of the elapsed time: the executor asks, a test can too.

use std::fmt;
use std::time::Duration;

use crate::duration::{ParseError, format_duration, parse_duration};

/// The most virtual users a shape may ask for (per run; `--workers` and `--segment` split it).
pub const MAX_USERS: u64 = 10_000_000;

/// Why a shape or a segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A stage that is not `DURATION:USERS`.
    #[error(
        "invalid stage {stage:?}: {reason}; write stages as DURATION:USERS, e.g. 30s:1000,2m:1000,10s:0"
    )]
    Stage {
        /// The stage as given.
        stage: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A duration inside the shape did not parse.
    #[error(transparent)]
    Duration(#[from] ParseError),
    /// The shape never runs a user, or never ends.
    #[error("{0}")]
    Invalid(String),
    /// `--segment` that is not `I/N` with 1 ≤ I ≤ N.
    #[error("invalid segment {input:?}: write I/N with 1 <= I <= N, e.g. 1/4")]
    Segment {
        /// The segment as given.
        input: String,
    },
}

/// One stage: move to `target` users over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Users at its end.
    pub target: u64,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", format_duration(self.duration), self.target)
    }
}

/// Users over time: a start value and stages (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    start: u64,
    stages: Vec<Stage>,
}

impl Shape {
    /// `users` users, reached linearly over `ramp_up` (at once when it is zero), then held for
    /// `duration`.
    pub fn constant(
        users: u64,
        ramp_up: Duration,
        duration: Duration,
    ) -> Result<Shape, ShapeError> {
        let mut stages = Vec::new();
        if !ramp_up.is_zero() {
            stages.push(Stage {
                duration: ramp_up,
                target: users,
            });
        }
        stages.push(Stage {
            duration,
            target: users,
        });
        let start = if ramp_up.is_zero() { users } else { 0 };
        Shape::new(start, stages)
    }

    /// Stages from 0 users.
    pub fn from_stages(stages: Vec<Stage>) -> Result<Shape, ShapeError> {
        Shape::new(0, stages)
    }

    fn new(start: u64, stages: Vec<Stage>) -> Result<Shape, ShapeError> {
        let shape = Shape { start, stages };
        if shape.peak() == 0 {
            return Err(ShapeError::Invalid(
                "the load shape never runs a user: give --users (at least 1) or a stage with users"
                    .into(),
            ));
        }
        if shape.peak() > MAX_USERS {
            return Err(ShapeError::Invalid(format!(
                "{} users is more than one run can drive ({MAX_USERS}); split it with --segment",
                shape.peak()
            )));
        }
        if shape.total().is_zero() {
            return Err(ShapeError::Invalid(
                "the load shape lasts no time: give --duration (e.g. 30s) or stages with durations"
                    .into(),
            ));
        }
        Ok(shape)
    }

    /// Parses `--stages`: `DURATION:USERS` separated by commas.
    pub fn parse_stages(text: &str) -> Result<Shape, ShapeError> {
        let mut stages = Vec::new();
        for part in text.split(',') {
            let bad = |reason: &str| ShapeError::Stage {
                stage: part.trim().to_owned(),
                reason: reason.to_owned(),
            };
            let (duration, users) = part.trim().split_once(':').ok_or_else(|| bad("no ':'"))?;
            let duration = parse_duration(duration)?;
            let target = users
                .trim()
                .parse()
                .map_err(|_| bad("the users after ':' are not a whole number"))?;
            stages.push(Stage { duration, target });
        }
        Shape::from_stages(stages)
    }

    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// How long the whole shape lasts.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The most users at any moment.
    pub fn peak(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .chain([self.start])
            .max()
            .unwrap_or(0)
    }

    /// Users that should run `elapsed` into the run: linear within a stage, rounded down (a
    /// user starts once its whole share of the ramp has come); 0 once the shape is over.
    pub fn target_at(&self, elapsed: Duration) -> u64 {
        let mut from = self.start;
        let mut stage_start = Duration::ZERO;
        for stage in &self.stages {
            let stage_end = stage_start + stage.duration;
            if elapsed < stage_end {
                let into = (elapsed - stage_start).as_secs_f64();
                let fraction = into / stage.duration.as_secs_f64();
                let value = from as f64 + (stage.target as f64 - from as f64) * fraction;
                // Tiny float error must not round a whole number down.
                return (value + 1e-9).floor().max(0.0) as u64;
            }
            from = stage.target;
            stage_start = stage_end;
        }
        0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start > 0 {
            write!(f, "{} users, ", self.start)?;
        }
        let stages: Vec<String> = self.stages.iter().map(Stage::to_string).collect();
        f.write_str(&stages.join(","))
    }
}

/// `--segment I/N`: the I-th of N equal shares of the load, as k6's execution segments split it.
///
/// Users are dealt round-robin: segment I runs the global indices `g` with `g % N == I - 1`, so
/// at every moment of a ramp each segment runs its share of the users running (within one), the
/// N segments together run exactly the users of the whole, and every user keeps its global index
/// (its `user_id`, its topics) whichever process runs it. Totals (`--iterations`) are dealt the
/// same way.
///
/// # As a Kubernetes Indexed Job
///
/// An Indexed Job gives each of its N pods `JOB_COMPLETION_INDEX` = 0 … N−1, which is the
/// segment `INDEX+1/N`; each pod writes its result file to a shared volume, and
/// `slipstream bench report /results/*.json` merges them (it warns when a segment is missing):
///
/// ```yaml
/// apiVersion: batch/v1
/// kind: Job
/// metadata: { name: slipstream-bench }
/// spec:
///   completionMode: Indexed
///   completions: 4
///   parallelism: 4            # all segments at once: they share the load's clock
///   template:
///     spec:
///       restartPolicy: Never
///       containers:
///         - name: bench
///           image: your-registry/slipstream:latest
///           command: ["sh", "-c"]
///           args:
///             - >-
///               slipstream bench ping --url wss://app.example/socket/websocket
///               --users 40000 --ramp-up 1m --duration 5m
///               --segment $((JOB_COMPLETION_INDEX + 1))/4
///               --out /results/run-$JOB_COMPLETION_INDEX.json
///           volumeMounts: [{ name: results, mountPath: /results }]
///       volumes:
///         - name: results
///           persistentVolumeClaim: { claimName: bench-results }
/// ```
///
/// The pods start when they are scheduled, not together: each run's series is aligned on wall
/// time when merged, so the merged active-users curve shows any stagger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// 1-based.
    pub index: u32,
    /// How many segments.
    pub count: u32,
}

impl Segment {
    /// The whole load (1/1).
    pub const WHOLE: Segment = Segment { index: 1, count: 1 };

    /// Whether global user (or iteration) `g` belongs to this segment.
    pub fn owns(&self, g: u64) -> bool {
        g % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// How many of the indices `0..total` this segment owns.
    pub fn share_of(&self, total: u64) -> u64 {
        let offset = u64::from(self.index - 1);
        if total <= offset {
            0
        } else {
            (total - offset).div_ceil(u64::from(self.count))
        }
    }

    /// The global index of this segment's `k`-th user (0-based).
    pub fn global(&self, k: u64) -> u64 {
        k * u64::from(self.count) + u64::from(self.index - 1)
    }
}

impl std::str::FromStr for Segment {
    type Err = ShapeError;

    fn from_str(input: &str) -> Result<Segment, ShapeError> {
        let bad = || ShapeError::Segment {
            input: input.to_owned(),
        };
        let (i, n) = input.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Segment { index, count })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn stages_ramp_linearly_between_targets() {
        let shape = Shape::parse_stages("10s:100,20s:100,10s:0").unwrap();
        assert_eq!(shape.total(), secs(40.0));
        assert_eq!(shape.peak(), 100);
        assert_eq!(shape.target_at(secs(0.0)), 0);
        assert_eq!(shape.target_at(secs(0.1)), 1);
        assert_eq!(shape.target_at(secs(5.0)), 50);
        assert_eq!(shape.target_at(secs(9.999)), 99);
        assert_eq!(shape.target_at(secs(10.0)), 100);
        assert_eq!(shape.target_at(secs(29.0)), 100);
        assert_eq!(shape.target_at(secs(35.0)), 50);
        assert_eq!(shape.target_at(secs(39.95)), 0);
        assert_eq!(shape.target_at(secs(40.0)), 0);
    }

    #[test]
    fn users_ramp_up_then_hold_for_the_duration() {
        let shape = Shape::constant(20, secs(2.0), secs(3.0)).unwrap();
        assert_eq!(shape.total(), secs(5.0));
        assert_eq!(shape.target_at(secs(1.0)), 10);
        assert_eq!(shape.target_at(secs(4.9)), 20);
        let at_once = Shape::constant(20, Duration::ZERO, secs(3.0)).unwrap();
        assert_eq!(at_once.target_at(Duration::ZERO), 20);
        assert_eq!(at_once.to_string(), "20 users, 3s:20");
    }

    #[test]
    fn shapes_that_cannot_run_are_refused_with_a_reason() {
        let err = |s: &str| Shape::parse_stages(s).unwrap_err().to_string();
        assert!(err("30s").contains("no ':'"));
        assert!(err("30s:lots").contains("not a whole number"));
        assert!(err("30:10").contains("unit is missing"));
        assert!(err("10s:0").contains("never runs a user"));
        assert!(err("0s:10").contains("lasts no time"));
        assert!(Shape::constant(0, secs(1.0), secs(1.0)).is_err());
    }

    #[test]
    fn segments_deal_users_round_robin_and_cover_the_whole() {
        let halves: [Segment; 2] = ["1/2".parse().unwrap(), "2/2".parse().unwrap()];
        for total in [0u64, 1, 2, 7, 20] {
            let shares: u64 = halves.iter().map(|s| s.share_of(total)).sum();
            assert_eq!(shares, total);
            for g in 0..total {
                assert_eq!(halves.iter().filter(|s| s.owns(g)).count(), 1);
            }
        }
        let third: Segment = "3/4".parse().unwrap();
        assert_eq!(third.share_of(10), 2); // 2 and 6
        assert_eq!((third.global(0), third.global(1)), (2, 6));
        for bad in ["0/2", "3/2", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Segment>().is_err(), "{bad}");
        }
    }
}
