//! Passive attacker: a recording TCP proxy sits between the clients and both servers for a full
//! session (key step, login, a conversation with Chinese text, a private message). Neither a
//! password, nor any message's plaintext, nor any session or private key appears anywhere in the
//! captured bytes: searched as raw bytes, hex (both cases) and base64 (all three alignments).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::client::chat_client::{Incoming, login};
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step};
use common::config::{ClientConfig, Registration};
use common::keyfile::KeyFile;
use common::protocol::chat::{ClientRequest, ServerEvent};
use common::trace::Trace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Capture = Arc<Mutex<Vec<u8>>>;

/// Forward every connection on a fresh port to `upstream`, appending all bytes (both directions) to `cap`.
async fn recording_proxy(upstream: std::net::SocketAddr, cap: Capture) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = l.accept().await else {
                return;
            };
            let cap = cap.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let c1 = cap.clone();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        c1.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = sw.shutdown().await;
                });
                let mut buf = vec![0u8; 16384];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    cap.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = cw.shutdown().await;
                let _ = up.await;
            });
        }
    });
    port
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every way `secret` could show up: raw, hex, HEX, and base64 at each of the three alignments.
/// Long secrets are checked through 12-byte windows, so a partial leak is caught too.
fn assert_absent(cap: &[u8], what: &str, secret: &[u8]) {
    let window = secret.len().min(12);
    for start in (0..=secret.len() - window).step_by(window.max(1) / 2 + 1) {
        let part = &secret[start..start + window];
        assert!(!contains(cap, part), "{what} found raw in the capture");
        assert!(
            !contains(cap, hex::encode(part).as_bytes()),
            "{what} found as hex"
        );
        assert!(
            !contains(cap, hex::encode_upper(part).as_bytes()),
            "{what} found as HEX"
        );
    }
    for align in 0..3.min(secret.len()) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&secret[align..]);
        // Drop the last 4 characters (they depend on what follows) and search what remains.
        let core = &b64.as_bytes()[..b64.len().saturating_sub(4)];
        let n = core.len().min(16);
        if n >= 8 {
            assert!(!contains(cap, &core[..n]), "{what} found as base64");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_crosses_the_wire() {
    let tmp = tempfile::tempdir().unwrap();
    // Servers.
    let store_keys = server_key::keystore::KeyStore::new(tmp.path().join("keys"));
    let (identity, _) = store_keys.server_identity(2048).unwrap();
    let sessions = store_keys.sessions_dir();
    let ks = Arc::new(server_key::server::KeyServer::new(
        store_keys,
        identity,
        Registration::Tofu,
        common::config::SessionTtl::from_hours(1),
        Trace::default(),
    ));
    let kl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kaddr = kl.local_addr().unwrap();
    tokio::spawn(server_key::server::run(
        kl,
        ks,
        std::future::pending::<()>(),
    ));
    let db = format!("sqlite://{}", tmp.path().join("db.sqlite").display());
    let store = server::db::open(&db).unwrap();
    let passwords = [
        ("user1", "Pa55-w0rd-秘密-1"),
        ("user2", "hunter2-丁真-pw"),
        ("user3", "cxk-口令-333"),
    ];
    for (u, p) in passwords {
        store
            .set_password(
                u,
                &common::crypto::password::hash_password_with(p, 1000),
                false,
            )
            .unwrap();
    }
    let cl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let caddr = cl.local_addr().unwrap();
    tokio::spawn(server::server::run(
        cl,
        store,
        server::server::Settings::new(sessions.clone()),
        std::future::pending::<()>(),
    ));

    // The eavesdropper.
    let cap: Capture = Arc::default();
    let kport = recording_proxy(kaddr, cap.clone()).await;
    let cport = recording_proxy(caddr, cap.clone()).await;

    let folders: Vec<ClientFolder> = passwords
        .iter()
        .map(|(u, _)| {
            let dir = tmp.path().join(u);
            let cfg = ClientConfig {
                server_host: "127.0.0.1".into(),
                chat_port: cport,
                key_port: kport,
                username: (*u).into(),
                ..Default::default()
            };
            ClientFolder::new(cfg, dir, "client_test")
        })
        .collect();
    for f in &folders {
        run_key_step(f, KeyStepOptions::default()).await.unwrap();
    }

    let public = "机密消息：明天考试的答案是 C | 数字信封 ✉";
    let private = "只给王源的悄悄话：密码在抽屉里 🤫";
    let t = Duration::from_secs(10);
    let (mut s1, mut r1, _) = login(&folders[0], passwords[0].1, t).await.unwrap();
    let (mut s2, mut r2, _) = login(&folders[1], passwords[1].1, t).await.unwrap();
    let (_s3, mut r3, _) = login(&folders[2], passwords[2].1, t).await.unwrap();
    s2.send(&ClientRequest::Chat {
        to: None,
        text: public.into(),
    })
    .await
    .unwrap();
    s2.send(&ClientRequest::Chat {
        to: Some("user1".into()),
        text: private.into(),
    })
    .await
    .unwrap();
    s1.send(&ClientRequest::Chat {
        to: None,
        text: "收到 👍".into(),
    })
    .await
    .unwrap();

    // Everyone gets what they should (so the capture really contains the conversation).
    async fn texts(r: &mut common::client::chat_client::ChatReceiver, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(10), r.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                Incoming::Event {
                    event: ServerEvent::Chat(c),
                    ..
                } => out.push(c.text),
                Incoming::Event { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        out.sort();
        out
    }
    let sorted = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
        v.sort();
        v
    };
    // Different senders race each other; each receiver must get exactly these, in some order.
    assert_eq!(
        texts(&mut r1, 3).await,
        sorted(&[public, private, "收到 👍"])
    );
    assert_eq!(
        texts(&mut r2, 3).await,
        sorted(&[public, private, "收到 👍"])
    );
    assert_eq!(texts(&mut r3, 2).await, sorted(&[public, "收到 👍"]));
    drop((s1, s2));

    let cap = cap.lock().unwrap().clone();
    assert!(
        cap.len() > 5000,
        "the proxy captured the session ({} bytes)",
        cap.len()
    );
    for (u, p) in passwords {
        assert_absent(&cap, &format!("{u}'s password"), p.as_bytes());
    }
    for m in [public, private] {
        assert_absent(&cap, "a message's plaintext", m.as_bytes());
    }
    for f in &folders {
        let k = KeyFile::load(&f.session_key_path()).unwrap();
        assert_absent(&cap, "a DES session key", k.key.des.as_bytes());
        assert_absent(&cap, "a MAC key", &*k.key.mac_key);
        let pem = std::fs::read_to_string(f.private_key_path()).unwrap();
        let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(der_b64)
            .unwrap();
        // The private key's DER minus its public header (modulus and exponent are public).
        assert_absent(&cap, "a client private key", &der[der.len() - 600..]);
    }
    let server_pem = std::fs::read_to_string(tmp.path().join("keys/server_private.pem")).unwrap();
    let der_b64: String = server_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der_b64)
        .unwrap();
    assert_absent(&cap, "the server private key", &der[der.len() - 600..]);
    // And the check itself works: the public fingerprint-carrying key does appear (sanity).
    let server_pub = std::fs::read_to_string(tmp.path().join("keys/server_public.pem")).unwrap();
    let pub_b64: String = server_pub
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(
        contains(&cap, &pub_b64.as_bytes()[..40]),
        "sanity: the server public key is visible on the wire"
    );
}

/// The detector itself: a secret planted raw, as hex or as base64 at any alignment is found.
#[test]
fn detector_catches_planted_leaks() {
    let secret = "只给王源的悄悄话 password".as_bytes();
    let b64 = |s: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(s)
            .into_bytes()
    };
    let mut plants: Vec<Vec<u8>> = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    for pre in [&b""[..], b"x", b"xy"] {
        plants.push(b64(&[pre, secret].concat()));
    }
    for plant in plants {
        let cap = [b"0002|1|junk|".as_slice(), &plant, b"|more"].concat();
        let caught = std::panic::catch_unwind(|| assert_absent(&cap, "planted", secret)).is_err();
        assert!(
            caught,
            "a planted leak was not detected: {}",
            String::from_utf8_lossy(&plant)
        );
    }
    assert_absent(b"0002|1|nothing to see|here", "clean", secret);
}
