//! Helpers shared by the integration tests (each test binary uses a subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::crypto::PrivateKey;

/// A file in `common/tests/fixtures/` (test-only keys, see the README there).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// The fixed 2048-bit test key pair (`test_rsa_private.pem` / `test_rsa_public.pem`).
pub fn test_key() -> PrivateKey {
    PrivateKey::load(&fixture("test_rsa_private.pem")).expect("fixture test_rsa_private.pem loads")
}

/// A second, unrelated 2048-bit test key pair.
pub fn other_key() -> PrivateKey {
    PrivateKey::load(&fixture("test_rsa_other_private.pem"))
        .expect("fixture test_rsa_other_private.pem loads")
}

/// Hex to bytes (test vectors).
pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).expect("test vector is valid hex")
}

/// Is the `openssl` command line tool usable? Prints why a test is skipped when it is not.
pub fn have_openssl(test: &str) -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED {test}: the `openssl` command is not on PATH");
    }
    ok
}

/// Run `openssl` with `args` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

/// Run `openssl` and require success.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Output {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Mode bits of a file (Unix).
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}
