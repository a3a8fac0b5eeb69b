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
use common::crypto::{DesKey, PrivateKey, PublicKey, SessionKey, mac, random};
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

/// One key exchange, step by step (PROTOCOL.md §5.1); each step returns what the next needs.
async fn exchange(
    reader: &mut FrameReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
    server: &KeyServer,
    who: &str,
    peer: SocketAddr,
) -> Result<String, Refusal> {
    let server_nonce = send_hello(writer, server, who).await?;
    let msg = read_message(reader, server, "key request").await?;
    let request = check_request(&msg, server, server_nonce, who)?;
    // Held until the signature is made: bounds this address's exchanges in the expensive step.
    let slot = server
        .limits
        .admit_address(peer.ip())
        .map_err(|m| refuse(Reason::Busy, m))?;
    admit(server, &request, who)?;
    let signed = make_envelope(server, &request).await;
    drop(slot);
    let (envelope, session) = signed?;
    trace_envelope(server.trace, who, &envelope, &session);
    writer
        .write_frame(envelope.message.to_text().as_bytes())
        .await
        .map_err(|e| refuse(Reason::BadRequest, format!("cannot send envelope: {e}")))?;
    let msg = read_message(reader, server, "key confirmation").await?;
    let done = confirm_and_store(&msg, server, &request, &envelope.message, session, who)?;
    writer
        .write_frame(done.to_text().as_bytes())
        .await
        .map_err(|e| refuse(Reason::BadRequest, format!("cannot send done: {e}")))?;
    Ok(request.username)
}

/// Step 1, hello: our public key and a fresh nonce.
async fn send_hello(
    writer: &mut FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
    server: &KeyServer,
    who: &str,
) -> Result<[u8; NONCE_LEN], Refusal> {
    let server_nonce = random::bytes::<NONCE_LEN>();
    let hello = KeyHello {
        version: PROTOCOL_VERSION,
        server_pub: server.identity_der.clone(),
        server_nonce,
    };
    server.trace.step(
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
    Ok(server_nonce)
}

/// A request whose form, key size and signature are good.
struct CheckedRequest {
    username: String,
    client_key: PublicKey,
    transcript: Transcript,
}

/// Step 2: the client's signed request: form, username, key size, then its signature.
fn check_request(
    msg: &RawMessage,
    server: &KeyServer,
    server_nonce: [u8; NONCE_LEN],
    who: &str,
) -> Result<CheckedRequest, Refusal> {
    let req =
        KeyRequest::from_message(msg).map_err(|e| refuse(Reason::BadRequest, e.to_string()))?;
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
    let t = server.trace;
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
    Ok(CheckedRequest {
        username: req.username,
        client_key,
        transcript,
    })
}

/// Step 2b: the username may have a key (user list, binding) and a key now (per-user limit).
fn admit(server: &KeyServer, request: &CheckedRequest, who: &str) -> Result<(), Refusal> {
    let user = &request.username;
    server.check_listed(user)?;
    let newly_bound = server
        .store
        .check_binding(user, &request.client_key, server.registration)
        .map_err(|e| binding_refusal(e, user, server.registration))?;
    if newly_bound {
        let fp = &request.transcript.client_fingerprint;
        info!(user, fingerprint = fp, "client key bound on first use");
        server.trace.step(
            who,
            format_args!("   bound {user} to {fp} (trust on first use)"),
        );
    }
    server
        .limits
        .admit_user(user)
        .map_err(|m| refuse(Reason::Busy, m))
}

/// What a failed binding check tells the client. The details (with the bound key's fingerprint)
/// go to the operator's log only; strict mode gives one answer whether or not the name has a key
/// (issue 14, item 6): a client learns only that its key is not the registered one.
fn binding_refusal(e: BindingError, user: &str, registration: Registration) -> Refusal {
    match e {
        BindingError::Mismatch { .. } | BindingError::Unknown { .. } => {
            warn!(user, "key request refused: {e}");
            match registration {
                Registration::Strict => refuse(
                    Reason::UnknownClient,
                    format!(
                        "this client key is not the one registered for {user} (registration = \"strict\"); \
                         ask the teacher to register it"
                    ),
                ),
                Registration::Tofu => refuse(
                    Reason::ClientKeyMismatch,
                    format!(
                        "{user} is bound to another client key; if this client folder was re-created, \
                         ask the teacher to run `server_key clients revoke {user}`"
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
    }
}

/// The signed envelope and, for the trace only, the one-time key it was sealed with.
struct SignedEnvelope {
    message: KeyEnvelope,
    one_time: DesKey,
}

/// Step 3: a new session key under a one-time DES key, that key under the client's RSA key,
/// everything signed. The signature is the one expensive step: on the blocking pool, one of
/// `signers` at a time.
async fn make_envelope(
    server: &KeyServer,
    request: &CheckedRequest,
) -> Result<(SignedEnvelope, SessionKey), Refusal> {
    let session = SessionKey::generate(&request.username, server.ttl);
    let identity = server.identity.clone();
    let (tr, client_key) = (request.transcript.clone(), request.client_key.clone());
    let _signer = server
        .signers
        .acquire()
        .await
        .map_err(|_| refuse(Reason::Internal, "server_key is shutting down"))?;
    tokio::task::spawn_blocking(move || -> Result<_, Refusal> {
        let (envelope, one_time) = seal_session(&client_key, &session)
            .map_err(|e| refuse(Reason::Internal, format!("cannot seal envelope: {e}")))?;
        let mut message = KeyEnvelope {
            key_id: session.key_id.clone(),
            expires_at: session.expires_rfc3339(),
            issued_at: format_time(now_whole_seconds()),
            envelope,
            signature: Vec::new(),
        };
        message.signature = identity.sign(&tr.envelope_bytes(&message));
        Ok((SignedEnvelope { message, one_time }, session))
    })
    .await
    .map_err(|e| refuse(Reason::Internal, format!("signing task failed: {e}")))?
}

fn trace_envelope(t: Trace, who: &str, env: &SignedEnvelope, session: &SessionKey) {
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
        &env.one_time.to_hex(),
    );
    let m = &env.message;
    t.step(
        who,
        format_args!(
            "   E_k(session material), DES-CBC, IV {}: {}",
            hex::encode(m.envelope.iv),
            hex_blocks(&m.envelope.sealed)
        ),
    );
    t.step(
        who,
        format_args!(
            "   RSA-OAEP(client key, k): {}",
            hex::encode(&m.envelope.wrapped_key)
        ),
    );
    t.step(
        who,
        format_args!(
            "   RSA-SHA256 signature over the whole transcript: {}",
            hex::encode(&m.signature)
        ),
    );
}

/// Step 4: the client proves it opened the envelope; only then is the key stored, and the
/// "done" (made with the new MAC key: only its holder can say it) returned for sending.
fn confirm_and_store(
    msg: &RawMessage,
    server: &KeyServer,
    request: &CheckedRequest,
    env: &KeyEnvelope,
    session: SessionKey,
    who: &str,
) -> Result<KeyDone, Refusal> {
    let transcript = &request.transcript;
    let confirm =
        KeyConfirm::from_message(msg).map_err(|e| refuse(Reason::BadRequest, e.to_string()))?;
    if confirm.key_id != session.key_id
        || mac::verify_hmac_sha256(
            &*session.mac_key,
            &[&transcript.confirm_bytes(env)],
            &confirm.mac,
        )
        .is_err()
    {
        return Err(refuse(
            Reason::BadConfirm,
            "key confirmation does not match this envelope",
        ));
    }
    let t = server.trace;
    t.step(
        who,
        format_args!(
            "4. client confirmed key {} (HMAC over the transcript: valid)",
            session.key_id
        ),
    );
    let done = KeyDone {
        key_id: session.key_id.clone(),
        mac: mac::hmac_sha256(&*session.mac_key, &[&transcript.done_bytes(env)]),
    };
    let file = KeyFile {
        key: session,
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: server.fingerprint.clone(),
        client_fingerprint: transcript.client_fingerprint.clone(),
        clock_offset_secs: None,
    };
    let path = server.store.session_path(&request.username);
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
    Ok(done)
}
