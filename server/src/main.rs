//! `server`: the chat server. Thin: parse the command line, load the config, open the database,
//! then hand over to the library (or run an admin command).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use common::config::{self, ServerConfig};
use common::trace::Trace;
use server::{admin, db, server::Settings};

/// mini-chat chat server: logs users in against the users table and relays every message,
/// decrypted with the sender's session key and re-encrypted with each recipient's.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Config file (default: server.toml beside the executable, in the working directory, or server/server.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Listen address, overriding the config (e.g. 0.0.0.0:8090).
    #[arg(long)]
    listen: Option<String>,
    /// Database URL, overriding the config: sqlite://PATH or mysql://user:pass@host:3306/mini_chat.
    #[arg(long, global = true)]
    database: Option<String>,
    /// Print every frame's ciphertext in and out (teaching view).
    #[arg(long)]
    trace: bool,
    /// With --trace, also print decrypted message text.
    #[arg(long)]
    show_secrets: bool,
    /// If the database cannot be reached at start, keep trying every 5 s (with a countdown)
    /// instead of stopping with an error.
    #[arg(long)]
    wait_for_db: bool,
    /// Store no messages (no history at login, private messages only to users online); for
    /// measuring what storing costs.
    #[arg(long)]
    no_history: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The stored messages (decrypted with history_key.txt beside server.toml).
    History {
        #[command(subcommand)]
        action: HistoryAction,
    },
}

#[derive(Subcommand)]
enum HistoryAction {
    /// Delete stored messages: those sent before DATE, or without it those older than history_days.
    Purge {
        /// YYYY-MM-DD (00:00 UTC): delete everything sent before this day.
        #[arg(long)]
        before: Option<String>,
    },
    /// Write stored messages, decrypted: a user's (public ones and their private ones), or all of them.
    Export {
        /// The account whose messages to export; without it, every message (the course record).
        #[arg(long)]
        user: Option<String>,
        /// csv (UTF-8 with BOM, for Excel) or jsonl (one JSON object per line).
        #[arg(long, value_enum, default_value = "csv")]
        format: server::history::export::Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Create the users table and the three seed users (user1/user2/user3, password 111111) if empty.
    Init,
    /// Upgrade a database made with the seed's SQL: widen user_password and hash plaintext passwords.
    Upgrade,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user (password asked without echo, or read from stdin with --password-stdin).
    Add {
        /// Login name (1 to 30 ASCII letters, digits, '_', '-' or '.').
        username: String,
        /// Name shown to the others in the chat.
        nickname: String,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password.
    Passwd {
        /// The user whose password changes.
        username: String,
        /// Read the new password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (never shows passwords or hashes).
    List,
    /// Remove a user.
    Remove {
        /// The user to remove.
        username: String,
    },
    /// Lift the lock of a username locked after too many failed logins (the running server
    /// picks it up within 2 s).
    Unlock {
        /// The locked username.
        username: String,
    },
    /// Add a class from a roster: CSV `username,nickname[,password]` (UTF-8 or GB18030/GBK,
    /// header row allowed) or .xlsx (first sheet). Users without a password get a random one;
    /// all of them are written to passwords.csv beside the database and must choose their own
    /// password at their first login. One transaction: any bad row and nothing is written.
    Import {
        /// The roster: a .csv or .xlsx file.
        file: PathBuf,
        /// Also give existing users (listed in the roster) a new password.
        #[arg(long)]
        reset_passwords: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::logging::init("info");
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where `user import` writes the class sheet: beside an SQLite file, else beside server.toml.
fn sheet_dir(url: &str, config_dir: &std::path::Path) -> PathBuf {
    url.strip_prefix("sqlite://")
        .and_then(|p| std::path::Path::new(p).parent().map(PathBuf::from))
        .unwrap_or_else(|| config_dir.to_path_buf())
}

/// Write the user list for server_key; a failure is reported, not fatal (server_key then keeps
/// the previous list).
fn publish_user_list(store: &dyn db::UserStore, path: &std::path::Path) {
    match admin::publish_user_list(store, path) {
        Ok(n) => println!(
            "server: user list ({n} users) for server_key: {}",
            path.display()
        ),
        Err(e) => eprintln!("server: warning: could not write the user list for server_key: {e:#}"),
    }
}

fn real_main(mut cli: Cli) -> anyhow::Result<()> {
    // The source folder only from the build tree: a copied server never uses the tree's config.
    let dev = config::dev_candidates(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        "server.toml",
    );
    let mut loaded =
        config::find_or_default::<ServerConfig>(cli.config.as_deref(), "server.toml", &dev)?;
    if let Some(db) = cli.database.take() {
        loaded.config.database = db;
    }
    // Serving: check the session key folder before the database is opened (and, for SQLite,
    // created) on behalf of a misconfigured server.
    let session_key_dir = match cli.command {
        None => Some(server::startup::check_session_key_dir(&loaded)?),
        Some(_) => None,
    };
    let url = loaded.database_url();
    let store = db::open(&url)
        .with_context(|| format!("cannot open the database {}", db::redact_url(&url)))?;
    if let Some(cmd) = cli.command {
        return admin_command(cmd, &*store, &loaded, &url);
    }
    let session_key_dir = session_key_dir.expect("checked above: no subcommand");
    serve(cli, &loaded, store, &url, session_key_dir)
}

/// Start serving: the settings from the config and the command line, then the listener until
/// Ctrl+C.
fn serve(
    cli: Cli,
    loaded: &common::config::Loaded<ServerConfig>,
    store: std::sync::Arc<dyn db::UserStore>,
    url: &str,
    session_key_dir: std::path::PathBuf,
) -> anyhow::Result<()> {
    server::startup::wait_for_database(&*store, url, loaded, cli.wait_for_db)?;
    publish_user_list(&*store, &loaded.user_list_path());
    let mut settings = Settings::new(session_key_dir);
    settings.unlock_dir = Some(unlock_dir(loaded));
    let fit = common::fdlimit::fit_connections(loaded.config.max_connections);
    for line in fit.report(loaded.config.max_connections) {
        println!("server: {line}");
    }
    settings.max_connections = fit.max_connections;
    settings.trace = Trace::new(cli.trace, cli.show_secrets);
    settings.files = file_limits(&loaded.config);
    if !cli.no_history {
        settings.history = Some(history_settings(loaded)?);
    }
    match &loaded.path {
        Some(p) => println!("server: config {}", p.display()),
        None => println!("server: no server.toml found, using defaults"),
    }
    println!("server: database {}", store.describe());
    println!(
        "server: session keys from {}",
        settings.session_key_dir.display()
    );
    let listen = cli.listen.unwrap_or_else(|| loaded.config.listen.clone());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = common::net::listen(&listen).await.with_context(|| {
            format!("cannot listen on {listen} (is another server running? use --listen to pick another port)")
        })?;
        println!("server: listening on {}", listener.local_addr()?);
        server::server::run(listener, store, settings, async {
            let _ = tokio::signal::ctrl_c().await;
            println!("server: shutting down (Ctrl+C)");
        })
        .await;
        Ok(())
    })
}

/// Run one of the teacher's subcommands (database, users, history) and publish the user list
/// for server_key when the users may have changed.
fn admin_command(
    cmd: Command,
    store: &dyn db::UserStore,
    loaded: &common::config::Loaded<ServerConfig>,
    url: &str,
) -> anyhow::Result<()> {
    // The users are unchanged, and standard output may be an export.
    let users_changed = !matches!(cmd, Command::History { .. });
    let msg = match cmd {
        Command::Db {
            action: DbAction::Init,
        } => admin::db_init(store)?,
        Command::Db {
            action: DbAction::Upgrade,
        } => admin::db_upgrade(store)?,
        Command::History { action } => history_command(store, loaded, action)?,
        Command::User { action } => match action {
            UserAction::Add {
                username,
                nickname,
                password_stdin,
            } => {
                let pw =
                    admin::read_password(&format!("password for {username}: "), password_stdin)?;
                admin::user_add(store, &username, &nickname, &pw)?
            }
            UserAction::Passwd {
                username,
                password_stdin,
            } => {
                let pw = admin::read_password(
                    &format!("new password for {username}: "),
                    password_stdin,
                )?;
                admin::user_passwd(store, &username, &pw)?
            }
            UserAction::List => admin::user_list(store)?,
            UserAction::Remove { username } => admin::user_remove(store, &username)?,
            UserAction::Unlock { username } => admin::user_unlock(&unlock_dir(loaded), &username)?,
            UserAction::Import {
                file,
                reset_passwords,
            } => {
                let sheet_dir = sheet_dir(url, &loaded.base_dir);
                server::import::user_import(store, &file, reset_passwords, &sheet_dir)?.message()
            }
        },
    };
    if !msg.is_empty() {
        println!("{msg}");
    }
    if users_changed {
        publish_user_list(store, &loaded.user_list_path());
    }
    Ok(())
}

/// File transfer limits from the config (the timing ones keep their defaults).
fn file_limits(config: &ServerConfig) -> server::relay::FileLimits {
    server::relay::FileLimits {
        max_size: config.max_file_mb * 1024 * 1024,
        max_per_user: config.max_transfers_per_user,
        bytes_per_sec: config.file_kb_per_second_per_user * 1024,
        ..Default::default()
    }
}

/// History settings from the config, with the storage key (created on first start).
fn history_settings(
    loaded: &common::config::Loaded<ServerConfig>,
) -> anyhow::Result<server::history::HistorySettings> {
    let path = server::history::key_path(&loaded.base_dir);
    let (key, created) = common::crypto::storage::StorageKey::load_or_create(&path)
        .context("cannot load the message history's storage key")?;
    if created {
        println!(
            "server: created the storage key {} (keep it: without it the stored messages cannot be read)",
            path.display()
        );
    }
    let mut h = server::history::HistorySettings::new(std::sync::Arc::new(key));
    h.on_join = loaded.config.history_on_join;
    h.days = loaded.config.history_days;
    Ok(h)
}

/// `server history purge|export`.
fn history_command(
    store: &dyn db::UserStore,
    loaded: &common::config::Loaded<ServerConfig>,
    action: HistoryAction,
) -> anyhow::Result<String> {
    use server::history::export;
    match action {
        HistoryAction::Purge { before } => {
            export::purge(store, before.as_deref(), loaded.config.history_days)
        }
        HistoryAction::Export {
            user,
            format,
            output,
        } => {
            let path = server::history::key_path(&loaded.base_dir);
            let key = common::crypto::storage::StorageKey::load(&path)
                .context("cannot read the storage key the messages are sealed under")?;
            let n = match &output {
                Some(file) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(file)
                            .with_context(|| format!("cannot create {}", file.display()))?,
                    );
                    export::export(store, &key, user.as_deref(), format, &mut f)?
                }
                None => export::export(
                    store,
                    &key,
                    user.as_deref(),
                    format,
                    &mut std::io::stdout().lock(),
                )?,
            };
            let whose = user.map_or_else(|| "all users".to_owned(), |u| format!("user {u}"));
            let to =
                output.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
            // To stderr: standard output may be the export itself.
            eprintln!("server: exported {n} messages ({whose}) to {to}");
            Ok(String::new())
        }
    }
}

/// Where `server user unlock` leaves its requests for the running server: `unlock/` beside the
/// user list (by default in server_key's key_dir, the folder both servers already share).
fn unlock_dir(loaded: &common::config::Loaded<common::config::ServerConfig>) -> PathBuf {
    loaded.user_list_path().with_file_name("unlock")
}

#[cfg(test)]
mod tests {
    /// Every argument and subcommand of `server --help` (and of each subcommand's help) says
    /// what it is for.
    #[test]
    fn every_argument_has_a_description() {
        common::cli_help::assert_described::<super::Cli>("server");
    }
}
