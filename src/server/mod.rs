//! Simulators: products, not test hacks. Each speaks a real product's wire
//! protocol and is built on the software reference backend, so code tested
//! against it works against the real system, offline.

pub mod aws;
pub mod payshield;

/// Records one request a simulator answered, through the `metrics` facade
/// (a no-op until a recorder is installed, e.g. by `--metrics`):
/// counter `paycrypto_server_requests_total{server, command, outcome}` and
/// histogram `paycrypto_server_request_duration_seconds{server, command}`
/// (the time to compute the answer, without the network). `command` and
/// `outcome` come from fixed sets (modelled command codes or operation
/// names, error codes or error types), never from request data.
pub(crate) fn record_request(
    server: &'static str,
    command: String,
    outcome: String,
    elapsed: std::time::Duration,
) {
    metrics::counter!(
        "paycrypto_server_requests_total",
        "server" => server,
        "command" => command.clone(),
        "outcome" => outcome,
    )
    .increment(1);
    metrics::histogram!(
        "paycrypto_server_request_duration_seconds",
        "server" => server,
        "command" => command,
    )
    .record(elapsed.as_secs_f64());
}
