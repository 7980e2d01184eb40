//! Durations and rates as people type them on a command line: `500ms`, `30s`, `2m`, `1h`,
//! `1m30s`; `100/s`, `5/m`, `20` (per second).

use std::fmt;
use std::time::Duration;

/// Why a duration or a rate did not parse. The text names the input and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing was given.
    #[error("empty duration: give a number with a unit, e.g. 500ms, 30s, 2m, 1h")]
    EmptyDuration,
    /// A duration that is not numbers with units.
    #[error("invalid duration {input:?}: {reason}; write e.g. 500ms, 30s, 2m, 1h or 1m30s")]
    Duration {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rate that is not `N`, `N/s`, `N/m` or `N/h`.
    #[error("invalid rate {input:?}: {reason}; write e.g. 100/s, 5/m or 20 (per second)")]
    Rate {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The longest duration accepted anywhere (one week): a bound on every load.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a duration: one or more `NUMBER UNIT` parts, the units `ms`, `s`, `m`, `h` (`1m30s`),
/// numbers may have a fraction (`1.5s`). A bare `0` is zero. At most [`MAX_DURATION`].
pub fn parse_duration(input: &str) -> Result<Duration, ParseError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ParseError::EmptyDuration);
    }
    let bad = |reason: &str| ParseError::Duration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| bad("not a number before the unit"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(bad("a unit is missing (ms, s, m or h)")),
            _ => return Err(bad("unknown unit (use ms, s, m or h)")),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    if total > MAX_DURATION.as_secs_f64() {
        return Err(bad("longer than a week"));
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad("out of range"))
}

/// A duration as people write it: `500ms`, `30s`, `2m`, `1m30s`, `1h`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{}s", d.as_secs_f64());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Operations per second, parsed from `N`, `N/s`, `N/m` or `N/h` (N may have a fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

/// The highest rate accepted (one million a second, per user or per sender).
pub const MAX_RATE: f64 = 1_000_000.0;

impl Rate {
    /// A rate of `per_second` operations a second, if it is from one a week ([`MAX_DURATION`]
    /// between two) to [`MAX_RATE`].
    pub fn per_second(per_second: f64) -> Option<Rate> {
        let min = 1.0 / MAX_DURATION.as_secs_f64();
        (per_second.is_finite() && per_second >= min && per_second <= MAX_RATE)
            .then_some(Rate { per_second })
    }

    /// Operations a second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }

    /// The time between two operations.
    pub fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

impl std::str::FromStr for Rate {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Rate, ParseError> {
        let bad = |reason: &str| ParseError::Rate {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let text = input.trim();
        let (number, per) = match text.split_once('/') {
            Some((n, unit)) => (n.trim(), unit.trim()),
            None => (text, "s"),
        };
        let seconds = match per {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad("the unit after / must be s, m or h")),
        };
        let n: f64 = number.parse().map_err(|_| bad("not a number"))?;
        Rate::per_second(n / seconds).ok_or_else(|| bad("must be from one a week to 1000000/s"))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 0 "), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let text = |s| parse_duration(s).unwrap_err().to_string();
        assert!(text("30").contains("a unit is missing"), "{}", text("30"));
        assert!(text("30x").contains("unknown unit"));
        assert!(text("s").contains("expected a number"));
        assert!(text("").contains("empty duration"));
        assert!(text("1.2.3s").contains("not a number"));
        assert!(text("200h").contains("longer than a week"));
    }

    #[test]
    fn durations_print_as_they_are_written() {
        for s in ["500ms", "30s", "2m", "1m30s", "1h", "1h1m1s", "1.5s", "0ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn rates_parse_per_second_minute_or_hour() {
        assert_eq!("100/s".parse::<Rate>().unwrap().as_per_second(), 100.0);
        assert_eq!("20".parse::<Rate>().unwrap().as_per_second(), 20.0);
        assert_eq!("30/m".parse::<Rate>().unwrap().as_per_second(), 0.5);
        assert_eq!(
            "4/s".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(250)
        );
        assert!("0/s".parse::<Rate>().is_err());
        assert!("-1".parse::<Rate>().is_err());
        assert!("1e-300/s".parse::<Rate>().is_err()); // its interval would overflow
        assert!(
            "5/d"
                .parse::<Rate>()
                .unwrap_err()
                .to_string()
                .contains("s, m or h")
        );
    }
}
