//! Integration tests: one binary (one link) with a module per subject.

mod support;

mod blocking;
mod callback;
mod demo;
mod lifecycle;
mod policies;
mod testkit;
mod tls;
mod wire_formats;
