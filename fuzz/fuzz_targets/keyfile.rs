//! `KeyFile::from_toml` on arbitrary text never panics, and a file it accepts can be shown,
//! written back with `to_toml` and read again to the same values.
#![no_main]

use std::path::Path;

use common::keyfile::KeyFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/session_key.txt");
    let Ok(kf) = KeyFile::from_toml(text, path) else {
        return;
    };
    // What the client and servers do with a loaded key file: print it, check it, rewrite it.
    let _ = format!("{kf:?}");
    let _ = kf.key.expires_rfc3339();
    let _ = kf.key.is_expired();
    let written = kf.to_toml();
    let back = KeyFile::from_toml(&written, path)
        .unwrap_or_else(|e| panic!("to_toml output does not load: {e}\n{}", *written));
    assert_eq!(back.key.username, kf.key.username);
    assert_eq!(back.key.key_id, kf.key.key_id);
    assert_eq!(back.key.des, kf.key.des);
    assert_eq!(*back.key.mac_key, *kf.key.mac_key);
    assert_eq!(back.key.expires_at, kf.key.expires_at);
    assert_eq!(back.created_at, kf.created_at);
    assert_eq!(back.server_fingerprint, kf.server_fingerprint);
    assert_eq!(back.client_fingerprint, kf.client_fingerprint);
});
