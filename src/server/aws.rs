//! An AWS Payment Cryptography emulator: both APIs on one HTTP port, keys in
//! memory (optionally persisted to a state file), cryptography by the
//! software reference backend.
//!
//! - Control plane: awsJson1_0, `X-Amz-Target: PaymentCryptographyControlPlane.<Op>`
//!   on `POST /`.
//! - Data plane: restJson1 paths (`/pindata/translate`, `/keys/{id}/decrypt`, …).
//! - Every request must be SigV4-signed; with [`Credentials`] the signature is
//!   verified and bad or missing signatures are refused as AWS refuses them.
//!
//! Works unmodified with the AWS SDKs and the AWS CLI given an endpoint URL.
//! Operations and variants the emulator does not implement answer
//! `ValidationException`, as the service answers input it cannot process.
//! Where AWS semantics are not published, the emulator follows the crate's
//! software reference (documented per operation in `data.rs`); it does not
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
mod control;
mod data;
mod sigv4;
mod state;
mod wrap;

use api::{ApiError, Plane};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
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
        }
    }
}

#[derive(Default)]
struct ParamRegistry {
    tokens: HashMap<String, wrap::Params>,
    last_import: Option<String>,
    last_export: Option<String>,
}

/// Shared emulator state.
pub(crate) struct Inner {
    config: EmulatorConfig,
    store: RwLock<state::Store>,
    params: Mutex<ParamRegistry>,
    soft: crate::software::SoftwareBackend,
    request_seq: std::sync::atomic::AtomicU64,
}

impl Inner {
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
        let store = state::Store::open(
            &config.region,
            &config.account_id,
            config.state_file.clone(),
        )?;
        let soft = store.soft.clone();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(store),
                params: Mutex::new(ParamRegistry::default()),
                soft,
                request_seq: std::sync::atomic::AtomicU64::new(0),
            }),
        })
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

    /// Serves connections from `listener` until `shutdown` resolves.
    pub async fn serve_until(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((s, _)) => s,
                        Err(_) => {
                            // Out of descriptors or a reset before accept: keep serving.
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let inner = self.inner.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| {
                            let inner = inner.clone();
                            async move { Ok::<_, Infallible>(handle(&inner, req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            }
        }
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
pub async fn run(config: EmulatorConfig) -> std::io::Result<()> {
    let emu = Emulator::new(config.clone())?;
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
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

async fn handle(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
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
    let body = match Limited::new(body, inner.config.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let err = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::validation(format!(
                    "request body exceeds the {} byte limit",
                    inner.config.max_body_bytes
                ))
            } else {
                ApiError::serialization("request body could not be read")
            };
            return error_response(plane, &err, &request_id);
        }
    };
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    if let Err(e) = sigv4::check(
        inner.config.credentials.as_ref(),
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
    let parse = |body: &[u8]| -> Result<Value, ApiError> {
        if body.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(body)
            .map_err(|_| ApiError::serialization("request body is not valid JSON"))
    };
    let result = match target {
        Some(t) => match t.strip_prefix("PaymentCryptographyControlPlane.") {
            Some(op) if method == "POST" => {
                parse(body).and_then(|v| control::dispatch(inner, op, &v))
            }
            Some(_) => Err(ApiError::unknown_operation(
                "control plane operations use POST /",
            )),
            None => Err(ApiError::unknown_operation(format!("unknown target {t}"))),
        },
        None => match data::route(path) {
            Some(route) if method == "POST" => match parse(body) {
                Ok(v) => data::dispatch(inner, route, &v).await,
                Err(e) => Err(e),
            },
            Some(_) => Err(ApiError::unknown_operation(
                "data plane operations use POST",
            )),
            None => Err(ApiError::unknown_operation(format!(
                "no operation at {path}"
            ))),
        },
    };
    match result {
        Ok(v) => (200, v, None),
        Err(e) => (e.status_for(plane), e.body(plane), Some(e.kind)),
    }
}
