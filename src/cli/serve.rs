//! `paycrypto serve payshield|aws`: the simulators. Each subcommand calls
//! one function; the simulators themselves live behind the `server`
//! feature and are wired in there.

use super::output::CliError;
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `serve …`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// A payShield-compatible HSM simulator over TCP (test LMK).
    #[command(after_help = "Example:\n  paycrypto serve payshield --listen 127.0.0.1:1500")]
    Payshield(ServeArgs),
    /// An AWS Payment Cryptography-compatible emulator over HTTP.
    #[command(
        after_help = "Example:\n  paycrypto serve aws --listen 127.0.0.1:4566\n  \
        aws payment-cryptography list-keys --endpoint-url http://127.0.0.1:4566"
    )]
    Aws(ServeArgs),
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

/// Runs the payShield simulator until interrupted.
pub async fn serve_payshield(_args: &ServeArgs) -> Result<(), CliError> {
    Err(not_available("payShield simulator"))
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
