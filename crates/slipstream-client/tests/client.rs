//! Integration tests: one binary (one link) with a module per subject.

mod support;

mod demo;
mod lifecycle;
