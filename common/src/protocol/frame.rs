//! Length-prefixed frames: a 4-byte big-endian payload length, then the payload.
//!
//! The seed called `recv(512)` and treated whatever arrived as one message, so long messages
//! were cut and quick ones merged. Frames fix that. These functions are pure; buffering lives in
//! [`crate::connection`].

use crate::error::ProtocolError;
use crate::protocol::consts::{FRAME_HEADER_LEN, MAX_FRAME_LEN};

/// Try to take one frame from the front of `buf`.
///
/// Returns `Ok(None)` while more bytes are needed, `Ok(Some((start, end)))` with the payload's
/// range when a whole frame is present (the frame occupies `buf[..end]`).
///
/// # Errors
/// [`ProtocolError::TooLarge`] as soon as the header claims more than [`MAX_FRAME_LEN`] (nothing
/// is allocated for it), [`ProtocolError::Empty`] for a zero length.
pub fn decode(buf: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    decode_with_limit(buf, MAX_FRAME_LEN)
}

/// [`decode`] with an explicit size limit.
///
/// # Errors
/// As [`decode`].
pub fn decode_with_limit(buf: &[u8], max: usize) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(header) = buf.get(..FRAME_HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
    if len > max {
        return Err(ProtocolError::TooLarge(len));
    }
    if len == 0 {
        return Err(ProtocolError::Empty);
    }
    let end = FRAME_HEADER_LEN + len;
    Ok((buf.len() >= end).then_some((FRAME_HEADER_LEN, end)))
}

/// Encode one frame.
///
/// # Errors
/// [`ProtocolError::TooLarge`] or [`ProtocolError::Empty`]: we never send what we would refuse.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    encode_into(payload, &mut out)?;
    Ok(out)
}

/// Append one frame to `out`.
///
/// # Errors
/// As [`encode`].
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(ProtocolError::TooLarge(payload.len()));
    }
    if payload.is_empty() {
        return Err(ProtocolError::Empty);
    }
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}
