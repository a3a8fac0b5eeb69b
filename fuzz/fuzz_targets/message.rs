//! `RawMessage::parse` and every typed decoder on the parsed message: never panic, and every
//! successful decode re-encodes (`to_text`) to text that decodes to an equal value.
#![no_main]

use common::protocol::sealed::SealedMessage;
use common::protocol::RawMessage;
use common::protocol::chat::{ClientRequest, ErrorMsg, Hello, ServerEvent, parse_login_outer};
use common::protocol::consts::{KEY_ID_LEN, NONCE_LEN};
use common::protocol::keydist::{
    KeyConfirm, KeyEnvelope, KeyError, KeyHello, KeyRequest, KeyDone,
};
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

/// How `Channel::open` turns an opened plaintext into fields.
fn inner(code: &str, text: &str) -> RawMessage {
    let fields = if text.is_empty() {
        Vec::new()
    } else {
        text.split('|').map(str::to_owned).collect()
    };
    RawMessage::new(code, fields)
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

    // The sealed families, treating the message as an already opened inner message.
    if let Ok(r) = ClientRequest::from_inner(&m) {
        let back = ClientRequest::from_inner(&inner(r.code(), &r.inner_text()));
        assert_eq!(back.as_ref(), Ok(&r), "ClientRequest round trip");
    }
    if let Ok(ev) = ServerEvent::from_inner(&m) {
        let back = ServerEvent::from_inner(&inner(ev.code(), &ev.inner_text()));
        assert_eq!(back.as_ref(), Ok(&ev), "ServerEvent round trip");
    }
});
