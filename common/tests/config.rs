//! The three TOML configs (`common::config`).

use std::path::{Path, PathBuf};

use common::config::{
    ClientConfig, Language, Loaded, Registration, ServerConfig, ServerKeyConfig, find,
    find_or_default, load, parse,
};
use common::error::ConfigError;

#[test]
fn defaults_match_the_documented_contract() {
    let k = ServerKeyConfig::default();
    assert_eq!(k.listen, "0.0.0.0:8091");
    assert_eq!(k.key_dir, PathBuf::from("keys"));
    assert_eq!(k.rsa_bits, 2048);
    assert_eq!(k.ttl().get(), std::time::Duration::from_secs(24 * 3600));
    assert_eq!(k.registration, Registration::Tofu);

    let s = ServerConfig::default();
    assert_eq!(s.listen, "0.0.0.0:8090");
    assert_eq!(s.database, "sqlite://data/mini_chat.db");
    assert_eq!(
        s.session_key_dir,
        PathBuf::from("../server_key/keys/sessions")
    );
    assert_eq!(s.max_connections, 2000);

    let c = ClientConfig::default();
    assert_eq!(c.server_host, "127.0.0.1");
    assert_eq!(c.chat_port, 8090);
    assert_eq!(c.key_port, 8091);
    assert_eq!(c.username, "user1");
    assert_eq!(c.language, Language::Zh);
}

#[test]
fn an_empty_file_means_all_defaults_and_a_partial_file_keeps_the_rest() {
    let p = Path::new("client.toml");
    let c: ClientConfig = parse("", p).unwrap();
    assert_eq!(
        (c.server_host.as_str(), c.chat_port, c.language),
        ("127.0.0.1", 8090, Language::Zh)
    );
    let c: ClientConfig = parse(
        "# only a comment\nusername = \"user2\"\nlanguage = \"en\"\n",
        p,
    )
    .unwrap();
    assert_eq!(c.username, "user2");
    assert_eq!(c.language, Language::En);
    assert_eq!(c.key_port, 8091, "unset fields keep their defaults");
    let k: ServerKeyConfig = parse("registration = \"strict\"\nrsa_bits = 3072\n", p).unwrap();
    assert_eq!(k.registration, Registration::Strict);
    assert_eq!(k.rsa_bits, 3072);
    assert_eq!(k.listen, "0.0.0.0:8091");
}

/// `session_ttl` takes a duration (a lesson watches a key expire after minutes); the old
/// `session_ttl_hours` is still read.
#[test]
fn the_session_key_lifetime_is_a_duration_or_whole_hours() {
    let p = Path::new("server_key.toml");
    let ttl = |text: &str| {
        parse::<ServerKeyConfig>(text, p)
            .unwrap()
            .ttl()
            .get()
            .as_secs()
    };
    assert_eq!(ttl("session_ttl = \"10m\""), 600);
    assert_eq!(ttl("session_ttl = \"1m\""), 60);
    assert_eq!(ttl("session_ttl = \"2h\""), 7200);
    assert_eq!(ttl("session_ttl = \"7d\""), 7 * 86_400);
    assert_eq!(ttl("session_ttl_hours = 3"), 3 * 3600);
    assert_eq!(ttl(""), 24 * 3600);
    for bad in [
        "session_ttl = \"59s\"",
        "session_ttl = \"367d\"",
        "session_ttl = \"\"",
    ] {
        assert!(parse::<ServerKeyConfig>(bad, p).is_err(), "{bad}");
    }
}

#[test]
fn unknown_keys_are_errors_that_name_the_key_and_file() {
    let p = Path::new("/etc/mini/server.toml");
    match parse::<ServerConfig>("listen = \"0.0.0.0:1\"\ndatabse = \"sqlite://x.db\"\n", p) {
        Err(e @ ConfigError::Mistake { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains("databse"), "{shown}");
            assert!(shown.contains("/etc/mini/server.toml"), "{shown}");
            assert!(!shown.contains('\n'), "one line: {shown}");
        }
        other => panic!("{other:?}"),
    }
    assert!(parse::<ClientConfig>("[section]\nusername = \"a\"\n", p).is_err());
    assert!(
        parse::<ServerKeyConfig>("max_connections = 5\n", p).is_err(),
        "a key of another config"
    );
}

#[test]
fn invalid_values_are_errors() {
    let p = Path::new("x.toml");
    for (text, needle) in [
        ("registration = \"open\"", "open"),
        ("registration = \"Strict\"", "Strict"),
        ("language = \"fr\"", "fr"),
        ("chat_port = 70000", ""),
        ("chat_port = \"8090\"", ""),
        ("key_port = -1", ""),
        ("username = ", ""),
    ] {
        let is_key_cfg = text.starts_with("registration");
        let err = if is_key_cfg {
            parse::<ServerKeyConfig>(text, p).unwrap_err()
        } else {
            parse::<ClientConfig>(text, p).unwrap_err()
        };
        assert!(
            matches!(err, ConfigError::Mistake { .. }),
            "{text}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("server");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("server.toml");
    std::fs::write(
        &file,
        "database = \"sqlite://db/chat.db\"\nsession_key_dir = \"keys/sessions\"\n",
    )
    .unwrap();
    let loaded: Loaded<ServerConfig> = load(&file).unwrap();
    let base = std::path::absolute(&folder).unwrap();
    assert_eq!(loaded.base_dir, base);
    assert_eq!(
        loaded.path.as_deref(),
        Some(std::path::absolute(&file).unwrap().as_path())
    );
    assert_eq!(
        loaded.resolve(&loaded.config.session_key_dir),
        base.join("keys/sessions")
    );
    assert_eq!(
        loaded.database_url(),
        format!("sqlite://{}", base.join("db/chat.db").display())
    );
    // Absolute paths and non-file databases are left alone.
    let abs = dir.path().join("elsewhere");
    assert_eq!(loaded.resolve(&abs), abs);
    for db in [
        "sqlite:///var/lib/chat.db",
        "sqlite::memory:",
        "mysql://u:p@db:3306/mini_chat",
    ] {
        let l = Loaded {
            config: ServerConfig {
                database: db.into(),
                ..ServerConfig::default()
            },
            ..loaded.clone()
        };
        assert_eq!(l.database_url(), db);
    }
}

#[test]
fn default_session_key_dir_resolves_beside_the_server_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "").unwrap();
    let loaded: Loaded<ServerConfig> = load(&file).unwrap();
    assert_eq!(
        loaded.resolve(&loaded.config.session_key_dir),
        std::path::absolute(dir.path())
            .unwrap()
            .join("../server_key/keys/sessions")
    );
}

const UNIQUE: &str = "mini_chat_test_config_that_does_not_exist_anywhere.toml";

#[test]
fn find_with_an_explicit_missing_path_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("client.toml");
    match find::<ClientConfig>(Some(&missing), UNIQUE, &[]) {
        Err(e @ ConfigError::Read { .. }) => assert!(
            e.to_string().contains(&missing.display().to_string()),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    // Even find_or_default does not fall back when the user named a file.
    assert!(matches!(
        find_or_default::<ServerConfig>(Some(&missing), UNIQUE, &[]),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn find_searches_the_candidates_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&b, "username = \"from_b\"").unwrap();
    let l = find::<ClientConfig>(None, UNIQUE, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(l.config.username, "from_b");
    std::fs::write(&a, "username = \"from_a\"").unwrap();
    let l = find::<ClientConfig>(None, UNIQUE, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(l.config.username, "from_a");
    let explicit = find::<ClientConfig>(Some(&b), UNIQUE, std::slice::from_ref(&a)).unwrap();
    assert_eq!(explicit.config.username, "from_b", "an explicit path wins");

    match find::<ClientConfig>(None, UNIQUE, &[dir.path().join("c.toml")]) {
        Err(e @ ConfigError::NotFound { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains(UNIQUE) && shown.contains("c.toml"),
                "{shown}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn find_or_default_falls_back_to_defaults() {
    let l = find_or_default::<ServerKeyConfig>(None, UNIQUE, &[]).unwrap();
    assert!(l.path.is_none());
    assert_eq!(l.base_dir, std::env::current_dir().unwrap());
    assert_eq!(l.config.listen, "0.0.0.0:8091");
    // But a file that exists and is broken is an error, not silently ignored.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("server_key.toml");
    std::fs::write(&broken, "rsa_bits = \"many\"").unwrap();
    assert!(matches!(
        find_or_default::<ServerKeyConfig>(None, UNIQUE, &[broken]),
        Err(ConfigError::Mistake { .. })
    ));
}
