//! Replays the inputs that made the `json_normalize` fuzz target crash
//! (`fuzz/regressions/json_normalize/`), in the normal test run: each must normalise, on a thread
//! with the 2 MiB stack a tokio worker (where channels run) has, to JSON that normalising again
//! leaves unchanged.
//!
//! The target's inputs in raw mode (an even first byte, then the JSON text) are replayed here;
//! structured ones (odd first byte) only make sense to the fuzz target, which CI replays too.

use std::path::PathBuf;

use slipstream_server::Payload;
use slipstream_server::json::normalize;

const WORKER_STACK: usize = 2 * 1024 * 1024;

fn regressions() -> Vec<(String, String)> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/json_normalize");
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions/json_normalize exists") {
        let path = entry.expect("a directory entry").path();
        let bytes = std::fs::read(&path).expect("a readable regression input");
        let name = path.display().to_string();
        let (mode, text) = bytes
            .split_first()
            .expect("a regression input is not empty");
        if mode % 2 == 1 {
            continue;
        }
        let text = String::from_utf8(text.to_vec()).expect("raw-mode inputs are UTF-8");
        inputs.push((name, text));
    }
    inputs.sort();
    inputs
}

fn normalize_on_worker_stack(payload: Payload) -> Payload {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || normalize(payload))
        .expect("a thread")
        .join()
        .expect("normalize did not panic")
}

#[test]
fn every_fuzz_regression_normalizes_on_a_worker_stack() {
    let inputs = regressions();
    assert!(!inputs.is_empty(), "no raw-mode regression inputs found");
    for (name, text) in inputs {
        let payload = Payload::from_json_str(&text)
            .unwrap_or_else(|e| panic!("{name}: the codec refuses it ({e})"));
        let once = normalize_on_worker_stack(payload);
        let json = once.as_json_str().map(str::to_owned);
        let json = json.unwrap_or_else(|| panic!("{name}: the result is not JSON"));
        let twice = normalize_on_worker_stack(once);
        assert_eq!(
            twice.as_json_str(),
            Some(json.as_str()),
            "{name}: not stable"
        );
    }
}
