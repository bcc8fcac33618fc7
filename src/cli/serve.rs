//! `paycrypto serve payshield|aws`: the simulators. Each subcommand calls
//! one function; the simulators themselves live in [`crate::server`].

use super::output::CliError;
use crate::server::payshield::{bind_and_serve, Faults, SimConfig};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `serve …`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// A payShield-compatible HSM simulator over TCP (variant LMK, the public
    /// test LMK unless --lmk is given). Prints one line `listening on
    /// tcp://HOST:PORT` once it accepts connections, then serves until
    /// interrupted (SIGINT / SIGTERM: exit 0).
    #[command(after_help = "Examples:\n  \
        paycrypto serve payshield --listen 127.0.0.1:1500\n  \
        paycrypto serve payshield --listen 127.0.0.1:0 --header-len 6 --fault drop=1000\n  \
        paycrypto conformance --backend payshield://127.0.0.1:1500")]
    Payshield(PayshieldServeArgs),
    /// An AWS Payment Cryptography-compatible emulator over HTTP.
    #[command(
        after_help = "Example:\n  paycrypto serve aws --listen 127.0.0.1:4566\n  \
        aws payment-cryptography list-keys --endpoint-url http://127.0.0.1:4566"
    )]
    Aws(ServeArgs),
}

/// Options of the payShield simulator.
#[derive(Debug, Clone, Args)]
pub struct PayshieldServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port; the line
    /// printed at start names it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:1500")]
    pub listen: String,
    /// Message header length in characters (as configured on a payShield).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub header_len: usize,
    /// LMK file: 20 lines `NN-NN HEX32` (pairs 00-01 … 38-39). Default: the
    /// public payShield test LMK.
    #[arg(long, value_name = "FILE")]
    pub lmk: Option<PathBuf>,
    /// Faults to inject, for client tests: comma-separated `drop=N`,
    /// `delay=MS/N`, `garbage=N`, `truncate=N`, `reorder=N` (each every N-th
    /// request).
    #[arg(long, value_name = "SPEC")]
    pub fault: Option<String>,
}

/// Options shared by the simulators.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Key configuration file: entries with `clear` values are loaded at start.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
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
    let mut config = SimConfig {
        header_len: args.header_len,
        ..SimConfig::default()
    };
    if let Some(path) = &args.lmk {
        config = config
            .with_lmk_file(path)
            .map_err(|e| CliError::arg("--lmk", format!("{}: {}", path.display(), e.context())))?;
    }
    if let Some(spec) = &args.fault {
        config.faults = Faults::parse(spec).map_err(|e| CliError::arg("--fault", e.context()))?;
    }
    Ok(config)
}

/// Runs the payShield simulator until SIGINT or SIGTERM.
pub async fn serve_payshield(args: &PayshieldServeArgs) -> Result<(), CliError> {
    let config = payshield_config(args)?;
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
struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> std::io::Result<Self> {
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

    async fn wait(mut self) {
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

/// Runs the AWS Payment Cryptography emulator until interrupted.
pub async fn serve_aws(_args: &ServeArgs) -> Result<(), CliError> {
    Err(not_available("AWS Payment Cryptography emulator"))
}

fn not_available(what: &str) -> CliError {
    CliError::usage(format!(
        "the {what} is not available in this build (build paycrypto with the `server` feature)"
    ))
}
