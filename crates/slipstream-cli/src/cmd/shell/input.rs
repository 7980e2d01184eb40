//! Where shell entries come from: when an entry spans several lines, and where history lives.

use std::path::PathBuf;

/// The environment variable that names the history file (tests point it elsewhere).
pub const HISTORY_ENV: &str = "SLIPSTREAM_HISTORY";

/// The history file: `$SLIPSTREAM_HISTORY`, else `$XDG_DATA_HOME/slipstream/shell_history`, else
/// `~/.local/share/slipstream/shell_history`; `None` when there is no home either.
pub fn history_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var(HISTORY_ENV) {
        return Some(PathBuf::from(path));
    }
    let data = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/share")))?;
    Some(data.join("slipstream").join("shell_history"))
}

/// Whether `text` is a whole entry: every bracket closed and no backtick string left open.
/// An unfinished entry (`fn f() {`) waits for more lines; a stray closer is complete (and will
/// be a syntax error).
pub fn is_complete(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = text.chars().peekable();
    let mut in_backticks = false;
    while let Some(c) = chars.next() {
        if in_backticks {
            match c {
                '\\' => {
                    chars.next();
                }
                '`' => in_backticks = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                // Ordinary strings and characters end on their line.
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => break,
                        _ if d == c => break,
                        _ => {}
                    }
                }
            }
            '`' => in_backticks = true,
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth <= 0 && !in_backticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_ask_for_more_lines() {
        assert!(is_complete("connect();"));
        assert!(!is_complete("fn f() {"));
        assert!(is_complete("fn f() {\n  1\n}"));
        assert!(!is_complete("join(\"t\", #{a: 1,"));
        assert!(!is_complete("let s = `multi"));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        assert!(is_complete(r#"push("t", "{(", #{s: "[\"}"});"#));
        assert!(is_complete("let a = 1; // {"));
        assert!(is_complete("print(`a ${1} {`)"));
        assert!(is_complete("}"));
    }
}
