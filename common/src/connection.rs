//! Buffered frame I/O over any async byte stream (TCP in practice).
//!
//! [`FrameReader::read_frame`] is cancel-safe (it keeps partial input in its own buffer), so a
//! task can `select!` on it together with an outbox and a shutdown signal. Following mini-redis:
//! `Ok(None)` is a clean end of stream between frames, and end of stream inside a frame is
//! [`ProtocolError::Truncated`].
//!
//! [`read_message`] is the one "next message within a deadline" both handshakes and both
//! clients use, so they classify a silent, vanished or misbehaving peer the same way.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, ProtocolError};
use crate::protocol::{RawMessage, frame};

/// What a reader or writer starts with, and shrinks back to once empty: an idle connection keeps
/// no more. One history page at login (about 40 KiB) or one file chunk grows a buffer; kept, that
/// was most of an idle session's memory (bench.sh's memory per idle connection).
const BUF_START: usize = 4096;
/// A buffer larger than this goes back to [`BUF_START`] when it is empty.
const BUF_KEEP: usize = 16 * 1024;

/// Reads frames.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(BUF_START),
        }
    }

    /// Read one frame payload; `Ok(None)` on a clean end of stream.
    ///
    /// # Errors
    /// I/O errors, and [`ProtocolError::TooLarge`]/[`ProtocolError::Empty`]/[`ProtocolError::Truncated`].
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some((start, end)) = frame::decode(&self.buf)? {
                let payload = self.buf[start..end].to_vec();
                self.buf.drain(..end);
                if self.buf.is_empty() && self.buf.capacity() > BUF_KEEP {
                    self.buf.shrink_to(BUF_START);
                }
                return Ok(Some(payload));
            }
            if self.buf.capacity() - self.buf.len() < BUF_START {
                self.buf.reserve(BUF_START);
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ProtocolError::Truncated.into())
                };
            }
        }
    }
}

/// Writes frames, batching several into one write when asked.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(BUF_START),
        }
    }

    /// Queue one frame without writing it yet.
    ///
    /// # Errors
    /// [`ProtocolError::TooLarge`] for a payload we would refuse ourselves.
    pub fn queue(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        frame::encode_into(payload, &mut self.buf)
    }

    /// Write everything queued in one go.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
            if self.buf.capacity() > BUF_KEEP {
                self.buf.shrink_to(BUF_START);
            }
        }
        self.inner.flush().await
    }

    /// Queue and flush one frame.
    ///
    /// # Errors
    /// As [`Self::queue`] and [`Self::flush`].
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.queue(payload)?;
        Ok(self.flush().await?)
    }

    /// Shut down the write side (best effort).
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.inner.shutdown().await;
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

/// Why [`read_message`] returned no message.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing complete arrived within the deadline.
    #[error("nothing arrived within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The peer closed the connection cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// The connection broke: an I/O error, or the peer closed it in the middle of a frame.
    #[error("{0}")]
    Lost(Error),
    /// The bytes are not a frame we accept (too large, empty) or not a message.
    #[error("{0}")]
    Malformed(Error),
    /// The peer sent its error message (the `error_code` given to [`read_message`]).
    #[error("the peer sent error message {}", .0.code)]
    Refused(RawMessage),
}

/// Read and parse the next message within `timeout`. With `error_code` (`1009`, `1109`), a
/// message with that code comes back as [`ReadError::Refused`] for the caller to decode.
///
/// # Errors
/// [`ReadError`].
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut FrameReader<R>,
    timeout: Duration,
    error_code: Option<&str>,
) -> Result<RawMessage, ReadError> {
    let frame = tokio::time::timeout(timeout, reader.read_frame())
        .await
        .map_err(|_| ReadError::Timeout(timeout))?
        .map_err(|e| match e {
            Error::Io(_) | Error::Protocol(ProtocolError::Truncated) => ReadError::Lost(e),
            other => ReadError::Malformed(other),
        })?
        .ok_or(ReadError::Closed)?;
    let msg = RawMessage::parse(&frame).map_err(|e| ReadError::Malformed(e.into()))?;
    if error_code.is_some_and(|c| msg.code == c) {
        return Err(ReadError::Refused(msg));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst (a history page, a file chunk) grows the buffers; once it has gone through they
    /// are small again, so an idle connection holds no burst's worth of memory.
    #[tokio::test]
    async fn buffers_shrink_back_after_a_burst() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut w = FrameWriter::new(a);
        let mut r = FrameReader::new(b);
        let big = vec![b'x'; 40 * 1024];
        for _ in 0..3 {
            w.queue(&big).unwrap();
        }
        assert!(w.buf.capacity() > BUF_KEEP);
        w.flush().await.unwrap();
        assert!(
            w.buf.capacity() <= BUF_KEEP,
            "writer kept {}",
            w.buf.capacity()
        );
        for _ in 0..3 {
            assert_eq!(r.read_frame().await.unwrap().unwrap(), big);
        }
        assert!(
            r.buf.capacity() <= BUF_KEEP,
            "reader kept {}",
            r.buf.capacity()
        );
        // Small frames after it still go through.
        w.write_frame(b"0001|hello").await.unwrap();
        assert_eq!(r.read_frame().await.unwrap().unwrap(), b"0001|hello");
    }
}
