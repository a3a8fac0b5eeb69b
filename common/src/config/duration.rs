//! Durations in config files: a whole number and one unit in quotes (`"90s"`, `"10m"`, `"2h"`,
//! `"7d"`), so a lesson can give a session key two minutes and a classroom a week with the same
//! key. [`SessionTtl`] is server_key's `session_ttl`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::protocol::consts::{MAX_SESSION_TTL_SECS, MIN_SESSION_TTL_SECS};

/// The units, with their length in seconds; the first letter after the number picks one.
const UNITS: [(char, u64); 4] = [('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)];

/// `"10m"` -> 10 minutes. A whole number (no sign, `_` allowed between digits), optional spaces,
/// then one of `s`, `m`, `h`, `d`; `None` for anything else or a value that overflows.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = number.replace('_', "").parse().ok()?;
    let mut unit = unit.trim_start().chars();
    let letter = unit.next()?;
    if unit.next().is_some() {
        return None;
    }
    let (_, secs) = UNITS.iter().find(|(u, _)| *u == letter)?;
    n.checked_mul(*secs).map(Duration::from_secs)
}

/// The shortest exact form: 90 s -> `"90s"`, 600 s -> `"10m"`, 7 days -> `"7d"`.
pub fn show(d: Duration) -> String {
    let secs = d.as_secs();
    let (unit, per) = UNITS
        .iter()
        .rev()
        .find(|(_, per)| secs.is_multiple_of(*per) && secs > 0)
        .copied()
        .unwrap_or(('s', 1));
    format!("{}{unit}", secs / per)
}

/// The lifetime of a distributed session key, from [`MIN_SESSION_TTL_SECS`] to
/// [`MAX_SESSION_TTL_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTtl(Duration);

impl SessionTtl {
    /// `text` as a lifetime, if it is a duration within the bounds.
    pub fn parse(text: &str) -> Option<Self> {
        parse(text).and_then(Self::new)
    }

    /// `d`, if it is within the bounds.
    pub fn new(d: Duration) -> Option<Self> {
        (MIN_SESSION_TTL_SECS..=MAX_SESSION_TTL_SECS)
            .contains(&d.as_secs())
            .then_some(Self(d))
    }

    /// Whole hours (the old `session_ttl_hours`), clamped into the bounds.
    pub fn from_hours(hours: u64) -> Self {
        let secs = hours
            .saturating_mul(3600)
            .clamp(MIN_SESSION_TTL_SECS, MAX_SESSION_TTL_SECS);
        Self(Duration::from_secs(secs))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for SessionTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(self.0))
    }
}

impl<'de> Deserialize<'de> for SessionTtl {
    /// From a string; the message of a bad one is replaced by [`super::Mistake::BadDuration`],
    /// found from the line itself.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{text}\" is not a duration from 1m to 366d such as \"10m\", \"2h\" or \"7d\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_shown() {
        let m = |n| Some(Duration::from_secs(n));
        assert_eq!(parse("10m"), m(600));
        assert_eq!(parse(" 2h "), m(7200));
        assert_eq!(parse("7d"), m(7 * 86_400));
        assert_eq!(parse("90s"), m(90));
        assert_eq!(parse("1_000 s"), m(1000));
        for bad in [
            "", "m", "10", "-1m", "+1m", "1.5h", "10min", "10M", "1w", "h10", "_1m", "1 m x",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse("18446744073709551615d"), None, "overflow");
        for (secs, text) in [
            (90, "90s"),
            (600, "10m"),
            (7200, "2h"),
            (86_400, "1d"),
            (0, "0s"),
        ] {
            assert_eq!(show(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn a_session_key_lives_from_a_minute_to_366_days() {
        assert!(SessionTtl::parse("59s").is_none());
        assert_eq!(SessionTtl::parse("1m").map(SessionTtl::get), parse("60s"));
        assert!(SessionTtl::parse("366d").is_some());
        assert!(SessionTtl::parse("367d").is_none());
        assert_eq!(SessionTtl::from_hours(0).get(), Duration::from_secs(60));
        assert_eq!(SessionTtl::from_hours(u64::MAX).to_string(), "366d");
        assert_eq!(SessionTtl::from_hours(24).to_string(), "1d");
    }
}
