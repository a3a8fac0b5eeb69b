//! A check every binary's test runs: each argument and subcommand of its `--help` says what it
//! is for (a student or teacher reading `--help` gets a sentence for every option).

/// The arguments and subcommands of `cmd` (and, recursively, of its subcommands) that have no
/// description, named as `path sub ... arg`. Call [`clap::Command::build`] on `cmd` first.
pub fn undescribed(cmd: &clap::Command, path: &str) -> Vec<String> {
    let mut missing = Vec::new();
    walk(cmd, path, &mut missing);
    missing
}

/// The test each binary runs on its own `Cli`: panics naming every argument or subcommand of
/// `C` without a description.
///
/// # Panics
/// When one has none.
pub fn assert_described<C: clap::CommandFactory>(program: &str) {
    let mut cmd = C::command();
    cmd.build();
    let missing = undescribed(&cmd, program);
    assert!(missing.is_empty(), "no description: {missing:?}");
}

fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if a.get_help().is_none() && a.get_long_help().is_none() {
            missing.push(format!("{path} {}", a.get_id()));
        }
    }
    for sub in cmd.get_subcommands() {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() {
            missing.push(sub_path.clone());
        }
        walk(sub, &sub_path, missing);
    }
}
