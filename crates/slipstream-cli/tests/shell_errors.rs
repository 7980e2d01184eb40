//! Errors that explain themselves, in a piped shell and in `slipstream run`: the line of the
//! input they happened on, the exit code a failed entry gives a piped shell, syntax errors at the
//! line the fix goes on, the signatures of a function called wrongly, "did you mean …?", and
//! hints for Elixir habits.

mod support;

use support::{Ran, script_file, slipstream};

/// Nothing listens on port 9 (discard): connect() there fails, nothing else does.
const NOWHERE: &str = "ws://127.0.0.1:9/socket/websocket";

/// `slipstream shell ARGS` with `input` piped in.
fn shell(args: &[&str], input: &str) -> Ran {
    support::with_stdin(&[&["shell"], args].concat(), input)
}

fn run(name: &str, source: &str) -> Ran {
    let file = script_file(name, source);
    Ran::from(
        slipstream()
            .arg("run")
            .arg(&file)
            .args(["--url", NOWHERE])
            .output()
            .expect("slipstream run starts"),
    )
}

#[test]
fn a_piped_shell_with_a_failed_entry_exits_1_naming_the_lines_of_its_input() {
    let ran = shell(
        &["--demo"],
        "connect(); await_connect();\n\
         join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\n\
         \n\
         let reply = await_reply(push(\"rooms:lobby\", \"ping\"));\n\
         assert_eq(reply.status,\n\
         \x20         \"error\");\n\
         print(\"went on\");\n",
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stdout.contains("went on"), "{ran}");
    // The multi-line entry is reported at its first line, line 5 of the input.
    assert!(
        ran.stderr
            .contains("error: assertion failed at <stdin>:5:1\n  5 | assert_eq(reply.status,"),
        "{ran}"
    );
    assert!(!ran.stderr.contains("<shell>:1:1"), "{ran}");
    assert!(
        ran.stderr
            .contains("error: an entry failed; the first at <stdin>:5"),
        "{ran}"
    );
}

#[test]
fn a_piped_shell_that_ran_clean_exits_0_and_the_first_failure_sets_the_code() {
    let ran = shell(&[NOWHERE], "let a = 1;\nprint(a + 1);\n");
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(ran.stdout.trim(), "2", "{ran}");

    // A syntax error (as in `run`) is a 2; it comes first, so it sets the code.
    let ran = shell(&[NOWHERE], "print(1);\nlet y = ;\nassert(false);\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("syntax error at <stdin>:2:9"), "{ran}");
    assert!(
        ran.stderr.contains("assertion failed at <stdin>:3:1"),
        "{ran}"
    );
    assert!(
        ran.stderr
            .contains("2 entries failed; the first at <stdin>:2"),
        "{ran}"
    );
}

#[test]
fn an_error_inside_a_function_names_the_line_it_was_defined_on() {
    let ran = shell(
        &[NOWHERE],
        "print(\"start\");\n\
         fn check(x) {\n\
         \x20 assert_eq(x, 2);\n\
         }\n\
         print(\"between\");\n\
         check(3)\n",
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains("assertion failed at <stdin>:3:3\n  3 |   assert_eq(x, 2);"),
        "{ran}"
    );
}

#[test]
fn syntax_errors_point_at_the_line_the_fix_goes_on() {
    // A missing `)` on line 2: Rhai notices it on line 3.
    let ran = run("paren.rhai", "print(1);\nprint(2\nprint(3);\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr.contains("syntax error at ")
            && ran.stderr.contains("paren.rhai:2:8\n  2 | print(2\n"),
        "{ran}"
    );
    assert!(
        ran.stderr.contains("hint: the `(` at 2:6 is never closed"),
        "{ran}"
    );

    // A missing `}`, noticed at the end of the file, after blank lines.
    let ran = run("brace.rhai", "print(1);\nfn f() {\n  print(2);\n\n\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr.contains("brace.rhai:3:12\n  3 |   print(2);"),
        "{ran}"
    );
    assert!(
        ran.stderr.contains("hint: the `{` at 2:8 is never closed"),
        "{ran}"
    );

    // An unterminated string: where it starts.
    let ran = run("string.rhai", "print(1);\nprint(\"abc);\nprint(3);\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr.contains("string.rhai:2:7\n  2 | print(\"abc);"),
        "{ran}"
    );

    // The same in a piped shell, where the entry waits for its `)` until the input ends.
    let ran = shell(&[NOWHERE], "print(1);\njoin(\"rooms:lobby\"\n\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr
            .contains("syntax error at <stdin>:2:19\n  2 | join(\"rooms:lobby\""),
        "{ran}"
    );
}

#[test]
fn a_function_called_wrongly_shows_its_signatures() {
    let ran = run("arity.rhai", "connect();\npush(\"rooms:lobby\");\n");
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr.contains(
            "  push takes 2 or 3 arguments, not 1:\n    push(topic: string, event: string)\n    \
             push(topic: string, event: string, payload: map | blob)\n  \
             hint: help(\"push\") explains it, with an example"
        ),
        "{ran}"
    );
    assert!(!ran.stderr.contains("ImmutableString"), "{ran}");

    let ran = shell(&[NOWHERE], "join(1)\nsocket().await_join()\n");
    assert!(
        ran.stderr
            .contains("join cannot take (int); it takes:\n    join(topic: string)\n"),
        "{ran}"
    );
    assert!(
        ran.stderr
            .contains("s.await_join takes 1 argument, not 0:\n    s.await_join(topic: string)"),
        "{ran}"
    );
}

#[test]
fn typos_get_a_did_you_mean() {
    let ran = shell(
        &[NOWHERE],
        "await_jion(\"rooms:lobby\")\nlet counter = 1;\nprint(countr)\nconect()\n",
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    for expected in [
        "no function matches await_jion(string)\n  hint: did you mean await_join?",
        "there is no variable countr\n  hint: did you mean counter?",
        "hint: did you mean connect?",
    ] {
        assert!(ran.stderr.contains(expected), "no {expected:?} in\n{ran}");
    }
}

#[test]
fn elixir_habits_get_a_hint() {
    let ran = shell(
        &[NOWHERE],
        "await_message(_, \"foo\", _)\n\
         push(\"rooms:lobby\", \"ping\") |> await_reply()\n\
         join(:lobby)\n\
         let m = %{a: 1};\n\
         if true do print(1) end\n\
         let f = fn x -> x end;\n\
         x = 1\n",
    );
    assert_eq!(ran.code, Some(2), "{ran}");
    for (line, hint) in [
        (1, "hint: `_` is not a pattern in Rhai: use ANY"),
        (2, "hint: Rhai has no pipe: call the functions in turn"),
        (3, "hint: Rhai has no atoms: write a string"),
        (4, "hint: Rhai's maps are written #{key: value}"),
        (5, "hint: Rhai's blocks are braces"),
        (6, "hint: Rhai's anonymous functions are |x| x * 2"),
        (7, "hint: declare it first: let x = …"),
    ] {
        let stderr = format!("\n{}", ran.stderr);
        let report = stderr
            .split("\nerror: ")
            .find(|r| r.contains(&format!("<stdin>:{line}:")))
            .unwrap_or_else(|| panic!("no error on line {line}:\n{ran}"));
        assert!(
            report.contains(hint),
            "line {line}: no {hint:?} in\n{report}"
        );
    }
}
