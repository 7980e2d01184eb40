//! Keeping secrets out of the logs, as Phoenix's `filter_parameters` does: the value of every
//! connect or join parameter whose key contains a filtered word becomes `"[FILTERED]"` before a
//! log line sees it ([`ServerConfig::filter_parameters`](crate::ServerConfig::filter_parameters)).
//!
//! Phoenix matches keys with `String.contains?`, so `"token"` also filters `csrf_token`; we do
//! the same but ignore ASCII case, so `Password` and `API_KEY` are filtered too. A join payload
//! is a client's JSON of any shape: it is walked iteratively (no recursion, linear time), at any
//! depth, inside arrays too.

use slipstream_protocol::Payload;

use crate::json::{self, Event, Walker};

/// What a filtered value is logged as.
const FILTERED: &str = "[FILTERED]";

/// Whether `key` names a secret: it contains one of `filters`, ignoring ASCII case. An empty
/// filter matches nothing.
pub(crate) fn is_secret(key: &str, filters: &[String]) -> bool {
    filters
        .iter()
        .any(|filter| contains_ignore_case(key, filter))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Connect (query) parameters for a log line, the way Phoenix shows them, with secrets filtered:
/// `%{"token" => "[FILTERED]", "user_id" => "7"}`.
pub(crate) fn connect_params(params: &[(String, String)], filters: &[String]) -> String {
    let mut out = String::from("%{");
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_quoted(key, &mut out);
        out.push_str(" => ");
        push_quoted(
            if is_secret(key, filters) {
                FILTERED
            } else {
                value
            },
            &mut out,
        );
    }
    out.push('}');
    out
}

/// A join payload for a log line: JSON text as the client sent it, except that the value of
/// every secret key, at any depth, is `"[FILTERED]"`.
pub(crate) fn payload(payload: &Payload, filters: &[String]) -> String {
    match payload {
        Payload::Json(raw) => filter_json(raw.as_str(), filters).unwrap_or_else(|_| {
            // Unreadable keys (a lone surrogate) might hide a secret: show nothing of it.
            format!(
                "<{} bytes of JSON that could not be filtered>",
                raw.as_str().len()
            )
        }),
        Payload::Binary(bytes) => format!("<{} bytes of binary>", bytes.len()),
        Payload::Reply(_) => "<reply>".to_owned(),
    }
}

/// `text` with the value of every secret key replaced by `"[FILTERED]"`.
fn filter_json(text: &str, filters: &[String]) -> Result<String, json::NormalizeError> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut walker = Walker::new(text);
    while let Some(event) = walker.next_event()? {
        if let Event::Key { key, value_at, .. } = event
            && is_secret(&key, filters)
        {
            let end = walker.skip_value()?;
            out.push_str(text.get(copied..value_at).unwrap_or_default());
            out.push('"');
            out.push_str(FILTERED);
            out.push('"');
            copied = end;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Ok(out)
}

/// Writes `s` in double quotes, JSON-escaped.
fn push_quoted(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        json::push_escaped(ch, out);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        crate::config::DEFAULT_FILTER_PARAMETERS
            .iter()
            .map(|&s| s.to_owned())
            .collect()
    }

    fn filter(text: &str) -> String {
        let payload = Payload::from_json_str(text).unwrap_or_else(|_| Payload::empty());
        super::payload(&payload, &defaults())
    }

    #[test]
    fn keys_containing_a_filter_in_any_case() {
        let filters = defaults();
        for secret in [
            "password",
            "user_password",
            "Password",
            "token",
            "csrf_token",
            "SECRET",
            "client_secret",
            "api_key",
            "authorization",
            "Auth",
            "oauth_code",
        ] {
            assert!(is_secret(secret, &filters), "{secret} is not filtered");
        }
        for plain in [
            "user", "user_id", "vsn", "api", "key", "pass", "tok", "", "passwor",
        ] {
            assert!(!is_secret(plain, &filters), "{plain} is filtered");
        }
        assert!(!is_secret("anything", &[String::new()]));
        assert!(!is_secret("password", &[]));
    }

    #[test]
    fn connect_params_keep_order_and_filter_values() {
        let params = [
            ("token", "abc"),
            ("password", "p"),
            ("api_key", "k"),
            ("user", "u \"q\"\n"),
            ("vsn", "2.0.0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            connect_params(&params, &defaults()),
            r#"%{"token" => "[FILTERED]", "password" => "[FILTERED]", "api_key" => "[FILTERED]", "user" => "u \"q\"\n", "vsn" => "2.0.0"}"#
        );
        assert_eq!(connect_params(&[], &defaults()), "%{}");
    }

    #[test]
    fn json_values_are_filtered_at_any_depth_whatever_their_shape() {
        assert_eq!(
            filter(
                r#"{"token":"t","nested":{"password":{"deep":[1,{"x":2}]}},"authorization":"x","list":[{"secret":[1,2]},{"ok":"fine"}],"user":"u"}"#
            ),
            r#"{"token":"[FILTERED]","nested":{"password":"[FILTERED]"},"authorization":"[FILTERED]","list":[{"secret":"[FILTERED]"},{"ok":"fine"}],"user":"u"}"#
        );
        // Whitespace and everything else is kept as sent; an escaped key is read decoded.
        assert_eq!(
            filter(r#" { "pass\u0077ord" : 1 , "a" : [ null ] } "#),
            r#"{ "pass\u0077ord" : "[FILTERED]" , "a" : [ null ] }"#
        );
        // A value that merely looks like a secret key is not a key.
        assert_eq!(
            filter(r#"["password",{"k":"token"}]"#),
            r#"["password",{"k":"token"}]"#
        );
        assert_eq!(filter("42"), "42");
    }

    #[test]
    fn a_deep_payload_is_filtered_without_recursion() {
        let run = || {
            let depth = 1_000_000;
            let text = format!(
                "{}{{\"token\":{}1{}}}{}",
                r#"[{"a":"#.repeat(depth),
                "[".repeat(depth),
                "]".repeat(depth),
                "}]".repeat(depth)
            );
            let expected = format!(
                "{}{{\"token\":\"[FILTERED]\"}}{}",
                r#"[{"a":"#.repeat(depth),
                "}]".repeat(depth)
            );
            assert!(filter(&text) == expected);
        };
        crate::json::tests::on_a_small_stack(run);
    }

    #[test]
    fn what_cannot_be_read_is_not_shown() {
        let p = Payload::from_json_str(r#"{"\ud800":"maybe a secret"}"#)
            .unwrap_or_else(|_| Payload::empty());
        assert_eq!(
            payload(&p, &defaults()),
            "<27 bytes of JSON that could not be filtered>"
        );
        assert_eq!(
            payload(&Payload::binary(vec![1u8, 2]), &defaults()),
            "<2 bytes of binary>"
        );
    }
}
