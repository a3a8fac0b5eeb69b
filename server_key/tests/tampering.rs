//! An active attacker between client and server_key: a frame-level proxy that flips bytes,
//! substitutes keys, replays envelopes and cuts the connection. Every attack must be refused,
//! and neither side may store anything for the attacked attempt.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepError, KeyStepOutcome};
use common::config::Registration;
use common::keyfile::KeyFile;
use common::protocol::Reason;
use common::protocol::consts::code;
use common::protocol::message::b64;
use support::*;
use tempfile::TempDir;

/// A server behind a proxy, and a client folder for user1 that talks to the proxy.
struct Rig {
    tmp: TempDir,
    key_dir: PathBuf,
    srv: TestServer,
    proxy: Proxy,
    user1: ClientFolder,
    /// Connections the proxy has handled so far.
    conns: usize,
}

impl Rig {
    async fn new() -> Self {
        warm(&[SERVER_A, SERVER_B, CLIENT_1, CLIENT_2]);
        let tmp = tempfile::tempdir().unwrap();
        let key_dir = tmp.path().join("keys");
        seed_identity(&key_dir, key(SERVER_A));
        let srv = TestServer::start(&key_dir, Registration::Tofu).await;
        let proxy = Proxy::start(srv.port).await;
        let user1 = client(
            &tmp.path().join("user1"),
            proxy.port,
            "user1",
            Some(key(CLIENT_1)),
        );
        Self {
            tmp,
            key_dir,
            srv,
            proxy,
            user1,
            conns: 0,
        }
    }

    fn folder(&self, user: &str, k: usize) -> ClientFolder {
        client(
            &self.tmp.path().join(user),
            self.proxy.port,
            user,
            Some(key(k)),
        )
    }

    /// One key step through the proxy; returns once the proxy saw both sides close, so the
    /// server has finished with the connection.
    async fn step(&mut self, folder: &ClientFolder) -> Result<KeyStepOutcome, KeyStepError> {
        let r = key_step(folder).await;
        self.conns += 1;
        self.proxy.wait_finished(self.conns).await;
        r
    }

    /// Run `attack` (already installed as the hook) and check nothing was stored anywhere.
    async fn attacked(&mut self, folder: &ClientFolder, what: &str) -> KeyStepError {
        let (client_before, server_before) = (snapshot(&folder.dir), snapshot(&self.key_dir));
        let r = self.step(folder).await;
        self.proxy.set_hook(|_, _| Verdict::Pass);
        let err = match r {
            Ok(o) => panic!("{what}: the key step succeeded ({o:?})"),
            Err(e) => e,
        };
        assert_same(
            &snapshot(&folder.dir),
            &client_before,
            &format!("{what}: client folder"),
        );
        assert_same(
            &snapshot(&self.key_dir),
            &server_before,
            &format!("{what}: server key_dir"),
        );
        err
    }
}

fn assert_same(now: &BTreeMap<PathBuf, Vec<u8>>, before: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    assert_eq!(names(now), names(before), "{what}: files changed");
    assert!(now == before, "{what}: a file's content changed");
}

/// Replace field `index` of every `code` frame going `dir` with `f(field)`.
fn tamper(proxy: &Proxy, dir: Dir, code: &'static str, index: usize, f: fn(&str) -> String) {
    proxy.set_hook(move |d, frame| {
        if d == dir && code_of(frame) == code {
            Verdict::Replace(edit_field(frame, index, f))
        } else {
            Verdict::Pass
        }
    });
}

/// Record the first `code` frame going `dir` (and pass everything).
fn record(proxy: &Proxy, dir: Dir, code: &'static str) -> Arc<Mutex<Option<Vec<u8>>>> {
    let slot = Arc::new(Mutex::new(None));
    let s = slot.clone();
    proxy.set_hook(move |d, frame| {
        if d == dir && code_of(frame) == code {
            s.lock().unwrap().get_or_insert_with(|| frame.to_vec());
        }
        Verdict::Pass
    });
    slot
}

/// Replace every `code` frame going `dir` with `frame`.
fn substitute(proxy: &Proxy, dir: Dir, code: &'static str, frame: Vec<u8>) {
    proxy.set_hook(move |d, f| {
        if d == dir && code_of(f) == code {
            Verdict::Replace(frame.clone())
        } else {
            Verdict::Pass
        }
    });
}

fn only_client_key_files(dir: &Path) -> bool {
    names(&snapshot(dir)) == ["client_private.pem", "client_public.pem"]
}

const ENVELOPE_FIELDS: [&str; 7] = [
    "key_id",
    "expires_at",
    "issued_at",
    "iv",
    "sealed",
    "wrapped_key",
    "signature",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_byte_anywhere_in_the_envelope_is_refused() {
    let mut rig = Rig::new().await;
    let fp = rig.srv.fingerprint().to_owned();
    let user1 = rig.user1.clone();

    // First contact, tampered: the client pins and stores nothing; the server binds user1 to
    // the key that signed the (genuine) request, but stores no session key.
    tamper(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE, 4, flip_b64);
    let err = rig
        .step(&user1)
        .await
        .expect_err("first contact, sealed flipped");
    rig.proxy.set_hook(|_, _| Verdict::Pass);
    assert!(matches!(err, KeyStepError::BadSignature { .. }), "{err:?}");
    assert!(
        only_client_key_files(&user1.dir),
        "no pin, no session key: {:?}",
        names(&snapshot(&user1.dir))
    );
    assert!(!rig.srv.session_path("user1").exists());
    assert_eq!(
        rig.srv.server.store.bound_key("user1").unwrap(),
        Some(key(CLIENT_1).public_key())
    );

    // A good key step, then every field tampered in turn: the stored keys must not change.
    rig.step(&user1).await.expect("untampered key step");
    let semantic: [fn(&str) -> String; 7] = [
        flip_hex, flip_year, flip_year, flip_b64, flip_b64, flip_b64, flip_b64,
    ];
    for (i, (name, flip)) in ENVELOPE_FIELDS.iter().zip(semantic).enumerate() {
        // A change that still parses: only the signature can catch it.
        tamper(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE, i, flip);
        match rig
            .attacked(&user1, &format!("envelope {name} changed"))
            .await
        {
            KeyStepError::BadSignature { server } => assert_eq!(server, fp),
            other => panic!("envelope {name} changed: expected BadSignature, got {other:?}"),
        }
        // A raw flipped bit in the text as sent: refused as unparsable or as badly signed.
        tamper(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE, i, flip_raw);
        match rig
            .attacked(&user1, &format!("envelope {name} bit-flipped"))
            .await
        {
            KeyStepError::BadSignature { .. } | KeyStepError::Protocol(_) => {}
            other => panic!(
                "envelope {name} bit-flipped: expected BadSignature or Protocol, got {other:?}"
            ),
        }
    }
    rig.step(&user1)
        .await
        .expect("the untampered path still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_byte_in_the_request_or_confirmation_is_refused_by_the_server() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();
    rig.step(&user1).await.expect("untampered key step");

    for (i, name) in ["username", "client_pub", "client_nonce", "signature"]
        .iter()
        .enumerate()
    {
        // Still parses (username "user1" becomes "urer1", the key keeps its size): the client's
        // signature over the transcript no longer verifies.
        tamper(&rig.proxy, Dir::ToServer, code::KEY_REQUEST, i, flip_b64);
        match rig
            .attacked(&user1, &format!("request {name} changed"))
            .await
        {
            KeyStepError::Refused { reason, .. } => {
                assert_eq!(reason, Reason::BadSignature, "request {name}")
            }
            other => panic!("request {name} changed: expected Refused, got {other:?}"),
        }
        tamper(&rig.proxy, Dir::ToServer, code::KEY_REQUEST, i, flip_raw);
        match rig
            .attacked(&user1, &format!("request {name} bit-flipped"))
            .await
        {
            KeyStepError::Refused { .. } | KeyStepError::Closed { .. } => {}
            other => {
                panic!("request {name} bit-flipped: expected Refused or Closed, got {other:?}")
            }
        }
    }
    // The key confirmation (the server stores its copy only after a valid one).
    for (i, name, flip) in [
        (0, "key_id", flip_hex as fn(&str) -> String),
        (1, "mac", flip_b64),
    ] {
        tamper(&rig.proxy, Dir::ToServer, code::KEY_CONFIRM, i, flip);
        match rig
            .attacked(&user1, &format!("confirmation {name} changed"))
            .await
        {
            KeyStepError::Refused { reason, .. } => assert_eq!(reason, Reason::BadConfirm),
            other => panic!("confirmation {name} changed: expected Refused, got {other:?}"),
        }
    }
    rig.step(&user1)
        .await
        .expect("the untampered path still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_server_key_in_the_hello_is_refused() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();
    rig.step(&user1)
        .await
        .expect("untampered key step pins the server key");
    let fake = b64(key(SERVER_B).public_key().to_der());
    let swap = move |d: Dir, frame: &[u8]| {
        if d == Dir::ToClient && code_of(frame) == code::KEY_HELLO {
            Verdict::Replace(edit_field(frame, 1, |_| fake.clone()))
        } else {
            Verdict::Pass
        }
    };

    // Pinned: refused before anything is sent.
    rig.proxy.set_hook(swap.clone());
    match rig.attacked(&user1, "hello key swapped, pinned").await {
        KeyStepError::ServerKeyMismatch { got, pinned, .. } => {
            assert_eq!(got, key(SERVER_B).public_key().fingerprint());
            assert_eq!(pinned, rig.srv.fingerprint());
        }
        other => panic!("expected ServerKeyMismatch, got {other:?}"),
    }

    // Not yet pinned: the client signs a transcript naming the fake key, which the real server
    // refuses; the fake key is not pinned and user2 is not bound.
    let user2 = rig.folder("user2", CLIENT_2);
    rig.proxy.set_hook(swap);
    match rig
        .attacked(&user2, "hello key swapped, first contact")
        .await
    {
        KeyStepError::Refused { reason, .. } => assert_eq!(reason, Reason::BadSignature),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(only_client_key_files(&user2.dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_envelopes_and_requests_are_refused() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();

    let env = record(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE);
    let old = rig.step(&user1).await.expect("recorded session");
    let env = env.lock().unwrap().clone().expect("envelope recorded");
    assert_eq!(
        KeyFile::load(&user1.session_key_path()).unwrap().key.key_id,
        old.key_id
    );

    // The old envelope in a new session: the signature covers both fresh nonces.
    substitute(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE, env);
    let err = rig.attacked(&user1, "replayed envelope").await;
    assert!(matches!(err, KeyStepError::BadSignature { .. }), "{err:?}");
    assert_eq!(
        KeyFile::load(&user1.session_key_path()).unwrap().key.key_id,
        old.key_id
    );

    // Likewise an old request against a new server nonce.
    let req = record(&rig.proxy, Dir::ToServer, code::KEY_REQUEST);
    rig.step(&user1).await.expect("recorded session");
    let req = req.lock().unwrap().clone().expect("request recorded");
    substitute(&rig.proxy, Dir::ToServer, code::KEY_REQUEST, req);
    let (why, _) = refused(Err(rig.attacked(&user1, "replayed request").await));
    assert_eq!(why, Reason::BadSignature);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_for_another_user_is_refused() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();
    let user2 = rig.folder("user2", CLIENT_2);
    rig.step(&user1).await.expect("user1 baseline");

    let env = record(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE);
    rig.step(&user2).await.expect("user2's session");
    let env = env
        .lock()
        .unwrap()
        .clone()
        .expect("user2's envelope recorded");

    substitute(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE, env);
    let err = rig
        .attacked(&user1, "user2's envelope given to user1")
        .await;
    assert!(matches!(err, KeyStepError::BadSignature { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_after_the_envelope_keeps_the_previous_key() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();
    rig.step(&user1).await.expect("baseline key");
    let before = std::fs::read(user1.session_key_path()).unwrap();

    // The envelope reaches the client, then the server "dies": the confirmation never arrives.
    rig.proxy
        .set_hook(|d, frame| match (d, code_of(frame).as_str()) {
            (Dir::ToClient, code::KEY_ENVELOPE) => Verdict::PassThenClose,
            (Dir::ToServer, code::KEY_CONFIRM) => Verdict::Close,
            _ => Verdict::Pass,
        });
    let err = rig
        .attacked(&user1, "connection cut after the envelope")
        .await;
    // The client cannot know whether the server stored the new key before the cut, so it says
    // so and tells the user to run the key step again.
    assert!(matches!(err, KeyStepError::Unconfirmed), "{err:?}");
    assert!(err.to_string().contains("run the key step again"), "{err}");
    assert_eq!(
        std::fs::read(user1.session_key_path()).unwrap(),
        before,
        "session_key.txt intact"
    );
}

/// The review dropped the client's confirmation (so the server kept the old key) and sent the
/// client a forged `1102`; the client reported success. Now "done" carries an HMAC under the new
/// key: a forged one, in the old unauthenticated form or with a made-up MAC, is not success, and
/// the client keeps its previous key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_done_is_not_success() {
    let mut rig = Rig::new().await;
    let user1 = rig.user1.clone();
    rig.step(&user1).await.expect("baseline key");
    let before = std::fs::read(user1.session_key_path()).unwrap();
    for forged_mac in [None, Some([0x5au8; 32])] {
        let envelope = record(&rig.proxy, Dir::ToClient, code::KEY_ENVELOPE);
        rig.proxy.set_hook(move |d, frame| {
            match (d, code_of(frame).as_str()) {
                (Dir::ToClient, code::KEY_ENVELOPE) => {
                    envelope
                        .lock()
                        .unwrap()
                        .get_or_insert_with(|| frame.to_vec());
                    Verdict::Pass
                }
                // The confirmation never reaches the server: it answers 1109 (bad request)...
                (Dir::ToServer, code::KEY_CONFIRM) => Verdict::Replace(b"0102|x".to_vec()),
                // ...which the attacker turns into a "done" for the envelope's key id.
                (Dir::ToClient, code::KEY_ERROR) => {
                    let env = envelope.lock().unwrap().clone().expect("envelope seen");
                    let text = String::from_utf8(env).unwrap();
                    let key_id = text.split('|').nth(1).unwrap().to_owned();
                    Verdict::Replace(
                        match forged_mac {
                            None => format!("1102|{key_id}"),
                            Some(m) => format!("1102|{key_id}|{}", b64(m)),
                        }
                        .into_bytes(),
                    )
                }
                _ => Verdict::Pass,
            }
        });
        let err = rig.attacked(&user1, "forged done").await;
        assert!(
            matches!(err, KeyStepError::Unconfirmed | KeyStepError::Protocol(_)),
            "{err:?}"
        );
        assert_eq!(
            std::fs::read(user1.session_key_path()).unwrap(),
            before,
            "session_key.txt kept"
        );
    }
    // Untouched, the key step works.
    rig.step(&user1)
        .await
        .expect("key step without the attacker");
}
