//! A logged-in client's file requests in the order they came, while the chunks among them are
//! decrypted on the low-priority threads (common::lowprio).
//!
//! A chunk (`0010`) is checked as it arrives — MAC and sequence number, in frame order
//! ([`Opener::check`](common::protocol::sealed::Opener::check)) — and then counts as received;
//! its decryption runs off the async threads and the session loop reads on. So the sender's
//! chat, behind a chunk on the same connection, is handled at once instead of after the chunk's
//! DES. The transfer's other requests (its end, a cancel) wait here behind its chunks, so the
//! relay sees every transfer's requests in the order the client sent them.

use std::collections::VecDeque;

use common::error::Error;
use common::lowprio::{LowPriority, Pending};
use common::protocol::chat::ClientRequest;
use common::protocol::sealed::Checked;

/// Requests held at most; the reader waits while the lane is full. The server grants a sender
/// a few chunks beyond what it relayed (`1013` credit), so an honest client never fills it.
const LANE_MAX: usize = 16;

#[derive(Debug, Default)]
pub(super) struct FileLane {
    items: VecDeque<Item>,
}

#[derive(Debug)]
enum Item {
    Chunk(Pending<Result<ClientRequest, Error>>),
    /// A request opened already that must not overtake the chunks before it.
    Ready(Result<ClientRequest, Error>),
}

impl FileLane {
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(super) fn is_full(&self) -> bool {
        self.items.len() >= LANE_MAX
    }

    /// Decrypt a checked chunk on the low-priority threads.
    pub(super) fn push_chunk(&mut self, checked: Checked) {
        let job = LowPriority::global().start(move || checked.open());
        self.items.push_back(Item::Chunk(job));
    }

    /// Queue a request behind the chunks before it.
    pub(super) fn push_ready(&mut self, request: Result<ClientRequest, Error>) {
        self.items.push_back(Item::Ready(request));
    }

    /// The next request in order, when it is ready; never, when the lane is empty.
    /// Cancel-safe: a dropped wait leaves the front where it was.
    pub(super) async fn next(&mut self) -> Result<ClientRequest, Error> {
        let done = match self.items.front_mut() {
            Some(Item::Chunk(job)) => job.await,
            Some(Item::Ready(_)) => {
                let Some(Item::Ready(request)) = self.items.pop_front() else {
                    unreachable!("the front is ready")
                };
                return request;
            }
            None => return std::future::pending().await,
        };
        self.items.pop_front();
        done
    }
}
