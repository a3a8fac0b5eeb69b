//! `--trace`: the digital envelope at work, frame by frame. Each received frame is shown field by
//! field, then the two checks in their order (MAC with the sender's MAC key, then DES-CBC with
//! the sender's session key and the frame's IV); each frame sent is shown as sealed again with
//! its recipient's own keys. Message text and passwords appear only with `--show-secrets`.

use common::error::{CryptoError, Error};
use common::protocol::RawMessage;
use common::protocol::chat::{ClientRequest, ServerEvent};
use common::protocol::sealed::{FrameFields, SealedMessage};

/// A frame from `user` as it arrived, raw and field by field (before any check).
pub(super) fn trace_received(trace: common::trace::Trace, who: &str, user: &str, frame: &[u8]) {
    if !trace.enabled {
        return;
    }
    trace.step(
        who,
        format_args!("in  {user}: {}", String::from_utf8_lossy(frame)),
    );
    if let Some(f) = RawMessage::parse(frame)
        .ok()
        .and_then(|m| FrameFields::of(&m, 0))
    {
        trace.frame(
            who,
            format_args!("    frame from {user}, field by field:"),
            &f,
        );
    }
}

/// The frame from `user` passed its checks and decrypted to `request`.
pub(super) fn trace_opened(
    trace: common::trace::Trace,
    who: &str,
    user: &str,
    request: &ClientRequest,
) {
    if !trace.enabled {
        return;
    }
    trace.step(
        who,
        format_args!(
            "    MAC checked with {user}'s MAC key: authentic, and its seq is the next one"
        ),
    );
    let what = match request {
        ClientRequest::Chat { to: None, .. } => "a chat message to everyone".to_owned(),
        ClientRequest::Chat { to: Some(t), .. } => format!("a private message to {t}"),
        ClientRequest::ListUsers => "a request for the user list".to_owned(),
        ClientRequest::Ping => "a heartbeat".to_owned(),
        ClientRequest::Logout => "a logout".to_owned(),
        ClientRequest::ChangePassword { .. } => {
            "a password change (passwords never shown)".to_owned()
        }
        ClientRequest::History { before_id, count } => {
            format!("a request for {count} stored messages before id {before_id}")
        }
        ClientRequest::File(f) => format!("a file transfer request ({})", f.code()),
    };
    trace.step(
        who,
        format_args!("    DES-CBC decrypted with {user}'s session key and this IV: {what}"),
    );
    if let ClientRequest::Chat { text, .. } = request {
        trace.secret(who, "    plaintext", &format!("{text:?}"));
    }
}

/// The frame from `user` was refused: which check failed (nothing was decrypted after a MAC
/// mismatch).
pub(super) fn trace_refused(trace: common::trace::Trace, who: &str, user: &str, e: &Error) {
    match e {
        Error::Crypto(CryptoError::BadMac) => trace.step(
            who,
            format_args!(
                "    MAC checked with {user}'s MAC key: MISMATCH (altered, forged or another key); \
                 dropped without decrypting"
            ),
        ),
        other => trace.step(who, format_args!("    refused: {other}")),
    }
}

/// `event` sealed for `user` as the frame `text`: with `user`'s own keys and a fresh IV.
pub(super) fn trace_sealed(
    trace: common::trace::Trace,
    who: &str,
    user: &str,
    event: &ServerEvent,
    text: &str,
) {
    if !trace.enabled {
        return;
    }
    trace.step(who, format_args!("out {user}: {text}"));
    let what = match event {
        ServerEvent::Chat(line) => format!(
            "message #{} from {} re-sealed for {user}",
            line.msg_id, line.from_user
        ),
        other => format!("{} sealed for {user}", other.code()),
    };
    if let Some(f) = FrameFields::parse(text, 0) {
        trace.frame(
            who,
            format_args!(
                "    {what}: DES-CBC encrypted with {user}'s session key under a fresh random IV, \
                 then MAC with {user}'s MAC key"
            ),
            &f,
        );
    }
    if let ServerEvent::Chat(line) = event {
        trace.secret(who, "    plaintext", &format!("{:?}", line.text));
    }
}
