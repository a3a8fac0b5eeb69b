//! RSA key pairs: generation, PEM files (PKCS#8 private, SPKI public, so `openssl` reads them),
//! fingerprints, RSA-SHA-256 signatures and RSA-OAEP-SHA-256 key wrapping.
//!
//! # Security warning
//! Signatures use PKCS#1 v1.5 with SHA-256, as the seed's `rsa.sign(..., "SHA-256")` did; that
//! scheme is deterministic and still unbroken for signing. Encryption never uses PKCS#1 v1.5
//! (Bleichenbacher/Marvin): secrets are wrapped with OAEP (SHA-256, MGF1-SHA-256, empty label).

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::MIN_RSA_BITS;
use crate::error::{CryptoError, KeyFileError};
use crate::fsutil::read_key_text;

/// An RSA private key (signing and unwrapping). Debug never prints key material.
#[derive(Clone)]
pub struct PrivateKey(rsa::PrivateKey);

/// An RSA public key (verifying and wrapping).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(rsa::PublicKey);

impl PrivateKey {
    /// Generate a key pair of `bits` bits from the OS CSPRNG.
    ///
    /// # Errors
    /// [`CryptoError::KeyTooSmall`] below [`MIN_RSA_BITS`].
    pub fn generate(bits: usize) -> Result<Self, CryptoError> {
        if bits < MIN_RSA_BITS {
            return Err(CryptoError::KeyTooSmall(bits));
        }
        rsa::PrivateKey::new(&mut rand::rngs::SysRng, bits)
            .map(Self)
            .map_err(|e| CryptoError::Rsa(e.to_string()))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    pub fn bits(&self) -> usize {
        self.0.n().bit_width() as usize
    }

    /// RSA-SHA-256 (PKCS#1 v1.5) signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0
            .pkcs1v15_sign::<Sha256>(msg)
            .expect("signing with a valid private key cannot fail")
    }

    /// Unwrap an RSA-OAEP-SHA-256 ciphertext.
    ///
    /// # Errors
    /// [`CryptoError::BadEnvelope`], deliberately without detail.
    pub fn oaep_decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.0
            .oaep_decrypt::<Sha256>(ciphertext)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::BadEnvelope)
    }

    /// PKCS#8 PEM ("BEGIN PRIVATE KEY").
    pub fn to_pem(&self) -> Zeroizing<String> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 encoding of a valid key cannot fail")
    }

    /// Parse PKCS#8 PEM.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] for anything that is not a PKCS#8 RSA key, or a key under [`MIN_RSA_BITS`].
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let k = rsa::PrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| CryptoError::BadKey(format!("not a PKCS#8 RSA private key ({e})")))?;
        let k = Self(k);
        if k.bits() < MIN_RSA_BITS {
            return Err(CryptoError::KeyTooSmall(k.bits()));
        }
        Ok(k)
    }

    /// Write the pair as `private_path` (0600) and `public_path` (0644), atomically.
    ///
    /// # Errors
    /// [`KeyFileError::Write`] naming the file.
    pub fn save(&self, private_path: &Path, public_path: &Path) -> Result<(), KeyFileError> {
        crate::fsutil::write_atomic(private_path, self.to_pem().as_bytes(), true).map_err(
            |source| KeyFileError::Write {
                path: private_path.to_path_buf(),
                source,
            },
        )?;
        self.public_key().save(public_path)
    }

    /// Load a PEM private key file.
    ///
    /// # Errors
    /// [`KeyFileError::Missing`], [`KeyFileError::Read`] or [`KeyFileError::Malformed`], naming the file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = read_key_text(path)?;
        Self::from_pem(&text).map_err(|e| KeyFileError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Load the pair at `private_path`, or generate and save a new one of `bits` bits when the
    /// file does not exist. Returns the key and whether it was created.
    ///
    /// # Errors
    /// A malformed existing file is an error (never silently replaced: that would change identity).
    pub fn load_or_create(
        private_path: &Path,
        public_path: &Path,
        bits: usize,
    ) -> Result<(Self, bool), crate::Error> {
        if private_path.exists() {
            let k = Self::load(private_path)?;
            if !public_path.exists() {
                k.public_key().save(public_path)?;
            }
            return Ok((k, false));
        }
        let k = Self::generate(bits)?;
        k.save(private_path, public_path)?;
        Ok((k, true))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({} bits, ..)", self.bits())
    }
}

impl PublicKey {
    pub fn bits(&self) -> usize {
        self.0.n().bit_width() as usize
    }

    /// SubjectPublicKeyInfo DER: the bytes sent on the wire and hashed for the fingerprint.
    pub fn to_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .expect("SPKI encoding of a valid key cannot fail")
            .into_vec()
    }

    /// Parse SPKI DER.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`].
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        rsa::PublicKey::from_public_key_der(der)
            .map(Self)
            .map_err(|e| CryptoError::BadKey(format!("not an RSA public key ({e})")))
    }

    /// SPKI PEM ("BEGIN PUBLIC KEY").
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("SPKI encoding of a valid key cannot fail")
    }

    /// Parse SPKI PEM.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`].
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        rsa::PublicKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|e| CryptoError::BadKey(format!("not an SPKI RSA public key ({e})")))
    }

    /// Write as PEM (0644), atomically.
    ///
    /// # Errors
    /// [`KeyFileError::Write`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        crate::fsutil::write_atomic(path, self.to_pem().as_bytes(), false).map_err(|source| {
            KeyFileError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Load a PEM public key file.
    ///
    /// # Errors
    /// [`KeyFileError::Missing`], [`KeyFileError::Read`] or [`KeyFileError::Malformed`], naming the file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = read_key_text(path)?;
        Self::from_pem(&text).map_err(|e| KeyFileError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Verify an RSA-SHA-256 (PKCS#1 v1.5) signature.
    ///
    /// # Errors
    /// [`CryptoError::BadSignature`], opaque.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.0
            .pkcs1v15_verify::<Sha256>(msg, sig)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Wrap a small secret with RSA-OAEP-SHA-256.
    ///
    /// # Errors
    /// [`CryptoError::Rsa`] if `msg` is too long for the key.
    pub fn oaep_encrypt(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0
            .oaep_encrypt::<Sha256>(msg)
            .map_err(|e| CryptoError::Rsa(e.to_string()))
    }

    /// This key's fingerprint, see [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.to_der())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} bits, {})", self.bits(), self.fingerprint())
    }
}

/// The one fingerprint format used everywhere: `SHA256:` followed by the unpadded standard
/// base64 of SHA-256 over the SPKI DER (the same shape as OpenSSH's fingerprints). Reproduce with
/// `openssl pkey -pubin -in server_public.pem -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =`.
pub fn fingerprint(spki_der: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(crate::crypto::sha256(spki_der))
    )
}
