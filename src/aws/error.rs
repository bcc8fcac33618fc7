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

/// The outcome of a verify call: success is `Verified`, a
/// `VerificationFailedException` is `Failed` (a value, not an error), any
/// other error is mapped by [`map`].
pub(crate) fn verification<T, E>(
    res: std::result::Result<T, SdkError<E>>,
    what: &'static str,
) -> crate::error::Result<crate::types::Verification>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use crate::types::Verification;
    match res {
        Ok(_) => Ok(Verification::Verified),
        Err(e) if code(&e) == Some("VerificationFailedException") => Ok(Verification::Failed),
        Err(e) => Err(map(e, what)),
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

/// True when a `ValidationException` message is about the key's attributes
/// (usage, modes of use, exportability) rather than the request's fields.
///
/// The service reports both as `ValidationException`; the crate tells them
/// apart ([`ErrorKind::KeyUsage`] vs [`ErrorKind::InvalidInput`]) as every
/// other backend does, so a shadow or failover layer sees the same kind
/// from AWS as from an HSM. Both kinds are final (never retried), so a
/// message this does not recognise only changes the kind reported.
pub(crate) fn names_key_attributes(message: Option<&str>) -> bool {
    let Some(m) = message else { return false };
    let m = m.to_ascii_lowercase();
    [
        "usage",
        "modes of use",
        "modesofuse",
        "mode of use",
        "exportable",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// True when a `ValidationException` is the crate's AWS emulator refusing a
/// variant it does not implement (`… is not supported by this emulator`):
/// what the emulator cannot do is `Unsupported`, as on every backend. The
/// service itself never words a message so.
pub(crate) fn emulator_unsupported(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.ends_with("is not supported by this emulator"))
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
            let mut kind = kind_for(c, status);
            if c == Some("ValidationException") && emulator_unsupported(s.err().message()) {
                kind = ErrorKind::Unsupported;
            } else if c == Some("ValidationException") && names_key_attributes(s.err().message()) {
                kind = ErrorKind::KeyUsage;
            }
            (
                kind,
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

    #[test]
    fn key_attribute_messages() {
        for m in [
            "key abc has usage P0; data encryption needs D0",
            "KeyUsage TR31_C0_CARD_VERIFICATION_KEY is not valid for this operation",
            "The key's KeyModesOfUse do not allow Decrypt",
            "Key arn:aws:payment-cryptography:us-east-1:111122223333:key/x is not exportable",
        ] {
            assert!(names_key_attributes(Some(m)), "{m}");
        }
        for m in [
            "invalid data: length 7 bytes is not a positive multiple of the 8-byte block",
            "MessageData: length must be between 2 and 8192",
        ] {
            assert!(!names_key_attributes(Some(m)), "{m}");
        }
        assert!(!names_key_attributes(None));
        assert!(emulator_unsupported(Some(
            "GenerationAttributes.AmexCardSecurityCodeVersion1 is not supported by this emulator"
        )));
        assert!(!emulator_unsupported(Some(
            "ValidationData: must be decimal digits"
        )));
        assert!(!emulator_unsupported(None));
    }
}
