//! Command line of `client_wy` / `client_dz` / `client_cxk`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::client::folder::ClientFolder;

#[derive(Parser)]
#[command(version, long_about = None)]
struct Cli {
    /// client.toml to use (default: beside the executable, else in the working directory, else
    /// the client's source folder). The key files live beside it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Key step: get a DES session key from server_key in a signed digital envelope and store
    /// it in session_key.txt (run this first, and again when the key expires).
    Key {
        /// Print each step (fingerprints, nonces, envelope parts, signature check).
        #[arg(long)]
        trace: bool,
        /// With --trace, also print the session key itself (teaching only).
        #[arg(long)]
        show_secrets: bool,
        /// Show the exchange in a window (密钥分发过程): every message, field by field.
        #[arg(long)]
        gui: bool,
    },
    /// The chat window (FLTK). This is what runs with no subcommand.
    Chat,
    /// Terminal mode: password from CHAT_PASSWORD or a prompt; stdin lines are sent,
    /// `/w USER TEXT` whispers, `/who` lists users, `/quit` or EOF leaves.
    Cli,
}

/// Run the client program named `program` whose source folder is `manifest_dir`.
pub fn main(program: &str, manifest_dir: &str) -> ExitCode {
    run(program, Some(Path::new(manifest_dir)))
}

/// The generic client that `scripts/dist.sh` copies into every student's folder under the
/// folder's name (`client_s01`): the program name is the executable's own file name, and
/// `client.toml` is looked for beside the executable, then in the working directory.
pub fn main_generic() -> ExitCode {
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "client".to_owned());
    run(&program, None)
}

fn run(program: &str, dev_dir: Option<&Path>) -> ExitCode {
    let about = format!(
        "{program}: mini-chat client. Run `{program} key` first (key distribution), then `{program}` (chat window) or `{program} cli` (terminal)."
    );
    let cli = Cli::parse_from_about(program, about);
    // Local time offset must be read before any thread starts (the time crate refuses later).
    crate::format::init_local_offset();
    common::logging::init("warn");
    let folder = match ClientFolder::find(cli.config.as_deref(), dev_dir, program) {
        Ok(f) => f,
        Err(e) => {
            // One message in the folder's language; the --config hint only when no file exists.
            let lang = common::client::config_texts::language_of(&e);
            let text = common::client::config_texts::config_error_text(&e, lang, program);
            eprintln!("{program}: {text}");
            if matches!(cli.command, None | Some(Command::Chat)) {
                crate::gui::config_error_dialog(program, &text, lang);
            }
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Chat) {
        Command::Key {
            trace,
            show_secrets,
            gui,
        } => crate::keystep::run(&folder, trace, show_secrets, gui),
        Command::Chat => crate::gui::run(folder),
        Command::Cli => crate::cli::run(&folder),
    }
}

impl Cli {
    fn parse_from_about(program: &str, about: String) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        // Named after the program, so `client_s01 -V` and the usage lines say client_s01.
        // clap keeps names as `&'static str`; this runs once per process.
        let name: &'static str = Box::leak(program.to_owned().into_boxed_str());
        let matches = Self::command()
            .name(name)
            .bin_name(program.to_owned())
            .about(about)
            .get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[cfg(test)]
mod tests {
    /// Every argument and subcommand of `client_xx --help` (and of each subcommand's help) says
    /// what it is for.
    #[test]
    fn every_argument_has_a_description() {
        common::cli_help::assert_described::<super::Cli>("client_wy");
    }
}
