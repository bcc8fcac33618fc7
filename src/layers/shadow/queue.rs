//! The bounded job queue between a [`Shadow`](super::Shadow)'s callers and
//! its background workers.

use super::Job;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// The bounded queue between callers and the background workers.
///
/// A ring buffer behind a mutex that is held only to push or pop one job.
/// Wake-ups are batched: a caller wakes a parked worker only when no awake
/// worker is free to take its job, and a worker that takes a job while
/// more are waiting wakes the next one itself. So a caller pays for a
/// wake-up only when the workers have gone idle, never per queued job.
///
/// What every caller reads, what callers and workers write under the lock,
/// and what only workers touch sit on separate cache lines.
pub(super) struct Queue {
    pub(super) hints: Lines<Hints>,
    pub(super) state: Lines<Mutex<QueueState>>,
    /// Parked workers wait here.
    pub(super) work: Lines<Notify>,
    /// [`Shadow::flush`] waits here.
    pub(super) idle: Notify,
}

/// A value on cache lines of its own (128 bytes: adjacent-line prefetch
/// pairs 64-byte lines), so writes elsewhere do not evict it.
#[repr(align(128))]
pub(super) struct Lines<T>(T);

impl<T> std::ops::Deref for Lines<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Read by every caller without the lock; written only when the queue
/// becomes full or stops being full, and when workers start or die.
pub(super) struct Hints {
    /// Set while the queue is full: callers check it before copying
    /// anything, so a full queue costs them nothing.
    pub(super) full: AtomicBool,
    /// Whether workers are running (`state.workers > 0`).
    pub(super) started: AtomicBool,
    pub(super) capacity: usize,
}

pub(super) struct QueueState {
    pub(super) jobs: VecDeque<Job>,
    /// Workers alive (0 before the first request, and again once the
    /// runtime they ran on has shut down).
    pub(super) workers: usize,
    /// Workers awake and not running a job: they look at the queue before
    /// they park, so a job pushed now needs no wake-up.
    pub(super) free: usize,
    /// Workers waiting on `work` (each registered before it let go of the
    /// lock, so a wake-up decided under the lock always finds one).
    pub(super) parked: usize,
    /// Wake-ups decided by `wake_one` and not yet taken by a woken worker. A
    /// worker that wakes with none outstanding woke spuriously (e.g. on a
    /// permit left in `work` by a runtime that shut down) and is still
    /// counted as parked: it moves itself to free.
    pub(super) granted: usize,
    /// Jobs ever pushed.
    pub(super) submitted: u64,
    /// Jobs finished or abandoned.
    pub(super) finished: u64,
}

impl Queue {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            hints: Lines(Hints {
                full: AtomicBool::new(false),
                started: AtomicBool::new(false),
                capacity,
            }),
            state: Lines(Mutex::new(QueueState {
                jobs: VecDeque::new(),
                workers: 0,
                free: 0,
                parked: 0,
                granted: 0,
                submitted: 0,
                finished: 0,
            })),
            work: Lines(Notify::new()),
            idle: Notify::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Nothing panics while holding the lock; recover the state anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when a push would be refused right now (a hint, read without
    /// the lock).
    pub(super) fn looks_full(&self) -> bool {
        self.hints.full.load(Ordering::Relaxed)
    }

    /// Takes the oldest job (under the lock).
    pub(super) fn pop(&self, s: &mut QueueState) -> Option<Job> {
        let was_full = s.jobs.len() >= self.hints.capacity;
        let job = s.jobs.pop_front()?;
        if was_full {
            self.hints.full.store(false, Ordering::Relaxed);
        }
        Some(job)
    }

    /// Queues a job; false (and the job dropped) when the queue is full.
    pub(super) fn push(&self, job: Job) -> bool {
        let wake = {
            let mut s = self.lock();
            if s.jobs.len() >= self.hints.capacity {
                drop(s);
                drop(job);
                return false;
            }
            s.jobs.push_back(job);
            s.submitted += 1;
            if s.jobs.len() >= self.hints.capacity {
                self.hints.full.store(true, Ordering::Relaxed);
            }
            s.wake_one()
        };
        if wake {
            self.work.notify_one();
        }
        true
    }

    pub(super) fn pending(&self) -> u64 {
        let s = self.lock();
        s.submitted - s.finished
    }

    /// Marks one running job as ended (finished or abandoned) and wakes
    /// `flush` when nothing is left.
    pub(super) fn end_job(&self, s: &mut QueueState) -> bool {
        s.free += 1;
        s.finished += 1;
        s.finished == s.submitted
    }
}

impl QueueState {
    /// Whether a parked worker must be woken for the jobs now queued; if so
    /// it is counted as free from now on.
    pub(super) fn wake_one(&mut self) -> bool {
        if self.free == 0 && self.parked > 0 && !self.jobs.is_empty() {
            self.parked -= 1;
            self.free += 1;
            self.granted += 1;
            true
        } else {
            false
        }
    }
}
