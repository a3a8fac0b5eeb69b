//! RSA keys (`common::crypto::rsa_keys`): sizes, PEM files, fingerprints, PKCS#1 v1.5 SHA-256
//! signatures and OAEP-SHA-256, cross-checked against the `openssl` command line tool.
//!
//! Uses the fixed test-only keys in `tests/fixtures/` (see the README there) so that no test
//! has to generate a 2048-bit key; only `load_or_create` generates one (1024 bits).

mod support;

use std::path::Path;

use base64::Engine as _;
use common::crypto::{PrivateKey, PublicKey, fingerprint};
use common::error::{CryptoError, Error, KeyFileError};
use support::{fixture, have_openssl, openssl, openssl_ok, other_key, test_key};

#[test]
fn generate_refuses_small_keys() {
    assert_eq!(
        PrivateKey::generate(512).unwrap_err(),
        CryptoError::KeyTooSmall(512)
    );
    assert_eq!(
        PrivateKey::generate(1023).unwrap_err(),
        CryptoError::KeyTooSmall(1023)
    );
    assert_eq!(
        PrivateKey::generate(0).unwrap_err(),
        CryptoError::KeyTooSmall(0)
    );
}

#[test]
fn loading_a_small_key_is_refused() {
    let pem = std::fs::read_to_string(fixture("test_rsa_512_private.pem")).unwrap();
    assert_eq!(
        PrivateKey::from_pem(&pem).unwrap_err(),
        CryptoError::KeyTooSmall(512)
    );
    let path = fixture("test_rsa_512_private.pem");
    match PrivateKey::load(&path) {
        Err(KeyFileError::Malformed { path: p, message }) => {
            assert_eq!(p, path);
            assert!(message.contains("512"), "{message}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn fixtures_load_with_the_expected_size() {
    let k = test_key();
    assert_eq!(k.bits(), 2048);
    assert_eq!(k.public_key().bits(), 2048);
    let public = PublicKey::load(&fixture("test_rsa_public.pem")).unwrap();
    assert_eq!(
        public,
        k.public_key(),
        "the public fixture belongs to the private one"
    );
    assert_ne!(other_key().public_key(), k.public_key());
}

#[test]
fn private_pem_round_trip_is_pkcs8() {
    let k = test_key();
    let pem = k.to_pem();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "PKCS#8, not PKCS#1"
    );
    assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
    let back = PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(back.public_key(), k.public_key());
    assert_eq!(*back.to_pem(), *pem);
    // Identical to what OpenSSL wrote (both are PKCS#8 with LF line endings).
    assert_eq!(
        *pem,
        std::fs::read_to_string(fixture("test_rsa_private.pem")).unwrap()
    );
}

#[test]
fn public_pem_and_der_round_trip_is_spki() {
    let p = test_key().public_key();
    let pem = p.to_pem();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "SPKI, not PKCS#1"
    );
    assert_eq!(PublicKey::from_pem(&pem).unwrap(), p);
    assert_eq!(
        pem,
        std::fs::read_to_string(fixture("test_rsa_public.pem")).unwrap()
    );
    let der = p.to_der();
    assert_eq!(PublicKey::from_der(&der).unwrap(), p);
    assert!(matches!(
        PublicKey::from_der(&der[..der.len() - 1]),
        Err(CryptoError::BadKey(_))
    ));
}

#[test]
fn pem_of_the_wrong_kind_is_refused() {
    let k = test_key();
    assert!(matches!(
        PrivateKey::from_pem(&k.public_key().to_pem()),
        Err(CryptoError::BadKey(_))
    ));
    assert!(matches!(
        PublicKey::from_pem(&k.to_pem()),
        Err(CryptoError::BadKey(_))
    ));
    assert!(matches!(
        PrivateKey::from_pem("hello"),
        Err(CryptoError::BadKey(_))
    ));
    assert!(matches!(
        PublicKey::from_pem(""),
        Err(CryptoError::BadKey(_))
    ));
}

#[test]
fn save_writes_private_0600_and_openssl_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = (dir.path().join("k/priv.pem"), dir.path().join("k/pub.pem"));
    let k = test_key();
    k.save(&private, &public).unwrap();
    assert_eq!(
        PrivateKey::load(&private).unwrap().public_key(),
        k.public_key()
    );
    assert_eq!(PublicKey::load(&public).unwrap(), k.public_key());
    #[cfg(unix)]
    {
        assert_eq!(
            support::mode(&private),
            0o600,
            "private key must be owner-only"
        );
        assert_eq!(support::mode(&public), 0o644);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("k"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");

    if !have_openssl("save_writes_private_0600_and_openssl_reads_it (openssl part)") {
        return;
    }
    let out = openssl_ok(
        dir.path(),
        &["pkey", "-in", "k/priv.pem", "-pubout", "-outform", "DER"],
    );
    assert_eq!(
        out.stdout,
        k.public_key().to_der(),
        "openssl derives the same public key"
    );
    openssl_ok(
        dir.path(),
        &["pkey", "-pubin", "-in", "k/pub.pem", "-noout"],
    );
}

#[test]
fn sign_and_verify() {
    let k = test_key();
    let p = k.public_key();
    let msg = "minichat-keyreq-v1|dXNlcjE=|签名".as_bytes();
    let sig = k.sign(msg);
    assert_eq!(sig.len(), 256);
    assert_eq!(p.verify(msg, &sig), Ok(()));
    assert_eq!(k.sign(msg), sig, "PKCS#1 v1.5 signatures are deterministic");

    let mut changed = msg.to_vec();
    changed[0] ^= 1;
    assert_eq!(p.verify(&changed, &sig), Err(CryptoError::BadSignature));
    assert_eq!(
        p.verify(&msg[..msg.len() - 1], &sig),
        Err(CryptoError::BadSignature)
    );
    for i in [0, 100, 255] {
        let mut bad = sig.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            p.verify(msg, &bad),
            Err(CryptoError::BadSignature),
            "byte {i}"
        );
    }
    assert_eq!(p.verify(msg, &sig[..255]), Err(CryptoError::BadSignature));
    assert_eq!(p.verify(msg, &[]), Err(CryptoError::BadSignature));
    assert_eq!(
        other_key().public_key().verify(msg, &sig),
        Err(CryptoError::BadSignature)
    );
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
fn signature_made_here_verifies_with_openssl() {
    if !have_openssl("signature_made_here_verifies_with_openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = test_key();
    let msg = "minichat-keyenv-v1|数字信封|0123".as_bytes();
    write(d, "pub.pem", k.public_key().to_pem().as_bytes());
    write(d, "msg.bin", msg);
    write(d, "sig.bin", &k.sign(msg));
    let out = openssl_ok(
        d,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "msg.bin",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));
    // And openssl does reject a changed message, so the check above means something.
    write(d, "msg2.bin", b"something else");
    let out = openssl(
        d,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "msg2.bin",
        ],
    );
    assert!(!out.status.success());
}

#[test]
fn signature_made_by_openssl_verifies_here() {
    if !have_openssl("signature_made_by_openssl_verifies_here") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let msg = b"signed by openssl dgst -sha256 -sign";
    write(d, "msg.bin", msg);
    let key = fixture("test_rsa_private.pem");
    openssl_ok(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            "-out",
            "sig.bin",
            "msg.bin",
        ],
    );
    let sig = std::fs::read(d.join("sig.bin")).unwrap();
    let k = test_key();
    assert_eq!(k.public_key().verify(msg, &sig), Ok(()));
    assert_eq!(
        sig,
        k.sign(msg),
        "both implementations produce the same deterministic signature"
    );
    assert_eq!(
        k.public_key().verify(b"another message", &sig),
        Err(CryptoError::BadSignature)
    );
}

#[test]
fn oaep_round_trip_and_randomization() {
    let k = test_key();
    let p = k.public_key();
    let secret = [0x13u8, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1];
    let c1 = p.oaep_encrypt(&secret).unwrap();
    let c2 = p.oaep_encrypt(&secret).unwrap();
    assert_eq!(c1.len(), 256);
    assert_ne!(c1, c2, "OAEP is randomized");
    assert_eq!(k.oaep_decrypt(&c1).unwrap().as_slice(), secret);
    assert_eq!(k.oaep_decrypt(&c2).unwrap().as_slice(), secret);
    // Capacity for a 2048-bit key with SHA-256: 256 - 2*32 - 2 = 190 bytes.
    assert_eq!(
        k.oaep_decrypt(&p.oaep_encrypt(&[7u8; 190]).unwrap())
            .unwrap()
            .as_slice(),
        [7u8; 190]
    );
    assert!(matches!(
        p.oaep_encrypt(&[7u8; 191]),
        Err(CryptoError::Rsa(_))
    ));
    assert_eq!(
        k.oaep_decrypt(&p.oaep_encrypt(&[]).unwrap()).unwrap().len(),
        0
    );
}

#[test]
fn tampered_or_misdirected_oaep_fails_opaquely() {
    let k = test_key();
    let c = k.public_key().oaep_encrypt(b"8 bytes!").unwrap();
    for i in [0, 1, 64, 128, 200, 255] {
        let mut bad = c.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            k.oaep_decrypt(&bad).unwrap_err(),
            CryptoError::BadEnvelope,
            "byte {i}"
        );
    }
    assert_eq!(
        k.oaep_decrypt(&c[..255]).unwrap_err(),
        CryptoError::BadEnvelope
    );
    assert_eq!(k.oaep_decrypt(&[]).unwrap_err(), CryptoError::BadEnvelope);
    assert_eq!(
        other_key().oaep_decrypt(&c).unwrap_err(),
        CryptoError::BadEnvelope
    );
}

#[test]
fn oaep_interoperates_with_openssl() {
    if !have_openssl("oaep_interoperates_with_openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = test_key();
    let opts = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ];
    write(d, "pub.pem", k.public_key().to_pem().as_bytes());
    write(d, "priv.pem", k.to_pem().as_bytes());

    // openssl encrypts, we decrypt.
    write(d, "secret.bin", b"\x01\x23\x45\x67\x89\xab\xcd\xef");
    let mut args = vec![
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "pub.pem",
        "-in",
        "secret.bin",
        "-out",
        "ct.bin",
    ];
    args.extend(opts);
    openssl_ok(d, &args);
    let ct = std::fs::read(d.join("ct.bin")).unwrap();
    assert_eq!(
        k.oaep_decrypt(&ct).unwrap().as_slice(),
        b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    );

    // We encrypt, openssl decrypts.
    write(
        d,
        "ours.bin",
        &k.public_key().oaep_encrypt(b"wrapped here").unwrap(),
    );
    let mut args = vec![
        "pkeyutl", "-decrypt", "-inkey", "priv.pem", "-in", "ours.bin",
    ];
    args.extend(opts);
    assert_eq!(openssl_ok(d, &args).stdout, b"wrapped here");
}

#[test]
fn fingerprint_format() {
    let p = test_key().public_key();
    let fp = p.fingerprint();
    let body = fp.strip_prefix("SHA256:").expect("SHA256: prefix");
    assert_eq!(body.len(), 43, "{fp}");
    assert!(
        body.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
        "{fp}"
    );
    assert_eq!(fp, fingerprint(&p.to_der()));
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(body)
        .unwrap();
    assert_eq!(raw, common::crypto::sha256(&p.to_der()));
    assert_ne!(fp, other_key().public_key().fingerprint());
    assert!(
        format!("{p:?}").contains(&fp),
        "PublicKey Debug shows the fingerprint"
    );
}

#[test]
fn fingerprint_matches_openssl_pipeline() {
    if !have_openssl("fingerprint_matches_openssl_pipeline") {
        return;
    }
    let has_sh = std::process::Command::new("sh")
        .arg("-c")
        .arg("command -v base64 && command -v tr")
        .output();
    if !has_sh.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("SKIPPED fingerprint_matches_openssl_pipeline: sh, base64 or tr missing");
        return;
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("openssl pkey -pubin -in \"$1\" -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =")
        .arg("sh")
        .arg(fixture("test_rsa_public.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let theirs = format!("SHA256:{}", String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(test_key().public_key().fingerprint(), theirs);
}

#[test]
fn private_key_debug_does_not_leak() {
    let k = test_key();
    let shown = format!("{k:?} {k:#?}");
    let pem = k.to_pem();
    let body_line = pem.lines().nth(1).unwrap();
    assert!(!shown.contains(body_line), "{shown}");
    assert!(!shown.contains("BEGIN"), "{shown}");
    assert!(
        shown.len() < 80,
        "Debug prints a short summary only: {shown}"
    );
    assert!(shown.contains("2048"));
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    match PrivateKey::load(&bad) {
        Err(e @ KeyFileError::Malformed { .. }) => {
            assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    match PublicKey::load(&bad) {
        Err(e @ KeyFileError::Malformed { .. }) => {
            assert!(e.to_string().contains("broken.pem"), "{e}")
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let missing = dir.path().join("missing.pem");
    assert!(
        matches!(PrivateKey::load(&missing), Err(KeyFileError::Missing { path }) if path == missing)
    );
    assert!(
        matches!(PublicKey::load(&missing), Err(KeyFileError::Missing { path }) if path == missing)
    );
}

#[test]
fn load_or_create_creates_then_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = (
        dir.path().join("keys/client_private.pem"),
        dir.path().join("keys/client_public.pem"),
    );
    let (k1, created) = PrivateKey::load_or_create(&private, &public, 1024).unwrap();
    assert!(created);
    assert_eq!(k1.bits(), 1024);
    assert!(private.is_file() && public.is_file());
    #[cfg(unix)]
    assert_eq!(support::mode(&private), 0o600);

    let (k2, created) = PrivateKey::load_or_create(&private, &public, 1024).unwrap();
    assert!(!created);
    assert_eq!(k2.public_key().fingerprint(), k1.public_key().fingerprint());

    // A lost public key is rewritten from the private one.
    std::fs::remove_file(&public).unwrap();
    let (k3, created) = PrivateKey::load_or_create(&private, &public, 1024).unwrap();
    assert!(!created);
    assert_eq!(PublicKey::load(&public).unwrap(), k3.public_key());
    assert_eq!(k3.public_key().fingerprint(), k1.public_key().fingerprint());

    // A malformed private key is an error and is never silently replaced.
    std::fs::write(&private, "garbage").unwrap();
    let err = PrivateKey::load_or_create(&private, &public, 1024).unwrap_err();
    assert!(
        matches!(err, Error::KeyFile(KeyFileError::Malformed { .. })),
        "{err:?}"
    );
    assert_eq!(std::fs::read_to_string(&private).unwrap(), "garbage");

    // Too small a size for a new key is refused before anything is written.
    let other = dir.path().join("other_private.pem");
    let err =
        PrivateKey::load_or_create(&other, &dir.path().join("other_public.pem"), 512).unwrap_err();
    assert!(
        matches!(err, Error::Crypto(CryptoError::KeyTooSmall(512))),
        "{err:?}"
    );
    assert!(!other.exists());
}
