//! SDK errors to the crate's error kinds: throttling, 5xx and connection
//! failures are transient; validation, not-found and conflicts are not.

use crate::error::{Error, ErrorKind};
use aws_sdk_paymentcryptography::error::{ProvideErrorMetadata, SdkError};

/// The service error code of an SDK error, when it has one.
pub(crate) fn code<E: ProvideErrorMetadata>(e: &SdkError<E>) -> Option<&str> {
    match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// The error kind for an AWS error code and HTTP status.
pub(crate) fn kind_for(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some("ValidationException" | "SerializationException") => ErrorKind::InvalidInput,
        Some("ResourceNotFoundException") => ErrorKind::KeyNotFound,
        Some("ConflictException") => ErrorKind::KeyExists,
        Some(
            "ThrottlingException"
            | "ServiceUnavailableException"
            | "InternalServerException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => ErrorKind::Transient,
        Some("ServiceQuotaExceededException" | "AccessDeniedException") => ErrorKind::Backend,
        Some(
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignatureException"
            | "ExpiredTokenException",
        ) => ErrorKind::Backend,
        Some("UnknownOperationException") => ErrorKind::Unsupported,
        _ => match status {
            Some(429) => ErrorKind::Transient,
            Some(s) if s >= 500 => ErrorKind::Transient,
            Some(_) => ErrorKind::Backend,
            None => ErrorKind::Protocol,
        },
    }
}

/// Maps an SDK error to the crate's [`Error`] (service messages carry no secrets).
pub(crate) fn map<E>(e: SdkError<E>, what: &'static str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let (kind, context) = match &e {
        SdkError::ConstructionFailure(_) => (
            ErrorKind::InvalidInput,
            format!("{what}: request could not be built"),
        ),
        SdkError::TimeoutError(_) => (ErrorKind::Timeout, format!("{what}: timed out")),
        SdkError::DispatchFailure(d) => {
            let k = if d.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Transient
            };
            (k, format!("{what}: request could not be sent"))
        }
        SdkError::ResponseError(_) => (
            kind_for(None, status),
            format!("{what}: response could not be read"),
        ),
        SdkError::ServiceError(s) => {
            let c = s.err().code();
            (
                kind_for(c, status),
                format!(
                    "{what}: {}: {}",
                    c.unwrap_or("error"),
                    s.err().message().unwrap_or("")
                ),
            )
        }
        _ => (ErrorKind::Backend, format!("{what}: request failed")),
    };
    Error::new(kind, context).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind_for(Some("ThrottlingException"), Some(429)),
            ErrorKind::Transient
        );
        assert_eq!(
            kind_for(Some("ValidationException"), Some(400)),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            kind_for(Some("ResourceNotFoundException"), Some(404)),
            ErrorKind::KeyNotFound
        );
        assert_eq!(kind_for(None, Some(503)), ErrorKind::Transient);
        assert!(!kind_for(Some("ValidationException"), None).is_transient());
        assert!(kind_for(Some("InternalServerException"), Some(500)).is_transient());
    }
}
