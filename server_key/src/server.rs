//! The key-distribution server: accept loop and one handshake per connection.
//!
//! Each connection runs in its own task with a deadline on every read, so a client that sends
//! nothing, sends garbage or disappears half-way costs one task for at most
//! [`HANDSHAKE_TIMEOUT_SECS`] and affects nobody else. The one expensive step, the RSA signature,
//! runs on the blocking pool so the accept loop never waits for it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::config::{Registration, ServerKeyConfig, SessionTtl};
use common::connection::{self, FrameReader, FrameWriter, ReadError};
use common::crypto::session::{format_time, now_whole_seconds};
use common::crypto::{PrivateKey, PublicKey, SessionKey, mac, random};
use common::keyfile::KeyFile;
use common::net::{ServeOptions, serve};
use common::protocol::Reason;
use common::protocol::consts::{
    HANDSHAKE_TIMEOUT_SECS, MAX_CLIENT_RSA_BITS, MAX_KEY_CLIENTS, MIN_CLIENT_RSA_BITS, NONCE_LEN,
    PROTOCOL_VERSION,
};
use common::protocol::keydist::{
    KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript,
};
use common::protocol::material::seal_session;
use common::protocol::{RawMessage, check_username};
use common::trace::{Trace, hex_blocks};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::keystore::{BindingError, KeyStore};
use crate::limits::Limits;

/// How long shutdown waits for the handshakes in progress (each is bounded by its read deadlines).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the handshakes share.
#[derive(Debug)]
pub struct KeyServer {
    pub store: KeyStore,
    identity: Arc<PrivateKey>,
    identity_der: Vec<u8>,
    pub fingerprint: String,
    pub registration: Registration,
    pub ttl: time::Duration,
    pub trace: Trace,
    pub handshake_timeout: Duration,
    pub max_connections: usize,
    /// The chat server's user list ([`common::userlist`]). In `tofu` mode a username not in it
    /// gets no key; `None` (or a missing file) means any valid username may be claimed.
    pub user_list: Option<std::path::PathBuf>,
    /// Private-key operations allowed to run at once: one per core. With more, K concurrent
    /// handshakes' signatures preempt each other on the blocking pool and each costs ~1.3x its
    /// CPU time (cache refills; docs/BENCHMARKS.md); queued handshakes wait here instead.
    signers: Semaphore,
    /// Per-address and per-username budgets checked before signing.
    pub limits: Limits,
    next_conn: AtomicU64,
}

impl KeyServer {
    pub fn new(
        store: KeyStore,
        identity: PrivateKey,
        registration: Registration,
        ttl: SessionTtl,
        trace: Trace,
    ) -> Self {
        let public = identity.public_key();
        Self {
            store,
            identity_der: public.to_der(),
            fingerprint: public.fingerprint(),
            identity: Arc::new(identity),
            registration,
            // At most 366 days (SessionTtl's bound): expiry arithmetic cannot overflow.
            ttl: time::Duration::seconds(ttl.get().as_secs() as i64),
            trace,
            handshake_timeout: Duration::from_secs(HANDSHAKE_TIMEOUT_SECS),
            max_connections: MAX_KEY_CLIENTS,
            user_list: None,
            signers: Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            limits: Limits::from_config(&ServerKeyConfig::default()),
            next_conn: AtomicU64::new(1),
        }
    }
}

impl KeyServer {
    /// In `tofu` mode, refuse a username the chat server does not know (its user list file).
    /// Strict mode needs no list: only keys the operator registered are accepted.
    fn check_listed(&self, user: &str) -> Result<(), Refusal> {
        let Some(path) = self.user_list.as_deref() else {
            return Ok(());
        };
        if self.registration != Registration::Tofu {
            return Ok(());
        }
        match common::userlist::load(path) {
            Ok(Some(names)) if names.contains(user) => Ok(()),
            Ok(Some(_)) => Err(refuse(
                Reason::NotAUser,
                format!(
                    "{user} is not a user of the chat server, so no key is given for it; check \
                     username in client.toml, or ask the teacher to add the user \
                     (`server user add` / `server user import`)"
                ),
            )),
            Ok(None) => {
                warn!(
                    list = %path.display(),
                    user,
                    "no user list from the chat server yet: any username can be claimed (start `server` once to write it)"
                );
                Ok(())
            }
            Err(e) => {
                warn!(list = %path.display(), error = %e, "cannot read the user list");
                Err(refuse(
                    Reason::Internal,
                    "the key server cannot read the chat server's user list",
                ))
            }
        }
    }
}

/// A refusal sent to the client as `1109|reason|message`.
#[derive(Debug)]
struct Refusal {
    reason: Reason,
    message: String,
}

fn refuse(reason: Reason, message: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        message: message.into(),
    }
}

/// Serve until `shutdown` completes, then wait (briefly) for the handshakes in progress.
pub async fn run(listener: TcpListener, server: Arc<KeyServer>, shutdown: impl Future) {
    let opts = ServeOptions {
        max_connections: server.max_connections,
        refusal: KeyError::new(
            Reason::Busy,
            "the key server is busy; try again in a few seconds",
        )
        .to_text()
        .into_bytes(),
    };
    let in_flight = serve(listener, opts, shutdown, move |stream, peer| {
        let server = server.clone();
        async move { handle(stream, peer, &server).await }
    })
    .await;
    in_flight.wait(SHUTDOWN_GRACE).await;
}

async fn handle(stream: TcpStream, peer: SocketAddr, server: &KeyServer) {
    let id = server.next_conn.fetch_add(1, Ordering::Relaxed);
    let who = format!("server_key#{id}");
    let (r, w) = stream.into_split();
    let mut reader = FrameReader::new(r);
    let mut writer = FrameWriter::new(w);
    match exchange(&mut reader, &mut writer, server, &who, peer).await {
        Ok(user) => info!(%peer, user, "session key distributed"),
        Err(refusal) => {
            warn!(%peer, reason = %refusal.reason, message = %refusal.message, "key request refused");
            server.trace.step(
                &who,
                format_args!("refused: {} - {}", refusal.reason, refusal.message),
            );
            let _ = writer
                .write_frame(
                    KeyError::new(refusal.reason, refusal.message)
                        .to_text()
                        .as_bytes(),
                )
                .await;
        }
    }
    writer.shutdown().await;
}

async fn read_message(
    reader: &mut FrameReader<tokio::net::tcp::OwnedReadHalf>,
    server: &KeyServer,
    what: &str,
) -> Result<RawMessage, Refusal> {
    connection::read_message(reader, server.handshake_timeout, None)
        .await
        .map_err(|e| match e {
            ReadError::Timeout(t) => refuse(
                Reason::Timeout,
                format!("no {what} within {} s", t.as_secs()),
            ),
            ReadError::Closed => refuse(
                Reason::BadRequest,
                format!("connection closed before the {what}"),
            ),
            other => refuse(Reason::BadRequest, format!("bad {what}: {other}")),
        })
}

async fn exchange(
    reader: &mut FrameReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
    server: &KeyServer,
    who: &str,
    peer: SocketAddr,
) -> Result<String, Refusal> {
    let t = server.trace;
    // 1. Hello: our public key and a fresh nonce.
    let server_nonce = random::bytes::<NONCE_LEN>();
    let hello = KeyHello {
        version: PROTOCOL_VERSION,
        server_pub: server.identity_der.clone(),
        server_nonce,
    };
    t.step(
        who,
        format_args!(
            "1. send hello: server key {} + server nonce {}",
            server.fingerprint,
            hex::encode(server_nonce)
        ),
    );
    writer
        .write_frame(hello.to_text().as_bytes())
        .await
        .map_err(|e| refuse(Reason::BadRequest, format!("cannot send hello: {e}")))?;

    // 2. The client's signed request.
    let msg = read_message(reader, server, "key request").await?;
    let req =
        KeyRequest::from_message(&msg).map_err(|e| refuse(Reason::BadRequest, e.to_string()))?;
    check_username(&req.username).map_err(|e| refuse(Reason::BadRequest, e))?;
    let client_key = PublicKey::from_der(&req.client_pub)
        .map_err(|e| refuse(Reason::BadRequest, format!("client public key: {e}")))?;
    let bits = client_key.bits();
    if !(MIN_CLIENT_RSA_BITS..=MAX_CLIENT_RSA_BITS).contains(&bits) {
        return Err(refuse(
            Reason::KeySize,
            format!(
                "client key has {bits} bits; {MIN_CLIENT_RSA_BITS} to {MAX_CLIENT_RSA_BITS} are accepted"
            ),
        ));
    }
    let transcript = Transcript {
        username: req.username.clone(),
        client_fingerprint: client_key.fingerprint(),
        server_fingerprint: server.fingerprint.clone(),
        server_nonce,
        client_nonce: req.client_nonce,
    };
    t.step(
        who,
        format_args!(
            "2. request from {}: client key {} ({bits} bits), client nonce {}",
            req.username,
            transcript.client_fingerprint,
            hex::encode(req.client_nonce)
        ),
    );
    client_key
        .verify(&transcript.request_bytes(), &req.signature)
        .map_err(|_| {
            refuse(
                Reason::BadSignature,
                "the request's signature does not verify with the client key it carries",
            )
        })?;
    t.step(
        who,
        format_args!("   client signature over the request: valid"),
    );
    // Held until the signature is made: bounds this address's exchanges in the expensive step.
    let slot = server
        .limits
        .admit_address(peer.ip())
        .map_err(|m| refuse(Reason::Busy, m))?;
    server.check_listed(&req.username)?;
    let newly_bound = server
        .store
        .check_binding(&req.username, &client_key, server.registration)
        .map_err(|e| match e {
            // The details (with the bound key's fingerprint) go to the operator's log only.
            // Strict mode gives one answer whether or not the name has a key (issue 14, item
            // 6): a client learns only that its key is not the registered one.
            BindingError::Mismatch { .. } | BindingError::Unknown { .. } => {
                warn!(user = req.username, "key request refused: {e}");
                match server.registration {
                    Registration::Strict => refuse(
                        Reason::UnknownClient,
                        format!(
                            "this client key is not the one registered for {} (registration = \"strict\"); \
                             ask the teacher to register it",
                            req.username
                        ),
                    ),
                    Registration::Tofu => refuse(
                        Reason::ClientKeyMismatch,
                        format!(
                            "{} is bound to another client key; if this client folder was re-created, \
                             ask the teacher to run `server_key clients revoke {}`",
                            req.username, req.username
                        ),
                    ),
                }
            }
            BindingError::BadUsername(m) => refuse(Reason::BadRequest, m),
            BindingError::Store(e) => {
                warn!(error = %e, "binding store failed");
                refuse(
                    Reason::Internal,
                    "the key server could not read or write its key folder",
                )
            }
        })?;
    if newly_bound {
        info!(
            user = req.username,
            fingerprint = transcript.client_fingerprint,
            "client key bound on first use"
        );
        t.step(
            who,
            format_args!(
                "   bound {} to {} (trust on first use)",
                req.username, transcript.client_fingerprint
            ),
        );
    }

    server
        .limits
        .admit_user(&req.username)
        .map_err(|m| refuse(Reason::Busy, m))?;

    // 3. The envelope: session key under a one-time DES key, that key under the client's RSA key,
    //    everything signed. The signature is the one expensive step: blocking pool.
    let session = SessionKey::generate(&req.username, server.ttl);
    let identity = server.identity.clone();
    let tr = transcript.clone();
    let signer = server
        .signers
        .acquire()
        .await
        .map_err(|_| refuse(Reason::Internal, "server_key is shutting down"))?;
    let signed = tokio::task::spawn_blocking(move || -> Result<_, Refusal> {
        let (envelope, one_time) = seal_session(&client_key, &session)
            .map_err(|e| refuse(Reason::Internal, format!("cannot seal envelope: {e}")))?;
        let mut env = KeyEnvelope {
            key_id: session.key_id.clone(),
            expires_at: session.expires_rfc3339(),
            issued_at: format_time(now_whole_seconds()),
            envelope,
            signature: Vec::new(),
        };
        env.signature = identity.sign(&tr.envelope_bytes(&env));
        Ok((env, session, one_time))
    })
    .await;
    drop(signer); // before any network I/O: the permit covers the signing only
    drop(slot);
    let (env_msg, session, one_time) =
        signed.map_err(|e| refuse(Reason::Internal, format!("signing task failed: {e}")))??;
    t.step(
        who,
        format_args!(
            "3. session key {} generated, expires {}",
            session.key_id,
            session.expires_rfc3339()
        ),
    );
    t.secret(who, "   DES working key wk", &session.des.to_hex());
    t.secret(who, "   HMAC key", &session.mac_key_hex());
    t.secret(
        who,
        "   one-time key k (fresh from the CSPRNG for this envelope only)",
        &one_time.to_hex(),
    );
    drop(one_time);
    t.step(
        who,
        format_args!(
            "   E_k(session material), DES-CBC, IV {}: {}",
            hex::encode(env_msg.envelope.iv),
            hex_blocks(&env_msg.envelope.sealed)
        ),
    );
    t.step(
        who,
        format_args!(
            "   RSA-OAEP(client key, k): {}",
            hex::encode(&env_msg.envelope.wrapped_key)
        ),
    );
    t.step(
        who,
        format_args!(
            "   RSA-SHA256 signature over the whole transcript: {}",
            hex::encode(&env_msg.signature)
        ),
    );
    writer
        .write_frame(env_msg.to_text().as_bytes())
        .await
        .map_err(|e| refuse(Reason::BadRequest, format!("cannot send envelope: {e}")))?;

    // 4. Key confirmation: the client proves it opened the envelope before anything is stored.
    let msg = read_message(reader, server, "key confirmation").await?;
    let confirm =
        KeyConfirm::from_message(&msg).map_err(|e| refuse(Reason::BadRequest, e.to_string()))?;
    if confirm.key_id != session.key_id
        || mac::verify_hmac_sha256(
            &*session.mac_key,
            &[&transcript.confirm_bytes(&env_msg)],
            &confirm.mac,
        )
        .is_err()
    {
        return Err(refuse(
            Reason::BadConfirm,
            "key confirmation does not match this envelope",
        ));
    }
    t.step(
        who,
        format_args!(
            "4. client confirmed key {} (HMAC over the transcript: valid)",
            session.key_id
        ),
    );
    // Made before the key moves into the file: only a holder of the new MAC key can say "done".
    let done = KeyDone {
        key_id: session.key_id.clone(),
        mac: mac::hmac_sha256(&*session.mac_key, &[&transcript.done_bytes(&env_msg)]),
    };
    let file = KeyFile {
        key: session,
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: server.fingerprint.clone(),
        client_fingerprint: transcript.client_fingerprint.clone(),
        clock_offset_secs: None,
    };
    let path = server.store.session_path(&req.username);
    file.save(&path).map_err(|e| {
        warn!(error = %e, "cannot store session key");
        refuse(
            Reason::Internal,
            "the key server could not store the session key; the previous key is still valid",
        )
    })?;
    t.step(
        who,
        format_args!("5. stored {} and sent done", path.display()),
    );
    writer
        .write_frame(done.to_text().as_bytes())
        .await
        .map_err(|e| refuse(Reason::BadRequest, format!("cannot send done: {e}")))?;
    Ok(req.username)
}
