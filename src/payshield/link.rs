//! How the payShield client reaches its HSM: the TCP [`Pool`] (one host),
//! a [`Cluster`] of pools (several hosts), or a host command handler in the same process (a simulator, for differential
//! fuzzing and tests without sockets).

use super::cluster::{self, Cluster, HostHealth};
use super::codec;
use super::pool::Pool;
use crate::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// Something that answers payShield host commands in process: given one
/// request payload (header, command code, fields; no length prefix) it
/// appends one response frame (length prefix included) to `out`.
///
/// The simulator's `server::payshield::Sim` implements it; see
/// `PayShieldBackend::in_process`.
pub trait HostCommandHandler: Send + Sync {
    /// Answers one request payload with one frame appended to `out`.
    fn handle(&self, payload: &[u8], out: &mut Vec<u8>);

    /// The kind of LMK the handler runs (the client encodes keys and picks
    /// its capabilities by it). Variant unless the handler says otherwise.
    fn lmk_kind(&self) -> super::LmkKind {
        super::LmkKind::Variant
    }
}

/// The client's link to its HSM.
pub(crate) enum Link {
    /// Pooled, pipelined TCP connections.
    Tcp(Pool),
    /// A pool per host, health-checked, requests to the least-loaded host.
    Cluster(Cluster),
    /// A handler in this process, called directly.
    InProcess {
        handler: Arc<dyn HostCommandHandler>,
        header_len: usize,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(p) => p.fmt(f),
            Self::Cluster(c) => c.fmt(f),
            Self::InProcess { header_len, .. } => f
                .debug_struct("InProcess")
                .field("header_len", header_len)
                .finish(),
        }
    }
}

impl Link {
    /// Number of live connections (an in-process link counts as one).
    pub(crate) fn live_connections(&self) -> usize {
        match self {
            Self::Tcp(p) => p.live_connections(),
            Self::Cluster(c) => c.live_connections(),
            Self::InProcess { .. } => 1,
        }
    }

    /// The health of each host (none for an in-process link).
    pub(crate) fn hosts(&self) -> Vec<HostHealth> {
        match self {
            Self::Tcp(p) => vec![cluster::single_host(p)],
            Self::Cluster(c) => c.health(),
            Self::InProcess { .. } => Vec::new(),
        }
    }

    /// Sends `body` (command code + fields) and returns the response after
    /// the header (response code, error code, fields), with the same checks
    /// as the pool: one frame, the header echoed, the response code the
    /// command's.
    pub(crate) async fn call(&self, body: &[u8]) -> Result<Vec<u8>> {
        let (handler, header_len) = match self {
            Self::Tcp(p) => return p.call(body).await,
            Self::Cluster(c) => return c.call(body).await,
            Self::InProcess {
                handler,
                header_len,
            } => (handler, *header_len),
        };
        let cmd: [u8; 2] = body
            .get(..2)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| Error::invalid("command", "missing command code"))?;
        let header = vec![b'0'; header_len];
        let mut payload = Vec::with_capacity(header_len + body.len());
        payload.extend_from_slice(&header);
        payload.extend_from_slice(body);
        let mut out = Vec::new();
        handler.handle(&payload, &mut out);
        let protocol = |msg: &'static str| Error::new(ErrorKind::Protocol, msg);
        let (used, resp) =
            codec::split_frame(&out).ok_or_else(|| protocol("response is not one whole frame"))?;
        if used != out.len() {
            return Err(protocol("response is not one whole frame"));
        }
        if resp.get(..header_len) != Some(&header[..]) {
            return Err(protocol("response header is not one this client sent"));
        }
        let rest = resp.get(header_len..).unwrap_or(&[]);
        if rest.get(..2) != Some(&codec::response_code(cmd)[..]) {
            return Err(protocol("response code does not match the command"));
        }
        Ok(rest.to_vec())
    }
}
