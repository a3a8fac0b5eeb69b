//! `client_wy`: the mini-chat client of user1 (wang_yuan). All logic is shared; this folder differs
//! from the other two only in its name and its client.toml.

fn main() -> std::process::ExitCode {
    client_app::main(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"))
}
