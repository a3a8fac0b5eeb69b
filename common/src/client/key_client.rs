//! The key step (`client_xx key`): fetch a DES session key from server_key in a signed digital
//! envelope, verify everything, and store it in `session_key.txt`.
//!
//! The server's identity is pinned: `server_public.pem` in the client folder when present
//! (copied there by the teacher or by `scripts/dist.sh`), otherwise the first key met is trusted
//! and pinned (trust on first use). A different key later is refused, naming both fingerprints.

use std::time::Duration;

use crate::client::clock::ClockOffset;
use crate::client::folder::{ClientFolder, PortKey};
use crate::connection::{FrameReader, FrameWriter, ReadError, read_message};
use crate::crypto::{PrivateKey, PublicKey, mac, random};
use crate::keyfile::KeyFile;
use crate::protocol::consts::{DEFAULT_RSA_BITS, MAX_SERVER_RSA_BITS, NONCE_LEN, code};
use crate::protocol::keydist::{
    KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript,
};
use crate::protocol::message::RawMessage;
use crate::trace::{Trace, hex_blocks};

/// Why the key step failed. Each message says what happened and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStepError {
    #[error(
        "cannot reach the key server at {addr}: {source}. Is server_key running there, and is TCP port {port} \
         open in that machine's firewall? (server_host/key_port are set in client.toml)"
    )]
    Unreachable {
        addr: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("the key server refused the request ({reason}): {message}")]
    Refused {
        reason: crate::protocol::Reason,
        message: String,
    },
    #[error(
        "SERVER KEY MISMATCH: the key server at {addr} presented {got}, but this folder pins {pinned} in {path}. \
         Someone may be intercepting the connection. If the server's key really changed, replace {path} with \
         the new server_public.pem (or delete it to trust the new key) and run the key step again"
    )]
    ServerKeyMismatch {
        addr: String,
        got: String,
        pinned: String,
        path: String,
    },
    #[error(
        "the envelope's signature is invalid (not made by server key {server} for this exchange); nothing was stored"
    )]
    BadSignature { server: String },
    #[error(
        "the digital envelope could not be opened with this folder's private key; nothing was stored"
    )]
    BadEnvelope,
    #[error(
        "the key server did not answer within {0} s; your previous session key (if any) is still valid"
    )]
    Timeout(u64),
    #[error(
        "the key server closed the connection {during}; your previous session key (if any) is still valid"
    )]
    Closed { during: &'static str },
    /// No authenticated `1102` came: the connection closed, or the "done" was not made with the
    /// new key (forged).
    #[error(
        "the key server did not confirm the new key (the connection closed, or the confirmation did not \
         authenticate); it may hold the new key while this folder keeps the old one - run the key step again"
    )]
    Unconfirmed,
    #[error(
        "cannot store the new session key in {path}: {source}. Nothing was confirmed to the key server, so your \
         previous session key (if any) is still valid; free some disk space (or make the folder writable) and run \
         the key step again"
    )]
    CannotStore {
        path: String,
        source: std::io::Error,
    },
    #[error("unexpected answer from the key server: {0}")]
    Protocol(String),
    /// `key_port` reached the chat server (its hello came instead of the key server's).
    #[error(
        "key_port {} reached the chat server, not the key server; set key_port = {} in client.toml",
        .0.port, .0.should_be
    )]
    WrongServer(crate::client::folder::WrongPort),
    #[error("{0}")]
    Local(#[from] crate::Error),
}

/// Key step settings.
#[derive(Debug, Clone, Copy)]
pub struct KeyStepOptions {
    pub trace: Trace,
    /// Size of the client key pair created on first run.
    pub client_rsa_bits: usize,
    /// Deadline for connecting and for each answer.
    pub timeout: Duration,
}

impl Default for KeyStepOptions {
    fn default() -> Self {
        Self {
            trace: Trace::default(),
            client_rsa_bits: DEFAULT_RSA_BITS,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a successful key step did.
#[derive(Debug, Clone)]
pub struct KeyStepOutcome {
    pub key_id: String,
    pub expires_at: String,
    pub server_fingerprint: String,
    pub client_fingerprint: String,
    /// The server key was pinned by this run (trust on first use).
    pub pinned_now: bool,
    /// The client key pair was created by this run.
    pub client_key_created: bool,
    /// The key server's clock minus ours, from the signed `issued_at`.
    pub clock_offset: ClockOffset,
}

/// Load the folder's client key pair, creating it on first run (off the async threads: RSA key
/// generation takes a noticeable fraction of a second).
///
/// # Errors
/// A malformed key file or a write failure.
pub async fn load_or_create_client_key(
    folder: &ClientFolder,
    bits: usize,
) -> Result<(PrivateKey, bool), crate::Error> {
    let (priv_path, pub_path) = (folder.private_key_path(), folder.public_key_path());
    tokio::task::spawn_blocking(move || PrivateKey::load_or_create(&priv_path, &pub_path, bits))
        .await
        .map_err(|e| crate::Error::Io(std::io::Error::other(e)))?
}

/// Run the key step with the folder's own client key.
///
/// # Errors
/// [`KeyStepError`]; on any error nothing in the folder changes except a newly created client key.
pub async fn run_key_step(
    folder: &ClientFolder,
    opts: KeyStepOptions,
) -> Result<KeyStepOutcome, KeyStepError> {
    let (client_key, created) = load_or_create_client_key(folder, opts.client_rsa_bits).await?;
    if created {
        opts.trace.step(
            &folder.program,
            format_args!(
                "created client key pair {} ({})",
                folder.private_key_path().display(),
                client_key.public_key().fingerprint()
            ),
        );
    }
    let mut outcome = run_key_step_with(folder, &client_key, opts).await?;
    outcome.client_key_created = created;
    Ok(outcome)
}

async fn next_message(
    reader: &mut FrameReader<tokio::net::tcp::OwnedReadHalf>,
    opts: &KeyStepOptions,
    during: &'static str,
) -> Result<RawMessage, KeyStepError> {
    read_message(reader, opts.timeout, Some(code::KEY_ERROR))
        .await
        .map_err(|e| match e {
            ReadError::Timeout(t) => KeyStepError::Timeout(t.as_secs()),
            ReadError::Closed | ReadError::Lost(_) => KeyStepError::Closed { during },
            ReadError::Malformed(e) => KeyStepError::Protocol(e.to_string()),
            ReadError::Refused(msg) => match KeyError::from_message(&msg) {
                Ok(err) => KeyStepError::Refused {
                    reason: err.reason,
                    message: err.message,
                },
                Err(e) => KeyStepError::Protocol(e.to_string()),
            },
        })
}

/// Run the key step with a given client key (tests and load generators share one key).
///
/// # Errors
/// [`KeyStepError`].
pub async fn run_key_step_with(
    folder: &ClientFolder,
    client_key: &PrivateKey,
    opts: KeyStepOptions,
) -> Result<KeyStepOutcome, KeyStepError> {
    let t = opts.trace;
    let who = folder.program.as_str();
    let addr = folder.key_addr();
    let username = folder.config.username.clone();
    let stream = crate::net::connect(&addr, opts.timeout)
        .await
        .map_err(|source| KeyStepError::Unreachable {
            addr: addr.clone(),
            port: folder.config.key_port,
            source,
        })?;
    let (r, w) = stream.into_split();
    let mut reader = FrameReader::new(r);
    let mut writer = FrameWriter::new(w);
    let send_err = |_| KeyStepError::Closed {
        during: "while we were sending",
    };

    // 1. Hello: the server's key, checked against the pinned one. The chat server's hello
    // instead means key_port points at the chat server.
    let first = next_message(&mut reader, &opts, "before its hello").await?;
    if first.code == code::HELLO {
        return Err(KeyStepError::WrongServer(
            folder.wrong_port(PortKey::KeyPort),
        ));
    }
    let hello =
        KeyHello::from_message(&first).map_err(|e| KeyStepError::Protocol(e.to_string()))?;
    let server_key = PublicKey::from_der(&hello.server_pub)
        .map_err(|e| KeyStepError::Protocol(e.to_string()))?;
    let server_fp = server_key.fingerprint();
    // A weak server key would make every signature worthless; MAX_SERVER_RSA_BITS bounds
    // verification cost.
    if !(crate::protocol::consts::MIN_RSA_BITS..=MAX_SERVER_RSA_BITS).contains(&server_key.bits()) {
        return Err(KeyStepError::Protocol(format!(
            "the server's RSA key has {} bits; refusing keys outside {}..={MAX_SERVER_RSA_BITS}",
            server_key.bits(),
            crate::protocol::consts::MIN_RSA_BITS
        )));
    }
    t.step(
        who,
        format_args!(
            "1. connected to {addr}; server key {server_fp}, server nonce {}",
            hex::encode(hello.server_nonce)
        ),
    );
    let pin_path = folder.server_key_path();
    let pinned = match PublicKey::load(&pin_path) {
        Ok(k) => Some(k),
        Err(crate::error::KeyFileError::Missing { .. }) => None,
        Err(e) => return Err(crate::Error::from(e).into()),
    };
    if let Some(pinned) = &pinned {
        if *pinned != server_key {
            return Err(KeyStepError::ServerKeyMismatch {
                addr,
                got: server_fp,
                pinned: pinned.fingerprint(),
                path: pin_path.display().to_string(),
            });
        }
        t.step(
            who,
            format_args!("   matches the pinned key in {}", pin_path.display()),
        );
    }

    // 2. Signed request.
    let client_pub = client_key.public_key();
    let transcript = Transcript {
        username: username.clone(),
        client_fingerprint: client_pub.fingerprint(),
        server_fingerprint: server_fp.clone(),
        server_nonce: hello.server_nonce,
        client_nonce: random::bytes::<NONCE_LEN>(),
    };
    let key = client_key.clone();
    let to_sign = transcript.request_bytes();
    let signature = tokio::task::spawn_blocking(move || key.sign(&to_sign))
        .await
        .map_err(|e| crate::Error::Io(std::io::Error::other(e)))?;
    let req = KeyRequest {
        username: username.clone(),
        client_pub: client_pub.to_der(),
        client_nonce: transcript.client_nonce,
        signature,
    };
    t.step(
        who,
        format_args!(
            "2. send request for {username}: client key {}, client nonce {}, signature {}",
            transcript.client_fingerprint,
            hex::encode(transcript.client_nonce),
            hex::encode(&req.signature)
        ),
    );
    writer
        .write_frame(req.to_text().as_bytes())
        .await
        .map_err(send_err)?;

    // 3. The envelope: verify the signature over the whole transcript first, then open it.
    let env = KeyEnvelope::from_message(
        &next_message(&mut reader, &opts, "before sending the envelope").await?,
    )
    .map_err(|e| KeyStepError::Protocol(e.to_string()))?;
    let arrived = time::OffsetDateTime::now_utc();
    t.step(
        who,
        format_args!(
            "3. envelope {} (issued {}, expires {})",
            env.key_id, env.issued_at, env.expires_at
        ),
    );
    t.step(
        who,
        format_args!(
            "   E_k(session material), DES-CBC, IV {}: {}",
            hex::encode(env.envelope.iv),
            hex_blocks(&env.envelope.sealed)
        ),
    );
    t.step(
        who,
        format_args!(
            "   RSA-OAEP(our key, k): {}",
            hex::encode(&env.envelope.wrapped_key)
        ),
    );
    t.step(
        who,
        format_args!("   signature: {}", hex::encode(&env.signature)),
    );
    server_key
        .verify(&transcript.envelope_bytes(&env), &env.signature)
        .map_err(|_| KeyStepError::BadSignature {
            server: server_fp.clone(),
        })?;
    t.step(
        who,
        format_args!(
            "   signature over username, both keys, both nonces, key id, expiry and envelope: VALID"
        ),
    );
    let session = env
        .envelope
        .open(client_key, &username, &env.key_id, &env.expires_at)
        .map_err(|_| KeyStepError::BadEnvelope)?;
    t.step(
        who,
        format_args!(
            "   envelope opened: k unwrapped with our private key, session material decrypted"
        ),
    );
    t.secret(who, "   DES working key wk", &session.des.to_hex());
    t.secret(who, "   HMAC key", &session.mac_key_hex());

    // 4. Stage the files, confirm, wait for done, then put the files in place. Staging comes
    //    first: once server_key has the confirmation it replaces its copy of the key, so a key
    //    we then failed to store (full disk, read-only folder) would leave this folder with a
    //    key the server no longer accepts. A staging failure aborts with nothing confirmed.
    let confirm = KeyConfirm {
        key_id: env.key_id.clone(),
        mac: mac::hmac_sha256(&*session.mac_key, &[&transcript.confirm_bytes(&env)]),
    };
    let pinned_now = pinned.is_none();
    // issued_at is signed, so the offset is the key server's word, not an attacker's.
    let issued =
        crate::crypto::session::parse_time(&env.issued_at).map_err(KeyStepError::Protocol)?;
    let clock_offset = ClockOffset::measure(issued, arrived);
    if clock_offset.noticeable() {
        t.step(
            who,
            format_args!(
                "   this computer's clock differs from the key server's by {} s",
                -clock_offset.0
            ),
        );
    }
    let file = KeyFile {
        key: session,
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: server_fp.clone(),
        client_fingerprint: transcript.client_fingerprint.clone(),
        clock_offset_secs: Some(clock_offset.0),
    };
    let key_path = folder.session_key_path();
    let stage = |path: &std::path::Path, data: &[u8], secret: bool| {
        crate::fsutil::Staged::write(path, data, secret).map_err(|source| {
            KeyStepError::CannotStore {
                path: path.display().to_string(),
                source,
            }
        })
    };
    let staged_key = stage(&key_path, file.to_toml().as_bytes(), true)?;
    let staged_pin = if pinned_now {
        Some(stage(&pin_path, server_key.to_pem().as_bytes(), false)?)
    } else {
        None
    };
    writer
        .write_frame(confirm.to_text().as_bytes())
        .await
        .map_err(send_err)?;
    let done = match next_message(&mut reader, &opts, "before confirming the key").await {
        Ok(m) => KeyDone::from_message(&m).map_err(|e| KeyStepError::Protocol(e.to_string()))?,
        Err(KeyStepError::Closed { .. } | KeyStepError::Timeout(_)) => {
            return Err(KeyStepError::Unconfirmed);
        }
        Err(e) => return Err(e),
    };
    // Only the server that stored the new key can MAC this "done"; a forged one (say, after an
    // attacker dropped our confirmation, so the server kept the old key) is not success.
    if done.key_id != env.key_id
        || mac::verify_hmac_sha256(
            &*file.key.mac_key,
            &[&transcript.done_bytes(&env)],
            &done.mac,
        )
        .is_err()
    {
        return Err(KeyStepError::Unconfirmed);
    }
    let placed = |path: &std::path::Path, r: std::io::Result<()>| {
        r.map_err(|source| {
            crate::Error::from(crate::error::KeyFileError::Write {
                path: path.to_path_buf(),
                source,
            })
        })
    };
    if let Some(pin) = staged_pin {
        placed(&pin_path, pin.commit())?;
        t.step(
            who,
            format_args!(
                "   trusting server key {server_fp} on first use; pinned in {}",
                pin_path.display()
            ),
        );
    }
    placed(&key_path, staged_key.commit())?;
    t.step(
        who,
        format_args!(
            "4. confirmed; stored {}",
            folder.session_key_path().display()
        ),
    );
    Ok(KeyStepOutcome {
        key_id: env.key_id,
        expires_at: env.expires_at,
        server_fingerprint: server_fp,
        client_fingerprint: transcript.client_fingerprint,
        pinned_now,
        client_key_created: false,
        clock_offset,
    })
}
