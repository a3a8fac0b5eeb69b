//! The key step (`client_xx key`): fetch a DES session key from server_key in a signed digital
//! envelope, verify everything, and store it in `session_key.txt`.
//!
//! The server's identity is pinned: `server_public.pem` in the client folder when present
//! (copied there by the teacher or by `scripts/dist.sh`), otherwise the first key met is trusted
//! and pinned (trust on first use). A different key later is refused, naming both fingerprints.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::client::clock::ClockOffset;
use crate::client::folder::{ClientFolder, PortKey};
use crate::client::key_events::{
    KeyStepEvent, KeyStepObserver, OpenedSecrets, PinCheck, TraceObserver,
};
use crate::connection::{FrameReader, FrameWriter, ReadError, read_message};
use crate::crypto::{PrivateKey, PublicKey, mac, random};
use crate::keyfile::KeyFile;
use crate::protocol::consts::{DEFAULT_RSA_BITS, MAX_SERVER_RSA_BITS, NONCE_LEN, code};
use crate::protocol::keydist::{
    KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript,
};
use crate::protocol::message::RawMessage;
use crate::trace::Trace;

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
    /// `server_host = "auto"` found no server to use.
    #[error("{0}")]
    Discovery(#[from] crate::client::discover::DiscoveryError),
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
    /// What `server_host = "auto"` found (`None`: the host was set by hand).
    pub discovered: Option<crate::client::discover::Discovered>,
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

/// Run the key step with the folder's own client key, traced per `opts.trace`.
///
/// # Errors
/// [`KeyStepError`]; on any error nothing in the folder changes except a newly created client key.
pub async fn run_key_step(
    folder: &ClientFolder,
    opts: KeyStepOptions,
) -> Result<KeyStepOutcome, KeyStepError> {
    let mut trace = TraceObserver {
        trace: opts.trace,
        who: folder.program.clone(),
    };
    run_key_step_observed(folder, opts, &mut trace).await
}

/// [`run_key_step`], reporting each step to `observer` (the GUI's key-step view).
///
/// # Errors
/// [`KeyStepError`], as [`run_key_step`].
pub async fn run_key_step_observed(
    folder: &ClientFolder,
    opts: KeyStepOptions,
    observer: &mut dyn KeyStepObserver,
) -> Result<KeyStepOutcome, KeyStepError> {
    let (client_key, created) = load_or_create_client_key(folder, opts.client_rsa_bits).await?;
    if created {
        observer.event(&KeyStepEvent::ClientKeyCreated {
            path: folder.private_key_path(),
            fingerprint: client_key.public_key().fingerprint(),
        });
    }
    let mut outcome = exchange(folder, &client_key, opts, observer).await?;
    outcome.client_key_created = created;
    Ok(outcome)
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
    let mut trace = TraceObserver {
        trace: opts.trace,
        who: folder.program.clone(),
    };
    exchange(folder, client_key, opts, &mut trace).await
}

/// The connection to server_key.
struct Conn {
    reader: FrameReader<tokio::net::tcp::OwnedReadHalf>,
    writer: FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
    timeout: Duration,
}

impl Conn {
    async fn open(folder: &ClientFolder, timeout: Duration) -> Result<Self, KeyStepError> {
        let addr = folder.key_addr();
        let stream = crate::net::connect(&addr, timeout)
            .await
            .map_err(|source| KeyStepError::Unreachable {
                addr,
                port: folder.config.key_port,
                source,
            })?;
        let (r, w) = stream.into_split();
        Ok(Self {
            reader: FrameReader::new(r),
            writer: FrameWriter::new(w),
            timeout,
        })
    }

    /// The next message; a `1109` becomes [`KeyStepError::Refused`].
    async fn next(&mut self, during: &'static str) -> Result<RawMessage, KeyStepError> {
        read_message(&mut self.reader, self.timeout, Some(code::KEY_ERROR))
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

    async fn send(&mut self, text: &str) -> Result<(), KeyStepError> {
        self.writer
            .write_frame(text.as_bytes())
            .await
            .map_err(|_| KeyStepError::Closed {
                during: "while we were sending",
            })
    }
}

fn protocol_error(e: impl std::fmt::Display) -> KeyStepError {
    KeyStepError::Protocol(e.to_string())
}

/// The server as step 1 met it.
struct MetServer {
    key: PublicKey,
    fingerprint: String,
    nonce: [u8; NONCE_LEN],
    /// `None`: nothing pinned yet (trust on first use).
    pinned: Option<PublicKey>,
}

/// The four steps, each a function that returns what the next needs.
async fn exchange(
    folder: &ClientFolder,
    client_key: &PrivateKey,
    opts: KeyStepOptions,
    observer: &mut dyn KeyStepObserver,
) -> Result<KeyStepOutcome, KeyStepError> {
    // Discovery counts only answers with the pinned key's fingerprint; the hello below still
    // checks the key the server actually presents.
    let pin = crate::client::discover::pinned_fingerprint(folder)?;
    let resolved = crate::client::discover::resolve(folder, pin.as_deref()).await?;
    let folder = &resolved.folder;
    let mut conn = Conn::open(folder, opts.timeout).await?;
    let server = hello(&mut conn, folder, observer).await?;
    let transcript = request(&mut conn, folder, client_key, &server, observer).await?;
    let envelope = receive_envelope(&mut conn, observer).await?;
    let arrived = time::OffsetDateTime::now_utc();
    let opened = verify_and_open(envelope, &transcript, &server, client_key, observer)?;
    let issued = crate::crypto::session::parse_time(&opened.envelope.issued_at)
        .map_err(KeyStepError::Protocol)?;
    let clock_offset = ClockOffset::measure(issued, arrived);
    observer.event(&KeyStepEvent::Clock(clock_offset));
    let mut outcome = confirm_and_store(
        &mut conn,
        folder,
        &server,
        &transcript,
        opened,
        clock_offset,
        observer,
    )
    .await?;
    outcome.discovered = resolved.discovered;
    Ok(outcome)
}

/// Step 1, hello: the server's key, checked against the pinned one. The chat server's hello
/// instead means key_port points at the chat server.
async fn hello(
    conn: &mut Conn,
    folder: &ClientFolder,
    observer: &mut dyn KeyStepObserver,
) -> Result<MetServer, KeyStepError> {
    let first = conn.next("before its hello").await?;
    if first.code == code::HELLO {
        return Err(KeyStepError::WrongServer(
            folder.wrong_port(PortKey::KeyPort),
        ));
    }
    let hello = KeyHello::from_message(&first).map_err(protocol_error)?;
    let key = PublicKey::from_der(&hello.server_pub).map_err(protocol_error)?;
    let fingerprint = key.fingerprint();
    // A weak server key would make every signature worthless; MAX_SERVER_RSA_BITS bounds
    // verification cost.
    if !(crate::protocol::consts::MIN_RSA_BITS..=MAX_SERVER_RSA_BITS).contains(&key.bits()) {
        return Err(KeyStepError::Protocol(format!(
            "the server's RSA key has {} bits; refusing keys outside {}..={MAX_SERVER_RSA_BITS}",
            key.bits(),
            crate::protocol::consts::MIN_RSA_BITS
        )));
    }
    let pin_path = folder.server_key_path();
    let pinned = match PublicKey::load(&pin_path) {
        Ok(k) => Some(k),
        Err(crate::error::KeyFileError::Missing { .. }) => None,
        Err(e) => return Err(crate::Error::from(e).into()),
    };
    let pin = match &pinned {
        None => PinCheck::FirstUse,
        Some(p) if *p == key => PinCheck::Matches {
            path: pin_path.clone(),
        },
        Some(p) => PinCheck::Differs {
            path: pin_path.clone(),
            pinned: p.fingerprint(),
        },
    };
    observer.event(&KeyStepEvent::Hello {
        addr: folder.key_addr(),
        server_fingerprint: fingerprint.clone(),
        server_nonce: hello.server_nonce,
        pin: pin.clone(),
    });
    if let PinCheck::Differs { pinned, .. } = pin {
        return Err(KeyStepError::ServerKeyMismatch {
            addr: folder.key_addr(),
            got: fingerprint,
            pinned,
            path: pin_path.display().to_string(),
        });
    }
    Ok(MetServer {
        key,
        fingerprint,
        nonce: hello.server_nonce,
        pinned,
    })
}

/// Step 2: the request, signed with the client's key over the transcript so far.
async fn request(
    conn: &mut Conn,
    folder: &ClientFolder,
    client_key: &PrivateKey,
    server: &MetServer,
    observer: &mut dyn KeyStepObserver,
) -> Result<Transcript, KeyStepError> {
    let username = folder.config.username.clone();
    let client_pub = client_key.public_key();
    let transcript = Transcript {
        username: username.clone(),
        client_fingerprint: client_pub.fingerprint(),
        server_fingerprint: server.fingerprint.clone(),
        server_nonce: server.nonce,
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
    observer.event(&KeyStepEvent::Request {
        username,
        client_fingerprint: transcript.client_fingerprint.clone(),
        client_nonce: transcript.client_nonce,
        signature: req.signature.clone(),
    });
    conn.send(&req.to_text()).await?;
    Ok(transcript)
}

/// Step 3a: the envelope as it came (nothing checked but its form).
async fn receive_envelope(
    conn: &mut Conn,
    observer: &mut dyn KeyStepObserver,
) -> Result<KeyEnvelope, KeyStepError> {
    let env = KeyEnvelope::from_message(&conn.next("before sending the envelope").await?)
        .map_err(protocol_error)?;
    observer.event(&KeyStepEvent::Envelope(env.clone()));
    Ok(env)
}

/// An envelope whose signature verified, and what opening it gave.
struct OpenedEnvelope {
    envelope: KeyEnvelope,
    session: crate::crypto::SessionKey,
}

/// Step 3b: verify the signature over the whole transcript, then (only a verified envelope can)
/// open it.
fn verify_and_open(
    env: KeyEnvelope,
    transcript: &Transcript,
    server: &MetServer,
    client_key: &PrivateKey,
    observer: &mut dyn KeyStepObserver,
) -> Result<OpenedEnvelope, KeyStepError> {
    let verified = env
        .verify(&server.key, transcript)
        .map_err(|_| KeyStepError::BadSignature {
            server: server.fingerprint.clone(),
        })?;
    observer.event(&KeyStepEvent::SignatureValid {
        server_fingerprint: server.fingerprint.clone(),
    });
    let opened = verified
        .open(client_key)
        .map_err(|_| KeyStepError::BadEnvelope)?;
    let env = verified.into_envelope();
    observer.event(&KeyStepEvent::Opened(OpenedSecrets {
        one_time_key: Zeroizing::new(opened.one_time_key.to_hex()),
        material: opened.material.clone(),
        des_key: Zeroizing::new(opened.session.des.to_hex()),
        mac_key: opened.session.mac_key_hex(),
        key_id: env.key_id.clone(),
        expires_at: env.expires_at.clone(),
    }));
    Ok(OpenedEnvelope {
        envelope: env,
        session: opened.session,
    })
}

/// Step 4: stage the files, confirm, wait for done, then put the files in place. Staging comes
/// first: once server_key has the confirmation it replaces its copy of the key, so a key we then
/// failed to store (full disk, read-only folder) would leave this folder with a key the server
/// no longer accepts. A staging failure aborts with nothing confirmed.
async fn confirm_and_store(
    conn: &mut Conn,
    folder: &ClientFolder,
    server: &MetServer,
    transcript: &Transcript,
    opened: OpenedEnvelope,
    clock_offset: ClockOffset,
    observer: &mut dyn KeyStepObserver,
) -> Result<KeyStepOutcome, KeyStepError> {
    let OpenedEnvelope {
        envelope: env,
        session,
    } = opened;
    let confirm = KeyConfirm {
        key_id: env.key_id.clone(),
        mac: mac::hmac_sha256(&*session.mac_key, &[&transcript.confirm_bytes(&env)]),
    };
    let file = KeyFile {
        key: session,
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: server.fingerprint.clone(),
        client_fingerprint: transcript.client_fingerprint.clone(),
        clock_offset_secs: Some(clock_offset.0),
    };
    let (key_path, pin_path) = (folder.session_key_path(), folder.server_key_path());
    let stage = |path: &std::path::Path, data: &[u8], secret: bool| {
        crate::fsutil::Staged::write(path, data, secret).map_err(|source| {
            KeyStepError::CannotStore {
                path: path.display().to_string(),
                source,
            }
        })
    };
    let staged_key = stage(&key_path, file.to_toml().as_bytes(), true)?;
    let staged_pin = match server.pinned {
        None => Some(stage(&pin_path, server.key.to_pem().as_bytes(), false)?),
        Some(_) => None,
    };
    conn.send(&confirm.to_text()).await?;
    observer.event(&KeyStepEvent::Confirmed { mac: confirm.mac });
    let done = match conn.next("before confirming the key").await {
        Ok(m) => KeyDone::from_message(&m).map_err(protocol_error)?,
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
    let pinned_now = staged_pin.is_some();
    if let Some(pin) = staged_pin {
        placed(&pin_path, pin.commit())?;
    }
    placed(&key_path, staged_key.commit())?;
    observer.event(&KeyStepEvent::Done {
        key_path,
        pinned_now: pinned_now.then_some(pin_path),
    });
    Ok(KeyStepOutcome {
        key_id: env.key_id,
        expires_at: env.expires_at,
        server_fingerprint: server.fingerprint.clone(),
        client_fingerprint: transcript.client_fingerprint.clone(),
        pinned_now,
        client_key_created: false,
        clock_offset,
        discovered: None,
    })
}
