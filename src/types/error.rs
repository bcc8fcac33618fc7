//! The crate's error type.
//!
//! An [`Error`] carries an [`ErrorKind`] that layers use to decide what to do
//! (retry, fail over, give up), the operation and backend it came from, and a
//! human-readable context that names the offending field. Errors never carry
//! key bytes, PINs, PIN blocks or full PANs.
//!
//! A failed verification (wrong PIN, CVV, ARQC or MAC) is **not** an error:
//! it is [`Verification::Failed`](super::Verification::Failed).

use super::operation::Operation;
use std::borrow::Cow;
use std::fmt;

/// What went wrong, as a small comparable value that steers layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A request field is malformed or out of range (never retried).
    InvalidInput,
    /// The named key does not exist on this backend.
    KeyNotFound,
    /// The key exists but its usage, mode of use, algorithm or exportability
    /// forbids this operation (as an HSM refuses it).
    KeyUsage,
    /// A key with that name already exists.
    KeyExists,
    /// The backend does not support this operation or this variant of it.
    Unsupported,
    /// A temporary failure (connection lost, throttled, busy): safe to retry
    /// idempotent operations or fail over.
    Transient,
    /// The operation did not finish in time.
    Timeout,
    /// The peer answered something that does not parse or does not match.
    Protocol,
    /// The backend refused or failed the request for a reason of its own.
    Backend,
}

impl ErrorKind {
    /// True for kinds after which retrying or failing over may succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Transient | Self::Timeout)
    }

    /// A short stable name, for metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::KeyNotFound => "key_not_found",
            Self::KeyUsage => "key_usage",
            Self::KeyExists => "key_exists",
            Self::Unsupported => "unsupported",
            Self::Transient => "transient",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
            Self::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from an operation or a constructor.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    op: Option<Operation>,
    backend: Option<Cow<'static, str>>,
    context: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a context message (which must not contain secrets).
    pub fn new(kind: ErrorKind, context: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            op: None,
            backend: None,
            context: context.into(),
            source: None,
        }
    }

    /// An [`ErrorKind::InvalidInput`] error naming `field`.
    pub fn invalid(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::InvalidInput,
            format!("invalid {field}: {reason}"),
        )
    }

    /// An [`ErrorKind::Unsupported`] error.
    pub fn unsupported(what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unsupported, what)
    }

    /// An [`ErrorKind::KeyUsage`] error.
    pub fn key_usage(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::KeyUsage, reason)
    }

    /// Sets the operation this error belongs to.
    pub fn with_op(mut self, op: Operation) -> Self {
        self.op = Some(op);
        self
    }

    /// Sets the backend name this error came from (kept if already set).
    pub fn with_backend(mut self, backend: impl Into<Cow<'static, str>>) -> Self {
        if self.backend.is_none() {
            self.backend = Some(backend.into());
        }
        self
    }

    /// Attaches an underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The operation, when known.
    pub fn op(&self) -> Option<Operation> {
        self.op
    }

    /// The backend name, when known.
    pub fn backend(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// The context message.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(op) = self.op {
            write!(f, " in {}", op.as_str())?;
        }
        if let Some(b) = &self.backend {
            write!(f, " on {b}")?;
        }
        write!(f, ": {}", self.context)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<super::FieldError> for Error {
    fn from(e: super::FieldError) -> Self {
        Self::invalid(e.field, &e.reason)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
