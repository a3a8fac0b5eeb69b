//! Regression tests for the fuzz targets in `fuzz/` (run them with `scripts/fuzz.sh`): every
//! input a fuzzer crashed on, inline as bytes, plus hand-written hostile inputs for each parser of
//! network or file input. Each must be refused with an error (or, where stated, accepted and then
//! usable), and must never panic.

mod support;

use std::path::Path;
use std::sync::Arc;

use common::config::{ClientConfig, ServerConfig, ServerKeyConfig, parse};
use common::connection::FrameReader;
use common::crypto::envelope::Envelope;
use common::crypto::{DesKey, SessionKey, cbc};
use common::error::{CryptoError, Error, ProtocolError};
use common::keyfile::KeyFile;
use common::protocol::RawMessage;
use common::protocol::chat::{
    ClientRequest, ErrorMsg, Hello, LOGIN_PREFIX_FIELDS, ServerEvent, parse_login_outer,
};
use common::protocol::consts::{MAX_FRAME_LEN, label};
use common::protocol::frame;
use common::protocol::keydist::{KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest};
use common::protocol::message::b64;
use common::protocol::sealed::SealedMessage;
use common::protocol::sealed::{self, Channel};
use tokio::io::AsyncWriteExt;

const KEY_ID: &str = "0123456789abcdef";
const DES_HEX: &str = "133457799bbcdff1";
const MAC_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NONCE: [u8; 16] = *b"fuzz conn nonce!";

/// Unseal, then check the material against the clear fields (what `VerifiedEnvelope::open`
/// does once the signature verified).
fn open_material(
    env: &Envelope,
    client: &common::crypto::PrivateKey,
    user: &str,
    key_id: &str,
    expires_at: &str,
) -> Result<SessionKey, CryptoError> {
    let (_, plain) = env.unseal(client)?;
    common::protocol::material::parse_material(&plain, user, key_id, expires_at)
}

fn msg(bytes: &[u8]) -> RawMessage {
    RawMessage::parse(bytes).expect("test message parses")
}

/// Every typed decoder refuses `m` (and none panics).
fn all_decoders_refuse(m: &RawMessage) {
    assert!(KeyHello::from_message(m).is_err());
    assert!(KeyRequest::from_message(m).is_err());
    assert!(KeyEnvelope::from_message(m).is_err());
    assert!(KeyConfirm::from_message(m).is_err());
    assert!(KeyError::from_message(m).is_err());
    assert!(KeyDone::from_message(m).is_err());
    assert!(Hello::from_message(m).is_err());
    assert!(ErrorMsg::from_message(m).is_err());
    assert!(parse_login_outer(m).is_err());
    assert!(ClientRequest::from_inner(m).is_err());
    assert!(ServerEvent::from_inner(m).is_err());
}

/// A key file like `KeyFile::to_toml` writes, with one line replaced.
fn key_file_with(field: &str, line: &str) -> String {
    let mut lines = vec![
        "username = \"user1\"".to_owned(),
        format!("key_id = \"{KEY_ID}\""),
        format!("des_key = \"{DES_HEX}\""),
        format!("mac_key = \"{MAC_HEX}\""),
        "expires_at = \"2030-01-02T03:04:05Z\"".to_owned(),
        "created_at = \"2029-12-31T23:00:00Z\"".to_owned(),
        "server_fingerprint = \"SHA256:server\"".to_owned(),
        "client_fingerprint = \"SHA256:client\"".to_owned(),
    ];
    for l in &mut lines {
        if l.starts_with(&format!("{field} =")) {
            line.clone_into(l);
        }
    }
    lines.join("\n") + "\n"
}

fn load_key_file(text: &str) -> Result<KeyFile, common::error::KeyFileError> {
    KeyFile::from_toml(text, Path::new("fuzz/session_key.txt"))
}

fn session_key() -> Arc<SessionKey> {
    Arc::new(SessionKey {
        username: "user1".into(),
        key_id: KEY_ID.into(),
        des: DesKey::from_hex(DES_HEX).unwrap(),
        mac_key: SessionKey::parse_mac_key(MAC_HEX).unwrap(),
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
    })
}

/// Replace the last field of `text` with the right client-to-server MAC, as a client holding the
/// key would: the MAC check passes and everything after it is exercised.
fn with_good_mac(key: &SessionKey, text: &str) -> RawMessage {
    let covered = &text[..text.rfind('|').unwrap()];
    let tag = sealed::frame_tag(key, label::CLIENT_TO_SERVER, &b64(NONCE), covered);
    RawMessage::parse_str(&format!("{covered}|{}", b64(tag))).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Crashes found by the fuzzers (the inputs are the minimized artifacts, byte for byte).

/// `keyfile` target, minimized artifact: `expires_at` is year 10000 in UTC. It loaded, and then
/// printing the key (Debug, the server's and client's "expired at" messages) or rewriting the file
/// panicked in `format_time` ("local datetime out of valid range").
#[test]
fn fuzz_keyfile_time_after_year_9999_in_utc() {
    let input: &[u8] = br#"
username="u"
key_id ="0123456789abcd0f"
des_key="133457799bbcdff1"
mac_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
expires_at= "9999-12-31T22:59:59-02:00"
created_at= "0000-01-01T00:00:00+00:00"
server_fingerprint =""
client_fingerprint = "kk"
"#;
    let err = load_key_file(std::str::from_utf8(input).unwrap()).unwrap_err();
    assert!(err.to_string().contains("expires_at"), "{err}");
}

/// `keyfile` target, minimized artifact: a username with a control character (first found as
/// TOML's `\e`, minimized to `\r`) was written raw into `to_toml`'s header comment, where TOML
/// forbids it, so `to_toml`'s own output no longer loaded.
#[test]
fn fuzz_keyfile_username_with_control_character() {
    let input: &[u8] = br#"
username="u\r1"
key_id = "0123456789abcdef"
des_key ="133457799bbcdff1"
mac_key="000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
expires_at = "3022-01-02T03:04:05Z"
created_at ="2029-12-31T23:00:00Z"
server_fingerprint=""
client_fingerprint= "SA""#;
    let kf = load_key_file(std::str::from_utf8(input).unwrap()).unwrap();
    assert_eq!(kf.key.username, "u\r1");
    let written = kf.to_toml();
    let back = load_key_file(&written).unwrap();
    assert_eq!(back.key.username, "u\r1");
}

// ---------------------------------------------------------------------------------------------
// Hand-written variants of those two bugs.

/// Year -1 in UTC: `format_time` panicked on the "any UTC time formats" expect.
#[test]
fn keyfile_time_before_year_0_in_utc() {
    let text = key_file_with("expires_at", "expires_at = \"0000-01-01T00:00:00+00:01\"");
    let err = load_key_file(&text).unwrap_err();
    assert!(err.to_string().contains("expires_at"), "{err}");
}

/// Both time fields are checked; the extremes that are still fine keep loading and printing.
#[test]
fn keyfile_time_extremes() {
    for field in ["expires_at", "created_at"] {
        let text = key_file_with(field, &format!("{field} = \"9999-12-31T23:59:59-00:01\""));
        assert!(load_key_file(&text).is_err(), "{field}");
    }
    let text = key_file_with("expires_at", "expires_at = \"9999-12-31T23:59:59+00:00\"");
    let kf = load_key_file(&text).unwrap();
    assert_eq!(kf.key.expires_rfc3339(), "9999-12-31T23:59:59Z");
    let text = key_file_with("created_at", "created_at = \"0000-01-01T00:00:00-23:59\"");
    let kf = load_key_file(&text).unwrap();
    assert_eq!(
        common::crypto::session::format_time(kf.created_at),
        "0000-01-01T23:59:00Z"
    );
}

/// A newline in the username ended the header comment and put the rest of the name into the TOML.
#[test]
fn keyfile_username_with_newline_round_trips() {
    for name in [
        "a\\nb",
        "a\\r\\nexpires_at = 1",
        "x\\u0000y",
        "line\\u2028sep",
        "中文\\tname",
    ] {
        let text = key_file_with("username", &format!("username = \"{name}\""));
        let kf = load_key_file(&text).unwrap();
        let written = kf.to_toml();
        let back = load_key_file(&written)
            .unwrap_or_else(|e| panic!("{name}: to_toml output does not load: {e}\n{}", *written));
        assert_eq!(back.key.username, kf.key.username);
        assert_eq!(back.key.des, kf.key.des);
    }
}

/// The time bug through the network: a correctly wrapped envelope whose material names an expiry
/// outside years 0000..=9999 in UTC opened, and storing or printing the key then panicked.
#[test]
fn envelope_material_time_out_of_range() {
    let client = support::test_key();
    let one_time = DesKey::from_hex(DES_HEX).unwrap();
    let wrapped_key = client
        .public_key()
        .oaep_encrypt(one_time.as_bytes())
        .unwrap();
    for expires in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59"] {
        let material = format!("{}|{KEY_ID}|{expires}|{DES_HEX}|{MAC_HEX}", b64("user1"));
        let iv = [7u8; 8];
        let env = Envelope {
            iv,
            sealed: cbc::encrypt_with_iv(&one_time, &iv, material.as_bytes()),
            wrapped_key: wrapped_key.clone(),
        };
        assert_eq!(
            open_material(&env, &client, "user1", KEY_ID, expires).unwrap_err(),
            CryptoError::BadEnvelope
        );
        // And the clear 1101 message naming it is refused before any RSA work.
        let text = format!(
            "1101|{KEY_ID}|{expires}|{}|{}|{}|{}",
            b64(iv),
            b64(&env.sealed),
            b64(&env.wrapped_key),
            b64(b"sig")
        );
        assert!(KeyEnvelope::from_message(&msg(text.as_bytes())).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written hostile inputs.

#[test]
fn frame_headers() {
    let huge = [0xFF, 0xFF, 0xFF, 0xFF, b'x'];
    assert_eq!(
        frame::decode(&huge),
        Err(ProtocolError::TooLarge(0xFFFF_FFFF))
    );
    let just_over = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_be_bytes();
    assert_eq!(
        frame::decode(&just_over),
        Err(ProtocolError::TooLarge(MAX_FRAME_LEN + 1))
    );
    assert_eq!(frame::decode(&[0, 0, 0, 0, 1]), Err(ProtocolError::Empty));
    assert_eq!(frame::decode(&[0xFF, 0xFF, 0xFF]), Ok(None));
    assert_eq!(frame::decode(&[0, 1, 0, 0]), Ok(None)); // exactly the limit: wait for it
    assert_eq!(
        frame::decode_with_limit(&[0, 0, 0, 1, 9], 0),
        Err(ProtocolError::TooLarge(1))
    );
    assert_eq!(frame::encode(&[]), Err(ProtocolError::Empty));
    assert_eq!(
        frame::encode(&vec![0; MAX_FRAME_LEN + 1]),
        Err(ProtocolError::TooLarge(MAX_FRAME_LEN + 1))
    );
}

#[tokio::test]
async fn frame_reader_hostile_streams() {
    async fn read_all(stream: Vec<u8>, chunk: usize) -> (Vec<Vec<u8>>, Option<Error>) {
        let (mut w, r) = tokio::io::duplex(7);
        let writer = async move {
            for c in stream.chunks(chunk) {
                if w.write_all(c).await.is_err() {
                    break;
                }
            }
        };
        let reader = async move {
            let mut fr = FrameReader::new(r);
            let mut out = Vec::new();
            loop {
                match fr.read_frame().await {
                    Ok(Some(p)) => out.push(p),
                    Ok(None) => return (out, None),
                    Err(e) => return (out, Some(e)),
                }
            }
        };
        tokio::join!(writer, reader).1
    }
    // A 4 GiB claim is refused at once, though the peer keeps sending.
    let mut s = frame::encode(b"1005").unwrap();
    s.extend([0xFF; 4]);
    s.extend(vec![b'A'; 100_000]);
    let (frames, err) = read_all(s, 3).await;
    assert_eq!(frames, [b"1005".to_vec()]);
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::TooLarge(0xFFFF_FFFF)))
    ));
    // A zero-length frame, a header cut short, a payload cut short.
    let (_, err) = read_all(vec![0, 0, 0, 0], 1).await;
    assert!(matches!(err, Some(Error::Protocol(ProtocolError::Empty))));
    let (_, err) = read_all(vec![0, 0], 1).await;
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::Truncated))
    ));
    let (_, err) = read_all(vec![0, 0, 0, 9, 1, 2], 1).await;
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::Truncated))
    ));
}

#[test]
fn messages_that_are_not_messages() {
    assert_eq!(
        RawMessage::parse(b"1000|\xff\xfe"),
        Err(ProtocolError::NotUtf8)
    );
    assert!(matches!(RawMessage::parse(b""), Err(ProtocolError::UnknownCode(c)) if c.is_empty()));
    // An unknown code is shown cut to 16 characters, even when they are multi-byte.
    let long = "中".repeat(10_000);
    match RawMessage::parse(long.as_bytes()) {
        Err(ProtocolError::UnknownCode(c)) => assert_eq!(c, "中".repeat(16)),
        other => panic!("{other:?}"),
    }
    for bad in [
        &b"1000 |1|x"[..],
        b" 1000",
        b"1000\n",
        b"\x001000",
        b"10000",
    ] {
        assert!(matches!(
            RawMessage::parse(bad),
            Err(ProtocolError::UnknownCode(_))
        ));
    }
}

#[test]
fn key_envelope_with_a_10_mb_field() {
    // 10 MB of valid base64 where an 8-byte IV belongs (a frame could never carry it, but the
    // decoder must not care where its input came from).
    let big = b64(vec![0u8; 10 * 1024 * 1024]);
    let text = format!(
        "1101|{KEY_ID}|2030-01-02T03:04:05Z|2030-01-01T03:04:05Z|{big}|{}|{}|{}",
        b64([1u8; 16]),
        b64([2u8; 256]),
        b64(b"sig")
    );
    let err = KeyEnvelope::from_message(&msg(text.as_bytes())).unwrap_err();
    assert!(
        matches!(err, ProtocolError::BadField { index: 3, .. }),
        "{err:?}"
    );
    // 10 MB of padding characters is not base64 at all.
    let text = format!(
        "1101|{KEY_ID}|2030-01-02T03:04:05Z|2030-01-01T03:04:05Z|{}|{}|{}|{}",
        b64([0u8; 8]),
        "=".repeat(10 * 1024 * 1024),
        b64([2u8; 256]),
        b64(b"sig")
    );
    assert!(KeyEnvelope::from_message(&msg(text.as_bytes())).is_err());
}

#[test]
fn hostile_fields() {
    let nonce = b64([0u8; 16]);
    for m in [
        // Numbers: too big for u64, signs, spaces, empty, non-ASCII digits.
        format!("1000|18446744073709551616|{nonce}"),
        format!("1000|+1|{nonce}"),
        format!("1000|-1|{nonce}"),
        format!("1000| 1|{nonce}"),
        format!("1000||{nonce}"),
        format!("1000|١|{nonce}"),
        format!("1000|00000000000000000000001|{nonce}"),
        // A version that fits u64 but not u32.
        format!("1100|4294967297|{}|{nonce}", b64(b"k")),
        // Nonces of the wrong length, base64 without padding, URL-safe base64.
        format!("1000|1|{}", b64([0u8; 15])),
        format!("1000|1|{}", b64([0u8; 17])),
        "1000|1|AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "1000|1|-_-_-_-_-_-_-_-_-_-_-A==".to_owned(),
        // Key ids: uppercase, multi-byte characters of the right byte length, one digit short.
        format!("1102|{}", KEY_ID.to_uppercase()),
        "1102|０１２３４a".to_owned(),
        format!("1102|{}", &KEY_ID[1..]),
        format!("0102|{KEY_ID}|{}", b64([0u8; 31])),
        // Text fields that are base64 of invalid UTF-8.
        format!("1109|BAD|{}", b64([0xC3, 0x28])),
        format!("1009|BAD|{}", b64([0xFF])),
        // Field counts one off in both directions.
        format!("1000|1|{nonce}|"),
        "1000|1".to_owned(),
        "0003|".to_owned(),
        "1005|x".to_owned(),
        "1003|a".to_owned(),
        format!("1001|ok|{}|{}", b64("u"), b64("n")),
        format!("1004|join|{}|{}|{}", b64("u"), b64("n"), b64("t")),
        // Login usernames: empty and one byte too long.
        format!("0001||{KEY_ID}|0|x|y|z"),
        format!("0001|{}|{KEY_ID}|0|x|y|z", b64("u".repeat(31))),
        // Expiry times that are not RFC 3339, or far outside any calendar.
        format!("1101|{KEY_ID}|2030-02-30T00:00:00Z|{}|x|y|z", b64([0u8; 8])),
        format!(
            "1101|{KEY_ID}|9223372036854775807-01-01T00:00:00Z|{}|x|y|z",
            b64([0u8; 8])
        ),
        format!(
            "1101|{KEY_ID}|2030-01-01T00:00:00+24:00|{}|x|y|z",
            b64([0u8; 8])
        ),
        format!("1101|{KEY_ID}|2030-01-01T00:00:60Z|{}|x|y|z", b64([0u8; 8])),
    ] {
        all_decoders_refuse(&msg(m.as_bytes()));
    }
}

#[test]
fn sealed_frames_that_must_not_open() {
    let key = session_key();
    let open = |m: &RawMessage, prefix: usize| Channel::server(key.clone(), &NONCE).open(m, prefix);
    let mac = b64([0u8; 32]);
    // Wrong field counts, a MAC that is not base64 or of the wrong length, a wrong MAC.
    for (text, prefix) in [
        ("0002".to_owned(), 0),
        (format!("0002|0|x|y|{mac}|extra"), 0),
        (format!("0001|u|{KEY_ID}|0|x|y"), LOGIN_PREFIX_FIELDS),
        ("0002|0|x|y|not base64!".to_owned(), 0),
        (format!("0002|0|x|y|{}", b64([0u8; 31])), 0),
        (format!("0002|0|x|y|{mac}"), 0),
        (format!("0002|中|文|字|{mac}"), 0),
    ] {
        assert!(open(&msg(text.as_bytes()), prefix).is_err(), "{text}");
    }
    // With a correct MAC: every later check must still hold.
    let iv = [3u8; 8];
    let good_ct = b64(cbc::encrypt_with_iv(&key.des, &iv, b"to|text"));
    let not_utf8 = b64(cbc::encrypt_with_iv(&key.des, &iv, &[0xFF, 0xFE]));
    let cases = [
        (
            format!("0002|18446744073709551616|{}|{good_ct}|m", b64(iv)),
            "seq overflow",
        ),
        (format!("0002|-1|{}|{good_ct}|m", b64(iv)), "negative seq"),
        (format!("0002|0|{}|{good_ct}|m", b64([3u8; 7])), "short IV"),
        (format!("0002|0|{}||m", b64(iv)), "empty ciphertext"),
        (
            format!("0002|0|{}|{}|m", b64(iv), b64([1u8; 12])),
            "partial block",
        ),
        (
            format!("0002|0|{}|{}|m", b64(iv), b64([1u8; 16])),
            "bad padding",
        ),
        (
            format!("0002|0|{}|{not_utf8}|m", b64(iv)),
            "plaintext not UTF-8",
        ),
    ];
    for (text, what) in cases {
        assert!(open(&with_good_mac(&key, &text), 0).is_err(), "{what}");
    }
    // A good frame opens once; the replay is refused.
    let good = with_good_mac(
        &key,
        &format!("0002|18446744073709551615|{}|{good_ct}|m", b64(iv)),
    );
    let mut ch = Channel::server(key.clone(), &NONCE);
    assert_eq!(ch.open(&good, 0).unwrap().inner.fields, ["to", "text"]);
    assert!(matches!(
        ch.open(&good, 0),
        Err(Error::Crypto(CryptoError::Replay {
            got: u64::MAX,
            last: u64::MAX
        }))
    ));
}

#[test]
fn envelopes_that_must_not_open() {
    let client = support::test_key();
    let sealed = b64([0u8; 16]);
    for wrapped in [
        vec![],
        vec![0u8; 1],
        vec![0u8; 255],
        vec![0xFF; 256],
        vec![0u8; 1 << 20],
    ] {
        let text = format!(
            "1101|{KEY_ID}|2030-01-02T03:04:05Z|2030-01-01T03:04:05Z|{}|{sealed}|{}|{}",
            b64([0u8; 8]),
            b64(&wrapped),
            b64(b"sig")
        );
        let env = KeyEnvelope::from_message(&msg(text.as_bytes())).unwrap();
        assert_eq!(
            env.envelope.unseal(&client).unwrap_err(),
            CryptoError::BadEnvelope,
            "wrapped key of {} bytes",
            wrapped.len()
        );
    }
    // Correctly wrapped one-time keys that are weak, have bad parity, or are not 8 bytes.
    for k in [&[0x01u8; 8][..], &[0u8; 8], &[1u8; 7], &[1u8; 9], &[]] {
        let env = Envelope {
            iv: [0; 8],
            sealed: vec![0; 16],
            wrapped_key: client.public_key().oaep_encrypt(k).unwrap(),
        };
        assert_eq!(env.unseal(&client).unwrap_err(), CryptoError::BadEnvelope);
    }
}

#[test]
fn key_files_that_must_not_load() {
    let two_63 = "9223372036854775808";
    let deep = format!("username = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_tables = format!("username = {}1{}", "{a=".repeat(20_000), "}".repeat(20_000));
    let nasty = [
        // Dates: 2^63 as a TOML integer, as a year, as seconds; a TOML datetime instead of a string.
        key_file_with("expires_at", &format!("expires_at = {two_63}")),
        key_file_with(
            "expires_at",
            &format!("expires_at = \"{two_63}-01-01T00:00:00Z\""),
        ),
        key_file_with("expires_at", &format!("expires_at = \"+{two_63}\"")),
        key_file_with("expires_at", "expires_at = 2030-01-02T03:04:05Z"),
        key_file_with("created_at", "created_at = \"2030-01-02T03:04:05Z\u{0}\""),
        // Keys: weak DES key, bad parity, multi-byte characters of the right byte length.
        key_file_with("des_key", "des_key = \"0101010101010101\""),
        key_file_with("des_key", "des_key = \"0000000000000000\""),
        key_file_with("des_key", "des_key = \"１３３４５７\""),
        key_file_with("mac_key", &format!("mac_key = \"{}\"", "é".repeat(32))),
        key_file_with("key_id", "key_id = \"0123456789ABCDEF\""),
        key_file_with("key_id", "key_id = \"０１２３４a\""),
        // TOML shapes: nesting, wrong types, duplicates, unknown keys, a BOM, NULs, nothing.
        key_file_with("username", &deep),
        key_file_with("username", &deep_tables),
        key_file_with("username", "username = 1"),
        key_file_with("username", "username = \"a\"\nusername = \"b\""),
        key_file_with("username", "username = \"a\"\n[username]"),
        key_file_with("username", "username = \"a\"\nextra = 1"),
        format!("\u{FEFF}\u{FEFF}{}", key_file_with("", "")),
        "\0".repeat(1000),
        String::new(),
        "[[[[".to_owned(),
        "a.b.c.d.e.f.g.h = 1\n".repeat(1000),
    ];
    for text in &nasty {
        assert!(
            load_key_file(text).is_err(),
            "{}",
            &text[..text.len().min(120)]
        );
    }
}

#[test]
fn configs_that_must_not_load() {
    let path = Path::new("fuzz/config.toml");
    let deep = format!("listen = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    for text in [
        deep.as_str(),
        "rsa_bits = 18446744073709551616",
        "rsa_bits = -1",
        "session_ttl_hours = 1e400",
        "registration = \"TOFU\"",
        "registration = [\"tofu\"]",
        "max_connections = 99999999999999999999999",
        "listen = \"a\"\nlisten = \"b\"",
        "chat_port = 65536",
        "key_port = -1",
        "language = \"fr\"",
        "language = 1",
        "[listen]\nx = 1",
        "unknown = 1",
        "listen = \"\\uD800\"",
        "listen = '''",
    ] {
        assert!(parse::<ServerKeyConfig>(text, path).is_err(), "{text:.80}");
        assert!(parse::<ServerConfig>(text, path).is_err(), "{text:.80}");
        assert!(parse::<ClientConfig>(text, path).is_err(), "{text:.80}");
    }
}
