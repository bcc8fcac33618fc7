//! Errors as the service returns them, and small JSON field readers whose
//! errors name the offending field (never its value).

use crate::error::{Error, ErrorKind};
use serde_json::{json, Map, Value};

/// Which API a request belongs to (error shapes and status codes differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plane {
    /// awsJson1_0, `X-Amz-Target: PaymentCryptographyControlPlane.<Op>`.
    Control,
    /// restJson1 paths.
    Data,
}

/// An error answer: HTTP status, `__type` and message (never a secret).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    pub(crate) reason: Option<&'static str>,
    pub(crate) resource_id: Option<String>,
    pub(crate) field: Option<String>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            reason: None,
            resource_id: None,
            field: None,
        }
    }

    /// `ValidationException` (400).
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    /// `ValidationException` naming a request field.
    pub(crate) fn field(field: &str, message: impl std::fmt::Display) -> Self {
        let mut e = Self::validation(format!("{field}: {message}"));
        e.field = Some(field.to_owned());
        e
    }

    /// `ResourceNotFoundException` (404 on both planes: the data plane's
    /// botocore model and the control plane's Smithy model, `httpError`
    /// 404, in github.com/aws/api-models-aws
    /// `models/payment-cryptography/service/2021-09-14`).
    pub(crate) fn not_found(id: &str) -> Self {
        let mut e = Self::new(404, "ResourceNotFoundException", format!("{id} not found"));
        e.resource_id = Some(id.to_owned());
        e
    }

    /// `ConflictException`.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "ConflictException", message)
    }

    /// `VerificationFailedException` with its documented `Reason`.
    pub(crate) fn verification_failed(reason: &'static str, message: &str) -> Self {
        let mut e = Self::new(400, "VerificationFailedException", message);
        e.reason = Some(reason);
        e
    }

    /// `PublicPolicyException`: a resource policy that would grant public
    /// access. The models give it no HTTP status; awsJson1_0 sends client
    /// errors without one as 400.
    pub(crate) fn public_policy(message: impl Into<String>) -> Self {
        Self::new(400, "PublicPolicyException", message)
    }

    /// `InternalServerException` (500).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalServerException", message)
    }

    /// `SerializationException`: the body is not the JSON the operation takes.
    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// `UnknownOperationException`.
    pub(crate) fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(404, "UnknownOperationException", message)
    }

    /// `RequestTimeoutException` (408): the request body did not arrive in
    /// time. Not a documented service error: the emulator's name for an
    /// HTTP 408.
    pub(crate) fn request_timeout(message: impl Into<String>) -> Self {
        Self::new(408, "RequestTimeoutException", message)
    }

    /// An authentication failure (`MissingAuthenticationTokenException`,
    /// `InvalidSignatureException`, `UnrecognizedClientException`, …).
    pub(crate) fn auth(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, kind, message)
    }

    /// `ValidationException` for operations or variants the emulator does not
    /// implement: the way the service answers input it cannot process.
    pub(crate) fn unsupported(what: &str) -> Self {
        Self::validation(format!("{what} is not supported by this emulator"))
    }

    /// [`ApiError::unsupported`] for a value of field `what`. The value is
    /// quoted only when [`echo_safe`]: never when it could be a secret.
    pub(crate) fn unsupported_value(what: &str, value: &str) -> Self {
        if echo_safe(value) {
            Self::unsupported(&format!("{what} {value}"))
        } else {
            Self::unsupported(&format!("this {what} value"))
        }
    }

    /// [`ApiError::unsupported`] for union member `member` of `field`; the
    /// member name is quoted only when [`echo_safe`].
    pub(crate) fn unsupported_member(field: &str, member: &str) -> Self {
        if echo_safe(member) {
            Self::unsupported(&format!("{field}.{member}"))
        } else {
            Self::unsupported(&format!("this {field} member"))
        }
    }

    /// The HTTP status for `plane`. Each modelled error has its own on both
    /// planes (control plane, Smithy `httpError`: ValidationException 400,
    /// AccessDeniedException 403, ResourceNotFoundException 404,
    /// ConflictException 409, ServiceQuotaExceededException 402,
    /// ThrottlingException 429, InternalServerException 500,
    /// ServiceUnavailableException 503); the awsJson1_0 protocol errors of
    /// the control plane (unknown operation, unreadable body) are 400.
    pub(crate) fn status_for(&self, plane: Plane) -> u16 {
        match plane {
            Plane::Control
                if matches!(
                    self.kind,
                    "UnknownOperationException" | "SerializationException"
                ) =>
            {
                400
            }
            _ => self.status,
        }
    }

    /// The JSON error body for `plane`.
    pub(crate) fn body(&self, plane: Plane) -> Value {
        let mut m = Map::new();
        m.insert("__type".into(), json!(self.kind));
        match (plane, self.kind) {
            (Plane::Data, "ValidationException") => {
                m.insert("message".into(), json!(self.message));
                if let Some(f) = &self.field {
                    m.insert(
                        "fieldList".into(),
                        json!([{ "path": f, "message": self.message }]),
                    );
                }
            }
            _ => {
                m.insert("Message".into(), json!(self.message));
            }
        }
        if let Some(r) = self.reason {
            m.insert("Reason".into(), json!(r));
        }
        if let Some(id) = &self.resource_id {
            m.insert("ResourceId".into(), json!(id));
        }
        Value::Object(m)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e.kind() {
            ErrorKind::KeyNotFound => Self::not_found(e.context()),
            ErrorKind::KeyExists => Self::conflict(e.context().to_owned()),
            ErrorKind::Transient | ErrorKind::Timeout => Self::internal(e.context().to_owned()),
            _ => Self::validation(e.context().to_owned()),
        }
    }
}

/// A JSON object with typed field access.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Obj<'a> {
    /// The request body as an object.
    pub(crate) fn root(v: &'a Value) -> ApiResult<Self> {
        match v {
            Value::Object(map) => Ok(Self { map, path: "" }),
            _ => Err(ApiError::serialization(
                "request body must be a JSON object",
            )),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// True when `key` is present and not null.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, key: &str) -> ApiResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!(
                "{} must be a string",
                self.name(key)
            ))),
        }
    }

    /// A required string.
    pub(crate) fn str(&self, key: &str) -> ApiResult<&'a str> {
        self.opt_str(key)?
            .ok_or_else(|| ApiError::field(&self.name(key), "is required"))
    }

    /// A required string of `min..=max` characters.
    pub(crate) fn str_len(&self, key: &str, min: usize, max: usize) -> ApiResult<&'a str> {
        let s = self.str(key)?;
        if s.len() < min || s.len() > max {
            return Err(ApiError::field(
                &self.name(key),
                format!("length must be between {min} and {max}"),
            ));
        }
        Ok(s)
    }

    /// A required hex string of `min..=max` characters, decoded.
    pub(crate) fn hex(&self, key: &str, min: usize, max: usize) -> ApiResult<Vec<u8>> {
        let s = self.str_len(key, min, max)?;
        decode_hex(&self.name(key), s)
    }

    /// An optional hex string, decoded.
    pub(crate) fn opt_hex(&self, key: &str, min: usize, max: usize) -> ApiResult<Option<Vec<u8>>> {
        if self.has(key) {
            self.hex(key, min, max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required string of decimal digits of `min..=max` characters.
    pub(crate) fn digits(&self, key: &str, min: usize, max: usize) -> ApiResult<&'a str> {
        let s = self.str_len(key, min, max)?;
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::field(&self.name(key), "must be decimal digits"));
        }
        Ok(s)
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!(
                "{} must be a boolean",
                self.name(key)
            ))),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&self, key: &str) -> ApiResult<bool> {
        self.opt_bool(key)?
            .ok_or_else(|| ApiError::field(&self.name(key), "is required"))
    }

    /// An optional integer in `min..=max`.
    pub(crate) fn opt_int(&self, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
                _ => Err(ApiError::field(
                    &self.name(key),
                    format!("must be an integer between {min} and {max}"),
                )),
            },
            Some(_) => Err(ApiError::serialization(format!(
                "{} must be a number",
                self.name(key)
            ))),
        }
    }

    /// An optional nested object. `scratch` holds the nested path.
    pub(crate) fn opt_obj(&self, key: &str, scratch: &'a mut String) -> ApiResult<Option<Obj<'a>>> {
        *scratch = self.name(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: scratch.as_str(),
            })),
            Some(_) => Err(ApiError::serialization(format!(
                "{} must be an object",
                self.name(key)
            ))),
        }
    }

    /// A required nested object.
    pub(crate) fn obj(&self, key: &str, scratch: &'a mut String) -> ApiResult<Obj<'a>> {
        let name = self.name(key);
        self.opt_obj(key, scratch)?
            .ok_or_else(|| ApiError::field(&name, "is required"))
    }

    /// A union member: exactly one of the object's keys must be set. Returns
    /// the member name and its value as an object.
    pub(crate) fn union(
        &self,
        key: &str,
        scratch: &'a mut String,
    ) -> ApiResult<(&'a str, Obj<'a>)> {
        let name = self.name(key);
        let Some(Value::Object(map)) = self.get(key) else {
            return match self.get(key) {
                None => Err(ApiError::field(&name, "is required")),
                Some(_) => Err(ApiError::serialization(format!("{name} must be an object"))),
            };
        };
        let mut set = map.iter().filter(|(_, v)| !v.is_null());
        let (Some((member, value)), None) = (set.next(), set.next()) else {
            return Err(ApiError::field(
                &name,
                "exactly one member of the union must be set",
            ));
        };
        *scratch = format!("{name}.{member}");
        match value {
            Value::Object(inner) => Ok((
                member.as_str(),
                Obj {
                    map: inner,
                    path: scratch.as_str(),
                },
            )),
            _ => Err(ApiError::serialization(format!(
                "{name}.{member} must be an object"
            ))),
        }
    }

    /// The raw value of a union whose members are strings (e.g. `MacAttributes.Algorithm`).
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.get(key)
    }

    /// The field's full name (for errors).
    pub(crate) fn field_name(&self, key: &str) -> String {
        self.name(key)
    }
}

/// One page of `items`: `MaxResults` (1 to 100, `default` when absent)
/// from the offset a previous page's `NextToken` gives.
pub(crate) fn page<T>(
    items: Vec<T>,
    o: Obj<'_>,
    default: usize,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let max = o
        .opt_int("MaxResults", 1, 100)?
        .map_or(default, |n| n as usize);
    let start = match o.opt_str("NextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::field("NextToken", "is not a token this service issued"))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

/// Decodes hex (either case); the error names `field`, never the value.
pub(crate) fn decode_hex(field: &str, s: &str) -> ApiResult<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(ApiError::field(
            field,
            "must have an even number of hex digits",
        ));
    }
    hex::decode(s).map_err(|_| ApiError::field(field, "must be hexadecimal"))
}

/// Upper-case hex, as the service prints binary values.
pub(crate) fn hex_up(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// True when `value` may appear in an error message: a short enum-like token
/// (letters, digits, `_`, `-`, `.`) with no run of 8 or more hex digits, so
/// it cannot carry key material, a PIN block or a PAN (which the API always
/// sends as hex or decimal digits).
pub(crate) fn echo_safe(value: &str) -> bool {
    let mut run = 0usize;
    value.len() <= 64
        && value.bytes().all(|b| {
            run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
            run < 8 && (b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
}

/// A `KeyModesOfUse` object (absent members are false).
pub(crate) fn modes_of_use(m: &Obj<'_>) -> ApiResult<crate::types::ModesOfUse> {
    let b = |k: &str| m.opt_bool(k).map(|v| v.unwrap_or(false));
    Ok(crate::types::ModesOfUse {
        encrypt: b("Encrypt")?,
        decrypt: b("Decrypt")?,
        wrap: b("Wrap")?,
        unwrap: b("Unwrap")?,
        generate: b("Generate")?,
        sign: b("Sign")?,
        verify: b("Verify")?,
        derive_key: b("DeriveKey")?,
        no_restrictions: b("NoRestrictions")?,
    })
}

/// `KeyBlockHeaders.KeyExportability`, when given.
pub(crate) fn key_exportability(h: &Obj<'_>) -> ApiResult<Option<crate::types::Exportability>> {
    use crate::types::Exportability;
    let Some(e) = h.opt_str("KeyExportability")? else {
        return Ok(None);
    };
    Ok(Some(match e {
        "EXPORTABLE" => Exportability::Exportable,
        "NON_EXPORTABLE" => Exportability::NonExportable,
        "SENSITIVE" => Exportability::Sensitive,
        _ => {
            return Err(ApiError::field(
                &h.field_name("KeyExportability"),
                "is not a valid value",
            ))
        }
    }))
}
