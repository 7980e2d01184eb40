//! The shell explains itself, on a real terminal (a pseudo-terminal made by `script`, from
//! util-linux, as in `shell_terminal.rs`): the banner points at `help()`, `help()` lists the
//! vocabulary by group, `help("push")` / `help(push)` / `push` explain one function, Tab lists
//! the candidates when several match and completes event names once pushed, and Ctrl-D says what
//! it left and closed. `help()` through a pipe too.

mod support;

use support::terminal::Terminal;

use std::time::Duration;

use support::DemoServer;

#[test]
fn help_lists_the_vocabulary_and_explains_one_function() {
    let mut terminal = Terminal::start("ws://127.0.0.1:9/socket/websocket");
    assert!(
        terminal.wait_for_after("help() lists what you can call", 0, Duration::from_secs(10)),
        "the banner points at help():\n{}",
        terminal.screen()
    );
    terminal.type_keys("help()\r");
    let overview = terminal.screen().len();
    assert!(
        terminal.wait_for_after("Utilities", overview, Duration::from_secs(10)),
        "help() lists the vocabulary:\n{}",
        terminal.screen()
    );
    terminal.type_keys("help(\"push\")\r");
    let one = terminal.screen().len();
    assert!(
        terminal.wait_for_after(
            "example: let r = push(\"rooms:lobby\", \"ping\", #{}); await_reply(r)",
            one,
            Duration::from_secs(10)
        ),
        "help(\"push\") gives an example:\n{}",
        terminal.screen()
    );
    terminal.type_keys("help(await_join)\r");
    let pointer = terminal.screen().len();
    assert!(
        terminal.wait_for_after(
            "await_join(topic: string) -> map",
            pointer,
            Duration::from_secs(10)
        ),
        "help(await_join) works too:\n{}",
        terminal.screen()
    );
    terminal.type_keys("leave\r");
    let bare = terminal.screen().len();
    assert!(
        terminal.wait_for_after("leave(topic: string)", bare, Duration::from_secs(10)),
        "a bare name shows its help:\n{}",
        terminal.screen()
    );
    let (status, screen) = terminal.finish();
    assert!(status.success(), "exit {status:?}\n{screen}");

    let screen = screen.replace("\r\n", "\n");
    let at = |text: &str| {
        screen
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} on the screen:\n{screen}"))
    };
    // Grouped, one line each, in order.
    let order = [
        at("\nConnecting\n"),
        at("  connect([url]) "),
        at("\nJoining topics\n"),
        at("  join(topic[, params]) "),
        at("\nPushing\n"),
        at("  push(topic, event[, payload]) "),
        at("\nAwaiting what the server sends\n"),
        at("  await_message([topic[, event[, payload]]]) "),
        at("\nPatterns (for await_message)\n"),
        at("  ANY "),
        at("\nUtilities\n"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "the groups come in order: {order:?}\n{screen}"
    );
    assert!(
        screen.contains(
            "push(topic: string, event: string) -> ref (a string)\n\
             push(topic: string, event: string, payload: map | blob) -> ref (a string)\n  \
             sends event"
        ),
        "help(\"push\") shows the forms and one line of meaning:\n{screen}"
    );
}

#[test]
fn help_through_a_pipe() {
    let ran = support::with_stdin(
        &["shell", "ws://127.0.0.1:9/socket/websocket"],
        "help()\nhelp(\"await_reply\")\nhelp(\"pus\")\n",
    );
    assert!(
        ran.stdout
            .contains("\nPushing\n  push(topic, event[, payload])"),
        "{ran}"
    );
    assert!(
        ran.stdout
            .contains("await_reply(ref: string) -> #{status, response}"),
        "{ran}"
    );
    assert!(
        ran.stderr.contains("hint: did you mean help(\"push\")?"),
        "{ran}"
    );
}

#[test]
fn tab_lists_the_candidates_and_completes_pushed_events() {
    let server = DemoServer::start();
    let mut terminal = Terminal::start(server.url());
    terminal.type_keys("connect(); await_connect();\r");
    terminal.type_keys("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
    // Several functions start with `await_`: one Tab lists them all.
    let before = terminal.screen().len();
    terminal.type_keys("await_\t");
    assert!(
        terminal.wait_for_after("await_disconnect", before, Duration::from_secs(5)),
        "Tab lists the candidates:\n{}",
        terminal.screen()
    );
    let listed = terminal.screen()[before..].to_owned();
    for candidate in [
        "await_connect",
        "await_join",
        "await_message",
        "await_reply",
    ] {
        assert!(
            listed.contains(candidate),
            "{candidate} is not listed:\n{listed}"
        );
    }
    // The line is still `await_`: finish it.
    terminal.type_keys("reply(push(\"rooms:lobby\", \"ping\"))\r");
    // "ping" was pushed: inside a string, Tab now completes it.
    terminal.type_keys("await_reply(push(\"rooms:lobby\", \"pi\t\"))\r");
    let (status, screen) = terminal.finish();
    drop(server);
    assert!(status.success(), "exit {status:?}\n{screen}");
    assert_eq!(
        screen.matches("\"pong\"\x1b[0m: \x1b[32m\"pong\"").count(),
        2,
        "both pings were answered: the first typed out after the list, the second \
         completed:\n{screen}"
    );
}

#[test]
fn ctrl_d_says_what_it_left_and_closed() {
    let server = DemoServer::start();
    let mut terminal = Terminal::start(server.url());
    terminal.type_keys("connect(); await_connect();\r");
    terminal.type_keys("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
    terminal
        .type_keys("join(\"presence:lobby\", #{user: \"ann\"}); await_join(\"presence:lobby\");\r");
    // A failed entry at a terminal was seen there: the exit code stays 0.
    terminal.type_keys("nope()\r");
    let (status, screen) = terminal.finish();
    drop(server);
    assert!(status.success(), "exit {status:?}\n{screen}");
    assert!(screen.contains("no function matches nope()"), "{screen}");
    assert!(
        screen.contains("left presence:lobby, rooms:lobby; closed 1 socket"),
        "Ctrl-D says what it left and closed:\n{screen}"
    );
}
