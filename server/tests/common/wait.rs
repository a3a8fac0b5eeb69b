//! Deadlines and the seed password, shared by the in-process harness (`common/mod.rs`) and the
//! real-binary harness (`realsys/mod.rs`).

use std::future::Future;
use std::time::Duration;

/// Upper bound for any single wait in the tests (only reached when something is broken).
pub const T: Duration = Duration::from_secs(10);
/// The seed users' password.
pub const PW: &str = server::db::SEED_USERS[0].1;

/// `f`, or a panic naming `what` after [`T`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(T, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {T:?}: {what}"),
    }
}
