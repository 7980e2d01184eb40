//! `slipstream shell` on a real terminal: a pseudo-terminal made by `script` (util-linux, part of
//! every Debian system), with keys typed a line at a time. Checks what only a terminal shows:
//! server pushes and connection news printed live (above the prompt, or between an entry's
//! outputs, each on a line of its own), tab completion of a joined topic, Ctrl-D leaving.

mod support;

use support::terminal::Terminal;

use std::time::Duration;

use support::DemoServer;

#[test]
fn live_pushes_completion_and_ctrl_d_on_a_terminal() {
    let server = DemoServer::start();
    let mut terminal = Terminal::start(server.url());
    terminal.type_keys("connect(); await_connect();\r");
    terminal.type_keys("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
    terminal.type_keys("push(\"rooms:lobby\", \"push to me\")\r");
    // Tab completes the joined topic inside the string.
    terminal.type_keys("await_reply(push(\"rooms:lo\t\", \"ping\"))\r");
    let (status, screen) = terminal.finish();

    assert!(status.success(), "exit {status:?}\n{screen}");
    assert!(
        screen.contains(r#"<- rooms:lobby foo {"bar":"baz"}"#),
        "the push is shown live:\n{screen}"
    );
    // Only the completed topic is joined, so only then does the ping get its pong.
    assert!(
        screen.contains("pong"),
        "tab completed the topic and the ping was answered:\n{screen}"
    );
}

/// Where `needle` occurs in `screen`, each with what follows it (for failure messages).
fn occurrences<'a>(screen: &'a str, needle: &str) -> Vec<&'a str> {
    screen
        .match_indices(needle)
        .map(|(i, _)| &screen[i..(i + needle.len() + 12).min(screen.len())])
        .collect()
}

#[test]
fn a_push_that_lands_while_an_entry_runs_is_a_line_of_its_own() {
    let server = DemoServer::start();
    let mut terminal = Terminal::start(server.url());
    terminal.type_keys("connect(); await_connect();\r");
    terminal.type_keys("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
    // The push lands during the await, and the entry's value is printed right after it: a
    // string, then a map (coloured JSON over several lines).
    terminal.type_keys(
        "push(\"rooms:lobby\", \"push to me\"); await_message(ANY, \"foo\", ANY).event\r",
    );
    terminal.type_keys("push(\"rooms:lobby\", \"push to me\"); await_message(ANY, \"foo\", ANY)\r");
    // ...then error reports (red): a script error after a sleep, a failed await listing events.
    terminal.type_keys("push(\"rooms:lobby\", \"push to me\"); sleep(300); nope()\r");
    terminal.type_keys(
        "set_timeout(300); push(\"rooms:lobby\", \"push to me\"); await_message(ANY, \"zzz\", ANY)\r",
    );
    let (status, screen) = terminal.finish();
    assert!(status.success(), "exit {status:?}\n{screen}");

    let live = r#"<- rooms:lobby foo {"bar":"baz"}"#;
    let shown = occurrences(&screen, live);
    assert!(
        shown.len() >= 4,
        "the four pushes are shown live:\n{screen}"
    );
    for line in &shown {
        assert!(
            line[live.len()..].starts_with("\r\n"),
            "a live line runs into what follows it: {line:?} in\n{screen:?}"
        );
    }
    for result in [
        "\x1b[32m\"foo\"\x1b[0m\r\n",
        "{\r\n",
        "\x1b[31merror: script error",
    ] {
        assert!(
            screen.contains(&format!("\r\n{result}")),
            "{result:?} does not start a line:\n{screen:?}"
        );
    }
    assert!(
        screen.contains("\x1b[31merror: await failed"),
        "the failed await is reported:\n{screen:?}"
    );
    // Colour ends before the line does, never at the start of the next one.
    assert!(
        !screen.contains("\n\x1b[0m"),
        "a colour reset lands after a newline:\n{screen:?}"
    );
}

#[test]
fn a_restarted_server_shows_the_reconnect_and_the_rejoin() {
    let server = DemoServer::start();
    let port = server.port();
    let mut terminal = Terminal::start(server.url());
    terminal.type_keys("connect(); await_connect();\r");
    terminal.type_keys("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
    std::thread::sleep(Duration::from_millis(500));

    // A deploy: the server closes its websockets with 1012 and is away for a while.
    server.stop();
    let away = Duration::from_secs(10);
    assert!(
        terminal.wait_for(
            "<- disconnected: closed by the server (code 1012, service restart)",
            away
        ),
        "the disconnect is shown:\n{}",
        terminal.screen()
    );
    assert!(
        terminal.wait_for("connection refused by 127.0.0.1", away),
        "a failed reconnect attempt is shown:\n{}",
        terminal.screen()
    );
    let server = DemoServer::start_on(port);
    assert!(
        terminal.wait_for("<- rejoined rooms:lobby", Duration::from_secs(15)),
        "the rejoin is shown:\n{}",
        terminal.screen()
    );
    terminal.type_keys("await_reply(push(\"rooms:lobby\", \"ping\"))\r");
    let (status, screen) = terminal.finish();
    drop(server);

    assert!(status.success(), "exit {status:?}\n{screen}");
    let position = |text: &str| {
        screen
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} on the screen:\n{screen}"))
    };
    let order = [
        position("<- disconnected: closed by the server"),
        position("<- reconnecting (attempt 1 in "),
        position("<- reconnecting (attempt 2 in "),
        position("<- reconnected\r\n"),
        position("<- rejoined rooms:lobby\r\n"),
        position("pong"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "the lines come in the order of what happened: {order:?}\n{screen}"
    );
    let attempt_2 = &screen[order[2]..];
    let attempt_2 = &attempt_2[..attempt_2.find('\n').unwrap_or(attempt_2.len())];
    assert!(
        attempt_2.contains(" ms): connection refused by 127.0.0.1:"),
        "an attempt says when and why the last one failed: {attempt_2:?}"
    );
}
