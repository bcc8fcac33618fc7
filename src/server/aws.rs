//! An AWS Payment Cryptography emulator: both APIs on one HTTP port, keys in
//! memory (optionally persisted to a state file), cryptography by the
//! software reference backend.
//!
//! - Control plane: awsJson1_0, `X-Amz-Target: PaymentCryptographyControlPlane.<Op>`
//!   on `POST /`.
//! - Data plane: restJson1 paths (`/pindata/translate`, `/pindata/generate`,
//!   `/pindata/verify`, `/keys/{id}/decrypt`, …).
//! - Every request must be SigV4-signed; with [`Credentials`] the signature is
//!   verified and bad or missing signatures are refused as AWS refuses them:
//!   the signature must cover the body as received (an `x-amz-content-sha256`
//!   header must equal its SHA-256; `UNSIGNED-PAYLOAD` is refused) and be
//!   scoped to the emulator's region and `payment-cryptography`. Without
//!   credentials (development mode) any well-formed SigV4 `Authorization`
//!   header is accepted and nothing is verified; [`run`] and `paycrypto
//!   serve aws` say so once on stderr ([`DEV_MODE_WARNING`]).
//! - Slow clients are timed out ([`EmulatorConfig::header_timeout`],
//!   [`EmulatorConfig::body_timeout`], [`EmulatorConfig::idle_timeout`]) and
//!   the number of connections is bounded
//!   ([`EmulatorConfig::max_connections`]): at the limit a new connection
//!   evicts the one waiting longest on its client, so N slow connections at
//!   a limit of N never lock a normal client out.
//! - RSA key generation (GetParametersForImport / GetParametersForExport)
//!   runs on the blocking thread pool, a core's worth at a time, so it never
//!   stalls other requests; at most 64 import/export tokens are live, each
//!   valid 30 days as the service documents.
//! - The state file is written owner-only (0600) through an exclusively
//!   created temporary file; a change that cannot be saved fails with
//!   `InternalServerException` and is rolled back.
//!
//! - Coverage, checked against the botocore service models by
//!   `tests/aws_model.rs`: every control-plane operation (keys, aliases,
//!   tags, resource policies, Multi-Region replication and MPA associations
//!   stored and returned but not enforced, asymmetric key pairs and public
//!   key certificates, TR-31, RSA key cryptogram, TR-34 and ECDH key
//!   exchange) and every data-plane operation but `GenerateAs2805KekValidation`.
//!
//! Works unmodified with the AWS SDKs and the AWS CLI given an endpoint URL.
//! Operations and variants the emulator does not implement answer
//! `ValidationException`, as the service answers input it cannot process.
//! Where AWS semantics are not published, the emulator follows the crate's
//! software reference (documented per operation in `data.rs` and
//! `pindata.rs`); it does not
//! enforce DES key parity (the service documents no parity check).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use paycrypto::server::aws::{start, EmulatorConfig};
//! let emu = start(EmulatorConfig::default()).await?; // 127.0.0.1:0
//! println!("endpoint {}", emu.endpoint_url());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod asym;
mod conn;
mod control;
mod data;
mod data_ext;
mod ecdh;
mod manage;
mod pindata;
mod sigv4;
mod state;
mod tr34;
mod wrap;

use api::{ApiError, Plane};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Credentials the emulator verifies SigV4 signatures with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
}

impl Credentials {
    /// Parses `ACCESS_KEY:SECRET`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once(':')?;
        (!a.is_empty() && !b.is_empty()).then(|| Self {
            access_key_id: a.to_owned(),
            secret_access_key: b.to_owned(),
        })
    }
}

/// The environment variable [`Credentials::from_env`] reads.
pub const CREDENTIALS_ENV: &str = "PAYCRYPTO_EMULATOR_CREDENTIALS";

impl Credentials {
    /// Reads `ACCESS_KEY:SECRET` from the first line of `path` (surrounding
    /// whitespace ignored). The error never quotes the file's content.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path)?);
        Self::parse(text.lines().next().unwrap_or("").trim()).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "expected one line ACCESS_KEY:SECRET, both non-empty",
            )
        })
    }

    /// Reads `ACCESS_KEY:SECRET` from [`CREDENTIALS_ENV`]: `Ok(None)` when
    /// unset, an error (never quoting the value) when set but malformed.
    pub fn from_env() -> std::io::Result<Option<Self>> {
        match std::env::var(CREDENTIALS_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{CREDENTIALS_ENV} is not valid UTF-8"),
            )),
            Ok(v) => {
                let v = zeroize::Zeroizing::new(v);
                Self::parse(v.trim()).map(Some).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{CREDENTIALS_ENV}: expected ACCESS_KEY:SECRET, both non-empty"),
                    )
                })
            }
        }
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.access_key_id)
    }
}

/// Emulator configuration.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// `HOST:PORT` to listen on (port 0 picks a free port).
    pub listen: String,
    /// State file: loaded at start when it exists, rewritten atomically after
    /// every change. Holds clear key material (development and CI only).
    pub state_file: Option<PathBuf>,
    /// Verify SigV4 signatures with these credentials; `None` accepts any
    /// SigV4-signed request.
    pub credentials: Option<Credentials>,
    /// Region in key ARNs.
    pub region: String,
    /// Account id in key ARNs (12 digits).
    pub account_id: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time a client has to send a request's complete headers, counted from
    /// the connection's start or from the first byte of a later request on
    /// a kept-alive connection; then the connection is closed.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in;
    /// then it gets a 408 and the connection is closed.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Most connections served at once. At the limit a new connection evicts
    /// the one waiting longest on its client (idle first, then slow headers
    /// or body); it waits only while every connection is mid-request. Worst
    /// case memory for request bodies is about `max_connections ×
    /// max_body_bytes` (32 MiB with the defaults).
    pub max_connections: usize,
}

impl EmulatorConfig {
    /// Default [`EmulatorConfig::header_timeout`].
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`EmulatorConfig::body_timeout`].
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`EmulatorConfig::idle_timeout`].
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default [`EmulatorConfig::max_connections`].
    pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            state_file: None,
            credentials: None,
            region: "us-east-1".into(),
            account_id: "111122223333".into(),
            max_body_bytes: 256 * 1024,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The one line printed on stderr when the emulator runs without
/// credentials.
pub const DEV_MODE_WARNING: &str = "warning: no credentials configured (--credentials, --credentials-file or PAYCRYPTO_EMULATOR_CREDENTIALS): any SigV4-signed request is accepted, signatures are not verified";

/// Shared emulator state.
pub(crate) struct Inner {
    config: EmulatorConfig,
    store: RwLock<state::Store>,
    params: Mutex<wrap::ParamRegistry>,
    /// RSA key generations allowed at once (they run on the blocking pool).
    rsa_slots: Arc<tokio::sync::Semaphore>,
    /// Issues the certificates of the asymmetric key pairs the emulator creates.
    ca: crate::keyexchange::pki::Ca,
    connections: conn::Registry,
    soft: crate::software::SoftwareBackend,
    request_seq: std::sync::atomic::AtomicU64,
}

impl Inner {
    /// The live parameters of an import (`import`) or export token named in
    /// member `member` of `m` (`ImportToken` / `ExportToken`).
    pub(crate) fn token_params(
        &self,
        m: &api::Obj<'_>,
        member: &str,
        token: &str,
        import: bool,
    ) -> api::ApiResult<wrap::Params> {
        let (prefix, what) = if import {
            ("import-", "import")
        } else {
            ("export-", "export")
        };
        let reg = self.params.lock().unwrap_or_else(|p| p.into_inner());
        reg.valid(token, state::now())
            .filter(|p| p.token.starts_with(prefix))
            .cloned()
            .ok_or_else(|| {
                api::ApiError::field(
                    &m.field_name(member),
                    format!("is not a valid {what} token"),
                )
            })
    }

    /// The configured timeouts, capped at a year so that deadline
    /// arithmetic never overflows.
    fn limits(&self) -> conn::Limits {
        const CAP: Duration = Duration::from_secs(365 * 86_400);
        conn::Limits {
            header: self.config.header_timeout.min(CAP),
            body: self.config.body_timeout.min(CAP),
            idle: self.config.idle_timeout.min(CAP),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, state::Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, state::Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }
    fn soft(&self) -> &crate::software::SoftwareBackend {
        &self.soft
    }
}

/// The emulator: state plus request handling, independent of the socket.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A new emulator; loads the state file when configured and present.
    pub fn new(config: EmulatorConfig) -> std::io::Result<Self> {
        if config.account_id.len() != 12 || !config.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "account id must be 12 digits",
            ));
        }
        let invalid =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
        if config.max_connections == 0 {
            return Err(invalid("max_connections must be at least 1"));
        }
        if [
            config.header_timeout,
            config.body_timeout,
            config.idle_timeout,
        ]
        .contains(&Duration::ZERO)
        {
            return Err(invalid("timeouts must be longer than zero"));
        }
        let store = state::Store::open(
            &config.region,
            &config.account_id,
            config.state_file.clone(),
        )?;
        let soft = store.soft.clone();
        // Leave a core to the other requests while keys are generated.
        let rsa_slots = std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .max(1);
        let connections = conn::Registry::new(config.max_connections);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(store),
                params: Mutex::new(wrap::ParamRegistry::default()),
                rsa_slots: Arc::new(tokio::sync::Semaphore::new(rsa_slots)),
                ca: crate::keyexchange::pki::Ca::new(
                    "paycrypto AWS Payment Cryptography emulator CA",
                )
                .map_err(|e| std::io::Error::other(e.to_string()))?,
                connections,
                soft,
                request_seq: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// Connections being served right now (an evicted or timed-out
    /// connection counts until it has been let go).
    pub fn open_connections(&self) -> usize {
        self.inner.connections.live()
    }

    /// Import and export tokens currently live (at most 64; expired ones
    /// and, beyond that, the oldest are dropped).
    pub fn live_tokens(&self) -> usize {
        self.inner
            .params
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Number of keys held (any state).
    pub fn key_count(&self) -> usize {
        self.inner.read().keys().len()
    }

    /// Runs one request through the emulator's JSON path without sockets or
    /// HTTP: exactly what the server does once a request's body is read and
    /// its SigV4 signature checked (neither is done here).
    ///
    /// - `method`: the HTTP method (`"POST"` for every operation).
    /// - `path`: the data-plane path (`/pindata/translate`, `/keys/{id}/encrypt`,
    ///   …); ignored when `target` is set.
    /// - `target`: the `X-Amz-Target` header
    ///   (`PaymentCryptographyControlPlane.<Op>`); `Some` selects the control plane.
    /// - `body`: the JSON request body (empty means `{}`).
    ///
    /// Changes the emulator's state as the request would (keys, aliases,
    /// state file). For fuzzing and tests; never panics on any input.
    pub async fn handle_json(
        &self,
        method: &str,
        path: &str,
        target: Option<&str>,
        body: &[u8],
    ) -> JsonAnswer {
        let (status, value, error_type) = answer(&self.inner, method, path, target, body).await;
        JsonAnswer {
            status,
            error_type,
            body: serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }

    /// Serves connections from `listener` until `shutdown` resolves, with
    /// the configured timeouts and connection limit. Connections already
    /// open finish on their own (within their timeouts).
    pub async fn serve_until(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        conn::serve_until(self.inner.clone(), listener, shutdown).await
    }
}

/// One answer from [`Emulator::handle_json`]: what the HTTP server would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonAnswer {
    /// HTTP status (200 on success).
    pub status: u16,
    /// For errors, the AWS error type (`__type`, e.g. `ValidationException`).
    pub error_type: Option<&'static str>,
    /// The JSON response body: the operation's output, or the error's
    /// `__type` and message.
    pub body: Vec<u8>,
}

/// Serves `listener` forever with `config`.
pub async fn serve(listener: TcpListener, config: EmulatorConfig) -> std::io::Result<()> {
    Emulator::new(config)?
        .serve_until(listener, std::future::pending())
        .await
}

/// Binds `config.listen`, prints exactly one line `listening on http://HOST:PORT`
/// (the real port, flushed) to stdout once it accepts connections, and serves forever.
/// Without credentials it also prints [`DEV_MODE_WARNING`] on stderr.
pub async fn run(config: EmulatorConfig) -> std::io::Result<()> {
    let emu = Emulator::new(config.clone())?;
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    if config.credentials.is_none() {
        eprintln!("{DEV_MODE_WARNING}");
    }
    emu.serve_until(listener, std::future::pending()).await
}

/// An emulator running in the background (tests, examples).
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Emulator,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, for SDK and CLI endpoint URLs.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The emulator (for inspection).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds `config.listen` (e.g. `127.0.0.1:0`) and serves in a background task.
pub async fn start(config: EmulatorConfig) -> std::io::Result<RunningEmulator> {
    let emulator = Emulator::new(config.clone())?;
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel();
    let e2 = emulator.clone();
    let task = tokio::spawn(async move {
        e2.serve_until(listener, async {
            let _ = rx.await;
        })
        .await
    });
    Ok(RunningEmulator {
        addr,
        emulator,
        stop: Some(tx),
        task,
    })
}

fn json_response(
    plane: Plane,
    status: u16,
    body: &Value,
    request_id: &str,
    error_type: Option<&str>,
) -> Response<Full<Bytes>> {
    let content_type = match plane {
        Plane::Control => "application/x-amz-json-1.0",
        Plane::Data => "application/json",
    };
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-requestid", request_id);
    if let Some(t) = error_type {
        b = b.header("x-amzn-errortype", t);
    }
    b.body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn error_response(plane: Plane, e: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    json_response(
        plane,
        e.status_for(plane),
        &e.body(plane),
        request_id,
        Some(e.kind),
    )
}

/// Handles one HTTP request: checks what the headers alone allow, reads the
/// body within `body_timeout`, calls `body_read`, checks the signature over
/// the body and answers.
async fn handle(
    inner: &Inner,
    req: Request<Incoming>,
    body_timeout: Duration,
    body_read: impl FnOnce(),
) -> Response<Full<Bytes>> {
    let n = inner
        .request_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request_id = format!("00000000-0000-4000-8000-{n:012x}");
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let plane = if target.is_some() {
        Plane::Control
    } else {
        Plane::Data
    };
    let creds = inner.config.credentials.as_ref();
    // A request that cannot verify is refused before its body is read, so
    // that unauthenticated clients cannot make the emulator buffer bodies
    // (hyper keeps the connection only if the body was already in).
    if let Err(e) = sigv4::check_head(creds, &inner.config.region, &parts.headers) {
        return error_response(plane, &e, &request_id);
    }
    let limit = inner.config.max_body_bytes;
    let read = tokio::time::timeout(body_timeout, Limited::new(body, limit).collect()).await;
    body_read();
    let body = match read {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            let err = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::validation(format!("request body exceeds the {limit} byte limit"))
            } else {
                ApiError::serialization("request body could not be read")
            };
            return close(error_response(plane, &err, &request_id));
        }
        Err(_) => {
            // HTTP 408 (RFC 9110): the client was too slow. The service
            // publishes no error type for this; the emulator names it
            // `RequestTimeoutException`.
            let e = ApiError::request_timeout(format!(
                "request body not received within {} s",
                body_timeout.as_secs_f64()
            ));
            return close(json_response(
                plane,
                e.status,
                &e.body(plane),
                &request_id,
                Some(e.kind),
            ));
        }
    };
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    if let Err(e) = sigv4::check(
        creds,
        &inner.config.region,
        parts.method.as_str(),
        &raw_path,
        &raw_query,
        &parts.headers,
        &body,
    ) {
        return error_response(plane, &e, &request_id);
    }
    let method = parts.method.as_str().to_owned();
    let (status, value, error_type) =
        answer(inner, &method, &raw_path, target.as_deref(), &body).await;
    json_response(plane, status, &value, &request_id, error_type)
}

/// Marks a response as the connection's last (its request body may be
/// unread).
fn close(mut r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}

/// Routes and runs one request whose transport and signature have been
/// checked: the emulator's whole JSON path, shared by the HTTP server and
/// [`Emulator::handle_json`]. Returns the HTTP status, the JSON body and, for
/// errors, the `__type` (also sent as `X-Amzn-ErrorType`).
async fn answer(
    inner: &Inner,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &[u8],
) -> (u16, Value, Option<&'static str>) {
    let plane = if target.is_some() {
        Plane::Control
    } else {
        Plane::Data
    };
    let started = std::time::Instant::now();
    let (status, value, error_type) =
        dispatch_request(inner, plane, method, path, target, body).await;
    // Labels: the operation's AWS name (`other` for an unknown one) and
    // `ok` or the error type; never request data.
    let command = match target {
        Some(t) => t
            .strip_prefix("PaymentCryptographyControlPlane.")
            .filter(|op| {
                error_type != Some("UnknownOperationException")
                    && op.len() <= 64
                    && op.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            .unwrap_or("other")
            .to_string(),
        None => match (pindata::route(path), data::route(path)) {
            (Some(r), _) => r.operation_name().to_string(),
            (None, Some(r)) => r.operation_name().to_string(),
            (None, None) => "other".to_string(),
        },
    };
    crate::server::record_request(
        "aws",
        command,
        error_type.unwrap_or("ok").to_string(),
        started.elapsed(),
    );
    (status, value, error_type)
}

/// Runs one request on the plane it names.
async fn dispatch_request(
    inner: &Inner,
    plane: Plane,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &[u8],
) -> (u16, Value, Option<&'static str>) {
    let parse = |body: &[u8]| -> Result<Value, ApiError> {
        if body.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(body)
            .map_err(|_| ApiError::serialization("request body is not valid JSON"))
    };
    let result = match target {
        Some(t) => match t.strip_prefix("PaymentCryptographyControlPlane.") {
            Some(op) if method == "POST" => match parse(body) {
                Ok(v) => control::dispatch(inner, op, &v).await,
                Err(e) => Err(e),
            },
            Some(_) => Err(ApiError::unknown_operation(
                "control plane operations use POST /",
            )),
            None => Err(ApiError::unknown_operation(format!("unknown target {t}"))),
        },
        None => match (
            pindata::route(path),
            data_ext::route(path),
            data::route(path),
        ) {
            (Some(route), _, _) if method == "POST" => match parse(body) {
                Ok(v) => pindata::dispatch(inner, route, &v).await,
                Err(e) => Err(e),
            },
            (None, Some(route), _) if method == "POST" => match parse(body) {
                Ok(v) => data_ext::dispatch(inner, route, &v).await,
                Err(e) => Err(e),
            },
            (None, None, Some(route)) if method == "POST" => match parse(body) {
                Ok(v) => data::dispatch(inner, route, &v).await,
                Err(e) => Err(e),
            },
            (Some(_), _, _) | (None, Some(_), _) | (None, None, Some(_)) => Err(
                ApiError::unknown_operation("data plane operations use POST"),
            ),
            (None, None, None) => Err(ApiError::unknown_operation(format!(
                "no operation at {path}"
            ))),
        },
    };
    match result {
        Ok(v) => (200, v, None),
        Err(e) => (e.status_for(plane), e.body(plane), Some(e.kind)),
    }
}
