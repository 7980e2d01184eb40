//! Text for people: durations as `52 ms` or `10 s`, websocket close codes by name.

use std::fmt;
use std::time::Duration;

/// A duration as a person writes it: `0 ms`, `250 µs`, `52 ms`, `10 s`, `1.5 s`.
///
/// Under a second it is rounded to the millisecond (to the microsecond under one millisecond);
/// from one second on it is in seconds with at most three decimals.
#[derive(Clone, Copy)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let nanos = d.as_nanos();
        if nanos == 0 {
            return f.write_str("0 ms");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos} ns");
        }
        if nanos < 999_500 {
            return write!(f, "{} µs", (nanos + 500) / 1_000);
        }
        let millis = (nanos + 500_000) / 1_000_000;
        if millis < 1_000 {
            return write!(f, "{millis} ms");
        }
        let (secs, frac) = (millis / 1_000, millis % 1_000);
        if frac == 0 {
            write!(f, "{secs} s")
        } else {
            let decimals = format!("{frac:03}");
            write!(f, "{secs}.{} s", decimals.trim_end_matches('0'))
        }
    }
}

/// Shorthand for [`HumanDuration`].
pub(crate) fn duration(d: Duration) -> HumanDuration {
    HumanDuration(d)
}

/// The meaning of a websocket close code (RFC 6455 §7.4.1 and the IANA registry), when it has a
/// registered one.
///
/// ```
/// assert_eq!(slipstream_client::close_code_name(1009), Some("message too big"));
/// assert_eq!(slipstream_client::close_code_name(4000), None);
/// ```
pub fn close_code_name(code: u16) -> Option<&'static str> {
    Some(match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status",
        1006 => "abnormal closure",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "internal server error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake failure",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: Duration) -> String {
        duration(d).to_string()
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(text(Duration::ZERO), "0 ms");
        assert_eq!(text(Duration::from_nanos(40)), "40 ns");
        assert_eq!(text(Duration::from_micros(250)), "250 µs");
        assert_eq!(text(Duration::from_nanos(999_700)), "1 ms");
        assert_eq!(text(Duration::from_nanos(51_895_836)), "52 ms");
        assert_eq!(text(Duration::from_millis(999)), "999 ms");
        assert_eq!(text(Duration::from_micros(999_600)), "1 s");
        assert_eq!(text(Duration::from_secs(10)), "10 s");
        assert_eq!(text(Duration::from_millis(1_500)), "1.5 s");
        assert_eq!(text(Duration::from_millis(2_250)), "2.25 s");
        assert_eq!(text(Duration::from_millis(61_001)), "61.001 s");
        assert_eq!(text(Duration::from_secs(3_600)), "3600 s");
    }

    #[test]
    fn close_codes_have_names() {
        assert_eq!(close_code_name(1000), Some("normal closure"));
        assert_eq!(close_code_name(1009), Some("message too big"));
        assert_eq!(close_code_name(4000), None);
    }
}
