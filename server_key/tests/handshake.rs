//! server_key end to end, in-process: concurrent key distribution, server key pinning,
//! registration (TOFU and strict), key size limits, stalled clients and restarts.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::client::key_client::KeyStepError;
use common::config::Registration;
use common::connection::{FrameReader, FrameWriter};
use common::crypto::{PublicKey, random};
use common::keyfile::KeyFile;
use common::protocol::Reason;
use common::protocol::consts::{NONCE_LEN, code};
use common::protocol::keydist::{KeyEnvelope, KeyError, KeyHello, KeyRequest, Transcript};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_concurrently_get_the_same_key_in_both_files() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_2, CLIENT_3]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let srv = TestServer::start(&key_dir, Registration::Tofu).await;

    let users = [
        ("user1", CLIENT_1),
        ("user2", CLIENT_2),
        ("user3", CLIENT_3),
    ];
    let folders: Vec<_> = users
        .iter()
        .map(|&(u, k)| client(&tmp.path().join(u), srv.port, u, Some(key(k))))
        .collect();
    let (r1, r2, r3) = tokio::join!(
        key_step(&folders[0]),
        key_step(&folders[1]),
        key_step(&folders[2])
    );

    let server_pub = std::fs::read(key_dir.join("server_public.pem")).unwrap();
    let mut seen = Vec::new();
    for ((&(user, k), folder), r) in users.iter().zip(&folders).zip([r1, r2, r3]) {
        let outcome = r.unwrap_or_else(|e| panic!("{user}: key step failed: {e}"));
        assert!(
            outcome.pinned_now,
            "{user}: first contact pins the server key"
        );
        assert!(
            !outcome.client_key_created,
            "{user}: the folder's key pair was used"
        );
        assert_eq!(outcome.server_fingerprint, srv.fingerprint());
        let client_fp = key(k).public_key().fingerprint();
        assert_eq!(outcome.client_fingerprint, client_fp);

        let c = KeyFile::load(&folder.session_key_path()).unwrap();
        let s = KeyFile::load(&srv.session_path(user)).unwrap();
        assert_eq!(c.key.username, user);
        assert_eq!(s.key.username, user);
        assert_eq!(c.key.key_id, outcome.key_id);
        assert_eq!(s.key.key_id, outcome.key_id);
        assert_eq!(c.key.des.to_hex(), s.key.des.to_hex(), "{user}: DES key");
        assert_eq!(
            *c.key.mac_key_hex(),
            *s.key.mac_key_hex(),
            "{user}: MAC key"
        );
        assert_eq!(c.key.expires_at, s.key.expires_at, "{user}: expiry");
        assert_eq!(c.key.expires_rfc3339(), outcome.expires_at);
        assert!(!c.key.is_expired());
        for f in [&c, &s] {
            assert_eq!(f.server_fingerprint, srv.fingerprint());
            assert_eq!(f.client_fingerprint, client_fp);
        }
        assert_eq!(
            mode(&folder.session_key_path()),
            0o600,
            "{user}: client session_key.txt mode"
        );
        assert_eq!(
            mode(&srv.session_path(user)),
            0o600,
            "{user}: server sessions/{user}.txt mode"
        );

        assert_eq!(
            std::fs::read(folder.server_key_path()).unwrap(),
            server_pub,
            "{user}: pinned key"
        );
        let bound = PublicKey::load(&key_dir.join("clients").join(format!("{user}.pem"))).unwrap();
        assert_eq!(bound, key(k).public_key(), "{user}: TOFU binding");
        seen.push((c.key.key_id.clone(), c.key.des.to_hex()));
    }
    for i in 0..seen.len() {
        for j in i + 1..seen.len() {
            assert_ne!(seen[i].0, seen[j].0, "key ids are distinct");
            assert_ne!(seen[i].1, seen[j].1, "DES keys are distinct");
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_server_key_is_refused_naming_both_fingerprints() {
    warm(&[SERVER_A, SERVER_B, CLIENT_1]);
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("keys_a"), tmp.path().join("keys_b"));
    seed_identity(&dir_a, key(SERVER_A));
    seed_identity(&dir_b, key(SERVER_B));
    let srv_a = TestServer::start(&dir_a, Registration::Tofu).await;
    let srv_b = TestServer::start(&dir_b, Registration::Tofu).await;
    let (fp_a, fp_b) = (
        srv_a.fingerprint().to_owned(),
        srv_b.fingerprint().to_owned(),
    );
    assert_ne!(fp_a, fp_b);

    let folder = client(
        &tmp.path().join("c1"),
        srv_a.port,
        "user1",
        Some(key(CLIENT_1)),
    );
    key_step(&folder)
        .await
        .expect("first key step pins server A");
    let client_before = snapshot(&folder.dir);
    let b_before = snapshot(&dir_b);

    // Same folder, now pointed at the impostor.
    let mut moved = folder.clone();
    moved.config.key_port = srv_b.port;
    let err = key_step(&moved)
        .await
        .expect_err("impostor must be refused");
    match &err {
        KeyStepError::ServerKeyMismatch {
            got, pinned, path, ..
        } => {
            assert_eq!(got, &fp_b);
            assert_eq!(pinned, &fp_a);
            assert_eq!(Path::new(path), folder.server_key_path());
        }
        other => panic!("expected ServerKeyMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&fp_a) && msg.contains(&fp_b),
        "message names both fingerprints: {msg}"
    );
    assert_eq!(
        snapshot(&folder.dir),
        client_before,
        "session_key.txt and the pin are unchanged"
    );
    assert_eq!(
        snapshot(&dir_b),
        b_before,
        "the impostor learned no binding and stored no key"
    );

    // The real server still works with the same folder.
    key_step(&folder).await.expect("server A still accepted");
    srv_a.stop().await;
    srv_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_registration_refuses_unknown_client_keys_until_registered() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_2, CLIENT_X]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let srv = TestServer::start(&key_dir, Registration::Strict).await;

    let f1 = client(
        &tmp.path().join("c1"),
        srv.port,
        "user1",
        Some(key(CLIENT_1)),
    );
    let server_before = snapshot(&key_dir);
    let (why, msg) = refused(key_step(&f1).await);
    assert_eq!(why, Reason::UnknownClient);
    assert!(
        msg.contains("ask the teacher to register it"),
        "message says what to do: {msg}"
    );
    let unknown_answer = msg;
    assert_eq!(
        snapshot(&key_dir),
        server_before,
        "strict mode binds nothing"
    );
    assert!(
        !f1.session_key_path().exists() && !f1.server_key_path().exists(),
        "client stored nothing"
    );

    // Registered through the store (what `server_key clients register` does)...
    srv.server
        .store
        .register("user1", &key(CLIENT_1).public_key())
        .unwrap();
    let o = key_step(&f1).await.expect("registered key accepted");
    assert_eq!(
        KeyFile::load(&srv.session_path("user1"))
            .unwrap()
            .key
            .key_id,
        o.key_id
    );

    // ...or by dropping the client's public key into key_dir/clients/.
    let f2 = client(
        &tmp.path().join("c2"),
        srv.port,
        "user2",
        Some(key(CLIENT_2)),
    );
    assert_eq!(refused(key_step(&f2).await).0, Reason::UnknownClient);
    std::fs::copy(
        f2.public_key_path(),
        key_dir.join("clients").join("user2.pem"),
    )
    .unwrap();
    key_step(&f2)
        .await
        .expect("key placed in clients/ accepted");

    // A registered name with another key is still refused, with the same answer as a name with
    // no key at all: nothing tells whether the name is registered, or with which key (issue 14,
    // item 6); the operator's log has the details.
    let fx = client(
        &tmp.path().join("cx"),
        srv.port,
        "user2",
        Some(key(CLIENT_X)),
    );
    let (why, msg) = refused(key_step(&fx).await);
    assert_eq!(why, Reason::UnknownClient);
    assert_eq!(msg, unknown_answer.replace("user1", "user2"));
    assert!(!msg.contains("SHA256:"), "{msg}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tofu_binding_refuses_a_new_client_key_until_revoked() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_X]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let srv = TestServer::start(&key_dir, Registration::Tofu).await;

    let fa = client(
        &tmp.path().join("a"),
        srv.port,
        "user1",
        Some(key(CLIENT_1)),
    );
    key_step(&fa).await.expect("first key binds user1");
    let server_before = snapshot(&key_dir);

    // A re-created client folder (new key pair) for the same name.
    let fb = client(
        &tmp.path().join("b"),
        srv.port,
        "user1",
        Some(key(CLIENT_X)),
    );
    let (why, msg) = refused(key_step(&fb).await);
    assert_eq!(why, Reason::ClientKeyMismatch);
    assert!(
        msg.contains("server_key clients revoke user1"),
        "message says how to fix it: {msg}"
    );
    assert!(
        !msg.contains(&key(CLIENT_1).public_key().fingerprint()),
        "the bound key's fingerprint is for the operator's log only: {msg}"
    );
    assert_eq!(
        snapshot(&key_dir),
        server_before,
        "binding and session key untouched"
    );
    assert!(!fb.session_key_path().exists());

    assert!(srv.server.store.revoke("user1").unwrap());
    assert!(
        !srv.session_path("user1").exists(),
        "revoke removes the session key"
    );
    let o = key_step(&fb).await.expect("after revoke the new key binds");
    assert_eq!(
        o.client_fingerprint,
        key(CLIENT_X).public_key().fingerprint()
    );
    assert_eq!(
        refused(key_step(&fa).await).0,
        Reason::ClientKeyMismatch,
        "the old key is now the stranger"
    );
    srv.stop().await;
}

/// SubjectPublicKeyInfo DER for an RSA "key" with a 4097-bit modulus and e = 65537. Not a real
/// key pair (nobody knows its factors), which does not matter: the size check comes first.
fn spki_4097_bits() -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len();
        let mut out = vec![tag];
        match n {
            0..=127 => out.push(n as u8),
            128..=255 => out.extend([0x81, n as u8]),
            _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(body);
        out
    }
    let mut n = vec![0x01];
    n.extend((0..512u32).map(|i| (i.wrapping_mul(151) ^ 0x5a) as u8));
    *n.last_mut().unwrap() |= 1;
    let rsa_public = tlv(
        0x30,
        &[tlv(0x02, &n), tlv(0x02, &[0x01, 0x00, 0x01])].concat(),
    );
    let rsa_encryption = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let alg = tlv(
        0x30,
        &[tlv(0x06, &rsa_encryption), vec![0x05, 0x00]].concat(),
    );
    tlv(
        0x30,
        &[alg, tlv(0x03, &[&[0u8][..], &rsa_public].concat())].concat(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keys_outside_2048_to_4096_bits_are_refused() {
    warm(&[SERVER_A]);
    let small = small_key();
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let srv = TestServer::start(&key_dir, Registration::Tofu).await;

    let f = client(&tmp.path().join("small"), srv.port, "user1", Some(small));
    let (why, msg) = refused(key_step(&f).await);
    assert_eq!(why, Reason::KeySize);
    assert!(msg.contains("1024 bits"), "{msg}");
    assert!(
        !key_dir.join("clients").join("user1.pem").exists(),
        "a refused key is not bound"
    );

    // Too large: a hand-made request (signature irrelevant: the size is checked first).
    let der = spki_4097_bits();
    assert_eq!(
        PublicKey::from_der(&der)
            .expect("the crafted key parses")
            .bits(),
        4097
    );
    let (r, w) = TcpStream::connect(("127.0.0.1", srv.port))
        .await
        .unwrap()
        .into_split();
    let (mut r, mut w) = (FrameReader::new(r), FrameWriter::new(w));
    let hello = r.read_frame().await.unwrap().unwrap();
    KeyHello::from_message(&parse(&hello)).unwrap();
    let req = KeyRequest {
        username: "big".into(),
        client_pub: der,
        client_nonce: random::bytes::<NONCE_LEN>(),
        signature: vec![0; 512],
    };
    w.write_frame(req.to_text().as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), r.read_frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let err = KeyError::from_message(&parse(&answer)).unwrap();
    assert_eq!(err.reason, Reason::KeySize, "{err:?}");
    assert!(err.message.contains("4097 bits"), "{err:?}");
    assert!(!key_dir.join("clients").join("big.pem").exists());
    srv.stop().await;
}

/// Read frames until the server closes; returns them and when the close came.
async fn frames_until_closed(s: TcpStream) -> (Vec<Vec<u8>>, Instant) {
    let (r, _w) = s.into_split();
    let mut r = FrameReader::new(r);
    let mut frames = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match r.read_frame().await {
                Ok(Some(f)) => frames.push(f),
                // EOF, a reset, or EOF inside a frame: closed either way.
                _ => return Instant::now(),
            }
        }
    })
    .await
    .expect("the server closes a stalled connection");
    (frames, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_time_out_while_others_get_their_keys() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_2]);
    const TIMEOUT: Duration = Duration::from_millis(1500);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let srv = TestServer::start_with(&key_dir, Registration::Tofu, 0, |s| {
        s.handshake_timeout = TIMEOUT
    })
    .await;
    let addr = ("127.0.0.1", srv.port);

    let t0 = Instant::now();
    // 1. Connects and sends nothing.
    let silent = TcpStream::connect(addr).await.unwrap();
    // 2. Sends garbage (its first four bytes claim a ~1.7 GB frame).
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"hello? this is not a frame at all\r\n\r\n")
        .await
        .unwrap();
    // 3. Sends half a frame and stops.
    let mut half = TcpStream::connect(addr).await.unwrap();
    let mut partial = 100u32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[b'x'; 50]);
    half.write_all(&partial).await.unwrap();
    // 4. A real client that signs a valid request, reads the envelope and never confirms.
    let mute = TcpStream::connect(addr).await.unwrap();
    let (mr, mw) = mute.into_split();
    let (mut mr, mut mw) = (FrameReader::new(mr), FrameWriter::new(mw));
    let hello = KeyHello::from_message(&parse(&mr.read_frame().await.unwrap().unwrap())).unwrap();
    let k2 = key(CLIENT_2);
    let transcript = Transcript {
        username: "user2".into(),
        client_fingerprint: k2.public_key().fingerprint(),
        server_fingerprint: srv.fingerprint().to_owned(),
        server_nonce: hello.server_nonce,
        client_nonce: random::bytes::<NONCE_LEN>(),
    };
    let req = KeyRequest {
        username: "user2".into(),
        client_pub: k2.public_key().to_der(),
        client_nonce: transcript.client_nonce,
        signature: k2.sign(&transcript.request_bytes()),
    };
    mw.write_frame(req.to_text().as_bytes()).await.unwrap();
    let env = KeyEnvelope::from_message(&parse(&mr.read_frame().await.unwrap().unwrap())).unwrap();
    key(SERVER_A)
        .public_key()
        .verify(&transcript.envelope_bytes(&env), &env.signature)
        .expect("a genuine envelope for the mute client");

    // Meanwhile a normal key step is served promptly, before any stalled connection is dropped.
    let f1 = client(
        &tmp.path().join("c1"),
        srv.port,
        "user1",
        Some(key(CLIENT_1)),
    );
    key_step(&f1)
        .await
        .expect("a normal client is served while others stall");
    let served = t0.elapsed();
    assert!(
        served < TIMEOUT,
        "the normal key step took {served:?}, not less than the stall timeout"
    );

    let (silent, half, garbage) = tokio::join!(
        frames_until_closed(silent),
        frames_until_closed(half),
        frames_until_closed(garbage)
    );
    for (name, (frames, closed)) in [("silent", silent), ("half frame", half)] {
        let waited = closed - t0;
        assert!(
            waited >= TIMEOUT - Duration::from_millis(100),
            "{name}: closed too early ({waited:?})"
        );
        assert!(
            waited < TIMEOUT + Duration::from_secs(5),
            "{name}: closed too late ({waited:?})"
        );
        assert_eq!(frames.len(), 2, "{name}: hello then the error");
        assert_eq!(code_of(&frames[0]), code::KEY_HELLO);
        let err = KeyError::from_message(&parse(&frames[1])).unwrap();
        assert_eq!(err.reason, Reason::Timeout, "{name}: {err:?}");
    }
    // Garbage is refused as soon as it is seen (or the connection is just closed).
    let (frames, _) = garbage;
    assert_eq!(code_of(&frames[0]), code::KEY_HELLO);
    if let Some(f) = frames.get(1) {
        assert_eq!(
            KeyError::from_message(&parse(f)).unwrap().reason,
            Reason::BadRequest
        );
    }
    // The client that never confirmed times out at the confirmation step, and nothing is stored.
    let last = tokio::time::timeout(Duration::from_secs(10), mr.read_frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let err = KeyError::from_message(&parse(&last)).unwrap();
    assert_eq!(err.reason, Reason::Timeout, "{err:?}");
    assert!(err.message.contains("confirmation"), "{err:?}");
    assert!(
        !srv.session_path("user2").exists(),
        "an unconfirmed key is never stored"
    );
    assert!(
        mr.read_frame().await.map(|f| f.is_none()).unwrap_or(true),
        "then closed"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_keeps_its_identity_and_bindings() {
    warm(&[CLIENT_1, CLIENT_X]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    assert!(!key_dir.join("server_private.pem").exists());
    let srv = TestServer::start(&key_dir, Registration::Tofu).await;
    let (port, fp) = (srv.port, srv.fingerprint().to_owned());
    assert_eq!(
        mode(&key_dir.join("server_private.pem")),
        0o600,
        "identity created private"
    );

    let fa = client(&tmp.path().join("a"), port, "user1", Some(key(CLIENT_1)));
    let first = key_step(&fa).await.expect("first key step");
    srv.stop().await;

    // Same key folder, same port: a restart.
    let srv = TestServer::start_with(&key_dir, Registration::Tofu, port, |_| {}).await;
    assert_eq!(srv.fingerprint(), fp, "identity survives the restart");
    let fb = client(&tmp.path().join("b"), port, "user1", Some(key(CLIENT_X)));
    assert_eq!(
        refused(key_step(&fb).await).0,
        Reason::ClientKeyMismatch,
        "binding survives the restart"
    );

    let second = key_step(&fa)
        .await
        .expect("the original client still works");
    assert!(!second.pinned_now, "the pinned key still matches");
    assert_ne!(second.key_id, first.key_id, "a fresh session key");
    let c = KeyFile::load(&fa.session_key_path()).unwrap();
    let s = KeyFile::load(&srv.session_path("user1")).unwrap();
    assert_eq!(c.key.key_id, second.key_id);
    assert_eq!(s.key.key_id, second.key_id);
    assert_eq!(c.key.des.to_hex(), s.key.des.to_hex());
    assert_eq!(*c.key.mac_key_hex(), *s.key.mac_key_hex());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tofu_gives_keys_only_to_users_of_the_chat_server() {
    warm(&[SERVER_A, CLIENT_1, CLIENT_2]);
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("keys");
    seed_identity(&key_dir, key(SERVER_A));
    let list = key_dir.join(common::userlist::FILE_NAME);
    common::userlist::write(&list, ["user1", "user2"]).unwrap();
    let l = list.clone();
    let srv = TestServer::start_with(&key_dir, Registration::Tofu, 0, move |s| {
        s.user_list = Some(l);
    })
    .await;

    // A name the chat server does not know: refused, nothing bound, nothing stored.
    let stranger = client(
        &tmp.path().join("c0"),
        srv.port,
        "nobody",
        Some(key(CLIENT_2)),
    );
    let before = snapshot(&key_dir);
    let (why, msg) = refused(key_step(&stranger).await);
    assert_eq!(why, Reason::NotAUser);
    assert!(msg.contains("nobody is not a user"), "{msg}");
    assert_eq!(snapshot(&key_dir), before, "nothing bound");
    assert!(!stranger.session_key_path().exists());

    // A listed user is bound on first use, as before.
    let f1 = client(
        &tmp.path().join("c1"),
        srv.port,
        "user1",
        Some(key(CLIENT_1)),
    );
    key_step(&f1).await.expect("listed user gets a key");
    assert!(srv.session_path("user1").exists());

    // The list is read on every request: a user added later gets a key without a restart.
    common::userlist::write(&list, ["user1", "user2", "nobody"]).unwrap();
    key_step(&stranger).await.expect("added user gets a key");
    // ...and a removed one no longer does.
    common::userlist::write(&list, ["user2"]).unwrap();
    assert_eq!(refused(key_step(&f1).await).0, Reason::NotAUser);
    srv.stop().await;
}
