//! The `users` table, behind one trait with an embedded SQLite and a MySQL/MariaDB implementation.
//! (Filled in by the database work; see the trait for the contract.)
