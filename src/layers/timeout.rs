//! [`Timeout`]: a deadline per operation.

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{Operation, Request, Response};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// Fails a request with [`ErrorKind::Timeout`] when the wrapped backend has
/// not answered in time; the backend's call is cancelled (its future dropped).
///
/// One default deadline, with overrides per operation (key management may
/// deserve longer than a PIN translation). Needs a Tokio runtime with the
/// time driver enabled.
pub struct Timeout<B> {
    inner: B,
    default: Duration,
    per_operation: BTreeMap<Operation, Duration>,
}

impl<B: Backend> std::fmt::Debug for Timeout<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner.name())
            .field("default", &self.default)
            .field("per_operation", &self.per_operation)
            .finish()
    }
}

impl<B: Backend> Timeout<B> {
    /// Every operation gets `default`.
    pub fn new(inner: B, default: Duration) -> Self {
        Self {
            inner,
            default,
            per_operation: BTreeMap::new(),
        }
    }

    /// `operation` gets `deadline` instead of the default.
    pub fn with_operation(mut self, operation: Operation, deadline: Duration) -> Self {
        self.per_operation.insert(operation, deadline);
        self
    }

    /// The deadline for `operation`.
    pub fn deadline(&self, operation: Operation) -> Duration {
        self.per_operation
            .get(&operation)
            .copied()
            .unwrap_or(self.default)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for Timeout<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        let deadline = self.deadline(op);
        match tokio::time::timeout(deadline, self.inner.execute(request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("no answer within {} ms", deadline.as_millis()),
            )
            .with_op(op)
            .with_backend(self.inner.name().to_string())),
        }
    }
}
