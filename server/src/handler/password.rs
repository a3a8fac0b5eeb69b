//! Password changes: the forced first one before a session goes online, and one a logged-in
//! user asks for. Both check the current password and store the new hash.

use common::crypto::password::hash_password;
use common::error::{CryptoError, Error};
use common::protocol::Reason;
use common::protocol::chat::{ClientRequest, ErrorMsg, ServerEvent};
use common::protocol::consts::MAX_BAD_FRAMES;
use common::protocol::password::{Secret, check_new_password};
use common::protocol::sealed::{Opener, Sealer};
use tracing::{info, warn};

use super::replies::{frame_error, frame_lost, too_many_errors};
use super::{Conn, write_sealed};
use crate::db::{self, DbError, LoginCheck};
use crate::server::Shared;

/// A login that must choose a new password first: answer only a password change, ping and
/// logout until the password is changed (`Ok(Some(new hash))`); anything else gets
/// `CHANGE_PASSWORD`. `Ok(None)` when the client logged out or left. A wrong current password counts as a bad
/// frame, so guessing it costs a connection every [`MAX_BAD_FRAMES`] tries.
pub(super) async fn forced_change(
    conn: &mut Conn,
    shared: &Shared,
    username: &str,
    send: &mut Sealer,
    recv: &mut Opener,
) -> Result<Option<String>, ErrorMsg> {
    let s = &shared.settings;
    let mut bad = 0u32;
    loop {
        let frame = match tokio::time::timeout(s.idle_timeout, conn.reader.read_frame()).await {
            Err(_) => {
                return Err(ErrorMsg::new(
                    Reason::Idle,
                    format!(
                        "nothing received for {} s; connection closed",
                        s.idle_timeout.as_secs()
                    ),
                ));
            }
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => return Err(frame_error(&e)),
        };
        s.trace.step(
            &conn.who,
            format_args!("in  {username}: {}", String::from_utf8_lossy(&frame)),
        );
        let answer = match recv.open_frame(&frame) {
            Ok(ClientRequest::ChangePassword { old, new }) => {
                match change_password(shared, username, &old, &new, None).await {
                    Ok(hash) => return Ok(Some(hash)),
                    Err(reason) => {
                        bad += u32::from(reason == Reason::WrongPassword);
                        Some(ServerEvent::PasswordResult(Err(reason)))
                    }
                }
            }
            Ok(ClientRequest::Ping) => Some(ServerEvent::Pong),
            Ok(ClientRequest::Logout) => return Ok(None),
            Ok(
                ClientRequest::Chat { .. }
                | ClientRequest::ListUsers
                | ClientRequest::History { .. }
                | ClientRequest::File(_),
            ) => Some(ServerEvent::PasswordResult(Err(
                Reason::PasswordChangeRequired,
            ))),
            Err(Error::Crypto(CryptoError::FrameLost { got, expected })) => {
                return Err(frame_lost(username, got, expected));
            }
            Err(e) => {
                warn!(user = username, error = %e, "frame rejected before the password change");
                bad += 1;
                None
            }
        };
        if bad >= MAX_BAD_FRAMES {
            return Err(too_many_errors());
        }
        if let Some(answer) = answer
            && !write_sealed(conn, s, send, username, [answer]).await
        {
            return Ok(None);
        }
    }
}

/// Check and store a new password for `username`: its new hash, or the reason it was refused.
/// `session` is the registered session making the change (none before the first change): the
/// registry learns the new hash before it is stored, so the revocation check keeps that session.
pub(super) async fn change_password(
    shared: &Shared,
    username: &str,
    old: &Secret,
    new: &Secret,
    session: Option<u64>,
) -> Result<String, Reason> {
    check_new_password(username, old.expose(), new.expose())?;
    let store = shared.store.clone();
    let (user, old, new) = (
        username.to_owned(),
        old.expose().to_owned(),
        new.expose().to_owned(),
    );
    let verified = tokio::task::spawn_blocking(move || {
        Ok::<_, DbError>(match db::check_login(&*store, &user, &old)? {
            LoginCheck::Ok { .. } => Ok(hash_password(&new)),
            LoginCheck::Bad => Err(Reason::WrongPassword),
        })
    })
    .await
    .unwrap_or(Ok(Err(Reason::Internal)));
    let hash = db_answer(verified, "a password check")?;
    let expect = |h: Option<String>| {
        if let Some(conn_id) = session {
            shared.registry.expect_password_hash(username, conn_id, h);
        }
    };
    expect(Some(hash.clone()));
    let (store, user, h) = (shared.store.clone(), username.to_owned(), hash.clone());
    let stored = tokio::task::spawn_blocking(move || {
        // `false`: the user was removed meanwhile.
        Ok::<_, DbError>(if store.set_password(&user, &h, false)? {
            Ok(())
        } else {
            Err(Reason::Internal)
        })
    })
    .await
    .unwrap_or(Ok(Err(Reason::Internal)));
    match db_answer(stored, "a password change") {
        Ok(()) => {
            if let Some(conn_id) = session {
                shared
                    .registry
                    .set_password_hash(username, conn_id, hash.clone());
            }
            info!(user = username, "password changed");
            Ok(hash)
        }
        Err(reason) => {
            expect(None);
            Err(reason)
        }
    }
}

/// A database step's answer, with database failures as the reason to send (and logged).
fn db_answer<T>(r: Result<Result<T, Reason>, DbError>, what: &str) -> Result<T, Reason> {
    match r {
        Ok(r) => r,
        Err(DbError::Unavailable(e)) => {
            warn!(error = %e, "database unavailable at {what}");
            Err(Reason::DbUnavailable)
        }
        Err(e) => {
            warn!(error = %e, "database error at {what}");
            Err(Reason::Internal)
        }
    }
}
