//! Threads below normal priority for the bulk work that must never delay chat: sealing and
//! opening file chunks (DES-CBC and HMAC over 32 KiB each).
//!
//! A transfer keeps the CPU busy. If its chunks were sealed and opened on the async threads that
//! also carry chat, a chat line would wait for the CPU behind them: on the 2-core test machine,
//! with both ends of a 100 MB transfer running beside the server, chat p99 went from 0.4 ms to
//! about 9 ms, and a bystander who shares no queue with the transfer saw 6 ms. Jobs run here
//! on threads with a nice value of [`NICE`] (Linux: a per-thread attribute), so the scheduler
//! runs a woken chat task first and the transfer gets every cycle chat leaves idle: same
//! throughput when nothing else runs. Frame order stays right: only the encryption runs here, and
//! the sequence number and MAC are given on the async thread when it is done
//! (`Encryptor::encrypt`, `Sealer::seal_encrypted`), so a chat line sealed meanwhile simply goes
//! first; a receiver checks every frame's MAC and sequence number in order before it hands a
//! chunk's decryption over (`Opener::check`).
//!
//! Elsewhere (Windows, macOS) the threads run at normal priority: still off the async threads,
//! which keeps them free for chat, but without the scheduler's help.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// The nice value of the pool's threads (0 is normal, 19 the lowest).
pub const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads taking jobs from one queue.
#[derive(Debug)]
pub struct LowPriority {
    jobs: Mutex<Sender<Job>>,
}

impl LowPriority {
    /// Start `threads` workers (at least one).
    ///
    /// # Panics
    /// If a thread cannot be started.
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("lowprio-{i}"))
                .spawn(move || worker(&rx))
                .expect("start a low-priority worker thread");
        }
        Self {
            jobs: Mutex::new(tx),
        }
    }

    /// The process's pool: one thread per core, started on first use.
    pub fn global() -> &'static Self {
        static POOL: OnceLock<LowPriority> = OnceLock::new();
        POOL.get_or_init(|| {
            Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
        })
    }

    /// Run `f` on a pool thread and wait for its result without holding an async thread.
    ///
    /// # Panics
    /// If `f` panics (the panic is passed on to the caller).
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.start(f).await
    }

    /// Start `f` on a pool thread; the returned [`Pending`] yields its result. Awaiting
    /// `&mut pending` is cancel-safe: a wait dropped in a `select!` loses nothing, the next wait
    /// gets the result.
    ///
    /// # Panics
    /// If the workers have stopped (they never do while the process runs).
    pub fn start<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        let queued = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        assert!(queued.is_ok(), "the low-priority workers have stopped");
        Pending { rx }
    }
}

/// The result of a job started with [`LowPriority::start`], as a future.
#[derive(Debug)]
pub struct Pending<T> {
    rx: tokio::sync::oneshot::Receiver<std::thread::Result<T>>,
}

impl<T> std::future::Future for Pending<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::pin::Pin::new(&mut self.rx).poll(cx).map(|done| {
            match done.expect("a low-priority job always answers") {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    lower_this_thread();
    loop {
        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Give the calling thread the nice value [`NICE`]; where that is not a per-thread setting, do
/// nothing rather than lower the whole process.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority takes no pointers; with PRIO_PROCESS and `who` = 0 Linux applies
        // it to the calling thread only. Failure (not allowed) leaves the priority as it was.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) };
    }
}

/// This thread's nice value (Linux), for tests.
#[cfg(target_os = "linux")]
pub fn this_thread_nice() -> i32 {
    // SAFETY: as above; getpriority only reads.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_caller_at_low_priority_and_return_their_result() {
        let pool = LowPriority::new(2);
        let caller = std::thread::current().id();
        let (thread, nice) = pool
            .run(|| {
                #[cfg(target_os = "linux")]
                let nice = this_thread_nice();
                #[cfg(not(target_os = "linux"))]
                let nice = NICE;
                (std::thread::current().id(), nice)
            })
            .await;
        assert_ne!(thread, caller);
        assert_eq!(nice, NICE);
        let sum: u64 = pool.run(|| (1..=100u64).sum()).await;
        assert_eq!(sum, 5050);
    }

    #[tokio::test]
    async fn a_dropped_wait_loses_nothing() {
        let pool = LowPriority::new(1);
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let mut pending = pool.start(move || {
            go_rx.recv().unwrap();
            42
        });
        // A wait that gives up (as a select! branch that lost) ...
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(20), &mut pending).await;
        assert!(gave_up.is_err());
        go_tx.send(()).unwrap();
        // ... and the next one still gets the result.
        assert_eq!((&mut pending).await, 42);
    }

    #[tokio::test]
    async fn a_panicking_job_panics_the_caller_and_the_pool_goes_on() {
        let pool = std::sync::Arc::new(LowPriority::new(1));
        let p = pool.clone();
        let res = tokio::spawn(async move { p.run(|| panic!("boom")).await as u8 }).await;
        assert!(res.is_err());
        assert_eq!(pool.run(|| 7).await, 7);
    }
}
