//! [`Faulty`]: a switch on a real backend that makes it fail, hang or slow
//! down: for migration drills and fault tests of the layers above it.

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{Operation, Request, Response};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What a [`Faulty`] backend does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes the request to the real backend.
    None,
    /// Fails at once with this kind (e.g. [`ErrorKind::Transient`]: the
    /// process is gone, the connection refused), without reaching the backend.
    Error(ErrorKind),
    /// Never answers (a hung HSM): only a timeout or cancellation ends the call.
    Hang,
    /// Answers from the real backend after this extra delay.
    Delay(Duration),
}

#[derive(Debug)]
struct State {
    mode: Fault,
    script: VecDeque<Fault>,
}

/// A cloneable handle that flips a [`Faulty`] backend's behaviour at run time.
#[derive(Debug, Clone)]
pub struct FaultSwitch(Arc<Mutex<State>>);

impl FaultSwitch {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Sets the behaviour for every following request (after any script).
    pub fn set(&self, fault: Fault) {
        self.lock().mode = fault;
    }

    /// Makes the backend answer normally again and clears any script.
    pub fn heal(&self) {
        let mut s = self.lock();
        s.mode = Fault::None;
        s.script.clear();
    }

    /// Queues faults for the next requests, one each, before the mode
    /// applies again (e.g. two transient errors, then normal answers).
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().script.extend(faults);
    }

    /// The fault for the next request.
    fn next(&self) -> Fault {
        let mut s = self.lock();
        match s.script.pop_front() {
            Some(f) => f,
            None => s.mode,
        }
    }
}

/// A real backend behind a [`FaultSwitch`], counting the calls it receives.
///
/// Its name is the wrapped backend's: to the layers above it *is* that
/// backend, which can die.
pub struct Faulty<B> {
    inner: B,
    switch: FaultSwitch,
    calls: Vec<AtomicU64>,
}

impl<B: Backend> std::fmt::Debug for Faulty<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty")
            .field("inner", &self.inner.name())
            .field("switch", &self.switch)
            .field("calls", &self.total_calls())
            .finish()
    }
}

impl<B: Backend> Faulty<B> {
    /// Wraps `inner`, healthy.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            switch: FaultSwitch(Arc::new(Mutex::new(State {
                mode: Fault::None,
                script: VecDeque::new(),
            }))),
            calls: Operation::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The switch (clone it to flip the backend from elsewhere).
    pub fn switch(&self) -> FaultSwitch {
        self.switch.clone()
    }

    /// Requests of `operation` received so far (whatever the fault).
    pub fn calls(&self, operation: Operation) -> u64 {
        Operation::ALL
            .iter()
            .position(|o| *o == operation)
            .and_then(|i| self.calls.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Requests received so far.
    pub fn total_calls(&self) -> u64 {
        self.calls.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for Faulty<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        if let Some(c) = Operation::ALL
            .iter()
            .position(|o| *o == op)
            .and_then(|i| self.calls.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        match self.switch.next() {
            Fault::None => self.inner.execute(request).await,
            Fault::Error(kind) => Err(Error::new(kind, "injected fault")
                .with_op(op)
                .with_backend(self.inner.name().to_string())),
            Fault::Hang => std::future::pending().await,
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                self.inner.execute(request).await
            }
        }
    }
}
