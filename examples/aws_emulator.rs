//! Runs the AWS Payment Cryptography emulator until interrupted (what
//! `paycrypto serve aws` does).
//!
//! ```sh
//! cargo run --features server --example aws_emulator -- --listen 127.0.0.1:0 [--state FILE] [--credentials AK:SECRET]
//! ```

use paycrypto::server::aws::{run, Credentials, EmulatorConfig};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut config = EmulatorConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{name} needs a value"),
                )
            })
        };
        match a.as_str() {
            "--listen" => config.listen = value("--listen")?,
            "--state" => config.state_file = Some(value("--state")?.into()),
            "--credentials" => {
                config.credentials =
                    Some(Credentials::parse(&value("--credentials")?).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "--credentials takes ACCESS_KEY:SECRET",
                        )
                    })?)
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("unknown argument {other}"),
                ))
            }
        }
    }
    run(config).await
}
