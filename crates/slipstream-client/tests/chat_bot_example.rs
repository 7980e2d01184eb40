//! The chat_bot example: under the test kit (no network), then against the in-process demo server.

use std::time::Duration;

use serde_json::json;
use slipstream_client::callback::{self, ClientHandle, StopReason};
use slipstream_client::presence::Presence;
use slipstream_client::testkit::TestServer;
use slipstream_client::{Socket, Transport, message_pattern, pattern};
use tokio::task::JoinHandle;

use crate::chat_bot::{BotAnswer, BotCall, BotInfo, ChatBot, LOBBY, PRESENCE, is_ping};

use crate::support::per_transport;

per_transport!(
    #[tokio::test]
    works_against_the_demo_server
);

type Bot = (ClientHandle<ChatBot>, JoinHandle<StopReason>);

/// Starts the bot on the test server and answers its two joins.
async fn started(server: &mut TestServer) -> Bot {
    let bot = callback::spawn(ChatBot::new("bot"), server.builder()).unwrap();
    server.accept_connect().await.unwrap();
    joins_answered(server).await;
    bot
}

async fn joins_answered(server: &mut TestServer) {
    let lobby = server.assert_join(LOBBY, pattern!({})).await.unwrap();
    server.accept_join(&lobby, json!({})).unwrap();
    let presence = server
        .assert_join(PRESENCE, pattern!({"user": "bot"}))
        .await
        .unwrap();
    server.accept_join(&presence, json!({})).unwrap();
}

async fn pongs(handle: &ClientHandle<ChatBot>) -> u64 {
    match handle.call(BotCall::Pongs).await.unwrap() {
        BotAnswer::Pongs(n) => n,
        other => panic!("expected a count, got {other:?}"),
    }
}

async fn online(handle: &ClientHandle<ChatBot>) -> Vec<String> {
    match handle.call(BotCall::Online).await.unwrap() {
        BotAnswer::Online(who) => who,
        other => panic!("expected a list, got {other:?}"),
    }
}

#[test]
fn ping_like_means_a_ping_event_or_a_body_starting_with_ping() {
    assert!(is_ping("ping", &json!({})));
    assert!(is_ping("broadcast_event", &json!({"body": "Ping!"})));
    assert!(is_ping(
        "broadcast_event",
        &json!({"body": "  ping? anyone"})
    ));
    assert!(!is_ping("broadcast_event", &json!({"body": "pong"})));
    assert!(!is_ping("broadcast_event", &json!({"body": "pinged"})));
    assert!(!is_ping("broadcast_event", &json!({"text": "ping"})));
}

#[tokio::test(start_paused = true)]
async fn joins_the_lobby_and_presence_and_stops_cleanly() {
    let mut server = TestServer::new();
    let (handle, task) = started(&mut server).await;
    assert!(online(&handle).await.is_empty());
    handle.stop();
    assert_eq!(task.await.unwrap(), StopReason::Stopped);
    assert_eq!(server.assert_disconnect().await.unwrap().code, Some(1000));
    assert!(!handle.is_running());
}

#[tokio::test(start_paused = true)]
async fn answers_pings_and_only_pings() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;

    server
        .broadcast(
            LOBBY,
            "broadcast_event",
            json!({"body": "ping", "from": "ana"}),
        )
        .unwrap();
    let pong = server
        .assert_push(
            LOBBY,
            "broadcast",
            pattern!({"body": "pong", "from": "bot"}),
        )
        .await
        .unwrap();
    server.reply(&pong.push_ref, "ok", json!({})).unwrap();

    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "hello"}))
        .unwrap();
    server
        .refute_push(LOBBY, "broadcast", pattern!(_), Duration::from_secs(1))
        .await
        .unwrap();

    server.push(LOBBY, "ping", json!({})).unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 2);

    handle.info(BotInfo::Say("hi all".into())).unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "hi all"}))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn logs_presence_with_the_presence_helper() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;
    // A diff before the state is held until the state arrives (phoenix.js semantics).
    server
        .push(
            PRESENCE,
            "presence_diff",
            json!({"joins": {"cy": {"metas": [{"phx_ref": "3"}]}}, "leaves": {}}),
        )
        .unwrap();
    assert!(online(&handle).await.is_empty());
    server
        .push(
            PRESENCE,
            "presence_state",
            json!({
                "ana": {"metas": [{"phx_ref": "1"}]},
                "bot": {"metas": [{"phx_ref": "2"}]}
            }),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["ana", "bot", "cy"]);
    server
        .push(
            PRESENCE,
            "presence_diff",
            json!({"joins": {}, "leaves": {"ana": {"metas": [{"phx_ref": "1"}]}}}),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["bot", "cy"]);
}

#[tokio::test(start_paused = true)]
async fn rejoins_after_a_crash_and_reconnects_after_a_drop() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;

    server.crash(LOBBY).unwrap();
    let rejoin = server.assert_join(LOBBY, pattern!({})).await.unwrap();
    server.accept_join(&rejoin, json!({})).unwrap();
    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "ping"}))
        .unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();

    // The presence view is reset when its channel crashes, and rebuilt from the next state.
    server
        .push(
            PRESENCE,
            "presence_state",
            json!({"ana": {"metas": [{"phx_ref": "1"}]}}),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["ana"]);
    server.crash(PRESENCE).unwrap();
    let rejoin = server
        .assert_join(PRESENCE, pattern!({"user": "bot"}))
        .await
        .unwrap();
    assert!(online(&handle).await.is_empty());
    server.accept_join(&rejoin, json!({})).unwrap();

    server.drop_connection().unwrap();
    server.accept_connect().await.unwrap();
    joins_answered(&mut server).await;
    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "ping"}))
        .unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 2);
}

/// The same bot against the real demo server, with a second client playing a human (over
/// websocket); the bot's own socket uses `transport`, so the callback client runs over both.
async fn works_against_the_demo_server(transport: Transport) {
    // A long-poll client that stops just stops polling (as phoenix.js's): the server ends its
    // session after 1.5 poll windows, so a 1 s window keeps the bot's leave within the wait.
    let server = slipstream_server::spawn_demo(
        "127.0.0.1:0".parse().unwrap(),
        slipstream_server::ServerConfig::default().with_longpoll_window(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    let human = Socket::builder(server.ws_url()).build().unwrap();
    human.connect();
    human.await_connect(None).await.unwrap();
    human.join(LOBBY, json!({}));
    human.await_join(LOBBY, None).await.unwrap();
    human.join(PRESENCE, json!({"user": "ana"}));
    human.await_join(PRESENCE, None).await.unwrap();

    let (handle, task) = callback::spawn(
        ChatBot::new("bot"),
        Socket::builder(server.ws_url()).transport(transport),
    )
    .unwrap();

    // The human sees the bot arrive in presence…
    let mut presence = Presence::new();
    while !presence.keys().contains(&"bot".to_owned()) {
        let m = human
            .await_message(&message_pattern!(PRESENCE, _, _), None)
            .await
            .unwrap();
        let value = m.json().unwrap();
        match m.event.as_str() {
            "presence_state" => presence.apply_state(&value),
            "presence_diff" => presence.apply_diff(&value),
            _ => {}
        }
    }
    // …and a ping gets the bot's pong, broadcast to the room.
    human.push(LOBBY, "broadcast", json!({"body": "ping", "from": "ana"}));
    human
        .await_message(
            &message_pattern!(LOBBY, "broadcast_event", {"body": "pong", "from": "bot"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 1);

    // The bot's own presence view has the human (its state may still be on the way).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let who = online(&handle).await;
        if who.contains(&"ana".to_owned()) && who.contains(&"bot".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot sees {who:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    handle.stop();
    assert_eq!(task.await.unwrap(), StopReason::Stopped);
    // Its connection closed, so the human sees the bot leave.
    loop {
        let diff = human
            .await_message(&message_pattern!(PRESENCE, "presence_diff", _), None)
            .await
            .unwrap();
        if diff.json().unwrap()["leaves"].get("bot").is_some() {
            break;
        }
    }
}

/// The example binary itself, as a user runs it: `cargo run --example chat_bot -- URL`.
mod binary {
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use slipstream_client::{await_message, blocking};
    use slipstream_server::{BackgroundServer, ServerConfig};

    use crate::chat_bot::LOBBY;

    /// Bound on every wait for the bot.
    const WAIT: Duration = Duration::from_secs(30);

    /// Builds the example (a no-op when it is fresh: `cargo test --test client` builds no
    /// examples) and returns the path of its executable, as cargo reports it.
    fn chat_bot_binary() -> &'static PathBuf {
        static BINARY: OnceLock<PathBuf> = OnceLock::new();
        BINARY.get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
            // The profile of this test binary: target/<profile dir>/deps/client-….
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .and_then(|dir| dir.file_name())
                .and_then(|name| name.to_str())
                .unwrap_or("debug")
                .to_owned();
            let mut build = Command::new(cargo);
            // Cargo gives this test the variables of its own package (CARGO_PKG_NAME, …); passed
            // on, build scripts that watch them (ring's) would rerun, and the next `cargo test`
            // would rebuild them again. The nested build sees the environment the outer one did.
            for (name, _) in std::env::vars_os() {
                let Some(name) = name.to_str() else { continue };
                let set_for_tests = name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_BIN_EXE_")
                    || matches!(
                        name,
                        "CARGO_MANIFEST_DIR"
                            | "CARGO_MANIFEST_PATH"
                            | "CARGO_MANIFEST_LINKS"
                            | "CARGO_CRATE_NAME"
                            | "CARGO_BIN_NAME"
                            | "CARGO_PRIMARY_PACKAGE"
                            | "CARGO_TARGET_TMPDIR"
                            | "CARGO_RUSTC_CURRENT_DIR"
                            | "OUT_DIR"
                    );
                if set_for_tests {
                    build.env_remove(name);
                }
            }
            build
                .args([
                    "build",
                    "--quiet",
                    "--message-format=json-render-diagnostics",
                ])
                .args(["-p", "slipstream-client", "--example", "chat_bot"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stderr(Stdio::inherit());
            match profile_dir.as_str() {
                "debug" => {}
                "release" => {
                    build.arg("--release");
                }
                other => {
                    build.args(["--profile", other]);
                }
            }
            let output = build.output().expect("cargo runs");
            assert!(
                output.status.success(),
                "building the chat_bot example failed"
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "chat_bot")
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))
                .expect("cargo names the chat_bot executable")
        })
    }

    /// The running bot, and its log (stderr) line by line.
    struct Bot {
        child: Child,
        lines: Receiver<String>,
        log: Vec<String>,
    }

    impl Bot {
        fn start(url: &str, stdout: Stdio, log_filter: &str) -> Bot {
            let mut child = Command::new(chat_bot_binary())
                .arg(url)
                .env("RUST_LOG", log_filter)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(Stdio::piped())
                .spawn()
                .expect("the chat_bot example starts");
            let stderr = child.stderr.take().unwrap();
            let (tx, lines) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            Bot {
                child,
                lines,
                log: Vec::new(),
            }
        }

        /// Reads the log until a line satisfies `done` (true) or `fail` (false), or `WAIT` runs
        /// out (false).
        fn wait_for(&mut self, done: impl Fn(&str) -> bool, fail: impl Fn(&str) -> bool) -> bool {
            let deadline = Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(line) => {
                        let (is_done, is_failure) = (done(&line), fail(&line));
                        self.log.push(line);
                        if is_failure {
                            return false;
                        }
                        if is_done {
                            return true;
                        }
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                        return false;
                    }
                }
            }
        }

        /// Waits until the bot has joined both of its topics.
        fn wait_until_joined(&mut self) {
            let joined = |topic: &'static str| {
                move |line: &str| {
                    line.contains("chat_bot") && line.contains(&format!("joined topic={topic}"))
                }
            };
            let ok = self.wait_for(joined(LOBBY), |_| false)
                && (self
                    .log
                    .iter()
                    .any(|l| joined(crate::chat_bot::PRESENCE)(l))
                    || self.wait_for(joined(crate::chat_bot::PRESENCE), |_| false));
            assert!(
                ok,
                "the bot did not join its topics; its log:\n{}",
                self.log_text()
            );
        }

        fn interrupt(&self) {
            let status = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -INT failed");
        }

        /// Waits up to `within` for the bot to exit; kills it (and returns `None`) if it does
        /// not.
        fn exit_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
            let deadline = Instant::now() + within;
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    return Some(status);
                }
                if Instant::now() >= deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// Everything logged so far (after the process ended: everything it logged).
        fn log_text(&mut self) -> String {
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.log.push(line);
            }
            self.log.join("\n")
        }
    }

    impl Drop for Bot {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn demo_server() -> BackgroundServer {
        BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())
            .expect("demo server starts")
    }

    #[cfg(unix)]
    #[test]
    fn ctrl_c_with_stdout_piped_to_a_reader_that_exited_stops_the_bot_promptly() {
        let server = demo_server();
        // A reader that exits at once: the bot's stdout is a pipe nobody reads (EPIPE).
        let mut reader = Command::new("true")
            .stdin(Stdio::piped())
            .spawn()
            .expect("`true` runs");
        let pipe = reader.stdin.take().unwrap();
        reader.wait().unwrap();

        let mut bot = Bot::start(&server.ws_url(), Stdio::from(pipe), "info");
        bot.wait_until_joined();
        bot.interrupt();
        let status = bot.exit_within(Duration::from_secs(10));
        let log = bot.log_text();
        assert!(
            status.is_some(),
            "the bot was still running 10 s after Ctrl-C; its log:\n{log}"
        );
        assert!(
            !log.contains("panicked"),
            "the bot panicked; its log:\n{log}"
        );
        assert!(
            status.unwrap().success(),
            "the bot exited with {status:?}; its log:\n{log}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn ctrl_c_prints_the_report_and_stops() {
        let server = demo_server();
        let mut bot = Bot::start(&server.ws_url(), Stdio::piped(), "info");
        bot.wait_until_joined();
        // The report names who is online: wait until the bot has seen itself in the presence
        // state (it arrives after the join's reply, and a loaded machine may take a while).
        let online = |line: &str| line.contains("chat_bot") && line.contains("online=bot");
        let seen = bot.log.iter().any(|l| online(l)) || bot.wait_for(online, |_| false);
        assert!(
            seen,
            "the bot never saw itself online; its log:\n{}",
            bot.log_text()
        );
        bot.interrupt();
        let status = bot.exit_within(Duration::from_secs(10));
        let log = bot.log_text();
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}; its log:\n{log}"
        );
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut bot.child.stdout.take().unwrap(), &mut stdout).unwrap();
        assert_eq!(
            stdout, "answered 0 pings\nonline at the end: bot\n",
            "its log:\n{log}"
        );
    }

    #[test]
    fn a_broadcast_answer_logs_no_warning() {
        let server = demo_server();
        let mut bot = Bot::start(&server.ws_url(), Stdio::null(), "info,chat_bot=debug");
        bot.wait_until_joined();

        let human = blocking::connect(server.ws_url()).expect("valid URL");
        human.await_connect().expect("connected");
        human.join(LOBBY, json!({}));
        human.await_join(LOBBY).expect("joined");
        human.push(LOBBY, "broadcast", json!({"body": "ping", "from": "ana"}));
        await_message!(human, LOBBY, "broadcast_event", {"body": "pong", "from": "bot"})
            .expect("the bot answers");

        // The demo's `broadcast` never replies: once the push timeout (10 s) has run out, the
        // bot notes (at debug level) that no reply was expected, and warns about nothing.
        let settled = bot.wait_for(
            |line| line.contains("no reply expected"),
            |line| line.contains("WARN"),
        );
        let log = bot.log_text();
        assert!(
            settled,
            "no \"no reply expected\" line, or a warning, after the answer; the log:\n{log}"
        );
        assert!(!log.contains("WARN"), "{log}");
        for line in log.lines() {
            assert!(
                !["Some(", "Err(", "Ok(", "[\"", "{ "]
                    .iter()
                    .any(|debug| line.contains(debug)),
                "Debug text in the log: {line}"
            );
        }
    }
}
