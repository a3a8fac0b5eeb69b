//! Reading a class roster for `server user import`: the rows of a CSV file or of the first sheet
//! of an `.xlsx` workbook, as text cells with their line numbers. Validation (usernames,
//! nicknames, passwords, duplicates) is [`crate::admin::user_import`]'s job.
//!
//! # What is accepted
//! - `.xlsx` (recognised by its content, a ZIP archive, whatever the file is called): the first
//!   sheet, read with `calamine`; numbers are written without a trailing `.0` (a student
//!   number typed into a cell is a number to Excel).
//! - Anything else is CSV text, decoded without asking: UTF-8 with or without a byte-order mark,
//!   else GB18030 (a superset of GBK and GB2312: what Excel's "CSV" writes on a Chinese
//!   Windows). A file that is neither is refused rather than guessed at.
//! - Columns `username,nickname[,password]`; cells are trimmed. A first row whose first cell is
//!   a column title (`username`, `user_name`, `用户名`, `账号`) is a header and skipped. Rows
//!   with every cell empty (Excel leaves them at the end of a sheet) are skipped; a row with only
//!   some cells empty is the caller's to refuse.

use std::path::Path;

/// One roster row: its 1-based line (CSV) or row (xlsx) number and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    pub line: usize,
    pub cells: Vec<String>,
}

/// How the roster file was read, for the import report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Utf8,
    Utf8Bom,
    Gb18030,
    Xlsx,
}

impl SourceKind {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Utf8 => "CSV, UTF-8",
            Self::Utf8Bom => "CSV, UTF-8 with BOM",
            Self::Gb18030 => "CSV, GB18030/GBK",
            Self::Xlsx => "xlsx, first sheet",
        }
    }
}

/// A file that cannot be read as a roster at all.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a readable .xlsx workbook: {message}")]
    Xlsx { path: String, message: String },
    #[error("{path}: line {line} is not valid CSV: {message}")]
    Csv {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "{path} is neither UTF-8 nor GB18030/GBK text (line {line}); save it from Excel as \
         \"CSV UTF-8\" or as .xlsx"
    )]
    Encoding { path: String, line: usize },
}

/// Column titles that mark the first row as a header.
const HEADER_TITLES: [&str; 4] = ["username", "user_name", "用户名", "账号"];

/// Read the roster at `path`.
///
/// # Errors
/// [`RosterError`]: unreadable file, broken workbook, undecodable text or malformed CSV.
pub fn read(path: &Path) -> Result<(SourceKind, Vec<RosterRow>), RosterError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| RosterError::Io {
        path: shown.clone(),
        source,
    })?;
    let (kind, rows) = if bytes.starts_with(b"PK\x03\x04") {
        (SourceKind::Xlsx, xlsx_rows(&bytes, &shown)?)
    } else {
        let (kind, text) = decode(&bytes, &shown)?;
        (kind, csv_rows(&text, &shown)?)
    };
    Ok((kind, drop_header_and_blanks(rows)))
}

/// Decode CSV bytes: UTF-8 (BOM stripped) if valid, else GB18030.
fn decode(bytes: &[u8], shown: &str) -> Result<(SourceKind, String), RosterError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match std::str::from_utf8(rest) {
            Ok(t) => Ok((SourceKind::Utf8Bom, t.to_owned())),
            Err(e) => Err(RosterError::Encoding {
                path: shown.to_owned(),
                line: line_of(rest, e.valid_up_to()),
            }),
        };
    }
    if let Ok(t) = std::str::from_utf8(bytes) {
        return Ok((SourceKind::Utf8, t.to_owned()));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        let bad = text.find('\u{FFFD}').unwrap_or(0);
        return Err(RosterError::Encoding {
            path: shown.to_owned(),
            line: text[..bad].matches('\n').count() + 1,
        });
    }
    Ok((SourceKind::Gb18030, text.into_owned()))
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

fn csv_rows(text: &str, shown: &str) -> Result<Vec<RosterRow>, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| RosterError::Csv {
            path: shown.to_owned(),
            line: e.position().map_or(0, |p| p.line() as usize),
            message: e.to_string(),
        })?;
        // The reader reports a record's position before any blank lines it skipped: count
        // the lines up to the record's first character instead.
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let start = start
            + text.as_bytes()[start.min(text.len())..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        let line = line_of(text.as_bytes(), start.min(text.len()));
        rows.push(RosterRow {
            line,
            cells: record.iter().map(|c| c.trim().to_owned()).collect(),
        });
    }
    Ok(rows)
}

fn xlsx_rows(bytes: &[u8], shown: &str) -> Result<Vec<RosterRow>, RosterError> {
    use calamine::{Data, Reader, Xlsx};
    let bad = |message: String| RosterError::Xlsx {
        path: shown.to_owned(),
        message,
    };
    let mut book: Xlsx<_> =
        Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no sheet".into()))?
        .map_err(|e| bad(e.to_string()))?;
    // Row numbers as Excel shows them, even when the data does not start at A1.
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let mut cells: Vec<String> = vec![String::new(); first_col];
            cells.extend(row.iter().map(|c| match c {
                Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                Data::Empty => String::new(),
                other => other.to_string().trim().to_owned(),
            }));
            RosterRow {
                line: first_row + i + 1,
                cells,
            }
        })
        .collect();
    Ok(rows)
}

fn drop_header_and_blanks(rows: Vec<RosterRow>) -> Vec<RosterRow> {
    let mut rows: Vec<RosterRow> = rows
        .into_iter()
        .filter(|r| r.cells.iter().any(|c| !c.is_empty()))
        .collect();
    let is_header = rows.first().is_some_and(|r| {
        let first = r.cells[0].trim_start_matches('\u{FEFF}').to_lowercase();
        HEADER_TITLES.contains(&first.as_str())
    });
    if is_header {
        rows.remove(0);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_encoding() {
        let (k, t) = decode("a,王\n".as_bytes(), "f").unwrap();
        assert_eq!((k, t.as_str()), (SourceKind::Utf8, "a,王\n"));
        let (k, t) = decode("\u{FEFF}a,王\n".as_bytes(), "f").unwrap();
        assert_eq!((k, t.as_str()), (SourceKind::Utf8Bom, "a,王\n"));
        let (gbk, _, _) = encoding_rs::GB18030.encode("a,王源\n");
        assert!(std::str::from_utf8(&gbk).is_err());
        let (k, t) = decode(&gbk, "f").unwrap();
        assert_eq!((k, t.as_str()), (SourceKind::Gb18030, "a,王源\n"));
        // 0xFF is invalid in both encodings.
        assert!(matches!(
            decode(b"a,b\nc,\xFF\n", "f"),
            Err(RosterError::Encoding { line: 2, .. })
        ));
    }

    #[test]
    fn header_and_blank_rows() {
        let rows = csv_rows("username,nickname\n\ns1,A\n,,\ns2,B\n", "f").unwrap();
        let rows = drop_header_and_blanks(rows);
        let got: Vec<(usize, &str)> = rows.iter().map(|r| (r.line, r.cells[0].as_str())).collect();
        assert_eq!(got, [(3, "s1"), (5, "s2")]);
        // No header: the first row is data.
        let rows = drop_header_and_blanks(csv_rows("s1,A\n", "f").unwrap());
        assert_eq!(rows.len(), 1);
    }
}
