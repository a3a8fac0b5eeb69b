//! This computer's clock against the servers' clock, and times shown in local time.
//!
//! The key server puts its clock (`issued_at`) into the signed envelope; the key step keeps the
//! difference (server minus this computer) in `session_key.txt`. A key's expiry is then judged by
//! the server's clock, so a student PC whose clock is days off neither loops through the key step
//! nor keeps a key the server already refuses; the student is told how far off the clock is.

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

use crate::config::Language;

/// A difference up to this many seconds is normal (network delay, an unsynchronised PC) and not
/// mentioned.
pub const CLOCK_TOLERANCE_SECS: i64 = 5 * 60;

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Read the local UTC offset once, while the process is still single-threaded (the `time` crate
/// refuses to read it later on Unix).
pub fn init_local_offset() {
    let _ = LOCAL_OFFSET.set(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC));
}

/// The local UTC offset read by [`init_local_offset`] (UTC before it ran).
pub fn local_offset() -> UtcOffset {
    LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC)
}

/// `YYYY-MM-DD HH:MM` in local time.
pub fn local_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(local_offset());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// An RFC 3339 time (such as a key's `expires_at`, stored in UTC) as `YYYY-MM-DD HH:MM` in
/// local time; text that does not parse is returned as it is.
pub fn local_time(rfc3339: &str) -> String {
    match crate::crypto::session::parse_time(rfc3339) {
        Ok(t) => local_datetime(t),
        Err(_) => rfc3339.to_owned(),
    }
}

/// The server's clock minus this computer's clock, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset(pub i64);

impl ClockOffset {
    /// The offset shown by a server time (`issued_at`) that arrived at `local_now`.
    pub fn measure(server_time: OffsetDateTime, local_now: OffsetDateTime) -> Self {
        let secs = (server_time - local_now).whole_seconds();
        Self(secs)
    }

    /// The server's clock now, by this computer's clock plus the offset.
    pub fn server_now(self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.0)
    }

    /// Off by more than [`CLOCK_TOLERANCE_SECS`]: worth telling the student.
    pub fn noticeable(self) -> bool {
        self.0.abs() > CLOCK_TOLERANCE_SECS
    }

    /// "你的电脑时钟比服务器快 2 天。……": what is off, by how much, that chat still works
    /// and how to fix the clock. `None` when the difference is not [`noticeable`](Self::noticeable).
    pub fn warning(self, lang: Language) -> Option<String> {
        if !self.noticeable() {
            return None;
        }
        // A negative offset: the server is behind, so this computer's clock is fast.
        let fast = self.0 < 0;
        let amount = amount(self.0.unsigned_abs(), lang);
        Some(
            match (lang, fast) {
                (Language::Zh, true) => format!("你的电脑时钟比服务器快 {amount}。"),
                (Language::Zh, false) => format!("你的电脑时钟比服务器慢 {amount}。"),
                (Language::En, true) => {
                    format!("Your computer's clock is {amount} ahead of the server's.")
                }
                (Language::En, false) => {
                    format!("Your computer's clock is {amount} behind the server's.")
                }
            } + match lang {
                Language::Zh => {
                    "聊天不受影响（密钥的有效期按服务器的时钟计算），但请把电脑的日期和时间调准\
                 （Windows：设置 → 时间和语言 → 立即同步）。"
                }
                Language::En => {
                    " Chat still works (key expiry is judged by the server's clock), but please set \
                 this computer's date and time right (Windows: Settings → Time & language → Sync now)."
                }
            },
        )
    }
}

/// "2 天" / "2 days", "3 小时" / "3 hours", "12 分钟" / "12 minutes": rounded, in the largest
/// unit of which the rounded amount is at least one (23 h 59 min is "1 day", not "24 hours";
/// a measured offset is a little short of the true one by the network delay).
fn amount(secs: u64, lang: Language) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let rounded = |unit: u64| secs.saturating_add(unit / 2) / unit;
    let (n, zh, en) = if rounded(HOUR) >= 24 {
        (rounded(DAY), "天", "day")
    } else if rounded(MINUTE) >= 60 {
        (rounded(HOUR), "小时", "hour")
    } else {
        (rounded(MINUTE), "分钟", "minute")
    };
    match lang {
        Language::Zh => format!("{n} {zh}"),
        Language::En if n == 1 => format!("1 {en}"),
        Language::En => format!("{n} {en}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn offsets_within_five_minutes_are_not_mentioned() {
        assert_eq!(ClockOffset(0).warning(Language::Zh), None);
        assert_eq!(ClockOffset(300).warning(Language::Zh), None);
        assert_eq!(ClockOffset(-300).warning(Language::En), None);
        assert!(ClockOffset(301).warning(Language::Zh).is_some());
    }

    #[test]
    fn a_fast_clock_is_named_fast_with_the_amount() {
        // Two days fast, measured a couple of seconds after the envelope was made.
        let w = ClockOffset(-2 * DAY - 3).warning(Language::Zh).unwrap();
        assert!(w.starts_with("你的电脑时钟比服务器快 2 天。"), "{w}");
        let w = ClockOffset(-2 * DAY - 3).warning(Language::En).unwrap();
        assert!(
            w.starts_with("Your computer's clock is 2 days ahead"),
            "{w}"
        );
    }

    #[test]
    fn a_slow_clock_is_named_slow() {
        let w = ClockOffset(DAY + 1).warning(Language::Zh).unwrap();
        assert!(w.starts_with("你的电脑时钟比服务器慢 1 天。"), "{w}");
        let w = ClockOffset(13 * 3600).warning(Language::Zh).unwrap();
        assert!(w.starts_with("你的电脑时钟比服务器慢 13 小时。"), "{w}");
        let w = ClockOffset(3 * 3600).warning(Language::En).unwrap();
        assert!(
            w.starts_with("Your computer's clock is 3 hours behind"),
            "{w}"
        );
        // Measured a little short of the truth: still "1 day".
        let w = ClockOffset(DAY - 2).warning(Language::En).unwrap();
        assert!(
            w.starts_with("Your computer's clock is 1 day behind"),
            "{w}"
        );
        let w = ClockOffset(-12 * 60).warning(Language::Zh).unwrap();
        assert!(w.starts_with("你的电脑时钟比服务器快 12 分钟。"), "{w}");
    }

    #[test]
    fn measure_is_server_minus_local() {
        let server = OffsetDateTime::UNIX_EPOCH + time::Duration::days(100);
        let local = server + time::Duration::days(2);
        assert_eq!(ClockOffset::measure(server, local), ClockOffset(-2 * DAY));
    }
}
