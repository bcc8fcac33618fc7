//! The `paycrypto` command-line tool.

fn main() -> std::process::ExitCode {
    paycrypto::cli::main()
}
