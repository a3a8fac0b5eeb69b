//! The client program shared by the three client folders. Each folder's `main.rs` is one call
//! to [`main`] with its own name; everything else is here or in `common::client`.
//!
//! # Layout
//! - [`entry`]: command line (`key`, `chat`, `cli`) and config discovery.
//! - [`keystep`]: the `key` subcommand's output.
//! - [`cli`]: the terminal mode.
//! - [`format`]: pure text formatting shared by the terminal mode and the GUI.
//! - [`gui`]: the FLTK windows.

pub mod cli;
pub mod entry;
pub mod format;
pub mod gui;
pub mod keystep;

pub use entry::{main, main_generic};
