//! Buffered frame I/O over any async byte stream (TCP in practice).
//!
//! [`FrameReader::read_frame`] is cancel-safe (it keeps partial input in its own buffer), so a
//! task can `select!` on it together with an outbox and a shutdown signal. Following mini-redis:
//! `Ok(None)` is a clean end of stream between frames, and end of stream inside a frame is
//! [`ProtocolError::Truncated`].

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, ProtocolError};
use crate::protocol::consts::MAX_FRAME_LEN;
use crate::protocol::frame;

/// Reads frames.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(4096),
            max: MAX_FRAME_LEN,
        }
    }

    /// Read one frame payload; `Ok(None)` on a clean end of stream.
    ///
    /// # Errors
    /// I/O errors, and [`ProtocolError::TooLarge`]/[`ProtocolError::Empty`]/[`ProtocolError::Truncated`].
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some((start, end)) = frame::decode_with_limit(&self.buf, self.max)? {
                let payload = self.buf[start..end].to_vec();
                self.buf.drain(..end);
                return Ok(Some(payload));
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(4096);
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
            buf: Vec::with_capacity(4096),
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
