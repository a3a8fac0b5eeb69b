//! `RawMessage::parse` and every typed decoder on the parsed message: never panic, and every
//! successful decode re-encodes (`to_text`) to text that decodes to an equal value.
#![no_main]

use common::protocol::RawMessage;
use common::protocol::chat::{ClientRequest, ErrorMsg, Hello, ServerEvent, parse_login_outer};
use common::protocol::consts::{KEY_ID_LEN, NONCE_LEN};
use common::protocol::keydist::{KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest};
use common::protocol::sealed::SealedMessage;
use libfuzzer_sys::fuzz_target;

/// Decode with `$t::from_message`; on success `to_text` must parse back to an equal value.
macro_rules! round_trip {
    ($t:ty, $m:expr) => {
        if let Ok(v) = <$t>::from_message($m) {
            let text = v.to_text();
            let again = RawMessage::parse_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{} re-encoding {text:?} does not parse: {e}",
                    stringify!($t)
                )
            });
            let back = <$t>::from_message(&again).unwrap_or_else(|e| {
                panic!(
                    "{} re-encoding {text:?} does not decode: {e}",
                    stringify!($t)
                )
            });
            assert_eq!(back, v, "{} round trip via {text:?}", stringify!($t));
        }
    };
}

/// The input as `CODE|plaintext`, turned into an inner message as `Channel::open` does after
/// decrypting (a file chunk's plaintext ends in raw bytes).
fn opened(data: &[u8]) -> Option<RawMessage> {
    let bar = data.iter().position(|&b| b == b'|')?;
    let code = std::str::from_utf8(&data[..bar]).ok()?;
    RawMessage::from_plain(code, data[bar + 1..].to_vec()).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(m) = RawMessage::parse(data) else {
        return;
    };
    // The text form is lossless.
    assert_eq!(m.to_text().as_bytes(), data);
    assert_eq!(RawMessage::parse_str(&m.to_text()).as_ref(), Ok(&m));

    // Field codecs on every field index (and one past the end).
    for i in 0..=m.fields.len().min(8) {
        let _ = m.token(i);
        let _ = m.bytes(i);
        let _ = m.text(i);
        let _ = m.number(i);
        let _ = m.hex_id(i, KEY_ID_LEN);
        let _ = m.array::<NONCE_LEN>(i);
    }

    round_trip!(KeyHello, &m);
    round_trip!(KeyRequest, &m);
    round_trip!(KeyEnvelope, &m);
    round_trip!(KeyConfirm, &m);
    round_trip!(KeyError, &m);
    round_trip!(KeyDone, &m);
    round_trip!(Hello, &m);
    round_trip!(ErrorMsg, &m);

    let _ = parse_login_outer(&m);

    // The sealed families, treating the input as an already opened inner message.
    if let Some(m) = opened(data) {
        if let Ok(r) = ClientRequest::from_inner(&m) {
            let back = RawMessage::from_plain(r.code(), r.inner_plain())
                .map(|m| ClientRequest::from_inner(&m));
            assert_eq!(back, Ok(Ok(r)), "ClientRequest round trip");
        }
        if let Ok(ev) = ServerEvent::from_inner(&m) {
            let back = RawMessage::from_plain(ev.code(), ev.inner_plain())
                .map(|m| ServerEvent::from_inner(&m));
            assert_eq!(back, Ok(Ok(ev)), "ServerEvent round trip");
        }
    }
});
