//! `slipstream shell` on a real terminal: a pseudo-terminal made by `script` (util-linux, part of
//! every Debian system), with keys typed a line at a time. Checks what only a terminal shows:
//! a server push printed live above the prompt, tab completion of a joined topic, Ctrl-D leaving.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::DemoServer;

#[test]
fn live_pushes_completion_and_ctrl_d_on_a_terminal() {
    let server = DemoServer::start();
    let history = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("terminal-history-{}", std::process::id()));
    let shell = format!(
        "{} shell {}",
        env!("CARGO_BIN_EXE_slipstream"),
        server.url()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &shell, "/dev/null"])
        .env("SLIPSTREAM_HISTORY", &history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs the shell on a pseudo-terminal; install util-linux");
    let mut keys = child.stdin.take().expect("stdin");
    let typist = std::thread::spawn(move || {
        let mut type_line = |text: &str| {
            // One line at a time, as a person types: the shell has answered before the next.
            std::thread::sleep(Duration::from_millis(800));
            keys.write_all(text.as_bytes()).expect("typed");
            keys.flush().expect("flushed");
        };
        type_line("connect(); await_connect();\r");
        type_line("join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\r");
        type_line("push(\"rooms:lobby\", \"push to me\")\r");
        // Tab completes the joined topic inside the string.
        type_line("await_reply(push(\"rooms:lo\t\", \"ping\"))\r");
        type_line("\x04"); // Ctrl-D
        std::thread::sleep(Duration::from_millis(1500));
    });
    let mut screen = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut screen)
        .expect("the terminal's output");
    typist.join().expect("the typist finished");
    let status = child.wait().expect("script exits");

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
