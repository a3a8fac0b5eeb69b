//! The crypto primitives know no protocol (issue 10): nothing under `common/src/crypto/` names
//! `protocol`, so sealed frames, the envelope's wire form and the codes stay in `protocol/`.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read crypto dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn crypto_imports_nothing_from_protocol() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/crypto"),
        &mut files,
    );
    assert!(files.len() > 5, "found only {files:?}");
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("read source");
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("protocol::"))
                .map(|(i, l)| format!("{}:{}: {l}", f.display(), i + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "crypto names protocol:\n{}",
        offenders.join("\n")
    );
}
