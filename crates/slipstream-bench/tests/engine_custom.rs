//! A custom scenario file, run by several users against the demo server in this process.

use std::sync::Arc;
use std::time::Duration;

use slipstream_bench::custom::{Custom, parse};
use slipstream_bench::executor::{Plan, RunControl, run};
use slipstream_bench::scenario::Target;
use slipstream_bench::shape::{Segment, Shape};
use slipstream_server::{ServerConfig, spawn_demo};

const CHAT: &str = r#"
# Every user: join the lobby, then ping, echo, and see its own broadcast come back.
connect
join rooms:lobby {"user": "${user}"}
loop
  push rooms:lobby ping {"n": ${i}}
  push rooms:lobby echo {"user": ${user}, "n": ${i}} as e
  await_reply e
  push rooms:lobby broadcast {"from": ${user}, "n": ${i}} as b
  await_message rooms:lobby broadcast_event {"from": ${user}, "n": _}
  push rooms:lobby "push to me" as p
  await_message rooms:lobby foo {"bar": "baz"}
  repeat 2
    choose
      push bench:unjoined ping
    or
      sleep 1ms..5ms
    end
  end
end
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_runs_the_steps_of_the_file() {
    let server = spawn_demo("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .await
        .unwrap();
    let program = parse(CHAT).unwrap();
    let mut target = Target::new(server.ws_url());
    target.timeout = Duration::from_secs(3);
    let scenario = Arc::new(Custom::new("chat.bench".into(), program, target));
    let plan = Plan {
        shape: Shape::constant(4, Duration::ZERO, Duration::from_secs(20)).unwrap(),
        segment: Segment::WHOLE,
        iterations: Some(12),
        think: Duration::ZERO,
        grace: Duration::from_secs(10),
        url: server.ws_url(),
    };
    let (_control, stop) = RunControl::new();
    let result = run(plan, scenario, stop, |_, _| {}).await;
    assert_eq!(result.meta.scenario, "chat.bench");
    assert_eq!(result.counters["iterations"], 12);
    assert_eq!(result.latencies["connect"].len(), 4);
    assert_eq!(result.latencies["join"].len(), 4);
    assert_eq!(result.latencies["reply.ping"].len(), 12);
    assert_eq!(result.latencies["reply.echo"].len(), 12);
    // Each user's own broadcast comes back to it (a pattern with `_` for a missing key would
    // never match: so the broadcast payload must carry "n" too).
    assert_eq!(result.latencies["message.broadcast_event"].len(), 12);
    // An event with spaces, quoted, and the push it makes the server send.
    assert_eq!(result.latencies["message.foo"].len(), 12);
    // The only errors are the pushes to a topic never joined, which the choice made some of.
    let errors: Vec<_> = result
        .counters
        .iter()
        .filter(|(k, _)| k.starts_with("errors."))
        .collect();
    for (name, _) in &errors {
        assert_eq!(name.as_str(), "errors.not_joined", "{errors:?}");
    }
}
