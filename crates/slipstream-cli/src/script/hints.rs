//! One-line hints that point at the fix for a failed connection: what a person should try next,
//! from the client's typed error and the URL it was trying. The error says what happened; the
//! hint (rendered as a `hint: …` line under it, see [`super::error::Failure::hint`]) says what
//! to do about it. Pure functions: no I/O, so `tour`, `run` and `shell` give the same advice.

use slipstream_client::ConnectError;

/// Where Phoenix serves a socket declared `socket "/socket", …` in its endpoint.
const PHOENIX_PATH: &str = "/socket/websocket";

/// The hint for a connection to `url` that failed with `error`, if there is one to give
/// beyond what the error's own text says (the library's text already says where Phoenix
/// sockets live after a 404, and asks "is this a ws:// server?" for [`ConnectError::NotTls`]:
/// the hint then gives the URL to try).
pub fn connect_hint(error: &ConnectError, url: &str) -> Option<String> {
    hint(error, url, "or use --demo")
}

/// [`connect_hint`] for `slipstream tour`, whose embedded server is what it uses without
/// `--url` (it has no `--demo`).
pub fn tour_connect_hint(error: &ConnectError, url: &str) -> Option<String> {
    hint(error, url, "or leave out --url to use the embedded one")
}

/// `error` with its hint (for `tour`) as a last line: `…\n  hint: start one with …`.
pub fn tour_connect_error(error: slipstream_client::ConnectError, url: &str) -> anyhow::Error {
    match tour_connect_hint(&error, url) {
        Some(hint) => anyhow::anyhow!("{error}\n  hint: {hint}"),
        None => error.into(),
    }
}

fn hint(error: &ConnectError, url: &str, demo: &str) -> Option<String> {
    let parts = UrlParts::parse(url);
    match error {
        ConnectError::ConnectionRefused { .. } => Some(if parts.is_loopback() {
            format!("start one with `slipstream serve`, {demo}")
        } else {
            "is the server up, and is this its port?".to_owned()
        }),
        ConnectError::Refused { status: 404, .. } => {
            let suggestion = parts.with_phoenix_path();
            (suggestion != url).then(|| format!("try {suggestion}"))
        }
        ConnectError::Refused { status: 403, .. } => Some(
            "the server's connect/3 refused this client: check the params or token it expects"
                .to_owned(),
        ),
        ConnectError::NotTls { .. } if parts.scheme == "wss" || parts.scheme == "https" => {
            let plain = if parts.scheme == "https" {
                "http"
            } else {
                "ws"
            };
            Some(format!("try {}", parts.with_scheme(plain)))
        }
        ConnectError::Dns { host, .. } => Some(format!(
            "check the host name {host:?}: a typo, or no network?"
        )),
        ConnectError::UpgradeTimeout(..) => Some(
            "the server took the connection but never answered the websocket upgrade: \
             is this a websocket endpoint (and ws:// or wss:// as it expects)?"
                .to_owned(),
        ),
        _ => None,
    }
}

/// The parts of a socket URL a hint needs, without parsing more than that.
struct UrlParts<'a> {
    scheme: &'a str,
    /// `host:port` (or `[v6]:port`).
    authority: &'a str,
    path: &'a str,
    /// `?…` and `#…`, as given.
    rest: &'a str,
}

impl<'a> UrlParts<'a> {
    fn parse(url: &'a str) -> Self {
        let (scheme, after) = url.split_once("://").unwrap_or(("", url));
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, tail) = after.split_at(authority_end);
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let (path, rest) = tail.split_at(path_end);
        UrlParts {
            scheme,
            authority,
            path,
            rest,
        }
    }

    fn host(&self) -> &'a str {
        let authority = self
            .authority
            .rsplit_once('@')
            .map_or(self.authority, |(_, h)| h);
        if let Some(v6) = authority.strip_prefix('[') {
            return v6.split(']').next().unwrap_or(v6);
        }
        authority.split(':').next().unwrap_or(authority)
    }

    fn is_loopback(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost") || host.starts_with("127.") || host == "::1"
    }

    /// The URL with `/socket/websocket` as its path (or `/websocket` added to a `/socket` path).
    fn with_phoenix_path(&self) -> String {
        let path = self.path.trim_end_matches('/');
        let path = if path.ends_with("/socket") {
            format!("{path}/websocket")
        } else {
            PHOENIX_PATH.to_owned()
        };
        format!("{}://{}{path}{}", self.scheme, self.authority, self.rest)
    }

    fn with_scheme(&self, scheme: &str) -> String {
        format!("{scheme}://{}{}{}", self.authority, self.path, self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, path: &str) -> ConnectError {
        ConnectError::Refused {
            status,
            headers: Vec::new(),
            body: None,
            path: path.into(),
        }
    }

    #[test]
    fn a_refused_connection_on_this_machine_suggests_serve_or_demo() {
        let error = ConnectError::ConnectionRefused {
            addr: "127.0.0.1:4000".into(),
        };
        let hint = connect_hint(&error, "ws://localhost:4000/socket/websocket");
        assert_eq!(
            hint.as_deref(),
            Some("start one with `slipstream serve`, or use --demo")
        );
        let hint = connect_hint(&error, "ws://127.0.0.1:4000/socket/websocket").unwrap();
        assert!(hint.contains("slipstream serve"), "{hint}");
        let far = connect_hint(&error, "wss://example.com/socket/websocket").unwrap();
        assert!(!far.contains("slipstream serve"), "{far}");
        assert!(far.contains("is the server up"), "{far}");
    }

    #[test]
    fn the_tour_says_how_to_use_its_embedded_server() {
        let error = ConnectError::ConnectionRefused {
            addr: "127.0.0.1:4000".into(),
        };
        let url = "ws://127.0.0.1:4000/socket/websocket";
        assert_eq!(
            tour_connect_hint(&error, url).as_deref(),
            Some("start one with `slipstream serve`, or leave out --url to use the embedded one")
        );
        let text = format!(
            "{:#}",
            tour_connect_error(error, url).context("step 1 (connect) failed")
        );
        assert!(
            text.starts_with("step 1 (connect) failed: ")
                && text.ends_with("\n  hint: start one with `slipstream serve`, or leave out --url to use the embedded one"),
            "{text}"
        );
        let plain = tour_connect_error(ConnectError::Timeout, url);
        assert!(!plain.to_string().contains("hint"), "{plain}");
    }

    #[test]
    fn a_404_gives_the_url_to_try() {
        // The error's text says where Phoenix sockets live; the hint gives the URL.
        let error = refused(404, "/socket");
        assert!(
            error
                .to_string()
                .contains("usually live at /socket/websocket"),
            "{error}"
        );
        assert_eq!(
            connect_hint(&error, "ws://localhost:4000/socket").as_deref(),
            Some("try ws://localhost:4000/socket/websocket")
        );
        let hint = connect_hint(&refused(404, "/"), "ws://localhost:4000/?vsn=2.0.0").unwrap();
        assert_eq!(hint, "try ws://localhost:4000/socket/websocket?vsn=2.0.0");
        let hint = connect_hint(&refused(404, "/live/websocket"), "ws://h/live/websocket");
        assert_eq!(hint.as_deref(), Some("try ws://h/socket/websocket"));
        // Already the usual path: nothing to add to the error's "check the endpoint".
        let url = "ws://localhost:4000/socket/websocket";
        assert_eq!(connect_hint(&refused(404, "/socket/websocket"), url), None);
    }

    #[test]
    fn other_upgrade_refusals() {
        let hint = connect_hint(
            &refused(403, "/socket/websocket"),
            "ws://h/socket/websocket",
        );
        assert!(hint.unwrap().contains("connect/3"));
        assert_eq!(
            connect_hint(
                &refused(500, "/socket/websocket"),
                "ws://h/socket/websocket"
            ),
            None
        );
    }

    #[test]
    fn a_plain_server_behind_a_wss_url_gets_the_ws_url() {
        let error = ConnectError::NotTls {
            addr: "127.0.0.1:4000".into(),
            reason: "received corrupt message of type InvalidContentType".into(),
        };
        assert!(
            error.to_string().contains("is this a ws:// server?"),
            "{error}"
        );
        assert_eq!(
            connect_hint(&error, "wss://127.0.0.1:4000/socket/websocket?vsn=2.0.0").as_deref(),
            Some("try ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0")
        );
        // Any other TLS failure (a certificate) is not a plain server: no such hint.
        let error = ConnectError::Tls("invalid peer certificate: UnknownIssuer".into());
        assert_eq!(
            connect_hint(&error, "wss://example.com/socket/websocket"),
            None
        );
    }

    #[test]
    fn a_dns_failure_names_the_host() {
        let error = ConnectError::Dns {
            host: "exmaple.com".into(),
            reason: "failed to lookup address information".into(),
        };
        let hint = connect_hint(&error, "wss://exmaple.com/socket/websocket").unwrap();
        assert!(
            hint.starts_with("check the host name \"exmaple.com\""),
            "{hint}"
        );
    }

    #[test]
    fn errors_that_say_it_all_get_no_hint() {
        for error in [
            ConnectError::Timeout,
            ConnectError::AuthTokenNotAccepted,
            ConnectError::Transport("reset".into()),
            ConnectError::Cancelled,
        ] {
            assert_eq!(
                connect_hint(&error, "ws://localhost:4000/socket/websocket"),
                None
            );
        }
    }

    #[test]
    fn url_parts() {
        let p = UrlParts::parse("ws://user@[::1]:4000/socket/websocket?x=1#f");
        assert_eq!(
            (p.scheme, p.authority, p.path, p.rest),
            ("ws", "user@[::1]:4000", "/socket/websocket", "?x=1#f")
        );
        assert_eq!(p.host(), "::1");
        assert!(p.is_loopback());
        let p = UrlParts::parse("ws://example.com");
        assert_eq!((p.host(), p.path), ("example.com", ""));
        assert_eq!(p.with_phoenix_path(), "ws://example.com/socket/websocket");
    }
}
