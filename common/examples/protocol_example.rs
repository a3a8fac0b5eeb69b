//! Worked examples for PROTOCOL.md, built with the real library functions.
//!
//! ```text
//! cargo run -p common --example protocol_example             # every value in full
//! cargo run -p common --example protocol_example -- --short  # long base64 shortened with `…` (as pasted in PROTOCOL.md)
//! ```
//!
//! Inputs are fixed wherever the protocol allows: the RSA key pairs are the test-only fixtures in
//! `common/tests/fixtures/` (client = `test_rsa_private.pem`, server =
//! `test_rsa_other_private.pem`), and the nonces, IVs, the one-time envelope key `k`, the session
//! DES key, the MAC key, the key id and the times are constants below. Real runs draw all of
//! them from the OS CSPRNG. RSA-OAEP is randomised, so the wrapped key - and the server's
//! signature and the confirmation MAC, which cover it - differ on every run; everything else the
//! program prints is the same on every run.
//!
//! Every frame built by hand here is also checked with the library's own parsers and
//! [`Channel::open`], so the output is what a real client and server accept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::crypto::envelope::Envelope;
use common::crypto::session::{format_time, parse_time};
use common::crypto::{DesKey, PrivateKey, PublicKey, SessionKey, cbc, mac, sha256};
use common::error::{CryptoError, Error};
use common::keyfile::KeyFile;
use common::protocol::RawMessage;
use common::protocol::Reason;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, Hello, LOGIN_PREFIX_FIELDS, OnlineUser, ServerEvent,
    parse_login_outer,
};
use common::protocol::consts::{IV_LEN, NONCE_LEN, PROTOCOL_VERSION, code, label};
use common::protocol::files::FileRequest;
use common::protocol::frame;
use common::protocol::keydist::{
    KeyConfirm, KeyDone, KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript,
};
use common::protocol::message::b64;
use common::protocol::password::Secret;
use common::protocol::sealed::Channel;
use common::protocol::sealed::SealedMessage;
use common::trace::hex_blocks;

const USERNAME: &str = "user1";
const NICKNAME: &str = "wang_yuan";
const PASSWORD: &str = "111111";
const OTHER_USER: &str = "user2";
const OTHER_NICK: &str = "ding_zhen";

const SERVER_NONCE: [u8; NONCE_LEN] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
];
const CLIENT_NONCE: [u8; NONCE_LEN] = [
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
];
const CONN_NONCE: [u8; NONCE_LEN] = [
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

/// Session DES working key (odd parity, not weak) and the envelope's one-time key `k`.
const SESSION_DES_HEX: &str = "133457799bbcdff1";
const ONE_TIME_K_HEX: &str = "0123456789abcdef";
/// HMAC-SHA-256 key: the bytes 00 01 02 .. 1f.
const MAC_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_ID: &str = "0f1e2d3c4b5a6978";
const CREATED_AT: &str = "2026-11-27T04:00:00Z";
const EXPIRES_AT: &str = "2026-11-28T04:00:00Z";
const ISSUED_AT: &str = "2026-11-27T04:00:00Z";
/// 2026-11-27T04:00:05.123Z in milliseconds since the Unix epoch.
const TIME_MS: u64 = 1_795_752_005_123;

const ENVELOPE_IV: [u8; IV_LEN] = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];
const IV_LOGIN: [u8; IV_LEN] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
const IV_LOGIN_OK: [u8; IV_LEN] = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17];
const IV_USER_LIST: [u8; IV_LEN] = [0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f];
const IV_CHAT: [u8; IV_LEN] = [0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f];
const IV_RELAY: [u8; IV_LEN] = [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27];
const IV_PING: [u8; IV_LEN] = [0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f];
const IV_PONG: [u8; IV_LEN] = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37];
const IV_PASSWD: [u8; IV_LEN] = [0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f];
const IV_PASSWD_OK: [u8; IV_LEN] = [0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47];
const IV_CHUNK: [u8; IV_LEN] = [0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f];
/// The example chunk's data: a byte that is not UTF-8, a `|`, an `a`, a newline.
const CHUNK_DATA: [u8; 4] = [0xff, b'|', b'a', b'\n'];
/// The new password in the `0006` example.
const NEW_PASSWORD: &str = "my-own-密码";

const CHAT_TEXT: &str = "Hello 大家好 | a pipe is safe";

/// Output helper: `--short` abbreviates long base64 fields with `…`.
struct Out {
    short: bool,
}

impl Out {
    /// One value, shortened in the middle when `--short` and long.
    fn s(&self, v: &str) -> String {
        const KEEP_HEAD: usize = 24;
        const KEEP_TAIL: usize = 12;
        if self.short && v.len() > 200 && v.is_ascii() {
            format!("{}…{}", &v[..KEEP_HEAD], &v[v.len() - KEEP_TAIL..])
        } else {
            v.to_owned()
        }
    }

    /// A `|`-separated text with each long field shortened.
    fn fields(&self, text: &str) -> String {
        text.split('|')
            .map(|f| self.s(f))
            .collect::<Vec<_>>()
            .join("|")
    }

    fn heading(&self, title: &str) {
        println!();
        println!("-- {title}");
    }

    fn kv(&self, key: &str, value: &str) {
        println!("{key:<26} {value}");
    }

    /// Hex in 8-byte DES blocks, four blocks a line.
    fn hex(&self, key: &str, data: &[u8]) {
        let blocks = hex_blocks(data);
        let words: Vec<&str> = blocks.split(' ').collect();
        for (i, line) in words.chunks(4).enumerate() {
            let k = if i == 0 { key } else { "" };
            self.kv(k, &line.join(" "));
        }
    }

    /// The frame as it crosses the wire: length prefix, then the UTF-8 text.
    fn frame(&self, text: &str) {
        let bytes = frame::encode(text.as_bytes()).expect("example frames are within limits");
        let (prefix, payload) = bytes.split_at(4);
        assert_eq!(payload, text.as_bytes());
        self.kv(
            "frame length prefix",
            &format!("{} ({} payload bytes)", hex::encode(prefix), payload.len()),
        );
        self.kv("frame payload (UTF-8)", &self.fields(text));
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn parse(text: &str) -> RawMessage {
    RawMessage::parse_str(text).expect("example frames parse")
}

/// A plaintext as the example prints it: its text, `(empty)`, or for a file chunk the text up to
/// the raw data and then the data's bytes in hex.
fn shown_plain(inner: &[u8]) -> String {
    match std::str::from_utf8(inner) {
        Ok("") => "(empty)".to_owned(),
        Ok(text) => text.to_owned(),
        Err(e) => {
            let (text, raw) = inner.split_at(e.valid_up_to());
            let text = std::str::from_utf8(text).expect("valid up to here");
            format!("{text}  + raw bytes {}", hex::encode(raw))
        }
    }
}

/// PKCS#7 padding as DES-CBC applies it (1 to 8 bytes, each equal to the pad length).
fn pkcs7(data: &[u8]) -> Vec<u8> {
    let pad = IV_LEN - data.len() % IV_LEN;
    let mut v = data.to_vec();
    v.extend(std::iter::repeat_n(
        u8::try_from(pad).expect("pad <= 8"),
        pad,
    ));
    v
}

/// Build a sealed frame by hand exactly as PROTOCOL.md describes, printing every step.
#[allow(clippy::too_many_arguments)]
fn seal_by_hand(
    out: &Out,
    key: &SessionKey,
    dir: &str,
    code: &str,
    prefix: &[&str],
    seq: u64,
    iv: &[u8; IV_LEN],
    inner: impl AsRef<[u8]>,
) -> String {
    let inner = inner.as_ref();
    let ct = cbc::encrypt_with_iv(&key.des, iv, inner);
    let padded = pkcs7(inner);
    assert_eq!(ct.len(), padded.len());
    assert_eq!(cbc::decrypt(&key.des, iv, &ct).expect("decrypts"), inner);
    let mut covered = code.to_owned();
    for p in prefix {
        covered.push('|');
        covered.push_str(p);
    }
    covered.push_str(&format!("|{seq}|{}|{}", b64(iv), b64(&ct)));
    let mac_input = format!("{}|{dir}|{}|{covered}", label::FRAME_MAC, b64(CONN_NONCE));
    let tag = mac::hmac_sha256(&*key.mac_key, &[mac_input.as_bytes()]);
    let text = format!("{covered}|{}", b64(tag));

    out.kv("inner plaintext", &shown_plain(inner));
    out.hex("DES-CBC plaintext+PKCS#7", &padded);
    out.kv("IV", &format!("{}  (base64 {})", hex::encode(iv), b64(iv)));
    out.hex("DES-CBC ciphertext", &ct);
    out.kv("MAC input (ASCII)", &mac_input);
    out.kv("HMAC-SHA-256", &hex::encode(tag));
    out.frame(&text);
    text
}

fn main() {
    let out = Out {
        short: std::env::args().any(|a| a == "--short"),
    };
    let client_key =
        PrivateKey::load(&fixture("test_rsa_private.pem")).expect("fixture client key loads");
    let server_key =
        PrivateKey::load(&fixture("test_rsa_other_private.pem")).expect("fixture server key loads");
    let client_pub = client_key.public_key();
    let server_pub = server_key.public_key();

    println!("mini-chat protocol worked example (protocol version {PROTOCOL_VERSION})");
    println!(
        "RSA-OAEP is randomised: `wrapped`, the envelope signature and the confirmation MAC change on every run."
    );
    if out.short {
        println!("`…` marks base64 shortened for display (run without --short for full values).");
    }

    key_distribution(&out, &client_key, &client_pub, &server_key, &server_pub);
    chat(&out);
    file_chunk(&out);
    discovery(&out, &server_pub);
    println!();
    println!("all checks passed");
}

fn session_key() -> SessionKey {
    SessionKey {
        username: USERNAME.to_owned(),
        key_id: KEY_ID.to_owned(),
        des: DesKey::from_hex(SESSION_DES_HEX).expect("fixed DES key is valid"),
        mac_key: SessionKey::parse_mac_key(MAC_KEY_HEX).expect("fixed MAC key is valid"),
        expires_at: parse_time(EXPIRES_AT).expect("fixed time parses"),
    }
}

fn key_distribution(
    out: &Out,
    client_key: &PrivateKey,
    client_pub: &PublicKey,
    server_key: &PrivateKey,
    server_pub: &PublicKey,
) {
    println!();
    println!("==== 1. Key distribution (server_key, TCP port 8091) ====");
    out.kv(
        "client key",
        &format!(
            "tests/fixtures/test_rsa_private.pem, {} bits",
            client_pub.bits()
        ),
    );
    out.kv("client fingerprint", &client_pub.fingerprint());
    out.kv(
        "server key",
        &format!(
            "tests/fixtures/test_rsa_other_private.pem, {} bits",
            server_pub.bits()
        ),
    );
    out.kv("server fingerprint", &server_pub.fingerprint());

    // 1100: hello.
    out.heading("1100 KeyHello  server -> client, plain");
    let hello = KeyHello {
        version: PROTOCOL_VERSION,
        server_pub: server_pub.to_der(),
        server_nonce: SERVER_NONCE,
    };
    let hello_text = hello.to_text();
    out.kv(
        "server_pub",
        &format!("SPKI DER, {} bytes", hello.server_pub.len()),
    );
    out.kv("server_nonce", &hex::encode(SERVER_NONCE));
    out.frame(&hello_text);
    let got = KeyHello::from_message(&parse(&hello_text)).expect("client accepts hello");
    let seen_server = PublicKey::from_der(&got.server_pub).expect("server key parses");
    assert_eq!(seen_server.fingerprint(), server_pub.fingerprint());

    // 0101: the signed request.
    out.heading("0101 KeyRequest  client -> server, plain");
    let transcript = Transcript {
        username: USERNAME.to_owned(),
        client_fingerprint: client_pub.fingerprint(),
        server_fingerprint: seen_server.fingerprint(),
        server_nonce: got.server_nonce,
        client_nonce: CLIENT_NONCE,
    };
    let req_bytes = transcript.request_bytes();
    let by_hand = format!(
        "{}|{}|{}|{}|{}|{}",
        label::KEY_REQUEST,
        b64(USERNAME),
        client_pub.fingerprint(),
        server_pub.fingerprint(),
        b64(SERVER_NONCE),
        b64(CLIENT_NONCE)
    );
    assert_eq!(req_bytes, by_hand.as_bytes());
    let req_sig = client_key.sign(&req_bytes);
    out.kv("client_nonce", &hex::encode(CLIENT_NONCE));
    out.kv(
        "signed (ASCII)",
        &String::from_utf8(req_bytes.clone()).expect("ASCII"),
    );
    out.kv(
        "RSA-SHA256 PKCS1v15 sig",
        &format!("{} bytes, deterministic", req_sig.len()),
    );
    let req = KeyRequest {
        username: USERNAME.to_owned(),
        client_pub: client_pub.to_der(),
        client_nonce: CLIENT_NONCE,
        signature: req_sig,
    };
    let req_text = req.to_text();
    out.frame(&req_text);
    // Server side: parse and verify.
    let got_req = KeyRequest::from_message(&parse(&req_text)).expect("server parses request");
    let got_client = PublicKey::from_der(&got_req.client_pub).expect("client key parses");
    let server_transcript = Transcript {
        username: got_req.username.clone(),
        client_fingerprint: got_client.fingerprint(),
        server_fingerprint: server_pub.fingerprint(),
        server_nonce: SERVER_NONCE,
        client_nonce: got_req.client_nonce,
    };
    assert_eq!(server_transcript, transcript);
    got_client
        .verify(&server_transcript.request_bytes(), &got_req.signature)
        .expect("server verifies the request signature");

    // 1101: the envelope.
    out.heading("1101 KeyEnvelope  server -> client, plain (signed)");
    let session = session_key();
    let material = format!(
        "{}|{}|{}|{}|{}",
        b64(&session.username),
        session.key_id,
        session.expires_rfc3339(),
        session.des.to_hex(),
        *session.mac_key_hex()
    );
    let k = DesKey::from_hex(ONE_TIME_K_HEX).expect("fixed one-time key is valid");
    let sealed = cbc::encrypt_with_iv(&k, &ENVELOPE_IV, material.as_bytes());
    let wrapped = server_view_wrap(client_pub, &k);
    out.kv("key_id", KEY_ID);
    out.kv("expires_at", EXPIRES_AT);
    out.kv("issued_at", ISSUED_AT);
    out.kv("session DES key", SESSION_DES_HEX);
    out.kv("session MAC key", MAC_KEY_HEX);
    out.kv("material (ASCII)", &material);
    out.kv("one-time DES key k", ONE_TIME_K_HEX);
    out.kv("envelope IV", &hex::encode(ENVELOPE_IV));
    out.hex("DES-CBC plaintext+PKCS#7", &pkcs7(material.as_bytes()));
    out.hex("sealed = DES-CBC(k, IV)", &sealed);
    out.kv(
        "wrapped = OAEP(client, k)",
        &format!(
            "{} bytes (random each run): {}",
            wrapped.len(),
            out.s(&b64(&wrapped))
        ),
    );
    let mut env = KeyEnvelope {
        key_id: KEY_ID.to_owned(),
        expires_at: EXPIRES_AT.to_owned(),
        issued_at: ISSUED_AT.to_owned(),
        envelope: Envelope {
            iv: ENVELOPE_IV,
            sealed,
            wrapped_key: wrapped,
        },
        signature: Vec::new(),
    };
    let env_bytes = server_transcript.envelope_bytes(&env);
    let env_by_hand = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        label::KEY_ENVELOPE,
        b64(USERNAME),
        client_pub.fingerprint(),
        server_pub.fingerprint(),
        b64(SERVER_NONCE),
        b64(CLIENT_NONCE),
        KEY_ID,
        EXPIRES_AT,
        ISSUED_AT,
        b64(ENVELOPE_IV),
        b64(&env.envelope.sealed),
        b64(&env.envelope.wrapped_key)
    );
    assert_eq!(env_bytes, env_by_hand.as_bytes());
    env.signature = server_key.sign(&env_bytes);
    out.kv("signed (ASCII)", &out.fields(&env_by_hand));
    out.kv(
        "RSA-SHA256 PKCS1v15 sig",
        &format!(
            "{} bytes (changes with wrapped): {}",
            env.signature.len(),
            out.s(&b64(&env.signature))
        ),
    );
    let env_text = env.to_text();
    out.frame(&env_text);
    // Client side: verify, then open.
    let got_env = KeyEnvelope::from_message(&parse(&env_text)).expect("client parses envelope");
    let verified = got_env
        .verify(&seen_server, &transcript)
        .expect("client verifies the envelope signature");
    let opened = verified
        .open(client_key)
        .expect("client opens the envelope");
    assert_eq!(opened.one_time_key.to_hex(), ONE_TIME_K_HEX);
    let opened = opened.session;
    let got_env = verified.into_envelope();
    assert_eq!(opened.des, session.des);
    assert_eq!(*opened.mac_key, *session.mac_key);
    assert_eq!(opened.expires_at, session.expires_at);

    // 0102: confirmation.
    out.heading("0102 KeyConfirm  client -> server, plain");
    let digest = sha256(&transcript.envelope_bytes(&got_env));
    let confirm_input = format!("{}|{}", label::KEY_CONFIRM, hex::encode(digest));
    assert_eq!(transcript.confirm_bytes(&got_env), confirm_input.as_bytes());
    let confirm_mac = mac::hmac_sha256(&*opened.mac_key, &[confirm_input.as_bytes()]);
    out.kv("SHA-256(envelope signed)", &hex::encode(digest));
    out.kv("MAC input (ASCII)", &confirm_input);
    out.kv("HMAC-SHA-256(MAC key)", &hex::encode(confirm_mac));
    let confirm = KeyConfirm {
        key_id: got_env.key_id.clone(),
        mac: confirm_mac,
    };
    let confirm_text = confirm.to_text();
    out.frame(&confirm_text);
    let got_confirm =
        KeyConfirm::from_message(&parse(&confirm_text)).expect("server parses confirm");
    assert_eq!(got_confirm.key_id, KEY_ID);
    mac::verify_hmac_sha256(
        &*session.mac_key,
        &[&server_transcript.confirm_bytes(&env)],
        &got_confirm.mac,
    )
    .expect("server verifies the confirmation");

    // 1102: done.
    out.heading("1102 KeyDone  server -> client, plain (HMAC under the new MAC key)");
    let done_input = format!("{}|{}", label::KEY_DONE, hex::encode(digest));
    assert_eq!(server_transcript.done_bytes(&env), done_input.as_bytes());
    let done_mac = mac::hmac_sha256(&*session.mac_key, &[done_input.as_bytes()]);
    out.kv("MAC input (ASCII)", &done_input);
    out.kv("HMAC-SHA-256(MAC key)", &hex::encode(done_mac));
    let done = KeyDone {
        key_id: KEY_ID.to_owned(),
        mac: done_mac,
    };
    let done_text = done.to_text();
    out.frame(&done_text);
    let got_done = KeyDone::from_message(&parse(&done_text)).expect("client parses done");
    mac::verify_hmac_sha256(
        &*opened.mac_key,
        &[&transcript.done_bytes(&got_env)],
        &got_done.mac,
    )
    .expect("client verifies the done MAC");

    // 1109: an example refusal.
    out.heading("1109 KeyError  server -> client, plain (example: a bad signature)");
    let refusal = KeyError::new(
        Reason::BadSignature,
        "the request's signature does not verify with the client key it carries",
    );
    let refusal_text = refusal.to_text();
    out.frame(&refusal_text);
    assert_eq!(
        KeyError::from_message(&parse(&refusal_text)).expect("parses"),
        refusal
    );

    // The key file both sides write.
    out.heading(
        "key file written by server_key (sessions/user1.txt, on valid 0102) and the client (session_key.txt, after 1102)",
    );
    let file = KeyFile {
        key: opened,
        created_at: parse_time(CREATED_AT).expect("fixed time parses"),
        server_fingerprint: server_pub.fingerprint(),
        client_fingerprint: client_pub.fingerprint(),
        clock_offset_secs: None,
    };
    let toml = file.to_toml();
    print!("{}", &*toml);
    let back = KeyFile::from_toml(&toml, Path::new("session_key.txt")).expect("key file parses");
    assert_eq!(back.key.key_id, KEY_ID);
    assert_eq!(format_time(back.created_at), CREATED_AT);
}

/// The server's wrapping step (random: OAEP draws a fresh seed each time).
fn server_view_wrap(client_pub: &PublicKey, k: &DesKey) -> Vec<u8> {
    client_pub
        .oaep_encrypt(k.as_bytes())
        .expect("a 2048-bit key wraps 8 bytes")
}

fn chat(out: &Out) {
    println!();
    println!("==== 2. Chat (server, TCP port 8090) ====");
    let key = Arc::new(session_key());
    out.kv("session key", "as stored above (des_key, mac_key, key_id)");
    let mut server_ch = Channel::server(key.clone(), &CONN_NONCE);
    let mut client_ch = Channel::client(key.clone(), &CONN_NONCE);

    // 1000: hello.
    out.heading("1000 Hello  server -> client, plain");
    let hello = Hello {
        version: PROTOCOL_VERSION,
        nonce: CONN_NONCE,
    };
    let hello_text = hello.to_text();
    out.kv("connection nonce", &hex::encode(CONN_NONCE));
    out.frame(&hello_text);
    assert_eq!(
        Hello::from_message(&parse(&hello_text)).expect("parses"),
        hello
    );

    // 0001: login.
    out.heading(
        "0001 login  client -> server, sealed with clear prefix username_b64|key_id; seq 0",
    );
    let login_inner = b64(PASSWORD);
    let login = seal_by_hand(
        out,
        &key,
        label::CLIENT_TO_SERVER,
        code::LOGIN,
        &[&b64(USERNAME), KEY_ID],
        0,
        &IV_LOGIN,
        &login_inner,
    );
    let msg = parse(&login);
    assert_eq!(
        parse_login_outer(&msg).expect("outer parses"),
        (USERNAME.to_owned(), KEY_ID.to_owned())
    );
    let o = server_ch
        .open(&msg, LOGIN_PREFIX_FIELDS)
        .expect("server opens the login");
    assert_eq!(o.seq, 0);
    assert_eq!(o.inner.text(0).expect("password"), PASSWORD);

    // 1001: login result.
    out.heading("1001 login result  server -> client, sealed; seq 0");
    let ok = ServerEvent::LoginOk {
        username: USERNAME.to_owned(),
        nickname: NICKNAME.to_owned(),
        must_change_password: false,
    };
    let ok_inner = format!("OK|{}|{}", b64(USERNAME), b64(NICKNAME));
    assert_eq!(ok.inner_text(), ok_inner);
    let ok_text = seal_by_hand(
        out,
        &key,
        label::SERVER_TO_CLIENT,
        code::LOGIN_RESULT,
        &[],
        0,
        &IV_LOGIN_OK,
        &ok_inner,
    );
    let o = client_ch
        .open(&parse(&ok_text), 0)
        .expect("client opens 1001");
    assert_eq!(ServerEvent::from_inner(&o.inner).expect("decodes"), ok);

    // 1003: user list.
    out.heading("1003 user list  server -> client, sealed; seq 1 (user2 was already online)");
    let list = ServerEvent::UserList(vec![
        OnlineUser {
            username: USERNAME.to_owned(),
            nickname: NICKNAME.to_owned(),
        },
        OnlineUser {
            username: OTHER_USER.to_owned(),
            nickname: OTHER_NICK.to_owned(),
        },
    ]);
    let list_inner = list.inner_text();
    let list_text = seal_by_hand(
        out,
        &key,
        label::SERVER_TO_CLIENT,
        code::USER_LIST,
        &[],
        1,
        &IV_USER_LIST,
        &list_inner,
    );
    let o = client_ch
        .open(&parse(&list_text), 0)
        .expect("client opens 1003");
    assert_eq!(ServerEvent::from_inner(&o.inner).expect("decodes"), list);

    // 0002: chat to everyone.
    out.heading("0002 chat  client -> server, sealed; seq 1; to = \"\" (everyone)");
    let req = ClientRequest::Chat {
        to: None,
        text: CHAT_TEXT.to_owned(),
    };
    let chat_inner = format!("{}|{}", b64(""), b64(CHAT_TEXT));
    assert_eq!(req.inner_text(), chat_inner);
    let chat_text = seal_by_hand(
        out,
        &key,
        label::CLIENT_TO_SERVER,
        code::CHAT,
        &[],
        1,
        &IV_CHAT,
        &chat_inner,
    );
    let o = server_ch
        .open(&parse(&chat_text), 0)
        .expect("server opens 0002");
    assert_eq!(o.seq, 1);
    assert_eq!(ClientRequest::from_inner(&o.inner).expect("decodes"), req);

    // 1002: the relay back to the sender.
    out.heading(
        "1002 chat message  server -> user1 (the sender's own copy), sealed; seq 2; msg_id 1",
    );
    let line = ServerEvent::Chat(ChatLine {
        msg_id: 1,
        time_ms: TIME_MS,
        from_user: USERNAME.to_owned(),
        from_nick: NICKNAME.to_owned(),
        to: None,
        text: CHAT_TEXT.to_owned(),
    });
    let relay_inner = format!(
        "1|{TIME_MS}|{}|{}|{}|{}",
        b64(USERNAME),
        b64(NICKNAME),
        b64(""),
        b64(CHAT_TEXT)
    );
    assert_eq!(line.inner_text(), relay_inner);
    let relay_text = seal_by_hand(
        out,
        &key,
        label::SERVER_TO_CLIENT,
        code::CHAT_MESSAGE,
        &[],
        2,
        &IV_RELAY,
        &relay_inner,
    );
    let o = client_ch
        .open(&parse(&relay_text), 0)
        .expect("client opens 1002");
    assert_eq!(ServerEvent::from_inner(&o.inner).expect("decodes"), line);
    println!(
        "(user2 receives the same inner plaintext sealed under user2's own session key, user2's connection nonce and user2's next S sequence number)"
    );

    // 0005 / 1005: heartbeat, empty inner plaintext.
    out.heading("0005 ping  client -> server, sealed; seq 2; empty inner plaintext");
    let ping_text = seal_by_hand(
        out,
        &key,
        label::CLIENT_TO_SERVER,
        code::PING,
        &[],
        2,
        &IV_PING,
        "",
    );
    let o = server_ch
        .open(&parse(&ping_text), 0)
        .expect("server opens 0005");
    assert!(o.inner.fields.is_empty());
    assert_eq!(
        ClientRequest::from_inner(&o.inner).expect("decodes"),
        ClientRequest::Ping
    );
    out.heading("1005 pong  server -> client, sealed; seq 3; empty inner plaintext");
    let pong_text = seal_by_hand(
        out,
        &key,
        label::SERVER_TO_CLIENT,
        code::PONG,
        &[],
        3,
        &IV_PONG,
        "",
    );
    let o = client_ch
        .open(&parse(&pong_text), 0)
        .expect("client opens 1005");
    assert_eq!(
        ServerEvent::from_inner(&o.inner).expect("decodes"),
        ServerEvent::Pong
    );

    // 0006 / 1006: a password change and its answer.
    out.heading(
        "0006 change password  client -> server, sealed; seq 3; old 111111, new \"my-own-密码\"",
    );
    let passwd = ClientRequest::ChangePassword {
        old: Secret::new(PASSWORD),
        new: Secret::new(NEW_PASSWORD),
    };
    let passwd_inner = format!("{}|{}", b64(PASSWORD), b64(NEW_PASSWORD));
    assert_eq!(passwd.inner_text(), passwd_inner);
    let passwd_text = seal_by_hand(
        out,
        &key,
        label::CLIENT_TO_SERVER,
        code::CHANGE_PASSWORD,
        &[],
        3,
        &IV_PASSWD,
        &passwd_inner,
    );
    let o = server_ch
        .open(&parse(&passwd_text), 0)
        .expect("server opens 0006");
    assert_eq!(
        ClientRequest::from_inner(&o.inner).expect("decodes"),
        passwd
    );
    out.heading("1006 password result  server -> client, sealed; seq 4; OK (a refusal carries its reason, e.g. WRONG_PASSWORD)");
    let result = ServerEvent::PasswordResult(Ok(()));
    assert_eq!(result.inner_text(), "OK");
    let result_text = seal_by_hand(
        out,
        &key,
        label::SERVER_TO_CLIENT,
        code::PASSWORD_RESULT,
        &[],
        4,
        &IV_PASSWD_OK,
        "OK",
    );
    let o = client_ch
        .open(&parse(&result_text), 0)
        .expect("client opens 1006");
    assert_eq!(ServerEvent::from_inner(&o.inner).expect("decodes"), result);

    // 1009: a plain error.
    out.heading(
        "1009 error  server -> client, plain (example: wrong password; the server then closes)",
    );
    let err = ErrorMsg::new(Reason::BadLogin, "wrong username or password");
    let err_text = err.to_text();
    out.frame(&err_text);
    assert_eq!(
        ErrorMsg::from_message(&parse(&err_text)).expect("parses"),
        err
    );

    // What the checks reject.
    out.heading("checks (Channel::open)");
    let replay = server_ch.open(&parse(&chat_text), 0);
    assert!(matches!(
        replay,
        Err(Error::Crypto(CryptoError::Replay { got: 1, last: 3 }))
    ));
    println!(
        "replaying the 0002 frame (seq 1 again):      rejected ({})",
        replay.unwrap_err()
    );
    let mut fresh_client = Channel::client(key.clone(), &CONN_NONCE);
    let reflected = fresh_client.open(&parse(&chat_text), 0);
    assert!(matches!(reflected, Err(Error::Crypto(CryptoError::BadMac))));
    println!(
        "reflecting the 0002 frame back to a client:  rejected ({})",
        reflected.unwrap_err()
    );
    let mut other_conn = Channel::server(key.clone(), &[0u8; NONCE_LEN]);
    let moved = other_conn.open(&parse(&chat_text), 0);
    assert!(matches!(moved, Err(Error::Crypto(CryptoError::BadMac))));
    println!(
        "the 0002 frame on another connection:        rejected ({})",
        moved.unwrap_err()
    );
    // A frame that never arrived: the next authentic one (here a ping sealed with seq 5 while
    // the server expects 4) ends the session with 1009 FRAME_LOST.
    let skipped = ping_text.replacen("0005|2|", "0005|5|", 1);
    let (covered, _) = skipped.rsplit_once('|').expect("a tag");
    let tag = common::protocol::sealed::frame_tag(
        &key,
        label::CLIENT_TO_SERVER,
        &b64(CONN_NONCE),
        covered,
    );
    let lost = server_ch.open(&parse(&format!("{covered}|{}", b64(tag))), 0);
    assert!(matches!(
        lost,
        Err(Error::Crypto(CryptoError::FrameLost {
            got: 5,
            expected: 4
        }))
    ));
    println!(
        "an authentic frame with seq 5 (4 is missing): rejected ({}), then 1009 FRAME_LOST",
        lost.unwrap_err()
    );
    let tampered = chat_text.replacen("0002|1|", "0002|2|", 1);
    let mut fresh_server = Channel::server(key, &CONN_NONCE);
    let bad = fresh_server.open(&parse(&tampered), 0);
    assert!(matches!(bad, Err(Error::Crypto(CryptoError::BadMac))));
    println!(
        "the 0002 frame with seq changed to 2:        rejected ({})",
        bad.unwrap_err()
    );
}

/// §5.12: the discovery query and server_key's answer, from the real encoders, parsed back.
/// A file chunk (PROTOCOL.md §6.11): its plaintext is `id|offset|` and then raw bytes.
fn file_chunk(out: &Out) {
    let key = Arc::new(session_key());
    let mut server_ch = Channel::server(key.clone(), &CONN_NONCE);
    out.heading(
        "0010 file chunk  client -> server, sealed; seq 9; transfer 7, offset 0, 4 raw bytes ff 7c 61 0a",
    );
    let chunk = ClientRequest::File(FileRequest::Chunk {
        id: 7,
        offset: 0,
        data: CHUNK_DATA.to_vec(),
    });
    let plain = [&b"7|0|"[..], &CHUNK_DATA].concat();
    assert_eq!(chunk.inner_plain(), plain);
    let text = seal_by_hand(
        out,
        &key,
        label::CLIENT_TO_SERVER,
        code::FILE_CHUNK,
        &[],
        9,
        &IV_CHUNK,
        &plain,
    );
    let o = server_ch.open(&parse(&text), 0).expect("server opens 0010");
    assert_eq!(o.inner.fields, ["7", "0"]);
    assert_eq!(o.inner.data, CHUNK_DATA);
    assert_eq!(ClientRequest::from_inner(&o.inner).expect("decodes"), chunk);
    println!(
        "(split at the first two `|` only: fields 7 and 0, data ff 7c 61 0a, its `|` included; the server relays it as 1014 with the same plaintext, sealed for each recipient)"
    );
}

fn discovery(out: &Out, server_pub: &PublicKey) {
    use common::protocol::consts::{DEFAULT_CHAT_PORT, DEFAULT_KEY_PORT, DISCOVERY_QUERY_LEN};
    use common::protocol::discovery::{Answer, Query};
    out.heading("discovery query (client -> UDP broadcast, port 8092)");
    let mut nonce = [0u8; NONCE_LEN];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = i as u8;
    }
    let query = Query { nonce };
    let q = query.to_bytes();
    let text_len = q.iter().position(|&b| b == 0).unwrap_or(q.len());
    out.kv(
        "datagram",
        &format!(
            "{} bytes: {:?} + {} zero bytes",
            q.len(),
            String::from_utf8_lossy(&q[..text_len]),
            q.len() - text_len
        ),
    );
    assert_eq!(q.len(), DISCOVERY_QUERY_LEN);
    assert_eq!(Query::parse(&q), Ok(query));
    out.heading("discovery answer (server_key -> the query's source address)");
    let answer = Answer {
        nonce,
        key_port: DEFAULT_KEY_PORT,
        chat_port: DEFAULT_CHAT_PORT,
        fingerprint: server_pub.fingerprint(),
        name: "teacher-pc".into(),
    };
    let a = answer.to_bytes();
    out.kv("datagram", &format!("{} bytes (UTF-8):", a.len()));
    println!("{}", String::from_utf8_lossy(&a));
    assert!(a.len() <= q.len(), "never larger than the query");
    assert_eq!(Answer::parse(&a), Ok(answer));
}
