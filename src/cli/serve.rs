//! `paycrypto serve payshield|aws`: the simulators. Each subcommand calls
//! one function; the simulators themselves live in [`crate::server`].

use super::output::CliError;
use crate::server::aws::{Credentials, Emulator, EmulatorConfig, DEV_MODE_WARNING};
use crate::server::payshield::{bind_and_serve, Faults, SimConfig};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;

/// `serve …`.
#[derive(Subcommand)]
pub enum ServeCommand {
    /// A payShield-compatible HSM simulator over TCP (variant LMK, the public
    /// test LMK unless --lmk is given; `--lmk keyblock` runs the test
    /// key-block LMK, with AES keys). Prints one line `listening on
    /// tcp://HOST:PORT` once it accepts connections, then serves until
    /// interrupted (SIGINT / SIGTERM: exit 0). Connections are bounded in
    /// number, idle time and frame time (--max-connections, --idle-timeout,
    /// --frame-timeout).
    #[command(after_help = "Examples:\n  \
        paycrypto serve payshield --listen 127.0.0.1:1500\n  \
        paycrypto serve payshield --listen 127.0.0.1:0 --header-len 6 --fault drop=1000\n  \
        paycrypto serve payshield --listen 127.0.0.1:1500 --lmk keyblock\n  \
        paycrypto serve payshield --listen 0.0.0.0:1500 --max-connections 256 --idle-timeout 60\n  \
        paycrypto serve payshield --listen 127.0.0.1:1500 --tls-cert hsm.pem --tls-key hsm.key --tls-client-ca clients-ca.pem\n  \
        paycrypto conformance --backend payshield://127.0.0.1:1500")]
    Payshield(PayshieldServeArgs),
    /// An AWS Payment Cryptography-compatible emulator over HTTP: both APIs
    /// (control and data plane) on one port, SigV4-signed requests. Prints
    /// one line `listening on http://HOST:PORT` once it accepts connections,
    /// then serves until interrupted (SIGINT / SIGTERM: exit 0). Without
    /// credentials it prints one warning line on stderr: signatures are then
    /// not verified.
    #[command(
        after_help = "Credentials (one source: the two flags exclude each other; the variable is read only\n\
        when neither is given; with none, development mode: any signature is accepted):\n  \
        --credentials ACCESS_KEY:SECRET   visible to other local users in `ps`\n  \
        --credentials-file FILE           first line ACCESS_KEY:SECRET\n  \
        PAYCRYPTO_EMULATOR_CREDENTIALS    environment variable, ACCESS_KEY:SECRET\n\n\
        Examples:\n  \
        paycrypto serve aws --listen 127.0.0.1:4566 --state aws-state.json\n  \
        PAYCRYPTO_EMULATOR_CREDENTIALS=AKIDEXAMPLE:secret paycrypto serve aws\n  \
        aws payment-cryptography list-keys --endpoint-url http://127.0.0.1:4566\n  \
        paycrypto conformance --endpoint-url http://127.0.0.1:4566"
    )]
    Aws(AwsServeArgs),
}

/// Options of the payShield simulator.
#[derive(Clone, Args)]
pub struct PayshieldServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port; the line
    /// printed at start names it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:1500")]
    pub listen: String,
    /// Message header length in characters (as configured on a payShield).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub header_len: usize,
    /// The LMK: FILE, a variant LMK file, 20 lines `NN-NN HEX32` (pairs
    /// 00-01 … 38-39). `keyblock`: the test key-block LMK (AES-256; keys are
    /// Thales key blocks). `keyblock:FILE`: a key-block LMK file, one line
    /// of 32, 48 or 64 hex digits (the AES key). Default: the public
    /// payShield variant test LMK. (A variant LMK file named `keyblock`
    /// is `./keyblock`.)
    #[arg(long, value_name = "LMK")]
    pub lmk: Option<PathBuf>,
    /// Faults to inject, for client tests: comma-separated `drop=N`,
    /// `delay=MS/N`, `garbage=N`, `truncate=N`, `reorder=N` (each every N-th
    /// request).
    #[arg(long, value_name = "SPEC")]
    pub fault: Option<String>,
    /// Close a connection that sends nothing for SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,
    /// Close a connection that takes longer than SECS seconds to send a
    /// frame it has started, or to read a response.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub frame_timeout: u64,
    /// Serve at most N connections at once. At the limit a new connection
    /// takes the place of the one idle longest (idle at least 1 s), or is
    /// closed at once when every connection is busy.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// TLS (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    #[command(flatten)]
    pub tls: TlsServeArgs,
    /// Serve Prometheus metrics (requests per command and outcome, and
    /// their latencies) on HOST:PORT at /metrics; one line on stderr names
    /// the address (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,
}

/// The TLS options of a payShield host-protocol listener (`serve
/// payshield`, `proxy payshield`).
#[derive(Clone, Debug, Default, Args)]
pub struct TlsServeArgs {
    /// Serve TLS 1.2/1.3 with this certificate chain (PEM file; with
    /// --tls-key). The handshake must finish within --frame-timeout.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM file: PKCS #8, PKCS #1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate issued by a CA in this PEM file
    /// (clients without one are refused).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsServeArgs {
    /// The server configuration, when `--tls-cert` is given; an error
    /// names the flag whose file is wrong.
    pub(super) fn server_config(
        &self,
    ) -> Result<Option<crate::payshield::TlsServerConfig>, CliError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        crate::payshield::TlsServerConfig::from_pem_files(cert, key, self.tls_client_ca.as_deref())
            .map(Some)
            .map_err(|e| {
                let flag = match e.context() {
                    c if c.contains("client CA") => "--tls-client-ca",
                    c if c.contains("key") => "--tls-key",
                    _ => "--tls-cert",
                };
                CliError::arg(flag, e.context())
            })
    }
}

/// Options of the AWS Payment Cryptography emulator.
#[derive(Clone, Args)]
pub struct AwsServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port; the line
    /// printed at start names it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4566")]
    pub listen: String,
    /// State file: loaded at start when it exists, rewritten after every
    /// change, so keys survive a restart. It holds clear key material:
    /// development and CI only.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Verify SigV4 signatures with these credentials (ACCESS_KEY:SECRET).
    /// Other local users can read it in `ps`: prefer --credentials-file or
    /// PAYCRYPTO_EMULATOR_CREDENTIALS. Without any, any SigV4-signed
    /// request is accepted.
    #[arg(
        long,
        value_name = "ACCESS_KEY:SECRET",
        conflicts_with = "credentials_file"
    )]
    pub credentials: Option<String>,
    /// Read the credentials from FILE: its first line is ACCESS_KEY:SECRET
    /// (keep it readable by its owner only).
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Region in key ARNs; signatures must be scoped to it.
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub region: String,
    /// Seconds a client has to send a request's headers (from connecting,
    /// or from the first byte of a later request); then the connection is
    /// closed.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body once its headers are
    /// in; then it gets HTTP 408 and the connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Seconds a kept-alive connection may stay idle between requests.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,
    /// Most connections served at once. At the limit a new connection
    /// evicts the one waiting longest on its client (idle first, then slow
    /// headers or body); it waits only while all are mid-request. Request
    /// bodies take up to N × 256 KiB of memory.
    #[arg(long, value_name = "N", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_connections: u64,
    /// Serve Prometheus metrics (requests per command and outcome, and
    /// their latencies) on HOST:PORT at /metrics; one line on stderr names
    /// the address (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,
}

impl std::fmt::Debug for AwsServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsServeArgs")
            .field("listen", &self.listen)
            .field("state", &self.state)
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .field("credentials_file", &self.credentials_file)
            .field("region", &self.region)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("metrics", &self.metrics)
            .finish()
    }
}

pub(super) async fn serve(c: &ServeCommand) -> Result<(), CliError> {
    match c {
        ServeCommand::Payshield(a) => serve_payshield(a).await,
        ServeCommand::Aws(a) => serve_aws(a).await,
    }
}

/// The simulator configuration the arguments give.
pub fn payshield_config(args: &PayshieldServeArgs) -> Result<SimConfig, CliError> {
    if !(1..=255).contains(&args.header_len) {
        return Err(CliError::arg(
            "--header-len",
            "expected 1 to 255 characters",
        ));
    }
    let secs = |flag: &'static str, v: u64| {
        if (1..=86_400).contains(&v) {
            Ok(Duration::from_secs(v))
        } else {
            Err(CliError::arg(flag, "expected 1 to 86400 seconds"))
        }
    };
    if !(1..=1_000_000).contains(&args.max_connections) {
        return Err(CliError::arg("--max-connections", "expected 1 to 1000000"));
    }
    let mut config = SimConfig {
        header_len: args.header_len,
        idle_timeout: secs("--idle-timeout", args.idle_timeout)?,
        frame_timeout: secs("--frame-timeout", args.frame_timeout)?,
        max_connections: args.max_connections,
        ..SimConfig::default()
    };
    if let Some(path) = &args.lmk {
        let text = path.to_string_lossy();
        config = if text == "keyblock" {
            config.with_test_key_block_lmk()
        } else if let Some(file) = text.strip_prefix("keyblock:") {
            config
                .with_key_block_lmk_file(file)
                .map_err(|e| CliError::arg("--lmk", format!("{file}: {}", e.context())))?
        } else {
            config.with_lmk_file(path).map_err(|e| {
                CliError::arg("--lmk", format!("{}: {}", path.display(), e.context()))
            })?
        };
    }
    if let Some(spec) = &args.fault {
        config.faults = Faults::parse(spec).map_err(|e| CliError::arg("--fault", e.context()))?;
    }
    if let Some(tls) = args.tls.server_config()? {
        config.tls = Some(tls);
    }
    Ok(config)
}

/// Starts the Prometheus endpoint of `--metrics`, naming it on stderr
/// (stdout carries only the `listening on` line).
pub(super) async fn start_metrics(
    listen: Option<&str>,
) -> Result<Option<crate::layers::prometheus::Exporter>, CliError> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let e = crate::layers::prometheus::serve(listen)
        .await
        .map_err(|e| CliError::arg("--metrics", format!("{listen}: {e}")))?;
    eprintln!("metrics on {}", e.url());
    Ok(Some(e))
}

/// Runs the payShield simulator until SIGINT or SIGTERM.
pub async fn serve_payshield(args: &PayshieldServeArgs) -> Result<(), CliError> {
    let config = payshield_config(args)?;
    let _metrics = start_metrics(args.metrics.as_deref()).await?;
    // Signal handlers are installed before the socket is bound, so a
    // signal sent as soon as the `listening on` line is read is handled.
    let stop = Shutdown::install()
        .map_err(|e| CliError::op(format!("cannot install signal handlers: {e}")))?;
    tokio::select! {
        r = bind_and_serve(&args.listen, config) => r.map_err(|e| {
            let why = match std::error::Error::source(&e) {
                Some(s) => format!("{}: {s}", e.context()),
                None => e.context().to_string(),
            };
            CliError::arg("--listen", format!("{}: {why}", args.listen))
        }),
        () = stop.wait() => Ok(()),
    }
}

/// SIGINT / SIGTERM (Ctrl-C elsewhere).
pub(super) struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub(super) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    pub(super) async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The emulator configuration the arguments give. The credentials come
/// from `--credentials`, else `--credentials-file`, else the environment
/// variable `PAYCRYPTO_EMULATOR_CREDENTIALS`; none means development mode.
pub fn aws_config(args: &AwsServeArgs) -> Result<EmulatorConfig, CliError> {
    // No error quotes a credential: it holds the secret.
    let credentials = match (&args.credentials, &args.credentials_file) {
        (Some(c), _) => Some(Credentials::parse(c).ok_or_else(|| {
            CliError::arg(
                "--credentials",
                "expected ACCESS_KEY:SECRET, both non-empty",
            )
        })?),
        (None, Some(path)) => Some(Credentials::from_file(path).map_err(|e| {
            CliError::arg("--credentials-file", format!("{}: {e}", path.display()))
        })?),
        (None, None) => Credentials::from_env().map_err(|e| CliError::usage(e.to_string()))?,
    };
    if args.region.is_empty()
        || !args
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(CliError::arg(
            "--region",
            "an AWS region looks like eu-west-1",
        ));
    }
    Ok(EmulatorConfig {
        listen: args.listen.clone(),
        state_file: args.state.clone(),
        credentials,
        region: args.region.clone(),
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..EmulatorConfig::default()
    })
}

/// Runs the AWS Payment Cryptography emulator until SIGINT or SIGTERM.
pub async fn serve_aws(args: &AwsServeArgs) -> Result<(), CliError> {
    let config = aws_config(args)?;
    let _metrics = start_metrics(args.metrics.as_deref()).await?;
    let dev_mode = config.credentials.is_none();
    let emulator = Emulator::new(config).map_err(|e| match &args.state {
        Some(p) => CliError::arg("--state", format!("{}: {e}", p.display())),
        None => CliError::op(format!("cannot start the emulator: {e}")),
    })?;
    let stop = Shutdown::install()
        .map_err(|e| CliError::op(format!("cannot install signal handlers: {e}")))?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::arg("--listen", format!("{}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::arg("--listen", format!("{}: {e}", args.listen)))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(|e| CliError::op(format!("cannot write to stdout: {e}")))?;
    }
    if dev_mode {
        // One line on stderr; stdout keeps its single `listening on` line.
        eprintln!("{DEV_MODE_WARNING}");
    }
    emulator
        .serve_until(listener, stop.wait())
        .await
        .map_err(|e| CliError::op(format!("the emulator stopped: {e}")))
}
