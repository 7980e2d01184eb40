//! Socket URL handling: scheme mapping, mount vs. `/websocket` normalisation, query parameters.

use slipstream_protocol::Serializer;
use url::Url;

use crate::error::ConfigError;

/// Validates `raw` and normalises it like phoenix.js and Slipstream:
///
/// * `http` → `ws`, `https` → `wss` (`ws`/`wss` stay);
/// * when `append_websocket` is set, a mount path (`/socket`) gets `/websocket` appended, and a path
///   that already ends in `/websocket` is kept;
/// * the query string is kept; `vsn` and other parameters are added per connect by [`with_params`].
pub(crate) fn normalize(raw: &str, append_websocket: bool) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(invalid(&format!(
                "unsupported scheme {other:?} (use ws, wss, http or https)"
            )));
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    // `set_scheme` refuses to switch between "special" schemes only for file/non-special ones;
    // http↔ws are all special, so this cannot fail, but report rather than panic if it did.
    url.set_scheme(scheme)
        .map_err(|()| invalid("cannot change the scheme"))?;
    url.set_fragment(None);
    if append_websocket {
        let path = url.path().trim_end_matches('/').to_owned();
        if !path.ends_with("/websocket") {
            url.set_path(&format!("{path}/websocket"));
        }
    }
    Ok(url)
}

/// The URL for one connect: the normalised URL plus `params`, plus `vsn` unless one is present
/// (in the URL or in `params`).
pub(crate) fn with_params(base: &Url, params: &[(String, String)], vsn: &str) -> Url {
    let mut url = base.clone();
    let has_vsn =
        url.query_pairs().any(|(k, _)| k == "vsn") || params.iter().any(|(k, _)| k == "vsn");
    if !params.is_empty() || !has_vsn {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
        if !has_vsn {
            pairs.append_pair("vsn", vsn);
        }
    }
    url
}

/// The serializer a socket uses. A `vsn` written in the URL's query or given with a static
/// parameter selects it, as the server will negotiate it (`1.0.x` → V1, `2.0.x` → V2; anything
/// else is [`ConfigError::UnsupportedVsn`]); several `vsn` values must agree
/// ([`ConfigError::ConflictingVsn`]); a serializer set explicitly must agree with them
/// ([`ConfigError::SerializerConflict`]). Without any `vsn`, the explicit choice or V2.
pub(crate) fn resolve_serializer(
    url: &Url,
    params: &[(String, String)],
    explicit: Option<Serializer>,
) -> Result<Serializer, ConfigError> {
    let from_url = url
        .query_pairs()
        .filter(|(k, _)| k == "vsn")
        .map(|(_, v)| v.into_owned());
    let from_params = params
        .iter()
        .filter(|(k, _)| k == "vsn")
        .map(|(_, v)| v.clone());
    let mut chosen: Option<(String, Serializer)> = None;
    for vsn in from_url.chain(from_params) {
        let serializer =
            Serializer::negotiate(Some(&vsn)).map_err(|e| ConfigError::UnsupportedVsn {
                vsn: vsn.clone(),
                reason: e.to_string(),
            })?;
        match &chosen {
            None => chosen = Some((vsn, serializer)),
            Some((first, s)) if *s != serializer => {
                return Err(ConfigError::ConflictingVsn {
                    first: first.clone(),
                    second: vsn,
                });
            }
            Some(_) => {}
        }
    }
    match (chosen, explicit) {
        (Some((vsn, vsn_serializer)), Some(serializer)) if vsn_serializer != serializer => {
            Err(ConfigError::SerializerConflict {
                vsn,
                vsn_serializer,
                serializer,
            })
        }
        (Some((_, serializer)), _) => Ok(serializer),
        (None, explicit) => Ok(explicit.unwrap_or(Serializer::V2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize(s, true).unwrap().to_string()
    }

    #[test]
    fn maps_schemes_and_appends_websocket_to_a_mount() {
        assert_eq!(
            norm("http://localhost:4000/socket"),
            "ws://localhost:4000/socket/websocket"
        );
        assert_eq!(
            norm("https://example.com/socket/"),
            "wss://example.com/socket/websocket"
        );
        assert_eq!(
            norm("ws://localhost:4000/socket/websocket"),
            "ws://localhost:4000/socket/websocket"
        );
        assert_eq!(norm("ws://h/socket?x=1"), "ws://h/socket/websocket?x=1");
        assert_eq!(norm("ws://h"), "ws://h/websocket");
    }

    #[test]
    fn can_keep_a_custom_path() {
        assert_eq!(normalize("ws://h/ws", false).unwrap().as_str(), "ws://h/ws");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(
            normalize("ftp://h/socket", true),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(normalize("not a url", true).is_err());
        assert!(normalize("", true).is_err());
    }

    #[test]
    fn adds_vsn_and_params_unless_vsn_given() {
        let base = normalize("ws://h/socket?a=1", true).unwrap();
        let url = with_params(&base, &[("token".into(), "x y".into())], "2.0.0");
        assert_eq!(
            url.as_str(),
            "ws://h/socket/websocket?a=1&token=x+y&vsn=2.0.0"
        );
        let url = with_params(&base, &[("vsn".into(), "1.0.0".into())], "2.0.0");
        assert_eq!(url.as_str(), "ws://h/socket/websocket?a=1&vsn=1.0.0");
        let base = normalize("ws://h/socket?vsn=2.0.0", true).unwrap();
        assert_eq!(
            with_params(&base, &[], "2.0.0").as_str(),
            "ws://h/socket/websocket?vsn=2.0.0"
        );
    }

    fn resolve(
        url: &str,
        params: &[(&str, &str)],
        explicit: Option<Serializer>,
    ) -> Result<Serializer, ConfigError> {
        let url = normalize(url, true).unwrap();
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve_serializer(&url, &params, explicit)
    }

    #[test]
    fn a_vsn_in_the_url_or_params_selects_the_serializer() {
        assert_eq!(resolve("ws://h/socket", &[], None), Ok(Serializer::V2));
        assert_eq!(
            resolve("ws://h/socket", &[], Some(Serializer::V1)),
            Ok(Serializer::V1)
        );
        assert_eq!(
            resolve("ws://h/socket?vsn=1.0.0", &[], None),
            Ok(Serializer::V1)
        );
        assert_eq!(
            resolve("ws://h/socket?vsn=2.0.0", &[], None),
            Ok(Serializer::V2)
        );
        assert_eq!(
            resolve("ws://h/socket", &[("vsn", "1.0.0")], None),
            Ok(Serializer::V1)
        );
        // An explicit choice that agrees is fine.
        assert_eq!(
            resolve("ws://h/socket?vsn=1.0.0", &[], Some(Serializer::V1)),
            Ok(Serializer::V1)
        );
    }

    #[test]
    fn a_vsn_that_cannot_be_honoured_is_a_typed_error() {
        assert!(matches!(
            resolve("ws://h/socket?vsn=3.0.0", &[], None),
            Err(ConfigError::UnsupportedVsn { vsn, .. }) if vsn == "3.0.0"
        ));
        assert!(matches!(
            resolve("ws://h/socket?vsn=banana", &[], None),
            Err(ConfigError::UnsupportedVsn { .. })
        ));
        assert_eq!(
            resolve("ws://h/socket?vsn=1.0.0", &[("vsn", "2.0.0")], None),
            Err(ConfigError::ConflictingVsn {
                first: "1.0.0".into(),
                second: "2.0.0".into()
            })
        );
        let err = resolve("ws://h/socket?vsn=1.0.0", &[], Some(Serializer::V2)).unwrap_err();
        assert_eq!(
            err,
            ConfigError::SerializerConflict {
                vsn: "1.0.0".into(),
                vsn_serializer: Serializer::V1,
                serializer: Serializer::V2,
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("\"1.0.0\"") && text.contains("V1") && text.contains("V2"),
            "{text}"
        );
    }
}
