//! The load engine behind `slipstream bench`: virtual users that speak Phoenix Channels on one
//! shared tokio runtime, the load shape that starts and stops them, the metrics they record, and
//! the results that are summarised, checked against thresholds, merged and reported.
//!
//! The binary (`slipstream bench`) is a thin layer over this crate: argument parsing, the live
//! display and exit codes live there; everything that can be tested without a terminal is here.

pub mod custom;
pub mod duration;
pub mod executor;
pub mod file;
pub mod kind;
pub mod merge;
pub mod recorder;
pub mod report;
pub mod result;
pub mod scenario;
pub mod shape;
pub mod summary;
pub mod threshold;
