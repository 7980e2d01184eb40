//! Integration tests: one binary (one link) with a module per subject.

mod support;

mod blocking;
mod demo;
mod lifecycle;
mod policies;
mod tls;
mod wire_formats;
