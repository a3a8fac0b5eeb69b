//! The seed's text message form: `CODE|field|field...`, UTF-8, split on `|`.
//!
//! Fields that carry user text or bytes are standard base64 (with padding), so a `|` or a
//! newline inside a message can never split fields. Other fields are short ASCII tokens:
//! decimal numbers, hex ids, status words.

use base64::Engine as _;

use crate::error::ProtocolError;
use crate::protocol::consts::{Code, DELIMITER, code};

/// A parsed message: its code and its fields, still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub code: String,
    pub fields: Vec<String>,
    /// Raw bytes after the last field, only in the plaintext of a code that carries them
    /// ([`raw_data_after`]: a file chunk); empty otherwise.
    pub data: Vec<u8>,
}

/// For a code whose sealed plaintext ends in raw bytes (a file chunk, `0010`/`1014`): how many
/// `|`-terminated text fields come before them. `None` for every other code (text only).
pub fn raw_data_after(code: &str) -> Option<usize> {
    matches!(code, code::FILE_CHUNK | code::FILE_DATA).then_some(2)
}

/// Standard base64 with padding.
pub fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl RawMessage {
    pub fn new(code: &str, fields: Vec<String>) -> Self {
        Self {
            code: code.to_owned(),
            fields,
            data: Vec::new(),
        }
    }

    /// The inner message of a sealed frame with code `code` from its decrypted plaintext: UTF-8
    /// fields split on `|` (an empty plaintext is zero fields), or, for a code of
    /// [`raw_data_after`], that many `|`-terminated fields and then raw bytes in [`Self::data`].
    ///
    /// # Errors
    /// [`ProtocolError::NotUtf8`] for text that is not UTF-8, [`ProtocolError::FieldCount`] when
    /// a chunk's plaintext lacks its fields.
    pub fn from_plain(code: &str, mut plain: Vec<u8>) -> Result<Self, ProtocolError> {
        let Some(n) = raw_data_after(code) else {
            let text = String::from_utf8(plain).map_err(|_| ProtocolError::NotUtf8)?;
            let fields = if text.is_empty() {
                Vec::new()
            } else {
                text.split(DELIMITER).map(str::to_owned).collect()
            };
            return Ok(Self::new(code, fields));
        };
        let mut fields = Vec::with_capacity(n);
        let mut start = 0;
        for _ in 0..n {
            let Some(end) = plain[start..].iter().position(|&b| b == DELIMITER as u8) else {
                return Err(ProtocolError::FieldCount {
                    code: code.to_owned(),
                    expected: format!("{n} fields and data"),
                    got: fields.len(),
                });
            };
            let field = std::str::from_utf8(&plain[start..start + end])
                .map_err(|_| ProtocolError::NotUtf8)?;
            fields.push(field.to_owned());
            start += end + 1;
        }
        // The data keeps the decrypted buffer: the fields in front are cut off (one memmove).
        plain.drain(..start);
        Ok(Self {
            code: code.to_owned(),
            fields,
            data: plain,
        })
    }

    /// Parse a frame payload.
    ///
    /// # Errors
    /// [`ProtocolError::NotUtf8`], or [`ProtocolError::UnknownCode`] when the first field is not
    /// one of [`Code`]'s.
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        let text = std::str::from_utf8(payload).map_err(|_| ProtocolError::NotUtf8)?;
        Self::parse_str(text)
    }

    /// Parse text.
    ///
    /// # Errors
    /// As [`Self::parse`].
    pub fn parse_str(text: &str) -> Result<Self, ProtocolError> {
        let mut parts = text.split(DELIMITER);
        let code = parts.next().unwrap_or_default();
        if Code::from_wire(code).is_none() {
            let shown: String = code.chars().take(16).collect();
            return Err(ProtocolError::UnknownCode(shown));
        }
        Ok(Self::new(code, parts.map(str::to_owned).collect()))
    }

    /// The `CODE|field|...` text.
    pub fn to_text(&self) -> String {
        let mut s =
            String::with_capacity(5 + self.fields.iter().map(|f| f.len() + 1).sum::<usize>());
        s.push_str(&self.code);
        for f in &self.fields {
            s.push(DELIMITER);
            s.push_str(f);
        }
        s
    }

    /// Require exactly `n` fields.
    ///
    /// # Errors
    /// [`ProtocolError::FieldCount`].
    pub fn expect_fields(&self, n: usize) -> Result<(), ProtocolError> {
        if self.fields.len() == n {
            Ok(())
        } else {
            Err(ProtocolError::FieldCount {
                code: self.code.clone(),
                expected: n.to_string(),
                got: self.fields.len(),
            })
        }
    }

    /// Require this code.
    ///
    /// # Errors
    /// [`ProtocolError::Unexpected`].
    pub fn expect_code(&self, code: &str) -> Result<(), ProtocolError> {
        if self.code == code {
            Ok(())
        } else {
            Err(ProtocolError::Unexpected {
                got: self.code.clone(),
                expected: code.to_owned(),
            })
        }
    }

    fn bad(&self, index: usize, reason: impl Into<String>) -> ProtocolError {
        ProtocolError::BadField {
            code: self.code.clone(),
            index,
            reason: reason.into(),
        }
    }

    fn raw(&self, index: usize) -> Result<&str, ProtocolError> {
        self.fields
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| self.bad(index, "missing"))
    }

    /// Field `index` as an ASCII token.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`] when missing.
    pub fn token(&self, index: usize) -> Result<&str, ProtocolError> {
        self.raw(index)
    }

    /// Field `index` decoded from base64.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`] when missing or not base64.
    pub fn bytes(&self, index: usize) -> Result<Vec<u8>, ProtocolError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.raw(index)?)
            .map_err(|_| self.bad(index, "not valid base64"))
    }

    /// Field `index` decoded from base64 into exactly `N` bytes.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`].
    pub fn array<const N: usize>(&self, index: usize) -> Result<[u8; N], ProtocolError> {
        self.bytes(index)?
            .try_into()
            .map_err(|_| self.bad(index, format!("must be {N} bytes")))
    }

    /// Field `index` decoded from base64 as UTF-8 text.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`].
    pub fn text(&self, index: usize) -> Result<String, ProtocolError> {
        String::from_utf8(self.bytes(index)?).map_err(|_| self.bad(index, "not UTF-8 text"))
    }

    /// Field `index` as a decimal number.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`].
    pub fn number(&self, index: usize) -> Result<u64, ProtocolError> {
        let s = self.raw(index)?;
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad(index, "not a decimal number"));
        }
        s.parse()
            .map_err(|_| self.bad(index, "number out of range"))
    }

    /// Field `index` as a lowercase hex id of exactly `len` bytes.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`].
    pub fn hex_id(&self, index: usize, len: usize) -> Result<String, ProtocolError> {
        let s = self.raw(index)?;
        if s.len() != len * 2
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(self.bad(index, format!("must be {} lowercase hex digits", len * 2)));
        }
        Ok(s.to_owned())
    }
}
