//! `server history export` and `server history purge`: the teacher's view of the stored messages,
//! decrypted with the storage key (for an account's owner, or the course record).
//!
//! CSV is written as UTF-8 with a BOM, so Excel on a Chinese Windows opens it without garbling;
//! JSON Lines is one object per message, for scripts. Times are UTC, `YYYY-MM-DD HH:MM:SS`.

use std::io::Write;

use anyhow::{Context, bail};
use common::crypto::storage::StorageKey;
use common::protocol::chat::ChatLine;

use super::open_rows;
use crate::db::{UserStore, Visible};

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// UTF-8 with a BOM, for Excel.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Columns of the CSV export.
const CSV_HEADER: [&str; 6] = ["id", "time_utc", "from", "nickname", "to", "text"];

/// Write every stored message `user` may see (public, and private from or to them), or every
/// message when `user` is `None`, to `out`. Returns how many were written.
///
/// # Errors
/// Database or write errors.
pub fn export(
    store: &dyn UserStore,
    key: &StorageKey,
    user: Option<&str>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let visible = user.map_or(Visible::All, Visible::To);
    let rows = store
        .history_before(visible, u64::MAX, usize::MAX)
        .context("reading the stored messages")?;
    let lines = open_rows(key, &rows);
    match format {
        Format::Csv => write_csv(&lines, out)?,
        Format::Jsonl => {
            for l in &lines {
                writeln!(out, "{}", json_line(l))?;
            }
        }
    }
    out.flush()?;
    Ok(lines.len())
}

fn write_csv(lines: &[ChatLine], out: &mut dyn Write) -> anyhow::Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for l in lines {
        w.write_record([
            l.msg_id.to_string(),
            utc_time(l.time_ms),
            l.from_user.clone(),
            l.from_nick.clone(),
            l.to.clone().unwrap_or_default(),
            l.text.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// One message as a JSON object.
pub fn json_line(l: &ChatLine) -> String {
    let to =
        l.to.as_deref()
            .map_or_else(|| "null".to_owned(), json_string);
    format!(
        "{{\"id\":{},\"time_utc\":{},\"from\":{},\"nickname\":{},\"to\":{},\"text\":{}}}",
        l.msg_id,
        json_string(&utc_time(l.time_ms)),
        json_string(&l.from_user),
        json_string(&l.from_nick),
        to,
        json_string(&l.text)
    )
}

/// A JSON string literal (RFC 8259 escapes; other characters as they are, in UTF-8).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_time(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Milliseconds since the epoch at the start (00:00 UTC) of `date` (`YYYY-MM-DD`).
///
/// # Errors
/// A date that does not parse.
pub fn date_start_ms(date: &str) -> anyhow::Result<u64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date.trim(), &fmt)
        .with_context(|| format!("{date:?} is not a date; use YYYY-MM-DD, e.g. 2026-09-01"))?;
    let ts = d.midnight().assume_utc().unix_timestamp();
    if ts < 0 {
        bail!("{date} is before 1970");
    }
    Ok(ts as u64 * 1000)
}

/// `server history purge [--before DATE]`: delete messages sent before `DATE` (00:00 UTC), or,
/// without a date, those older than `days` days.
///
/// # Errors
/// A bad date, `days` of 0 without a date, or a database error.
pub fn purge(store: &dyn UserStore, before: Option<&str>, days: u32) -> anyhow::Result<String> {
    let (cutoff, what) = match before {
        Some(d) => (date_start_ms(d)?, format!("sent before {d}")),
        None if days == 0 => bail!(
            "history_days is 0 (keep for ever): give a date, e.g. `server history purge --before 2026-09-01`"
        ),
        None => (
            super::writer::purge_cutoff_ms(days),
            format!("older than {days} days"),
        ),
    };
    let n = store
        .history_purge(cutoff)
        .context("deleting stored messages")?;
    Ok(format!(
        "{}: deleted {n} stored message{} {what}.",
        store.describe(),
        if n == 1 { "" } else { "s" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert_eq!(
            json_string("a\"b\\c\nd\u{1}中"),
            "\"a\\\"b\\\\c\\nd\\u0001中\""
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date_start_ms("1970-01-02").unwrap(), 86_400_000);
        assert!(date_start_ms("2026-13-01").is_err());
        assert_eq!(utc_time(86_400_000 + 61_000), "1970-01-02 00:01:01");
    }
}
