//! What the key step reports as it goes, one event per step, for whoever watches: the terminal
//! trace (`--trace`, formatted here, the one place) and the GUI's key-step view (密钥分发过程).
//!
//! Events carry the values as they crossed the network and, once the envelope is open, the
//! secrets it held (the one-time key `k`, the DES working key, the MAC key): the watcher decides
//! what to show (the trace only with `--show-secrets`, the GUI behind its teaching switch).

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::client::clock::ClockOffset;
use crate::protocol::consts::{MAC_LEN, NONCE_LEN};
use crate::protocol::keydist::KeyEnvelope;
use crate::trace::{Trace, hex_blocks};

/// How the server's key compared with the folder's pinned one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinCheck {
    /// No `server_public.pem` yet: this key will be pinned once the key step succeeds.
    FirstUse,
    /// Equal to the key pinned in `path`.
    Matches { path: PathBuf },
    /// Not the key pinned in `path` (whose fingerprint is `pinned`): the key step stops here.
    Differs { path: PathBuf, pinned: String },
}

/// One step of the key step, in order.
#[derive(Clone)]
pub enum KeyStepEvent {
    /// The folder had no client key pair: one was made.
    ClientKeyCreated { path: PathBuf, fingerprint: String },
    /// `1100` arrived: the server's key and nonce; the pin check passed.
    Hello {
        addr: String,
        server_fingerprint: String,
        server_nonce: [u8; NONCE_LEN],
        pin: PinCheck,
    },
    /// `0101` went out, signed with the client's private key.
    Request {
        username: String,
        client_fingerprint: String,
        client_nonce: [u8; NONCE_LEN],
        signature: Vec<u8>,
    },
    /// `1101` arrived (not yet checked).
    Envelope(KeyEnvelope),
    /// The server's signature over the whole transcript verified with its (pinned) key.
    SignatureValid { server_fingerprint: String },
    /// The envelope opened: `k` unwrapped with the client's private key, the material decrypted.
    Opened(OpenedSecrets),
    /// This computer's clock against the key server's (`issued_at`).
    Clock(ClockOffset),
    /// `0102` went out: the MAC that proves the client holds the new key.
    Confirmed { mac: [u8; MAC_LEN] },
    /// `1102` authenticated; the files are in place.
    Done {
        key_path: PathBuf,
        /// `Some(path)` when the server key was pinned by this run (trust on first use).
        pinned_now: Option<PathBuf>,
    },
}

/// The secrets of an opened envelope, as hex or text; Debug hides them.
#[derive(Clone)]
pub struct OpenedSecrets {
    /// The one-time DES key `k` (16 hex digits).
    pub one_time_key: Zeroizing<String>,
    /// The decrypted session material `username_b64|key_id|expires_at|des_hex|mac_hex`.
    pub material: Zeroizing<String>,
    /// The DES working key (16 hex digits) and the MAC key (64 hex digits).
    pub des_key: Zeroizing<String>,
    pub mac_key: Zeroizing<String>,
    pub key_id: String,
    pub expires_at: String,
}

impl fmt::Debug for OpenedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedSecrets")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyStepEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::ClientKeyCreated { .. } => "ClientKeyCreated",
            Self::Hello { .. } => "Hello",
            Self::Request { .. } => "Request",
            Self::Envelope { .. } => "Envelope",
            Self::SignatureValid { .. } => "SignatureValid",
            Self::Opened(_) => "Opened",
            Self::Clock(_) => "Clock",
            Self::Confirmed { .. } => "Confirmed",
            Self::Done { .. } => "Done",
        };
        f.write_str(name)
    }
}

/// Who watches the key step.
pub trait KeyStepObserver: Send {
    fn event(&mut self, event: &KeyStepEvent);
}

impl<F: FnMut(&KeyStepEvent) + Send> KeyStepObserver for F {
    fn event(&mut self, event: &KeyStepEvent) {
        self(event);
    }
}

/// The terminal trace of the key step (`--trace`, `--show-secrets`).
pub struct TraceObserver {
    pub trace: Trace,
    pub who: String,
}

impl TraceObserver {
    /// The 1101 lines.
    fn envelope(&self, env: &KeyEnvelope) {
        let (t, who) = (self.trace, self.who.as_str());
        let step = |args: fmt::Arguments<'_>| t.step(who, args);
        step(format_args!(
            "3. envelope {} (issued {}, expires {})",
            env.key_id, env.issued_at, env.expires_at
        ));
        step(format_args!(
            "   E_k(session material), DES-CBC, IV {}: {}",
            hex::encode(env.envelope.iv),
            hex_blocks(&env.envelope.sealed)
        ));
        step(format_args!(
            "   RSA-OAEP(our key, k): {}",
            hex::encode(&env.envelope.wrapped_key)
        ));
        step(format_args!(
            "   signature: {}",
            hex::encode(&env.signature)
        ));
    }

    /// The opened envelope: what was recovered, shown only with `--show-secrets`.
    fn opened(&self, o: &OpenedSecrets) {
        let (t, who) = (self.trace, self.who.as_str());
        t.step(
            who,
            format_args!(
                "   envelope opened: k unwrapped with our private key, session material decrypted"
            ),
        );
        t.secret(
            who,
            "   one-time key k (RSA-OAEP-decrypted from the envelope's wrapped key)",
            &o.one_time_key,
        );
        t.secret(
            who,
            "   session material (DES-CBC-decrypted with k and the IV)",
            &o.material,
        );
        t.secret(who, "   DES working key wk", &o.des_key);
        t.secret(who, "   HMAC key", &o.mac_key);
    }
}

impl KeyStepObserver for TraceObserver {
    fn event(&mut self, event: &KeyStepEvent) {
        let (t, who) = (self.trace, self.who.as_str());
        let step = |args: fmt::Arguments<'_>| t.step(who, args);
        match event {
            KeyStepEvent::ClientKeyCreated { path, fingerprint } => step(format_args!(
                "created client key pair {} ({fingerprint})",
                path.display()
            )),
            KeyStepEvent::Hello {
                addr,
                server_fingerprint,
                server_nonce,
                pin,
            } => {
                step(format_args!(
                    "1. connected to {addr}; server key {server_fingerprint}, server nonce {}",
                    hex::encode(server_nonce)
                ));
                match pin {
                    PinCheck::Matches { path } => step(format_args!(
                        "   matches the pinned key in {}",
                        path.display()
                    )),
                    PinCheck::Differs { path, pinned } => step(format_args!(
                        "   DIFFERS from the key pinned in {} ({pinned})",
                        path.display()
                    )),
                    PinCheck::FirstUse => {}
                }
            }
            KeyStepEvent::Request {
                username,
                client_fingerprint,
                client_nonce,
                signature,
            } => step(format_args!(
                "2. send request for {username}: client key {client_fingerprint}, client nonce {}, signature {}",
                hex::encode(client_nonce),
                hex::encode(signature)
            )),
            KeyStepEvent::Envelope(env) => self.envelope(env),
            KeyStepEvent::SignatureValid { .. } => step(format_args!(
                "   signature over username, both keys, both nonces, key id, expiry and envelope: VALID"
            )),
            KeyStepEvent::Opened(o) => self.opened(o),
            KeyStepEvent::Clock(offset) => {
                if offset.noticeable() {
                    step(format_args!(
                        "   this computer's clock differs from the key server's by {} s",
                        -offset.0
                    ));
                }
            }
            KeyStepEvent::Confirmed { mac } => step(format_args!(
                "   confirmation HMAC-SHA-256(MAC key, transcript hash): {}",
                hex::encode(mac)
            )),
            KeyStepEvent::Done {
                key_path,
                pinned_now,
            } => {
                if let Some(pin) = pinned_now {
                    step(format_args!(
                        "   trusting the server key on first use; pinned in {}",
                        pin.display()
                    ));
                }
                step(format_args!("4. confirmed; stored {}", key_path.display()));
            }
        }
    }
}
