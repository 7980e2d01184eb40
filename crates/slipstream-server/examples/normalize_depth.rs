//! How long [`normalize`] takes on deep payloads: nested arrays and nested objects, 10,000 to
//! 1,000,000 levels (the last is 6 MB, under the 8 MB frame limit). Linear in the size.
//!
//! ```text
//! cargo run --release -p slipstream-server --example normalize_depth [DEPTH ...]
//! ```
//!
//! Prints the best of three runs per shape. It runs on a thread with a 64 KiB stack, to show that
//! the depth costs no stack.

use std::time::Instant;

use slipstream_server::Payload;
use slipstream_server::json::normalize;

fn main() {
    let depths: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let depths = if depths.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        depths
    };
    let run = move || {
        for depth in depths {
            let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            time(&format!("arrays, depth {depth}"), &arrays);
            let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            time(&format!("objects, depth {depth}"), &objects);
        }
    };
    match std::thread::Builder::new().stack_size(64 * 1024).spawn(run) {
        Ok(thread) => {
            if thread.join().is_err() {
                eprintln!("the timing thread failed");
            }
        }
        Err(err) => eprintln!("could not start the timing thread: {err}"),
    }
}

fn time(label: &str, text: &str) {
    let Ok(payload) = Payload::from_json_str(text) else {
        eprintln!("{label}: not JSON");
        return;
    };
    let best = (0..3)
        .map(|_| {
            let payload = payload.clone();
            let started = Instant::now();
            let out = normalize(payload);
            let elapsed = started.elapsed();
            drop(out);
            elapsed
        })
        .min()
        .unwrap_or_default();
    println!(
        "{label}: {} bytes in {:.2} ms",
        text.len(),
        best.as_secs_f64() * 1e3
    );
}
