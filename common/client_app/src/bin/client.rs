//! The generic mini-chat client: `scripts/dist.sh` copies it into each student's folder,
//! renamed after the folder (`client_s01`), beside that folder's client.toml.

fn main() -> std::process::ExitCode {
    client_app::main_generic()
}
