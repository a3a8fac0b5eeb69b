//! Cryptography as the design asks for it: DES, RSA and SHA-256, used correctly.
//!
//! # Security warning
//! DES (56-bit keys) and RSA PKCS#1 v1.5 signatures are legacy algorithms. They are used here
//! because the course assignment this project comes from asks for them. Their weaknesses are
//! bounded as far as the design allows: DES keys come from the OS CSPRNG and live at most
//! `session_ttl`; every DES ciphertext is authenticated with HMAC-SHA-256 under a
//! separate 256-bit key (encrypt-then-MAC); RSA keys are 2048 bits by default and secrets are
//! wrapped with OAEP, never PKCS#1 v1.5 encryption. See docs/SECURITY.md.
//!
//! # Layout
//! - [`random`]: bytes from the operating system CSPRNG.
//! - [`des_key`]: the DES key type (parity, weak-key rejection, redacted Debug, zeroized).
//! - `des_cipher` (crate-private): the DES block cipher itself (table-driven; checked against
//!   the `des` crate).
//! - [`cbc`]: DES-CBC with PKCS#7 padding and a fresh IV per message.
//! - [`mac`]: HMAC-SHA-256 and constant-time comparison.
//! - [`rsa_keys`]: RSA key pairs, PEM files, fingerprints, signatures, OAEP.
//! - [`password`]: PBKDF2 password hashes.
//! - [`envelope`]: the digital envelope (DES-CBC under a one-time key, key wrapped with OAEP).
//! - [`session`]: the session key material (DES key + MAC key + id + expiry).
//! - [`storage`]: a key for data at rest (the server's message history), sealed the same way.

pub mod cbc;
pub(crate) mod des_cipher;
pub mod des_key;
pub mod envelope;
pub mod mac;
pub mod password;
pub mod random;
pub mod rsa_keys;
pub mod session;
pub mod storage;

pub use des_key::DesKey;

/// DES key length in bytes (56 key bits + 8 parity bits).
pub const DES_KEY_LEN: usize = 8;

/// DES block length, and so the CBC IV length.
pub const IV_LEN: usize = 8;

/// HMAC-SHA-256 key length: a full-strength MAC key independent of the 56-bit DES key.
pub const MAC_KEY_LEN: usize = 32;

/// HMAC-SHA-256 tag length (not truncated).
pub const MAC_LEN: usize = 32;

/// Session key identifier length in bytes (hex-encoded on the wire and in key files).
pub const KEY_ID_LEN: usize = 8;

/// Smallest RSA size we generate or load at all: below this RSA is broken in practice.
pub const MIN_RSA_BITS: usize = 1024;

/// PBKDF2-HMAC-SHA-256 iterations for new password hashes. See [`password`] for why.
pub const PBKDF2_ITERATIONS: u32 = 100_000;

/// Salt length for password hashes.
pub const PASSWORD_SALT_LEN: usize = 16;

pub use rsa_keys::{PrivateKey, PublicKey, fingerprint};
pub use session::SessionKey;

use sha2::{Digest, Sha256};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
