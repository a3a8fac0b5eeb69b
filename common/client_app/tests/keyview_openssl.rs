//! The key-step view (密钥分发过程) shows the real values (issue 13): a real key step against a
//! real key server, the view's lines rendered with the teaching switch on, and then OpenSSL,
//! given only what the view shows and the folder's `client_private.pem`, recovers the same
//! one-time key k from `wrapped` and the same session material from `sealed`; the keys in it
//! are the ones stored in `session_key.txt`.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use client_app::gui::logic::keyview::KeyLog;
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step_observed};
use common::client::key_events::KeyStepEvent;
use common::config::{ClientConfig, Language, Registration, SessionTtl};
use common::keyfile::KeyFile;
use common::trace::Trace;
use server_key::keystore::KeyStore;
use server_key::server::{KeyServer, run};

/// The value shown after `label` (`    label: value`).
fn shown(lines: &[String], label: &str) -> String {
    let prefix = format!("    {label}: ");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line '{label}' in the view:\n{}", lines.join("\n")));
    line[prefix.len()..].to_owned()
}

fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64 as shown")
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/bootstrap.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_recovers_k_and_the_material_from_what_the_view_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let store = KeyStore::new(tmp.path().join("keys"));
    let (identity, _) = store.server_identity(2048).unwrap();
    let server = Arc::new(KeyServer::new(
        store,
        identity,
        Registration::Tofu,
        SessionTtl::from_hours(24),
        Trace::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(run(listener, server, std::future::pending::<()>()));

    let dir = tmp.path().join("client_wy");
    std::fs::create_dir_all(&dir).unwrap();
    let config = ClientConfig {
        server_host: "127.0.0.1".into(),
        key_port: port,
        username: "user1".into(),
        ..Default::default()
    };
    let folder = ClientFolder::new(config, dir.clone(), "client_wy");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut observer = move |e: &KeyStepEvent| sink.lock().unwrap().push(e.clone());
    run_key_step_observed(&folder, KeyStepOptions::default(), &mut observer)
        .await
        .expect("key step");

    let mut log = KeyLog::default();
    for e in events.lock().unwrap().drain(..) {
        log.push(e);
    }
    let lines: Vec<String> = log
        .render(true, Language::En)
        .into_iter()
        .map(|(_, l)| l)
        .collect();

    // k: RSA-OAEP-SHA-256 decryption of the shown `wrapped` with the folder's private key.
    let wrapped = shown(&lines, "wrapped = RSA-OAEP(client public key, k)");
    std::fs::write(dir.join("wrapped.bin"), b64d(&wrapped)).unwrap();
    let k = openssl(
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            "client_private.pem",
            "-in",
            "wrapped.bin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        &dir,
    );
    let k_shown = shown(
        &lines,
        "one-time key k (wrapped, RSA-OAEP-decrypted with the client's private key)",
    );
    assert_eq!(
        hex::encode(&k),
        k_shown,
        "the k shown is the k in the envelope"
    );

    // The material: DES-CBC decryption of the shown `sealed` with k and the shown IV.
    let iv_field = shown(&lines, "IV");
    let iv_hex = iv_field
        .split("(hex ")
        .nth(1)
        .and_then(|s| s.strip_suffix(')'))
        .expect("IV shown in hex too");
    let sealed = shown(&lines, "sealed = DES-CBC(k, IV, material)");
    std::fs::write(dir.join("sealed.bin"), b64d(&sealed)).unwrap();
    let material = openssl(
        &[
            "enc",
            "-d",
            "-des-cbc",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-K",
            &k_shown,
            "-iv",
            iv_hex,
            "-in",
            "sealed.bin",
        ],
        &dir,
    );
    let material = String::from_utf8(material).unwrap();
    assert_eq!(
        material,
        shown(
            &lines,
            "session material (sealed, DES-CBC-decrypted with k and the IV)"
        )
    );

    // The keys in it are the ones shown and the ones stored.
    let fields: Vec<&str> = material.split('|').collect();
    let stored = KeyFile::load(&folder.session_key_path()).unwrap();
    assert_eq!(fields[1], stored.key.key_id);
    assert_eq!(fields[3], shown(&lines, "DES session key wk"));
    assert_eq!(fields[3], stored.key.des.to_hex());
    assert_eq!(fields[4], shown(&lines, "MAC key mk (HMAC-SHA256)"));
    assert_eq!(fields[4], *stored.key.mac_key_hex());
}
