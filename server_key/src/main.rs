//! `server_key`: the key distribution server. Thin: parse the command line, load the config,
//! then hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use common::config::{self, Registration, ServerKeyConfig};
use common::crypto::{PrivateKey, PublicKey};
use common::protocol::consts::DEFAULT_RSA_BITS;
use common::trace::Trace;
use server_key::keystore::KeyStore;
use server_key::server::{KeyServer, run};

/// mini-chat key distribution server: gives each client a DES session key in a signed digital
/// envelope and stores the server's copy for the chat server.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Config file (default: server_key.toml beside the executable, in the working directory,
    /// or server_key/server_key.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Listen address, overriding the config (e.g. 0.0.0.0:8091).
    #[arg(long)]
    listen: Option<String>,
    /// Print each step of every key exchange (fingerprints, nonces, envelope parts, signatures).
    #[arg(long)]
    trace: bool,
    /// With --trace, also print session keys in clear (for teaching only).
    #[arg(long)]
    show_secrets: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the server key pair if missing, print its fingerprint and exit (for packaging:
    /// copy key_dir/server_public.pem into each client folder so clients pin it from the start).
    Init,
    /// Manage which client public key may speak for which username.
    Clients {
        #[command(subcommand)]
        action: ClientsAction,
    },
}

#[derive(Subcommand)]
enum ClientsAction {
    /// List bound usernames, key fingerprints and session key expiry.
    List,
    /// Bind USERNAME to the public key in PEM_FILE (a client's client_public.pem).
    Register {
        /// The username to bind.
        username: String,
        /// The client's client_public.pem.
        pem_file: PathBuf,
    },
    /// Remove USERNAME's binding and session key (the user can then bind a new client key).
    Revoke {
        /// The username to unbind.
        username: String,
    },
    /// For packaging (scripts/dist.sh): make a client key pair in FOLDER (client_private.pem,
    /// client_public.pem; an existing pair is kept) and register it for USERNAME.
    Provision {
        /// The username the key pair is registered for.
        username: String,
        /// The client folder that receives the key pair.
        folder: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::logging::init("info");
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server_key: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    // The source folder only from the build tree: a copied server_key never uses the tree's config.
    let dev = config::dev_candidates(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        "server_key.toml",
    );
    let loaded =
        config::find_or_default::<ServerKeyConfig>(cli.config.as_deref(), "server_key.toml", &dev)?;
    let store = KeyStore::new(loaded.resolve(&loaded.config.key_dir));
    let cfg = &loaded.config;
    match cli.command {
        Some(Command::Clients { action }) => return clients(&store, action),
        Some(Command::Init) => {
            let (identity, created) = store.server_identity(cfg.rsa_bits)?;
            create_sessions_dir(&store)?;
            println!(
                "server_key: {} {} (fingerprint {})",
                if created { "created" } else { "already have" },
                store.server_public_path().display(),
                identity.public_key().fingerprint()
            );
            return Ok(());
        }
        None => {}
    }
    match &loaded.path {
        Some(p) => println!("server_key: config {}", p.display()),
        None => println!("server_key: no server_key.toml found, using defaults"),
    }
    let (identity, created) = store.server_identity(cfg.rsa_bits).with_context(|| {
        format!(
            "cannot load or create the server key in {}",
            store.dir().display()
        )
    })?;
    create_sessions_dir(&store)?;
    let mut server = KeyServer::new(
        store,
        identity,
        cfg.registration,
        cfg.ttl(),
        Trace::new(cli.trace, cli.show_secrets),
    );
    server.limits = server_key::limits::Limits::from_config(cfg);
    let user_list = loaded.user_list_path();
    announce_registration(cfg.registration, &user_list);
    server.user_list = Some(user_list);
    let server = Arc::new(server);
    println!(
        "server_key: {} server key {}",
        if created { "created" } else { "loaded" },
        server.store.server_public_path().display()
    );
    println!("server_key: fingerprint {}", server.fingerprint);
    let listen = cli.listen.unwrap_or_else(|| cfg.listen.clone());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = common::net::listen(&listen).await.with_context(|| {
            format!("cannot listen on {listen} (is another server_key running? use --listen to pick another port)")
        })?;
        println!(
            "server_key: listening on {} (registration: {:?}, session keys valid {}, stored in {})",
            listener.local_addr()?,
            cfg.registration,
            cfg.ttl(),
            server.store.sessions_dir().display()
        );
        start_discovery(cfg, listener.local_addr()?.port(), &server.fingerprint);
        run(listener, server, async {
            let _ = tokio::signal::ctrl_c().await;
            println!("server_key: shutting down");
        })
        .await;
        Ok(())
    })
}

/// Answer `server_host = "auto"` clients on UDP `discovery_port` (0: off). A port that cannot
/// be bound only costs discovery: clients with a server_host set by hand still work.
fn start_discovery(cfg: &ServerKeyConfig, key_port: u16, fingerprint: &str) {
    use server_key::discovery::{Announce, bind, computer_name, respond};
    let port = cfg.discovery_port;
    if port == 0 {
        println!(
            "server_key: discovery off (discovery_port = 0): clients need server_host set by hand"
        );
        return;
    }
    let socket = match bind(port) {
        Ok(s) => s,
        Err(e) => {
            println!(
                "server_key: WARNING: cannot answer discovery on UDP port {port} ({e}): clients with \
                 server_host = \"auto\" will not find this server; set discovery_port or their server_host"
            );
            return;
        }
    };
    let announce = Announce {
        key_port,
        chat_port: cfg.chat_port,
        fingerprint: fingerprint.to_owned(),
        name: cfg.server_name.clone().unwrap_or_else(computer_name),
    };
    println!(
        "server_key: answering discovery on UDP port {port} (announcing key port {key_port}, chat port {}, \
         name \"{}\"); the firewall must let UDP port {port} in",
        cfg.chat_port,
        common::protocol::discovery::sanitize_name(&announce.name)
    );
    tokio::spawn(respond(socket, announce, std::future::pending::<()>()));
}

fn create_sessions_dir(store: &KeyStore) -> anyhow::Result<()> {
    store.create_sessions_dir().with_context(|| {
        format!(
            "cannot create {} (the chat server reads session keys there)",
            store.sessions_dir().display()
        )
    })
}

/// Say at start what the registration mode lets a student do.
fn announce_registration(mode: Registration, user_list: &std::path::Path) {
    match mode {
        Registration::Strict => println!(
            "server_key: registration = \"strict\": only client keys registered in key_dir/clients get session keys"
        ),
        Registration::Tofu => {
            println!(
                "server_key: WARNING: registration = \"tofu\": the first key step for a username binds it to that \
                 client's key, so a student can claim a username nobody has claimed yet. For a class, make the \
                 folders with scripts/dist.sh (registration = \"strict\", keys registered in advance)."
            );
            if user_list.exists() {
                println!(
                    "server_key: only users of the chat server get keys (list {})",
                    user_list.display()
                );
            } else {
                println!(
                    "server_key: WARNING: no user list from the chat server at {} yet: any username can be \
                     claimed until `server` has started once (it writes the list)",
                    user_list.display()
                );
            }
        }
    }
}

fn clients(store: &KeyStore, action: ClientsAction) -> anyhow::Result<()> {
    match action {
        ClientsAction::List => {
            let list = store.list()?;
            if list.is_empty() {
                println!("no client keys bound in {}", store.clients_dir().display());
            }
            for (user, fp, expiry) in list {
                let expiry = expiry.map_or_else(
                    || "no session key".to_owned(),
                    |e| format!("session key expires {e}"),
                );
                println!("{user:<16} {fp}  {expiry}");
            }
        }
        ClientsAction::Register { username, pem_file } => {
            let key = PublicKey::load(&pem_file)?;
            store.register(&username, &key)?;
            println!("bound {username} to {}", key.fingerprint());
        }
        ClientsAction::Provision { username, folder } => {
            let private = folder.join("client_private.pem");
            let public = folder.join("client_public.pem");
            let (key, created) = PrivateKey::load_or_create(&private, &public, DEFAULT_RSA_BITS)
                .with_context(|| format!("client key pair in {}", folder.display()))?;
            let public = key.public_key();
            store.register(&username, &public)?;
            println!(
                "{} key pair in {}; bound {username} to {}",
                if created { "created" } else { "kept the" },
                folder.display(),
                public.fingerprint()
            );
        }
        ClientsAction::Revoke { username } => {
            if store.revoke(&username)? {
                println!("revoked {username}: its next key request may bind a new client key");
            } else {
                println!("{username} had no bound key (its session key, if any, was removed)");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every argument and subcommand of `server_key --help` (and of each subcommand's help)
    /// says what it is for.
    #[test]
    fn every_argument_has_a_description() {
        common::cli_help::assert_described::<super::Cli>("server_key");
    }
}
