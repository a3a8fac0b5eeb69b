//! mini-chat chat server.
//!
//! # Layout
//! - [`db`]: the `users` table (SQLite default, MySQL/MariaDB), password checks, admin commands.

pub mod db;
