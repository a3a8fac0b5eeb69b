//! Sealed chat frames: DES-CBC under a fresh IV, then HMAC-SHA-256 over everything (encrypt-then-MAC),
//! with a per-direction sequence number and the connection's nonce, so that every frame is
//! confidential, authentic, fresh and bound to one connection and one direction.
//!
//! A sealed frame is `CODE|[prefix fields|]seq|iv|ciphertext|mac` (iv, ciphertext and mac in
//! base64). The MAC key is the session's MAC key and the MAC input is the ASCII string
//! `minichat-frame-v1|<C or S>|<connection nonce base64>|` followed by the frame text up to (not
//! including) the final `|mac`. So the MAC covers the code, every prefix field (the login's
//! username and key id), the sequence number, the IV and the ciphertext exactly as sent.
//!
//! The receiver checks, in this order: field count, MAC (constant time, before any decryption, so
//! there is no padding oracle), sequence number exactly one more than the last one accepted (a
//! lower one is a replay or reordering and is refused; a higher one means authentic frames were
//! lost on the way, [`CryptoError::FrameLost`], which ends the connection), then decrypts. The
//! first frame of a direction may carry any number. A refused frame leaves the state untouched:
//! a frame altered on the way fails its MAC and does not count as received, so the next authentic
//! frame reports it as lost. A sender therefore never skips a number ([`Sealer::seal_checked`]).

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::crypto::{SessionKey, cbc, mac};
use crate::error::{CryptoError, Error, ProtocolError};
use crate::lowprio::LowPriority;
use crate::protocol::consts::{DELIMITER, IV_LEN, MAC_LEN, label};
use crate::protocol::message::{RawMessage, b64};

/// A message that travels sealed without clear fields: its code, the plaintext inside the seal,
/// and the decoder of an opened frame. [`Sealer::seal_msg`] and [`Opener::open_msg`] are the one
/// typed path between such a message and its frame; the client's requests
/// ([`ClientRequest`](crate::protocol::chat::ClientRequest)) and the server's events
/// ([`ServerEvent`](crate::protocol::chat::ServerEvent)) implement it.
pub trait SealedMessage: Sized {
    /// The frame's code (clear, covered by the MAC).
    fn code(&self) -> &'static str;

    /// The text of the plaintext inside the seal: the inner fields joined with `|`. For a code
    /// whose plaintext ends in raw bytes ([`raw_data_after`](crate::protocol::message::raw_data_after))
    /// the fields each end in `|` and [`Self::inner_data`] follows.
    fn inner_text(&self) -> String;

    /// Raw bytes after [`Self::inner_text`] in the plaintext (a file chunk's data); empty for
    /// every text-only message.
    fn inner_data(&self) -> &[u8] {
        &[]
    }

    /// The whole plaintext inside the seal: [`Self::inner_text`] then [`Self::inner_data`].
    fn inner_plain(&self) -> Vec<u8> {
        let (text, data) = (self.inner_text(), self.inner_data());
        let mut plain = Vec::with_capacity(text.len() + data.len());
        plain.extend_from_slice(text.as_bytes());
        plain.extend_from_slice(data);
        plain
    }

    /// Decode an opened frame (its code, the fields of its plaintext and any raw data).
    ///
    /// # Errors
    /// [`ProtocolError`] for a malformed message or a code of another kind of message.
    fn from_inner(m: &RawMessage) -> Result<Self, ProtocolError>;
}

/// The MAC of a sealed frame: HMAC-SHA-256 under `key`'s MAC key over
/// `minichat-frame-v1|<dir>|<nonce_b64>|<covered>`, where `dir` is `C` or `S` and `covered` is the
/// frame text up to (not including) the final `|mac`. [`Sealer`] uses it; it is public
/// so that tests and fuzz targets that build frames by hand do not restate the MAC input.
pub fn frame_tag(key: &SessionKey, dir: &str, nonce_b64: &str, covered: &str) -> [u8; 32] {
    mac::hmac_sha256(
        &*key.mac_key,
        &[
            label::FRAME_MAC.as_bytes(),
            b"|",
            dir.as_bytes(),
            b"|",
            nonce_b64.as_bytes(),
            b"|",
            covered.as_bytes(),
        ],
    )
}

/// Length in bytes of a sealed frame payload with code `code`, clear prefix fields of
/// `prefix_len` bytes in all (each preceded by its `|`), a plaintext of `inner_len` bytes and the
/// largest possible sequence number. A sender checks this against
/// [`MAX_FRAME_LEN`](crate::protocol::consts::MAX_FRAME_LEN) *before* sealing, so a frame too
/// large to send never uses up a sequence number (the receiver requires `seq == last + 1`).
pub fn sealed_len(code: &str, prefix_len: usize, inner_len: usize) -> usize {
    let b64 = |n: usize| n.div_ceil(3) * 4;
    // PKCS#7 always pads: 1 to 8 bytes.
    let ct = (inner_len / IV_LEN + 1) * IV_LEN;
    code.len() + prefix_len + 1 + MAX_SEQ_DIGITS + 1 + b64(IV_LEN) + 1 + b64(ct) + 1 + b64(MAC_LEN)
}

/// Decimal digits of the largest sequence number (`u64::MAX`).
const MAX_SEQ_DIGITS: usize = 20;

/// A sealed frame split into its named fields as they were sent, before any check: what the
/// teaching views (`server --trace`, the GUI's frame inspector) label. `iv`, `ciphertext` and
/// `mac` are the base64 text of the frame ([`FrameFields::bytes`] decodes one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameFields {
    pub code: String,
    /// Clear fields before the sequence number (the login's username and key id).
    pub prefix: Vec<String>,
    pub seq: String,
    pub iv: String,
    pub ciphertext: String,
    pub mac: String,
}

impl FrameFields {
    /// The fields of `msg` with `prefix_len` clear fields before `seq`; `None` when it does not
    /// have the shape of a sealed frame.
    pub fn of(msg: &RawMessage, prefix_len: usize) -> Option<Self> {
        if msg.fields.len() != prefix_len + 4 {
            return None;
        }
        let f = &msg.fields;
        Some(Self {
            code: msg.code.clone(),
            prefix: f[..prefix_len].to_vec(),
            seq: f[prefix_len].clone(),
            iv: f[prefix_len + 1].clone(),
            ciphertext: f[prefix_len + 2].clone(),
            mac: f[prefix_len + 3].clone(),
        })
    }

    /// [`Self::of`] the frame text `wire` (as the GUI keeps it).
    pub fn parse(wire: &str, prefix_len: usize) -> Option<Self> {
        Self::of(&RawMessage::parse_str(wire).ok()?, prefix_len)
    }

    /// A base64 field's bytes, if it is valid base64.
    pub fn bytes(field: &str) -> Option<Vec<u8>> {
        B64.decode(field).ok()
    }
}

/// One side of one connection's sealed channel, both directions. A connection splits it
/// ([`Self::split`]): its writing task holds the [`Sealer`], its reading task the [`Opener`], and
/// only a `Sealer` can seal. Tests, examples and tools that play one side on one thread use the
/// `Channel` itself, whose methods are the halves'.
#[derive(Debug)]
pub struct Channel {
    sealer: Sealer,
    opener: Opener,
}

/// The sending half of a [`Channel`]: the only one that seals, and the owner of the next
/// sequence number. Not `Clone`: two copies would send the same numbers.
#[derive(Debug)]
pub struct Sealer {
    key: Arc<SessionKey>,
    nonce_b64: String,
    /// The direction letter of the frames this side sends.
    dir: &'static str,
    next: u64,
}

/// The receiving half of a [`Channel`]: the only one that opens, and the owner of the last
/// sequence number accepted.
#[derive(Debug)]
pub struct Opener {
    key: Arc<SessionKey>,
    nonce_b64: String,
    /// The direction letter of the frames this side receives.
    dir: &'static str,
    last: Option<u64>,
}

/// A frame whose MAC and sequence number [`Opener::check`] verified and recorded; decrypted
/// by [`Self::open`], on any thread.
#[derive(Debug)]
pub struct Checked {
    code: String,
    key: Arc<SessionKey>,
    iv: [u8; IV_LEN],
    ct: Vec<u8>,
}

impl Checked {
    /// Decrypt and decode.
    ///
    /// # Errors
    /// [`CryptoError::Decrypt`], and [`ProtocolError`] for a plaintext that does not decode as
    /// an `M`.
    pub fn open<M: SealedMessage>(self) -> Result<M, Error> {
        let plain = cbc::decrypt(&self.key.des, &self.iv, &self.ct)?;
        Ok(M::from_inner(&RawMessage::from_plain(&self.code, plain)?)?)
    }
}

/// A frame's plaintext encrypted but not yet numbered: the costly half of sealing (DES-CBC
/// under a fresh IV). The sequence number is outside the ciphertext (only the MAC covers it), so
/// the encryption needs none: [`Sealer::seal_encrypted`] numbers and MACs the frame when it is
/// sent. A file chunk encrypted on another thread therefore holds no number meanwhile, and a
/// chat line sealed in between simply goes first.
#[derive(Debug, Clone)]
pub struct Encrypted {
    code: String,
    /// `b64(iv)|b64(ct)`, as in the frame.
    iv_ct: String,
}

/// Encrypts frames for one [`Sealer`] on any thread ([`Sealer::encryptor`]). It can neither
/// number nor MAC a frame, so copies cannot reuse sequence numbers.
#[derive(Debug, Clone)]
pub struct Encryptor {
    key: Arc<SessionKey>,
}

impl Encryptor {
    /// Encrypt `inner` for a frame with code `code` and no clear fields.
    ///
    /// # Errors
    /// [`ProtocolError::TooLarge`] if the sealed frame would exceed
    /// [`MAX_FRAME_LEN`](crate::protocol::consts::MAX_FRAME_LEN); nothing is encrypted.
    pub fn encrypt(&self, code: &str, inner: impl AsRef<[u8]>) -> Result<Encrypted, ProtocolError> {
        check_len(code, 0, inner.as_ref().len())?;
        Ok(encrypt(&self.key, code, inner.as_ref()))
    }
}

fn encrypt(key: &SessionKey, code: &str, inner: &[u8]) -> Encrypted {
    let (iv, ct) = cbc::encrypt(&key.des, inner);
    let mut iv_ct = String::with_capacity(13 + ct.len().div_ceil(3) * 4);
    B64.encode_string(iv, &mut iv_ct);
    iv_ct.push(DELIMITER);
    B64.encode_string(&ct, &mut iv_ct);
    Encrypted {
        code: code.to_owned(),
        iv_ct,
    }
}

/// [`ProtocolError::TooLarge`] if a sealed frame of this shape would exceed the frame limit.
fn check_len(code: &str, prefix_len: usize, inner_len: usize) -> Result<(), ProtocolError> {
    let len = sealed_len(code, prefix_len, inner_len);
    if len > crate::protocol::consts::MAX_FRAME_LEN {
        return Err(ProtocolError::TooLarge(len));
    }
    Ok(())
}

/// What [`Opener::open`] returns: the inner fields, plus the sequence number (for teaching views).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub seq: u64,
    /// Inner message: same code as the outer frame, fields from the decrypted plaintext.
    pub inner: RawMessage,
}

impl Channel {
    /// The client's side: sends `C` frames, receives `S` frames.
    pub fn client(key: Arc<SessionKey>, conn_nonce: &[u8]) -> Self {
        Self::new(
            key,
            conn_nonce,
            label::CLIENT_TO_SERVER,
            label::SERVER_TO_CLIENT,
        )
    }

    /// The server's side: sends `S` frames, receives `C` frames.
    pub fn server(key: Arc<SessionKey>, conn_nonce: &[u8]) -> Self {
        Self::new(
            key,
            conn_nonce,
            label::SERVER_TO_CLIENT,
            label::CLIENT_TO_SERVER,
        )
    }

    fn new(
        key: Arc<SessionKey>,
        nonce: &[u8],
        send_dir: &'static str,
        recv_dir: &'static str,
    ) -> Self {
        let nonce_b64 = b64(nonce);
        Self {
            sealer: Sealer {
                key: key.clone(),
                nonce_b64: nonce_b64.clone(),
                dir: send_dir,
                next: 0,
            },
            opener: Opener {
                key,
                nonce_b64,
                dir: recv_dir,
                last: None,
            },
        }
    }

    /// The two halves, for two tasks: the writing task seals, the reading task opens, and each
    /// owns its own sequence state.
    pub fn split(self) -> (Sealer, Opener) {
        (self.sealer, self.opener)
    }

    /// The sending half, for a function that takes one (such as
    /// [`login_request`](crate::protocol::chat::login_request)).
    pub fn sealer(&mut self) -> &mut Sealer {
        &mut self.sealer
    }

    /// [`Sealer::seal_text`].
    pub fn seal_text(&mut self, code: &str, prefix: &[&str], inner: impl AsRef<[u8]>) -> String {
        self.sealer.seal_text(code, prefix, inner)
    }

    /// [`Sealer::seal_checked`].
    ///
    /// # Errors
    /// As [`Sealer::seal_checked`].
    pub fn seal_checked(
        &mut self,
        code: &str,
        prefix: &[&str],
        inner: impl AsRef<[u8]>,
    ) -> Result<String, ProtocolError> {
        self.sealer.seal_checked(code, prefix, inner)
    }

    /// [`Sealer::seal`].
    pub fn seal(&mut self, code: &str, prefix: &[&str], fields: &[&str]) -> String {
        self.sealer.seal(code, prefix, fields)
    }

    /// [`Sealer::seal_msg`].
    ///
    /// # Errors
    /// As [`Sealer::seal_msg`].
    pub fn seal_msg<M: SealedMessage>(&mut self, msg: &M) -> Result<String, ProtocolError> {
        self.sealer.seal_msg(msg)
    }

    /// [`Opener::open`].
    ///
    /// # Errors
    /// As [`Opener::open`].
    pub fn open(&mut self, msg: &RawMessage, prefix_len: usize) -> Result<Opened, Error> {
        self.opener.open(msg, prefix_len)
    }

    /// [`Opener::open_msg`].
    ///
    /// # Errors
    /// As [`Opener::open_msg`].
    pub fn open_msg<M: SealedMessage>(&mut self, msg: &RawMessage) -> Result<M, Error> {
        self.opener.open_msg(msg)
    }
}

impl Sealer {
    /// Seal `inner` (already `|`-joined fields) as a frame payload with code `code`. This uses up
    /// the next sequence number, so the frame must be sent: the peer treats a skipped number as a
    /// lost frame. When the size is not known to fit the frame limit, use [`Self::seal_checked`].
    pub fn seal_text(&mut self, code: &str, prefix: &[&str], inner: impl AsRef<[u8]>) -> String {
        let encrypted = encrypt(&self.key, code, inner.as_ref());
        self.number(prefix, &encrypted)
    }

    /// Give `e` the next sequence number and its MAC: the frame text to send, which must be sent.
    /// The cheap half of sealing (the MAC); [`Encryptor::encrypt`] did the costly one.
    pub fn seal_encrypted(&mut self, e: &Encrypted) -> String {
        self.number(&[], e)
    }

    /// An [`Encryptor`] for this side's frames, to encrypt on another thread.
    pub fn encryptor(&self) -> Encryptor {
        Encryptor {
            key: self.key.clone(),
        }
    }

    fn number(&mut self, prefix: &[&str], e: &Encrypted) -> String {
        let seq = self.next;
        self.next += 1;
        // One allocation for the whole frame: the capacity covers the base64 of the tag.
        let prefix_len: usize = prefix.iter().map(|p| p.len() + 1).sum();
        let mut text = String::with_capacity(e.code.len() + prefix_len + 22 + e.iv_ct.len() + 46);
        text.push_str(&e.code);
        for p in prefix {
            text.push(DELIMITER);
            text.push_str(p);
        }
        text.push(DELIMITER);
        let _ = write!(text, "{seq}");
        text.push(DELIMITER);
        text.push_str(&e.iv_ct);
        let tag = frame_tag(&self.key, self.dir, &self.nonce_b64, &text);
        text.push(DELIMITER);
        B64.encode_string(tag, &mut text);
        text
    }

    /// [`Self::seal_text`], unless the sealed frame would exceed
    /// [`MAX_FRAME_LEN`](crate::protocol::consts::MAX_FRAME_LEN): then nothing is sealed and no
    /// sequence number is used, so the peer never sees a gap.
    ///
    /// # Errors
    /// [`ProtocolError::TooLarge`] with the size the frame would have had.
    pub fn seal_checked(
        &mut self,
        code: &str,
        prefix: &[&str],
        inner: impl AsRef<[u8]>,
    ) -> Result<String, ProtocolError> {
        let prefix_len = prefix.iter().map(|p| p.len() + 1).sum();
        check_len(code, prefix_len, inner.as_ref().len())?;
        Ok(self.seal_text(code, prefix, inner))
    }

    /// Seal `msg` ([`Self::seal_checked`] of its code and inner text): the frame text to send.
    ///
    /// # Errors
    /// [`ProtocolError::TooLarge`]; nothing is sealed and no sequence number is used.
    pub fn seal_msg<M: SealedMessage>(&mut self, msg: &M) -> Result<String, ProtocolError> {
        self.seal_checked(msg.code(), &[], msg.inner_plain())
    }

    /// [`Self::seal_msg`] with the encryption on a thread of the low-priority pool
    /// ([`LowPriority`]): for file chunks, so that their DES never holds up chat on the async
    /// threads. The number and MAC are given when the encryption is done; if the wait is
    /// dropped, no number is used.
    ///
    /// # Errors
    /// As [`Self::seal_msg`].
    pub async fn seal_msg_low<M: SealedMessage>(
        &mut self,
        msg: &M,
    ) -> Result<String, ProtocolError> {
        let (encryptor, code, plain) = (self.encryptor(), msg.code(), msg.inner_plain());
        let encrypted = LowPriority::global()
            .run(move || encryptor.encrypt(code, plain))
            .await?;
        Ok(self.seal_encrypted(&encrypted))
    }

    /// Seal inner fields. An empty inner text opens as zero fields, so `[]` and `[""]` seal alike;
    /// the message encoders never produce a single empty field.
    pub fn seal(&mut self, code: &str, prefix: &[&str], fields: &[&str]) -> String {
        self.seal_text(code, prefix, fields.join("|"))
    }
}

impl Opener {
    /// [`Self::open`] a frame without clear fields and decode it as an `M`.
    ///
    /// # Errors
    /// As [`Self::open`]; a frame that opens but does not decode as an `M` is
    /// [`Error::Protocol`] (and counts as received: it was authentic).
    pub fn open_msg<M: SealedMessage>(&mut self, msg: &RawMessage) -> Result<M, Error> {
        let opened = self.open(msg, 0)?;
        Ok(M::from_inner(&opened.inner)?)
    }

    /// Parse the frame payload `frame`, then [`Self::open_msg`].
    ///
    /// # Errors
    /// As [`RawMessage::parse`] and [`Self::open_msg`].
    pub fn open_frame<M: SealedMessage>(&mut self, frame: &[u8]) -> Result<M, Error> {
        self.open_msg(&RawMessage::parse(frame)?)
    }

    /// Verify and decrypt a received sealed frame with `prefix_len` clear fields before `seq`.
    ///
    /// # Errors
    /// [`ProtocolError::FieldCount`]/[`ProtocolError::BadField`] for a malformed frame,
    /// [`CryptoError::BadMac`] for a forged or altered one, [`CryptoError::Replay`] for a replayed
    /// or reordered one, [`CryptoError::FrameLost`] for an authentic one after a gap (the session
    /// cannot go on: the caller ends it), [`CryptoError::Decrypt`] if a correctly MACed ciphertext
    /// does not decrypt (cannot happen with an honest peer). None of them records the frame.
    pub fn open(&mut self, msg: &RawMessage, prefix_len: usize) -> Result<Opened, Error> {
        let seq = self.verify(msg, prefix_len)?;
        let iv: [u8; IV_LEN] = msg.array(prefix_len + 1)?;
        let ct = msg.bytes(prefix_len + 2)?;
        let plain = cbc::decrypt(&self.key.des, &iv, &ct)?;
        let inner = RawMessage::from_plain(&msg.code, plain)?;
        self.last = Some(seq);
        Ok(Opened { seq, inner })
    }

    /// Check a file chunk's frame (no clear fields) now and decrypt it later, possibly on
    /// another thread ([`Checked::open`]): field count, MAC and sequence number as in
    /// [`Self::open`], and then the frame **counts as received**. So the frames after it can be
    /// opened at once, and a chat line never waits for a chunk's decryption; an authentic chunk
    /// that then fails to decrypt (no honest peer sends one) is refused without a gap.
    ///
    /// # Errors
    /// As [`Self::open`] up to the sequence check; nothing is recorded.
    pub fn check(&mut self, msg: &RawMessage) -> Result<Checked, Error> {
        let seq = self.verify(msg, 0)?;
        let iv: [u8; IV_LEN] = msg.array(1)?;
        let ct = msg.bytes(2)?;
        self.last = Some(seq);
        Ok(Checked {
            code: msg.code.clone(),
            key: self.key.clone(),
            iv,
            ct,
        })
    }

    /// Field count, MAC and sequence number of `msg`: its number if it may be accepted next.
    fn verify(&self, msg: &RawMessage, prefix_len: usize) -> Result<u64, Error> {
        msg.expect_fields(prefix_len + 4)?;
        let mac_tag = msg.bytes(prefix_len + 3)?;
        // The MAC covers the frame text up to the tag: `code|field|...|ciphertext`, fed to the
        // MAC field by field (no copy of the frame).
        let mut covered: Vec<&[u8]> = Vec::with_capacity(7 + 2 * (prefix_len + 3));
        covered.extend_from_slice(&[
            label::FRAME_MAC.as_bytes(),
            b"|",
            self.dir.as_bytes(),
            b"|",
            self.nonce_b64.as_bytes(),
            b"|",
            msg.code.as_bytes(),
        ]);
        for f in &msg.fields[..prefix_len + 3] {
            covered.push(b"|");
            covered.push(f.as_bytes());
        }
        mac::verify_hmac_sha256(&*self.key.mac_key, &covered, &mac_tag)?;
        let seq = msg.number(prefix_len)?;
        if let Some(last) = self.last {
            // After u64::MAX nothing can follow: every number is then a replay.
            match last.checked_add(1) {
                Some(next) if seq == next => {}
                Some(next) if seq > next => {
                    return Err(CryptoError::FrameLost {
                        got: seq,
                        expected: next,
                    }
                    .into());
                }
                _ => return Err(CryptoError::Replay { got: seq, last }.into()),
            }
        }
        Ok(seq)
    }
}
