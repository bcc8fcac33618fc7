//! The suite's report: a pass/fail table per operation and JUnit XML.

use super::CaseKind;
use crate::ops::Operation;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The case passed.
    Pass,
    /// The case failed, with what was wrong (never a secret).
    Fail(String),
    /// The case did not run, with why.
    Skip(String),
    /// The backend answered [`crate::ErrorKind::Unsupported`] for the
    /// variant the case exercises (an AES key on a variant-LMK HSM, say):
    /// the correct answer from a backend that cannot do it, reported apart
    /// from passes, failures and skips so a reader sees what the backend
    /// does not do.
    Unsupported(String),
}

impl Verdict {
    /// `pass`, `FAIL` or `skip`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail(_) => "FAIL",
            Self::Skip(_) => "skip",
            Self::Unsupported(_) => "unsupported",
        }
    }

    /// The failure or skip message.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Pass => None,
            Self::Fail(m) | Self::Skip(m) | Self::Unsupported(m) => Some(m),
        }
    }
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The operation under test.
    pub operation: Operation,
    /// The case's name.
    pub name: String,
    /// What kind of case.
    pub kind: CaseKind,
    /// The published source of a known answer.
    pub source: Option<&'static str>,
    /// The outcome.
    pub verdict: Verdict,
    /// How long it took.
    pub duration: Duration,
}

/// Per-operation counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Cases the backend answered as unsupported.
    pub unsupported: usize,
}

impl Counts {
    fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::Skip(_) => self.skipped += 1,
            Verdict::Unsupported(_) => self.unsupported += 1,
        }
    }
}

/// The results of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The backend's name.
    pub backend: String,
    /// The seed of the random inputs.
    pub seed: u64,
    /// Setup and teardown notes.
    pub notes: Vec<String>,
    /// Every case, in run order.
    pub results: Vec<CaseReport>,
}

impl Report {
    pub(crate) fn new(backend: &str, seed: u64) -> Self {
        Self {
            backend: backend.to_string(),
            seed,
            notes: Vec::new(),
            results: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, r: CaseReport) {
        self.results.push(r);
    }

    /// Totals over every case.
    pub fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            c.add(&r.verdict);
        }
        c
    }

    /// Counts per operation, in a stable order.
    pub fn by_operation(&self) -> BTreeMap<Operation, Counts> {
        let mut m: BTreeMap<Operation, Counts> = BTreeMap::new();
        for r in &self.results {
            m.entry(r.operation).or_default().add(&r.verdict);
        }
        m
    }

    /// True when no case failed (skipped and unsupported cases are
    /// reported, not failed).
    pub fn is_success(&self) -> bool {
        self.totals().failed == 0
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseReport> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail(_)))
    }

    /// A readable table: every case, then a summary per operation.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "conformance of backend `{}` (seed {})",
            self.backend, self.seed
        );
        let w = self
            .results
            .iter()
            .map(|r| r.operation.as_str().len())
            .max()
            .unwrap_or(9)
            .max(9);
        let _ = writeln!(s, "{:<w$}  {:<12}  {:<11}  case", "operation", "kind", "");
        for r in &self.results {
            let _ = write!(
                s,
                "{:<w$}  {:<12}  {:<11}  {}",
                r.operation.as_str(),
                r.kind.as_str(),
                r.verdict.label(),
                r.name
            );
            if let Some(m) = r.verdict.message() {
                let _ = write!(s, " — {m}");
            }
            s.push('\n');
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<w$}  {:>6}  {:>6}  {:>7}  {:>11}",
            "operation", "passed", "failed", "skipped", "unsupported"
        );
        for (op, c) in self.by_operation() {
            let _ = writeln!(
                s,
                "{:<w$}  {:>6}  {:>6}  {:>7}  {:>11}",
                op.as_str(),
                c.passed,
                c.failed,
                c.skipped,
                c.unsupported
            );
        }
        let t = self.totals();
        let _ = writeln!(
            s,
            "{:<w$}  {:>6}  {:>6}  {:>7}  {:>11}",
            "total", t.passed, t.failed, t.skipped, t.unsupported
        );
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(
            s,
            "{} passed, {} failed, {} skipped, {} unsupported",
            t.passed, t.failed, t.skipped, t.unsupported
        );
        s
    }

    /// JUnit XML (one `<testsuite>` per operation), for CI systems.
    /// JUnit has no "unsupported": such cases are `<skipped>` with a
    /// message starting `unsupported:`.
    pub fn to_junit_xml(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let t = self.totals();
        let total_time: f64 = self.results.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            s,
            "<testsuites name=\"paycrypto conformance ({})\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.6}\">",
            xml_escape(&self.backend),
            self.results.len(),
            t.failed,
            t.skipped + t.unsupported,
            total_time
        );
        let mut by_op: BTreeMap<Operation, Vec<&CaseReport>> = BTreeMap::new();
        for r in &self.results {
            by_op.entry(r.operation).or_default().push(r);
        }
        for (op, cases) in by_op {
            let mut c = Counts::default();
            for r in &cases {
                c.add(&r.verdict);
            }
            let time: f64 = cases.iter().map(|r| r.duration.as_secs_f64()).sum();
            let _ = writeln!(
                s,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.6}\">",
                op.as_str(),
                cases.len(),
                c.failed,
                c.skipped + c.unsupported,
                time
            );
            {
                // Properties carry the seed so a CI failure can be replayed.
                let _ = writeln!(
                    s,
                    "    <properties><property name=\"seed\" value=\"{}\"/><property name=\"backend\" value=\"{}\"/></properties>",
                    self.seed,
                    xml_escape(&self.backend)
                );
            }
            for r in cases {
                let _ = write!(
                    s,
                    "    <testcase classname=\"paycrypto.conformance.{}\" name=\"{}: {}\" time=\"{:.6}\"",
                    op.as_str(),
                    r.kind.as_str(),
                    xml_escape(&r.name),
                    r.duration.as_secs_f64()
                );
                let body = match &r.verdict {
                    Verdict::Pass => None,
                    Verdict::Fail(m) => Some(format!(
                        "<failure message=\"{}\" type=\"{}\"/>",
                        xml_escape(m),
                        r.kind.as_str()
                    )),
                    Verdict::Skip(m) => Some(format!("<skipped message=\"{}\"/>", xml_escape(m))),
                    Verdict::Unsupported(m) => Some(format!(
                        "<skipped message=\"unsupported: {}\"/>",
                        xml_escape(m)
                    )),
                };
                let out = r
                    .source
                    .map(|src| format!("<system-out>source: {}</system-out>", xml_escape(src)));
                if body.is_none() && out.is_none() {
                    s.push_str("/>\n");
                } else {
                    s.push_str(">\n");
                    for part in body.iter().chain(out.iter()) {
                        let _ = writeln!(s, "      {part}");
                    }
                    s.push_str("    </testcase>\n");
                }
            }
            s.push_str("  </testsuite>\n");
        }
        s.push_str("</testsuites>\n");
        s
    }
}

/// Escapes text for an XML attribute or element, dropping characters XML
/// 1.0 cannot carry (control characters other than tab, CR and LF).
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_drops_invalid_characters() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;"
        );
    }

    #[test]
    fn junit_counts_and_escapes() {
        let mut r = Report::new("x<y", 7);
        r.push(CaseReport {
            operation: Operation::GenerateMac,
            name: "kat \"1\"".into(),
            kind: CaseKind::KnownAnswer,
            source: Some("RFC <4493>"),
            verdict: Verdict::Fail("got A & B".into()),
            duration: Duration::from_millis(2),
        });
        r.push(CaseReport {
            operation: Operation::GenerateMac,
            name: "skip me".into(),
            kind: CaseKind::Agreement,
            source: None,
            verdict: Verdict::Skip("no key".into()),
            duration: Duration::ZERO,
        });
        r.push(CaseReport {
            operation: Operation::VerifyMac,
            name: "cmac".into(),
            kind: CaseKind::Agreement,
            source: None,
            verdict: Verdict::Unsupported("no CMAC here".into()),
            duration: Duration::ZERO,
        });
        r.push(CaseReport {
            operation: Operation::VerifyMac,
            name: "ok".into(),
            kind: CaseKind::RoundTrip,
            source: None,
            verdict: Verdict::Pass,
            duration: Duration::ZERO,
        });
        let x = r.to_junit_xml();
        assert!(
            x.contains("tests=\"4\" failures=\"1\" skipped=\"2\""),
            "{x}"
        );
        assert!(
            x.contains("<skipped message=\"unsupported: no CMAC here\"/>"),
            "{x}"
        );
        assert!(
            x.contains("name=\"known_answer: kat &quot;1&quot;\""),
            "{x}"
        );
        assert!(x.contains("<failure message=\"got A &amp; B\""), "{x}");
        assert!(x.contains("source: RFC &lt;4493&gt;"), "{x}");
        assert!(x.contains("<skipped message=\"no key\"/>"), "{x}");
        assert!(!r.is_success());
        let t = r.table();
        assert!(
            t.contains("1 passed, 1 failed, 1 skipped, 1 unsupported"),
            "{t}"
        );
    }
}
