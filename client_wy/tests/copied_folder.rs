//! The source-folder fallback (issue 12): `client_wy` run from the build tree (`target/`) may use
//! this crate's `client.toml`, but a copy of the program elsewhere never does: a copied folder
//! without `client.toml` gets an error naming that folder, and nothing is written into the
//! source tree.

use std::path::Path;
use std::process::{Command, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_client_wy");

fn run(exe: &Path, cwd: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .env("CHAT_PASSWORD", "x")
        .stdin(Stdio::null())
        .output()
        .expect("run client_wy");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_copied_program_without_client_toml_names_its_folder_and_leaves_the_source_tree_alone() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let before: Vec<_> = std::fs::read_dir(source)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Desktop").join("client_wy");
    std::fs::create_dir_all(&folder).unwrap();
    let copy = folder.join("client_wy");
    std::fs::copy(EXE, &copy).unwrap();
    for args in [&["key"][..], &["cli"][..]] {
        let (ok, stderr) = run(&copy, tmp.path(), args);
        assert!(!ok, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("文件夹 {} 里没有 client.toml", folder.display())),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains(&source.display().to_string()),
            "the source tree is not even mentioned: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    }
    let after: Vec<_> = std::fs::read_dir(source)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written into {}", source.display());
}

#[test]
fn the_program_in_the_build_tree_still_finds_its_source_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // `cli` with a password and no terminal: it loads the folder, then fails at the session key
    // or the connection, never at finding client.toml. Nothing is written (no key step).
    let (_, stderr) = run(Path::new(EXE), tmp.path(), &["cli"]);
    assert!(!stderr.contains("client.toml（"), "{stderr}");
    assert!(!stderr.contains("里没有 client.toml"), "{stderr}");
}

#[test]
fn version_names_the_client() {
    let out = Command::new(EXE).arg("-V").output().expect("client_wy -V");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("client_wy "), "{text}");
}
