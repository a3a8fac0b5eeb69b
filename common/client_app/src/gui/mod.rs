//! The FLTK chat client (login window, chat window).

use std::process::ExitCode;

use common::client::folder::ClientFolder;

/// Open the login window, then the chat window.
pub fn run(folder: ClientFolder) -> ExitCode {
    eprintln!("{}: the chat window is not built yet; use `{} cli`", folder.program, folder.program);
    ExitCode::FAILURE
}
