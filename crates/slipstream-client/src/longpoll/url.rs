//! The long-poll endpoint's URL, derived from the websocket URL as phoenix.js derives it.

use url::Url;

/// The query parameter that carries the session token (PROTOCOL.md §9.1).
pub(crate) const TOKEN_PARAM: &str = "token";

/// The long-poll URL for a websocket connect URL: `ws` → `http`, `wss` → `https`, a path ending
/// in `/websocket` ends in `/longpoll` instead (any other path is kept, as phoenix.js keeps it),
/// and the query (`vsn` and the params) stays as it is.
pub(crate) fn poll_url(ws: &Url) -> Url {
    let mut url = ws.clone();
    let scheme = match ws.scheme() {
        "wss" | "https" => "https",
        _ => "http",
    };
    // ws, wss, http and https are all "special" schemes, between which `set_scheme` never fails.
    let _ = url.set_scheme(scheme);
    let path = url.path().trim_end_matches('/');
    if let Some(mount) = path.strip_suffix("/websocket") {
        let path = format!("{mount}/longpoll");
        url.set_path(&path);
    }
    url
}

/// `poll` with the session token appended: every request after the first carries it.
pub(crate) fn with_token(poll: &Url, token: &str) -> Url {
    let mut url = poll.clone();
    url.query_pairs_mut().append_pair(TOKEN_PARAM, token);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(s: &str) -> String {
        poll_url(&Url::parse(s).unwrap()).to_string()
    }

    #[test]
    fn the_scheme_and_the_last_path_segment_change_and_the_query_stays() {
        assert_eq!(
            poll("ws://h:4000/socket/websocket?vsn=2.0.0&user=a%20b"),
            "http://h:4000/socket/longpoll?vsn=2.0.0&user=a%20b"
        );
        assert_eq!(
            poll("wss://example.com/socket/websocket?vsn=1.0.0"),
            "https://example.com/socket/longpoll?vsn=1.0.0"
        );
        assert_eq!(
            poll("ws://h/ws/7/websocket/"),
            "http://h/ws/7/longpoll",
            "a trailing slash is dropped with the segment"
        );
    }

    #[test]
    fn a_path_without_websocket_is_kept() {
        // An `exact_path` socket: phoenix.js rewrites only a trailing `/websocket`.
        assert_eq!(poll("ws://h/live?vsn=2.0.0"), "http://h/live?vsn=2.0.0");
        assert_eq!(
            poll("ws://h/websocket-ish/websocket"),
            "http://h/websocket-ish/longpoll"
        );
    }

    #[test]
    fn the_token_is_appended_after_the_params() {
        let base = poll_url(&Url::parse("ws://h/socket/websocket?vsn=2.0.0&a=1").unwrap());
        assert_eq!(
            with_token(&base, "SFMy+/=").as_str(),
            "http://h/socket/longpoll?vsn=2.0.0&a=1&token=SFMy%2B%2F%3D"
        );
        // The base is untouched: each request builds its own.
        assert_eq!(base.as_str(), "http://h/socket/longpoll?vsn=2.0.0&a=1");
    }
}
