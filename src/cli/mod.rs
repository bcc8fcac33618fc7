//! The `paycrypto` command-line tool: calculators on clear test keys,
//! operations on a backend, the simulators, and the conformance suite.
//!
//! Output is a readable table by default and JSON with `--json`. Secrets
//! (clear keys, PINs, clear PIN blocks) are printed only with
//! `--show-secrets`, and only ever come from clear test keys given on the
//! command line. Exit codes: 0 success (verified), 1 verification failed
//! (or conformance failures), 2 wrong arguments, 3 the operation failed.
//!
//! Not part of the library's API: the module is public only so that the
//! `paycrypto` binary (a separate crate target) can call [`main`].

mod args;
mod aws;
mod backend;
mod calc;
mod conformance;
mod keys;
mod load;
mod ops;
mod output;
mod proxy;
mod serve;

use output::{CliError, Output};

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Payment-HSM calculators, backends, simulators and the conformance suite.
#[derive(Parser)]
#[command(
    name = "paycrypto",
    version,
    about = "Payment-HSM cryptography calculators, simulators and the conformance suite",
    long_about = None,
    after_help = "Exit codes: 0 success, 1 verification failed (or conformance failures), \
                  2 wrong arguments, 3 the operation failed.\n\n\
                  Example:\n  paycrypto kcv --key-hex 0123456789ABCDEFFEDCBA9876543210"
)]
struct Cli {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Print secrets (clear keys, PINs, clear PIN blocks) derived from clear
    /// test keys given on the command line.
    #[arg(long, global = true)]
    show_secrets: bool,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

/// Where an operation runs and how keys are named.
#[derive(Clone, Args)]
pub(crate) struct BackendArgs {
    /// Backend: software (in-process, default), payshield://HOST:PORT, aws or aws://REGION.
    #[arg(long, value_name = "URL", default_value = "software")]
    pub(crate) backend: String,
    /// AWS endpoint URL (e.g. the emulator); implies --backend aws.
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// Key configuration file (JSON) naming the keys used with --key NAME.
    /// On AWS an "id" is an ARN, an alias/…, or a name N meaning alias/N.
    /// payShield entries give the key under the LMK ("lmk": "U…", optional
    /// "key_type": "001"); "clear" test keys are loaded into a payShield
    /// only when it runs the public test LMK, into AWS only on a test
    /// account (an --endpoint-url on this machine, or --allow-test-key-import).
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: Option<PathBuf>,
    /// payShield: message header length configured on the HSM [default: 4,
    /// or header_len=N in the --backend URL].
    #[arg(long, value_name = "N")]
    pub(crate) header_len: Option<usize>,
    /// payShield: a key-table file, one key a line:
    /// NAME KEY-TYPE KEY-UNDER-LMK USAGE MODE EXPORTABILITY KCV.
    #[arg(long, value_name = "FILE")]
    pub(crate) key_table: Option<PathBuf>,
    /// AWS: this is a test account — import "clear" test keys from --keys
    /// (and let the conformance suite create its own keys). Implied for an
    /// --endpoint-url on this machine (the emulator).
    #[arg(long)]
    pub(crate) allow_test_key_import: bool,
}

impl BackendArgs {
    /// The AWS options these arguments give.
    pub(crate) fn aws_options(&self) -> aws::AwsOptions {
        aws::AwsOptions {
            allow_test_key_import: self.allow_test_key_import,
        }
    }
}

/// The subcommands.
#[derive(Subcommand)]
enum Command {
    /// Key check value of a clear key.
    #[command(after_help = "Example:\n  paycrypto kcv --key-hex 0123456789ABCDEFFEDCBA9876543210")]
    Kcv(calc::KcvArgs),
    /// Encode or decode ISO 9564 PIN blocks (formats 0-4).
    #[command(subcommand)]
    Pinblock(calc::PinblockCommand),
    /// PIN translation and issuer PIN data (IBM 3624, Visa PVV) on a backend.
    #[command(subcommand)]
    Pin(ops::PinCommand),
    /// DUKPT key derivation (TDES X9.24-1 and AES X9.24-3).
    #[command(subcommand)]
    Dukpt(calc::DukptCommand),
    /// Visa CVV / CVV2 / iCVV on a backend.
    #[command(subcommand)]
    Cvv(ops::CvvCommand),
    /// EMV ARQC generation (card side) and verification with ARPC.
    #[command(subcommand)]
    Arqc(ops::ArqcCommand),
    /// MAC generation and verification on a backend.
    #[command(subcommand)]
    Mac(ops::MacCommand),
    /// TR-31 key blocks under a clear key-block protection key.
    #[command(subcommand)]
    Tr31(calc::Tr31Command),
    /// Key components.
    #[command(subcommand)]
    Components(calc::ComponentsCommand),
    /// Run a simulator.
    #[command(subcommand)]
    Serve(serve::ServeCommand),
    /// Proxies in front of an HSM (shadowing, failover).
    #[command(subcommand)]
    Proxy(proxy::ProxyCommand),
    /// Run the conformance suite against a backend.
    #[command(
        after_help = "A case whose variant the backend cannot do (an AES key on a \
        variant-LMK payShield, say) is reported `unsupported`, not failed; exit code 0 means \
        no case failed. On a payShield that reports the public test LMK (the simulator) the \
        suite loads its own KEK under the test LMK and its keys as TR-31 blocks; on any other \
        payShield, name existing keys with --keys FILE or --key-table FILE. On AWS the suite \
        creates (and afterwards deletes) its own keys only in a test account: an --endpoint-url \
        on this machine (the emulator) or with --allow-test-key-import.\n\n\
        Examples:\n  \
        paycrypto conformance --backend software\n  \
        paycrypto conformance --backend payshield://127.0.0.1:1500 --junit conformance.xml\n  \
        paycrypto conformance --endpoint-url http://127.0.0.1:4566 --junit conformance.xml\n  \
        paycrypto conformance --backend aws://eu-west-1 --keys prod-keys.json"
    )]
    Conformance(conformance::ConformanceArgs),
    /// Open-loop fixed-rate load against a backend: latencies from the
    /// intended send time (HDR histograms), errors by kind.
    #[command(
        after_help = "Requests go out on schedule (request i at start + i/rate) whether or not \
        earlier ones were answered, and each latency is measured from its intended send time, so \
        a stall shows in the percentiles instead of slowing the generator down. A progress line \
        goes to stderr every second; the report (achieved rate, p50/p95/p99/p99.9/max, errors by \
        kind, per mix entry) to stdout, one JSON object with --json. Every answer is checked with \
        the test keys: a wrong one counts as the error `wrong_answer`. Exit code 0 when every \
        request was sent and answered correctly; 1 on any error or wrong answer, or when the \
        backend fell so far behind that requests were never sent.\n\n\
        Keys: the fixed test key set is loaded into the software backend, into a payShield that \
        runs the public test LMK, or into an AWS test account (an --endpoint-url on this machine, \
        or --allow-test-key-import; deleted afterwards); or name keys with --keys FILE (roles zpk, \
        zpk2, bdk, cvk, imk-ac, mac-m3, with their clear test values).\n\n\
        Examples:\n  \
        paycrypto load --backend software --rate 2000 --duration 10s\n  \
        paycrypto load --backend payshield://127.0.0.1:1500 --rate 10000 --duration 60s \
        --mix translate=50,cvv=30,arqc=20 --json\n  \
        paycrypto load --endpoint-url http://127.0.0.1:4566 --rate 500 --duration 30s \
        --metrics 127.0.0.1:9464"
    )]
    Load(load::LoadArgs),
}

/// Runs a parsed command line and returns its output.
async fn run(cli: &Cli) -> Result<Output, CliError> {
    let show = cli.show_secrets;
    match &cli.command {
        Command::Kcv(a) => calc::kcv(a),
        Command::Pinblock(c) => calc::pinblock(c, show),
        Command::Dukpt(c) => calc::dukpt(c, show),
        Command::Tr31(c) => calc::tr31(c, show),
        Command::Components(c) => calc::components(c, show),
        Command::Pin(c) => ops::pin(c, show).await,
        Command::Cvv(c) => ops::cvv(c).await,
        Command::Arqc(c) => ops::arqc(c).await,
        Command::Mac(c) => ops::mac(c).await,
        // A simulator prints its one `listening on` line itself, nothing after.
        Command::Serve(c) => serve::serve(c).await.map(|()| {
            let mut out = Output::new();
            out.text = Some(String::new());
            out
        }),
        Command::Proxy(c) => proxy::run(c).await.map(|()| {
            let mut out = Output::new();
            out.text = Some(String::new());
            out
        }),
        Command::Conformance(a) => conformance::run(a, cli.json).await,
        Command::Load(a) => load::run(a, cli.json).await,
    }
}

/// The `paycrypto` binary: parses the command line, runs it on a
/// current-thread runtime (multi-threaded for `serve`), prints the output
/// and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                output::EXIT_USAGE
            } else {
                output::EXIT_OK
            });
        }
    };
    // The simulators serve many clients at once: a multi-threaded runtime,
    // so one slow request never holds the others; a load run's requests
    // share the cores with its backend client the same way. Everything
    // else runs one request at a time on the current thread.
    let mut builder = if matches!(
        cli.command,
        Command::Serve(_) | Command::Proxy(_) | Command::Load(_)
    ) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(output::EXIT_ERROR);
        }
    };
    match rt.block_on(run(&cli)) {
        Ok(out) => {
            let text = match (&out.text, cli.json) {
                (Some(t), _) => t.clone(),
                (None, true) => out.to_json(),
                (None, false) => out.to_table(),
            };
            let mut stdout = std::io::stdout().lock();
            if !text.is_empty() {
                let _ = stdout.write_all(text.as_bytes());
                if !text.ends_with('\n') {
                    let _ = stdout.write_all(b"\n");
                }
            }
            let _ = stdout.flush();
            ExitCode::from(out.code)
        }
        Err(e) => {
            if cli.json {
                let v = serde_json::json!({ "error": e.message, "exit_code": e.code });
                println!("{v}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.code)
        }
    }
}
