//! The conformance suite: the cases every backend must pass, as functions
//! over `&dyn Backend`, so that users can prove that their HSM, their AWS
//! account or a simulator does what their gateway assumes.
//!
//! Four kinds of case:
//! - **known answers** from published vectors (each names its source);
//! - **agreement** with the software reference on random inputs (the
//!   reference holds the same clear test keys under the same names);
//! - **refusals** that must happen (key usage, PCI PIN format rules, bad
//!   input), checked by [`crate::ErrorKind`];
//! - **unsupported**: every operation the backend does not declare must
//!   return [`crate::ErrorKind::Unsupported`]; the cases of such an
//!   operation are reported [`Verdict::Unsupported`] from the declaration,
//!   without being run.
//!
//! A backend may declare an operation yet refuse some of its variants (a
//! variant-LMK payShield has no AES keys, no ISO 4, no CMAC): a case whose
//! variant it answers with [`crate::ErrorKind::Unsupported`] — or whose key
//! it cannot hold at all — is reported as [`Verdict::Unsupported`], apart
//! from passes, failures and skips. That is the correct answer from such a
//! backend, never a failure; a wrong answer or a wrong kind of refusal is.
//!
//! Keys come from a setup step: [`provision`] creates them through key
//! exchange (KEKs from components, working keys as TR-31 blocks) on a backend
//! where that is allowed (simulators, a test HSM, a test AWS account); on a
//! production backend the caller names existing keys by [`Role`] in a
//! [`KeySet`], and cases whose keys are missing, or whose clear values are
//! unknown, are reported as skipped with why.
//!
//! ```
//! use paycrypto::conformance::{run_self_provisioned, RunOptions};
//! use paycrypto::SoftwareBackend;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let report = run_self_provisioned(&SoftwareBackend::new(), &RunOptions::default()).await;
//! assert!(report.is_success(), "{}", report.table());
//! # }
//! ```

mod cases;
mod keys;
#[cfg(feature = "payshield")]
mod payshield;
mod report;
mod vectors;

pub use keys::{
    provision, reference_for, teardown, KeyRef, KeySet, ProvisionOptions, Provisioned, Role,
};
#[cfg(feature = "payshield")]
pub use payshield::payshield_test_lmk_options;
pub use report::{CaseReport, Report, Verdict};

use crate::backend::{Backend, BackendExt};
use crate::error::{Error, ErrorKind};
use crate::ops::{GetKeyInfoRequest, Operation};
use crate::software::{key_check_value, SoftwareBackend};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// What kind of check a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaseKind {
    /// A published known answer.
    KnownAnswer,
    /// Agreement with the software reference on random inputs.
    Agreement,
    /// A round trip on the backend alone (works with production keys).
    RoundTrip,
    /// A refusal that must happen.
    Refusal,
    /// An undeclared operation must be Unsupported.
    Unsupported,
}

impl CaseKind {
    /// Short stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KnownAnswer => "known_answer",
            Self::Agreement => "agreement",
            Self::RoundTrip => "round_trip",
            Self::Refusal => "refusal",
            Self::Unsupported => "unsupported",
        }
    }
}

/// Options for a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Random inputs per agreement case.
    pub rounds: usize,
    /// Seed of the random inputs (printed in the report, so a failure can be replayed).
    pub seed: u64,
    /// Run only cases whose `operation/name` contains this text.
    pub filter: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            rounds: 8,
            seed: rand::random(),
            filter: None,
        }
    }
}

/// Why a case stopped short of passing.
#[derive(Debug)]
pub(crate) enum Stop {
    Fail(String),
    Skip(String),
    /// The backend answered Unsupported (or cannot hold a key the case needs).
    Unsupported(String),
}

impl Stop {
    fn verdict(self) -> Verdict {
        match self {
            Self::Fail(m) => Verdict::Fail(m),
            Self::Skip(m) => Verdict::Skip(m),
            Self::Unsupported(m) => Verdict::Unsupported(m),
        }
    }
}

pub(crate) type Outcome = Result<(), Stop>;

pub(crate) fn fail(msg: impl Into<String>) -> Stop {
    Stop::Fail(msg.into())
}

/// Shorthand: an operation that should have worked returned an error. An
/// Unsupported answer is not a failure: the backend says it cannot do this
/// variant, and the case is reported as unsupported.
pub(crate) fn op_failed(what: &str, e: &Error) -> Stop {
    if e.kind() == ErrorKind::Unsupported {
        Stop::Unsupported(format!("{what}: {e}"))
    } else {
        Stop::Fail(format!("{what}: {e}"))
    }
}

/// The software reference could not compute an answer (e.g. a configured
/// key it cannot hold): the case cannot judge the backend, so it is skipped.
pub(crate) fn ref_failed(what: &str, e: &Error) -> Stop {
    Stop::Skip(format!(
        "the software reference could not compute {what}: {e}"
    ))
}

type CaseFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One case of the suite.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) operation: Operation,
    pub(crate) kind: CaseKind,
    pub(crate) source: Option<&'static str>,
    /// Other operations the case uses (skipped unless all are declared).
    pub(crate) also: &'static [Operation],
    pub(crate) run: for<'a, 'b> fn(&'a Ctx<'b>) -> CaseFuture<'a>,
}

/// What a case sees: the backend, its keys, the reference and a seeded RNG.
pub(crate) struct Ctx<'b> {
    pub(crate) backend: &'b dyn Backend,
    /// The backend itself, not held to its declaration (for the cases that
    /// check what it answers for variants it does not declare).
    pub(crate) raw: &'b dyn Backend,
    pub(crate) keys: &'b KeySet,
    pub(crate) reference: &'b SoftwareBackend,
    pub(crate) rounds: usize,
    pub(crate) seed: u64,
}

impl Ctx<'_> {
    /// The key for `role`, or a skip saying why there is none (unsupported
    /// when the backend cannot hold such a key).
    pub(crate) fn key(&self, role: Role) -> Result<&KeyRef, Stop> {
        if let Some(k) = self.keys.get(role) {
            return Ok(k);
        }
        Err(match self.keys.why_unsupported(role) {
            Some(why) => Stop::Unsupported(why.to_string()),
            None => Stop::Skip(self.keys.why_missing(role)),
        })
    }

    /// The clear value of `role`'s key, or a skip (agreement needs it).
    pub(crate) fn clear(&self, role: Role) -> Result<&[u8], Stop> {
        let k = self.key(role)?;
        k.clear.as_ref().map(|c| c.expose()).ok_or_else(|| {
            Stop::Skip(format!(
                "the clear value of `{role}` is unknown (a production key), \
                 so the reference cannot compute the expected answer"
            ))
        })
    }

    /// `role`'s key, checked to be the role's published test key (by clear
    /// value, else by KCV from the configuration or from the backend), or a
    /// skip explaining why the known answer cannot be checked.
    pub(crate) async fn published(&self, role: Role) -> Result<&KeyRef, Stop> {
        let k = self.key(role)?;
        let Some((hex_key, _)) = role.published() else {
            return Err(Stop::Skip(format!("role `{role}` has no published key")));
        };
        let published = hex::decode(hex_key).unwrap_or_default();
        let want = key_check_value(role.attributes().algorithm, &published)
            .map_err(|e| fail(format!("published key: {e}")))?;
        if let Some(clear) = &k.clear {
            return if clear.expose() == published.as_slice() {
                Ok(k)
            } else {
                Err(Stop::Skip(format!(
                    "`{role}` is not the published test key (KCV {want}), so its known answers do not apply"
                )))
            };
        }
        let have = match k.kcv {
            Some(kcv) => Some(kcv),
            None if self.backend.capabilities().supports(Operation::GetKeyInfo) => self
                .backend
                .get_key_info(GetKeyInfoRequest { key: k.id.clone() })
                .await
                .ok()
                .map(|i| i.key_check_value),
            None => None,
        };
        match have {
            Some(kcv) if kcv == want => Ok(k),
            Some(kcv) => Err(Stop::Skip(format!(
                "`{role}` has KCV {kcv}, not the published test key's {want}, so its known answers do not apply"
            ))),
            None => Err(Stop::Skip(format!(
                "cannot tell whether `{role}` is the published test key (no KCV configured)"
            ))),
        }
    }

    /// A name for a scratch key, or a skip when the suite may not create keys.
    pub(crate) fn scratch(&self, name: &str) -> Result<crate::types::KeyId, Stop> {
        let prefix = self.keys.scratch_prefix().ok_or_else(|| {
            Stop::Skip(
                "the suite creates no keys on a backend whose keys come from a key file".into(),
            )
        })?;
        crate::types::KeyId::new(format!("{prefix}{name}"))
            .map_err(|e| fail(format!("scratch key name: {e}")))
    }

    /// A random generator for this case, from the run's seed.
    pub(crate) fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.seed)
    }
}

/// Checks that `r` is an error of one of `kinds` (a refusal that must
/// happen). Unsupported, when not among `kinds`, is reported as such: the
/// backend refuses the whole variant, so the rule itself cannot be checked.
pub(crate) fn expect_refusal<T>(what: &str, r: crate::Result<T>, kinds: &[ErrorKind]) -> Outcome {
    match r {
        Ok(_) => Err(fail(format!("{what}: accepted, but must be refused"))),
        Err(e) if kinds.contains(&e.kind()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::Unsupported => Err(Stop::Unsupported(format!(
            "{what}: the backend does not support this variant at all ({e})"
        ))),
        Err(e) => {
            let want: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            Err(fail(format!(
                "{what}: refused as {}, expected {} ({e})",
                e.kind(),
                want.join(" or ")
            )))
        }
    }
}

fn seed_for(seed: u64, name: &str) -> u64 {
    // FNV-1a over the case name, mixed with the run seed: each case has its
    // own reproducible stream.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed
}

/// The backend as the cases see it, held to its declared capabilities: a
/// request they do not cover is answered `Unsupported` without being sent
/// (the case is reported unsupported from the declaration), and a covered
/// request the backend answers `Unsupported` becomes an error of kind
/// [`ErrorKind::Backend`] naming the broken declaration (the case fails).
struct Declared<'a> {
    inner: &'a dyn Backend,
    caps: crate::Capabilities,
}

#[async_trait::async_trait]
impl Backend for Declared<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> crate::Capabilities {
        self.caps.clone()
    }

    async fn execute(&self, request: crate::Request) -> crate::Result<crate::Response> {
        // A malformed request is InvalidInput on every backend, before any
        // question of support (as the backends order their checks).
        request.validate()?;
        self.caps.check(&request)?;
        let op = request.operation();
        match self.inner.execute(request).await {
            Err(e) if e.kind() == ErrorKind::Unsupported => Err(Error::new(
                ErrorKind::Backend,
                format!("answered Unsupported for a {op} request its capabilities declare: {e}"),
            )),
            r => r,
        }
    }
}

/// Runs every case against `backend` with `keys`.
pub async fn run(backend: &dyn Backend, keys: &KeySet, opts: &RunOptions) -> Report {
    let caps = backend.capabilities();
    let declared = Declared {
        inner: backend,
        caps: caps.clone(),
    };
    let reference = keys::reference_for(keys).await;
    let mut report = Report::new(backend.name(), opts.seed);
    for case in cases::all() {
        let full = format!("{}/{}", case.operation, case.name);
        if let Some(f) = &opts.filter {
            if !full.contains(f.as_str()) {
                continue;
            }
        }
        let start = Instant::now();
        let verdict = if let Some(op) = std::iter::once(case.operation)
            .chain(case.also.iter().copied())
            .find(|op| !caps.supports(*op))
        {
            // The backend says, in its capabilities, that it cannot do this.
            Verdict::Unsupported(format!("unsupported: the backend does not declare {op}"))
        } else {
            let ctx = Ctx {
                backend: &declared,
                raw: backend,
                keys,
                reference: &reference,
                rounds: opts.rounds.max(1),
                seed: seed_for(opts.seed, &full),
            };
            match (case.run)(&ctx).await {
                Ok(()) => Verdict::Pass,
                Err(stop) => stop.verdict(),
            }
        };
        report.push(CaseReport {
            operation: case.operation,
            name: case.name.to_string(),
            kind: case.kind,
            source: case.source,
            verdict,
            duration: start.elapsed(),
        });
    }
    for op in Operation::ALL.iter().copied() {
        if caps.supports(op) {
            continue;
        }
        let name = "undeclared operation returns unsupported";
        if let Some(f) = &opts.filter {
            if !format!("{op}/{name}").contains(f.as_str()) {
                continue;
            }
        }
        let start = Instant::now();
        let verdict = match cases::unsupported::check(backend, op).await {
            Ok(()) => Verdict::Pass,
            Err(stop) => stop.verdict(),
        };
        report.push(CaseReport {
            operation: op,
            name: name.to_string(),
            kind: CaseKind::Unsupported,
            source: None,
            verdict,
            duration: start.elapsed(),
        });
    }
    report
}

/// Provisions keys on `backend` ([`provision`]), runs the suite, then
/// deletes what it created ([`teardown`]). Setup problems appear as report
/// notes and as skip reasons; keys the backend cannot hold make the cases
/// that need them unsupported.
pub async fn run_self_provisioned(backend: &dyn Backend, opts: &RunOptions) -> Report {
    run_self_provisioned_with(backend, opts, &ProvisionOptions::default()).await
}

/// [`run_self_provisioned`] with explicit provisioning options.
pub async fn run_self_provisioned_with(
    backend: &dyn Backend,
    opts: &RunOptions,
    provision_opts: &ProvisionOptions,
) -> Report {
    let p = provision(backend, provision_opts).await;
    let mut report = run(backend, &p.keys, opts).await;
    report.notes.extend(p.notes);
    report.notes.extend(teardown(backend, &p.created).await);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn futures_are_send() {
        let b = SoftwareBackend::new();
        let opts = RunOptions::default();
        assert_send(run_self_provisioned(&b, &opts));
    }
}
