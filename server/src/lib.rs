//! mini-chat chat server.
//!
//! # Layout
//! - [`server`]: the listener (connection limit, shutdown).
//! - [`startup`]: checks before listening (session key folder, database reachable).
//! - [`handler`]: one connection: hello, login, session loop.
//! - [`relay`]: who is online; ordered fan-out to bounded per-user queues.
//! - [`history`]: every accepted message stored (sealed) by a batching writer; offline delivery.
//! - [`throttle`]: bounds on login work and password guessing (budgets, locks, BUSY).
//! - [`revocation`]: sessions end when their key, user or password is withdrawn.
//! - [`keys`]: the session keys server_key leaves in `session_key_dir`.
//! - [`db`]: the `users` table (SQLite default, MySQL/MariaDB), password checks.
//! - [`admin`]: `server db ...` and `server user ...` commands.
//! - [`import`], [`roster`]: `server user import`, reading a class roster (CSV or xlsx).

pub mod admin;
pub mod db;
pub mod handler;
pub mod history;
pub mod import;
pub mod keys;
pub mod relay;
pub mod revocation;
pub mod roster;
pub mod server;
pub mod startup;
pub mod throttle;
