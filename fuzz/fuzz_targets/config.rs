//! `config::parse` for the three config files on arbitrary text never panics.
#![no_main]

use std::path::Path;

use common::config::{ClientConfig, Loaded, ServerConfig, ServerKeyConfig, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/config.toml");
    if let Ok(c) = parse::<ServerKeyConfig>(text, path) {
        let _ = format!("{c:?}");
    }
    if let Ok(c) = parse::<ServerConfig>(text, path) {
        // What the server does with it right after loading.
        let loaded = Loaded {
            config: c,
            path: Some(path.to_path_buf()),
            base_dir: Path::new("/base").to_path_buf(),
        };
        let _ = loaded.database_url();
        let _ = loaded.resolve(&loaded.config.session_key_dir);
    }
    if let Ok(c) = parse::<ClientConfig>(text, path) {
        let _ = format!("{c:?}");
    }
});
