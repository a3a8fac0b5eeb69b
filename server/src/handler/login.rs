//! Hello, then the login's three steps: read the request's clear part, open it with the key it
//! names and check the password, enter the session (after a first password change if due).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use common::crypto::random;
use common::protocol::Reason;
use common::protocol::chat::{
    ErrorMsg, Hello, LOGIN_PREFIX_FIELDS, ServerEvent, parse_login_outer, user_list_events,
};
use common::protocol::consts::{MAX_PASSWORD_LEN, NONCE_LEN, PROTOCOL_VERSION};
use common::protocol::sealed::{Channel, FrameFields, Opener, Sealer};
use common::protocol::{RawMessage, check_username};
use tracing::warn;

use super::history::{login_history, mark_delivered};
use super::password::forced_change;
use super::replies::{
    bad_frame, bad_login, db_unavailable, frame_error, internal, login_timeout, throttled,
};
use super::trace::trace_refused;
use super::{Conn, Session, write_sealed};
use crate::db::{self, DbError, LoginCheck};
use crate::keys;
use crate::relay::Credential;
use crate::server::Shared;

/// Hello, then the login's three steps: read the request, authenticate it (its key, then the
/// password), enter the session. `Ok(None)`: the client left on the way.
pub(super) async fn login(
    conn: &mut Conn,
    shared: &Shared,
    conn_id: u64,
    peer: IpAddr,
) -> Result<Option<Session>, ErrorMsg> {
    // One deadline for the whole login, the password check included (not for a first
    // password change that follows, which has the idle timeout).
    let deadline = tokio::time::Instant::now() + shared.settings.handshake_timeout;
    let nonce = random::bytes::<NONCE_LEN>();
    let Some(request) = read_login(conn, &shared.settings, deadline, nonce).await? else {
        return Ok(None);
    };
    let (send, recv, password) = open_login(conn, &shared.settings, &request, &nonce).await?;
    let user = authenticate(shared, peer, &request.username, password, deadline).await?;
    conn.who = format!("server#{conn_id} {}", request.username);
    enter_session(conn, shared, conn_id, request, user, (send, recv)).await
}

/// A login request whose clear part (username, key id) was read and checked; still sealed.
struct LoginRequest {
    msg: RawMessage,
    username: String,
    key_id: String,
}

/// What the password check established about a user.
struct Authenticated {
    nickname: String,
    must_change: bool,
    /// The hash that let this session in: when it changes (the teacher resets the password),
    /// the session ends (crate::revocation).
    password_hash: String,
}

/// Send the hello with `nonce` and read the login request's clear part. `Ok(None)` when the
/// client closed first.
async fn read_login(
    conn: &mut Conn,
    s: &crate::server::Settings,
    deadline: tokio::time::Instant,
    nonce: [u8; NONCE_LEN],
) -> Result<Option<LoginRequest>, ErrorMsg> {
    let hello = Hello {
        version: PROTOCOL_VERSION,
        nonce,
    };
    conn.writer
        .write_frame(hello.to_text().as_bytes())
        .await
        .map_err(|_| ErrorMsg::new(Reason::BadFrame, "connection lost"))?;
    let frame = match tokio::time::timeout_at(deadline, conn.reader.read_frame()).await {
        Err(_) => return Err(login_timeout(s)),
        Ok(Ok(None)) => return Ok(None),
        Ok(Ok(Some(f))) => f,
        Ok(Err(e)) => return Err(frame_error(&e)),
    };
    let msg = RawMessage::parse(&frame).map_err(|e| bad_frame(&e.to_string()))?;
    let (username, key_id) = parse_login_outer(&msg).map_err(|e| bad_frame(&e.to_string()))?;
    check_username(&username).map_err(|_| bad_login())?;
    s.trace.step(
        &conn.who,
        format_args!(
            "in  login from {username}: {}",
            String::from_utf8_lossy(&frame)
        ),
    );
    if let Some(f) = FrameFields::of(&msg, LOGIN_PREFIX_FIELDS) {
        s.trace.frame(
            &conn.who,
            format_args!(
                "    login frame of {username} (clear: username, key id; sealed: the password)"
            ),
            &f,
        );
    }
    Ok(Some(LoginRequest {
        msg,
        username,
        key_id,
    }))
}

/// Open the login request with the session key it names: the connection's channel halves and
/// the password. The key's expiry is told only after the frame proved its holder.
async fn open_login(
    conn: &Conn,
    s: &crate::server::Settings,
    request: &LoginRequest,
    nonce: &[u8; NONCE_LEN],
) -> Result<(Sealer, Opener, String), ErrorMsg> {
    let (username, key_id) = (&request.username, &request.key_id);
    let dir = s.session_key_dir.clone();
    let (u, k) = (username.clone(), key_id.clone());
    let (keyfile, expired) = tokio::task::spawn_blocking(move || keys::login_key(&dir, &u, &k))
        .await
        .map_err(|_| internal())??;
    let expired = expired.then(|| keys::expired(&keyfile));
    let (send, mut recv) = Channel::server(Arc::new(keyfile.key), nonce).split();
    let opened = recv.open(&request.msg, LOGIN_PREFIX_FIELDS).map_err(|e| {
        warn!(user = username, error = %e, "login frame failed authentication");
        trace_refused(s.trace, &conn.who, username, &e);
        keys::key_refused()
    })?;
    s.trace.step(
        &conn.who,
        format_args!("    MAC checked with {username}'s MAC key (session key {key_id}): authentic"),
    );
    s.trace.step(
        &conn.who,
        format_args!(
            "    DES-CBC decrypted with {username}'s session key and this IV: the password (never shown)"
        ),
    );
    // Only the key's holder learns that it expired (and when).
    if let Some(e) = expired {
        return Err(e);
    }
    // An empty password seals as an empty plaintext, which opens as zero fields: it is a wrong
    // password (BAD_LOGIN, after the same PBKDF2 work), not a malformed frame.
    let password = if opened.inner.fields.is_empty() {
        String::new()
    } else {
        opened
            .inner
            .expect_fields(1)
            .map_err(|e| bad_frame(&e.to_string()))?;
        opened
            .inner
            .text(0)
            .map_err(|e| bad_frame(&e.to_string()))?
    };
    if password.len() > MAX_PASSWORD_LEN {
        return Err(bad_login());
    }
    Ok((send, recv, password))
}

/// Check `password` for `username` within the login's throttles and `deadline`.
async fn authenticate(
    shared: &Shared,
    peer: IpAddr,
    username: &str,
    password: String,
    deadline: tokio::time::Instant,
) -> Result<Authenticated, ErrorMsg> {
    let s = &shared.settings;
    // Bounded work: a locked name, a spent budget or a full queue is refused before hashing.
    let mut admitted =
        match tokio::time::timeout_at(deadline, shared.logins.admit(peer, username)).await {
            Err(_) => return Err(login_timeout(s)),
            Ok(Err(refusal)) => return Err(throttled(&refusal, &s.login_limits)),
            Ok(Ok(a)) => a,
        };
    let permits = admitted.permits.take();
    let store = shared.store.clone();
    let u = username.to_owned();
    let check = tokio::task::spawn_blocking(move || {
        // The core is ours until the hash is done, even if the login gives up meanwhile.
        let _permits = permits;
        let check = db::check_login(&*store, &u, &password)?;
        let hash = match check {
            LoginCheck::Ok { .. } => store.find_user(&u)?.map(|r| r.user_password),
            LoginCheck::Bad => None,
        };
        Ok::<_, DbError>((check, hash.unwrap_or_default()))
    });
    let check = match tokio::time::timeout_at(deadline, check).await {
        Err(_) => return Err(login_timeout(s)),
        Ok(joined) => joined.map_err(|_| internal())?,
    };
    match check {
        Ok((
            LoginCheck::Ok {
                nickname,
                must_change,
            },
            password_hash,
        )) => {
            shared.logins.succeeded(admitted);
            Ok(Authenticated {
                nickname,
                must_change,
                password_hash,
            })
        }
        Ok((LoginCheck::Bad, _)) => {
            shared.logins.failed(admitted);
            Err(bad_login())
        }
        Err(DbError::Unavailable(e)) => {
            warn!(error = %e, "database unavailable at login");
            Err(db_unavailable())
        }
        Err(e) => {
            warn!(error = %e, "database error at login");
            Err(internal())
        }
    }
}

/// Answer the login (after a first password change if one is due), join the registry and send
/// the user list and the stored messages. `Ok(None)` when the client left on the way.
async fn enter_session(
    conn: &mut Conn,
    shared: &Shared,
    conn_id: u64,
    request: LoginRequest,
    user: Authenticated,
    (mut send, mut recv): (Sealer, Opener),
) -> Result<Option<Session>, ErrorMsg> {
    let s = &shared.settings;
    let LoginRequest {
        username, key_id, ..
    } = request;
    let Authenticated {
        nickname,
        must_change,
        mut password_hash,
    } = user;
    let first = if must_change {
        // Not online yet: nobody sees this user until the password is their own.
        let ok = ServerEvent::LoginOk {
            username: username.clone(),
            nickname: nickname.clone(),
            must_change_password: true,
        };
        if !write_sealed(conn, s, &mut send, &username, [ok]).await {
            return Ok(None);
        }
        match forced_change(conn, shared, &username, &mut send, &mut recv).await? {
            Some(hash) => password_hash = hash,
            None => return Ok(None),
        }
        ServerEvent::PasswordResult(Ok(()))
    } else {
        ServerEvent::LoginOk {
            username: username.clone(),
            nickname: nickname.clone(),
            must_change_password: false,
        }
    };
    let credential = Credential::new(key_id, password_hash);
    let joined = shared
        .registry
        .join(&username, &nickname, conn_id, credential);
    let (history, held_upto) = login_history(shared, &username, joined.live_from).await;
    let events = std::iter::once(first)
        .chain(user_list_events(joined.online))
        .chain(history);
    if !write_sealed(conn, s, &mut send, &username, events).await {
        shared.registry.leave(&username, conn_id);
        return Ok(None);
    }
    if let Some(upto) = held_upto {
        mark_delivered(shared, &username, upto).await;
    }
    Ok(Some(Session {
        username,
        nickname,
        conn_id,
        send,
        recv,
        outbox: joined.outbox,
        files: joined.files,
        in_stream: HashMap::new(),
        files_ended: Default::default(),
        chunk: None,
        lane: Default::default(),
        kick: joined.kick,
        bad_frames: 0,
    }))
}
