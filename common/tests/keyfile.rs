//! The session-key file (`common::keyfile`).

mod support;

use std::path::Path;

use common::crypto::SessionKey;
use common::error::KeyFileError;
use common::keyfile::KeyFile;

fn sample(user: &str) -> KeyFile {
    KeyFile {
        key: SessionKey::generate(user, time::Duration::hours(24)),
        created_at: time::OffsetDateTime::now_utc(),
        server_fingerprint: "SHA256:serverserverserverserverserverserverserv".into(),
        client_fingerprint: "SHA256:clientclientclientclientclientclientclien".into(),
        clock_offset_secs: None,
    }
}

fn assert_same(a: &KeyFile, b: &KeyFile) {
    assert_eq!(a.key.username, b.key.username);
    assert_eq!(a.key.key_id, b.key.key_id);
    assert_eq!(a.key.des, b.key.des);
    assert_eq!(*a.key.mac_key, *b.key.mac_key);
    assert_eq!(a.key.expires_at, b.key.expires_at);
    assert_eq!(a.created_at, b.created_at);
    assert_eq!(a.server_fingerprint, b.server_fingerprint);
    assert_eq!(a.client_fingerprint, b.client_fingerprint);
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions/张三.txt");
    let kf = sample("张三");
    kf.save(&path).unwrap();
    assert_same(&KeyFile::load(&path).unwrap(), &kf);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# mini-chat session key for 张三."),
        "{text}"
    );
    assert!(text.contains("SECRET"));
    assert!(text.contains(&kf.key.des.to_hex()));
    assert_same(&KeyFile::from_toml(&text, Path::new("x")).unwrap(), &kf);
}

#[cfg(unix)]
#[test]
fn saved_file_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session_key.txt");
    // Even when replacing a world-readable file.
    std::fs::write(&path, "old").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    sample("user1").save(&path).unwrap();
    assert_eq!(support::mode(&path), 0o600);
}

#[test]
fn saving_over_an_existing_file_replaces_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session_key.txt");
    let (a, b) = (sample("user1"), sample("user1"));
    a.save(&path).unwrap();
    b.save(&path).unwrap();
    assert_same(&KeyFile::load(&path).unwrap(), &b);
    assert_eq!(
        files_in(dir.path()),
        ["session_key.txt"],
        "no temporary files left behind"
    );
}

#[test]
fn debug_does_not_print_secrets() {
    let kf = sample("user1");
    let shown = format!("{kf:?} {kf:#?}");
    assert!(!shown.contains(&kf.key.des.to_hex()), "{shown}");
    assert!(!shown.contains(kf.key.mac_key_hex().as_str()), "{shown}");
    assert!(shown.contains(&kf.key.key_id));
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.txt");
    match KeyFile::load(&path) {
        Err(KeyFileError::Missing { path: p }) => assert_eq!(p, path),
        other => panic!("expected Missing, got {other:?}"),
    }
}

/// Replace the line `name = ...` of a valid file, or drop it when `value` is None.
fn edit(text: &str, name: &str, value: Option<&str>) -> String {
    let prefix = format!("{name} = ");
    assert!(
        text.lines().any(|l| l.starts_with(&prefix)),
        "{name} is in the file"
    );
    text.lines()
        .filter_map(|l| match (l.starts_with(&prefix), value) {
            (true, Some(v)) => Some(format!("{prefix}{v}")),
            (true, None) => None,
            (false, _) => Some(l.to_owned()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn malformed_files_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample("user1").to_toml().to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("not toml", "username = [unclosed".into(), ""),
        ("empty", String::new(), "missing field"),
        (
            "missing field",
            edit(&good, "client_fingerprint", None),
            "client_fingerprint",
        ),
        (
            "unknown field",
            format!("{good}\nextra_field = \"x\"\n"),
            "extra_field",
        ),
        ("wrong type", edit(&good, "username", Some("42")), ""),
        (
            "bad des parity",
            edit(&good, "des_key", Some("\"0123456789abcdee\"")),
            "des_key",
        ),
        (
            "weak des key",
            edit(&good, "des_key", Some("\"0101010101010101\"")),
            "des_key",
        ),
        (
            "short des key",
            edit(&good, "des_key", Some("\"0123\"")),
            "des_key",
        ),
        (
            "short mac key",
            edit(&good, "mac_key", Some("\"abcd\"")),
            "mac_key",
        ),
        (
            "bad key id",
            edit(&good, "key_id", Some("\"xyz\"")),
            "key_id",
        ),
        (
            "bad expires_at",
            edit(&good, "expires_at", Some("\"tomorrow\"")),
            "expires_at",
        ),
        (
            "bad created_at",
            edit(&good, "created_at", Some("\"2026-13-01T00:00:00Z\"")),
            "created_at",
        ),
    ];
    for (what, text, mentions) in cases {
        let path = dir.path().join(format!("{}.txt", what.replace(' ', "_")));
        std::fs::write(&path, &text).unwrap();
        match KeyFile::load(&path) {
            Err(e @ KeyFileError::Malformed { .. }) => {
                let shown = e.to_string();
                assert!(
                    shown.contains(&path.display().to_string()),
                    "{what}: {shown}"
                );
                assert!(
                    shown.contains(mentions),
                    "{what}: {shown} should mention {mentions}"
                );
                if let KeyFileError::Malformed { path: p, .. } = e {
                    assert_eq!(p, path);
                }
            }
            other => panic!("{what}: expected Malformed, got {other:?}"),
        }
    }
    // Sanity check: the unedited text loads.
    assert!(KeyFile::from_toml(&good, Path::new("good.txt")).is_ok());
}
