//! The shadow report as an HTML page (feature `html-report`): a shadowed
//! run with a candidate that gets some CVVs wrong and refuses some
//! operations, recorded by a `Timeline`, rendered by `layers::html`. The
//! page must hold the three SVG charts with a line per series, the
//! per-operation table, and nothing loaded from elsewhere or secret.

use paycrypto::conformance::Role;
use paycrypto::layers::{html, DiscrepancyReport, Shadow, Timeline};
use paycrypto::ops::*;
use paycrypto::testing::key_id;
use paycrypto::*;
use std::sync::Arc;
use std::time::Duration;

/// A candidate that answers every third CVV wrongly.
struct SometimesWrong {
    inner: SoftwareBackend,
    n: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl Backend for SometimesWrong {
    fn name(&self) -> &str {
        "cloud"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.inner.execute(request).await? {
            Response::GenerateCardValidation(mut r) if n.is_multiple_of(3) => {
                let v = if r.value.expose() == "000" {
                    "001"
                } else {
                    "000"
                };
                r.value = Cvv::new(v)?;
                Ok(Response::GenerateCardValidation(r))
            }
            other => Ok(other),
        }
    }
}

const PAN: &str = "4761739001010010";

#[tokio::test]
async fn the_page_holds_the_charts_and_the_table() {
    let hsm = SoftwareBackend::with_name("hsm");
    let cloud = SoftwareBackend::with_name("cloud-inner");
    paycrypto::testing::load(&hsm).await.unwrap();
    paycrypto::testing::load(&cloud).await.unwrap();
    let report = Arc::new(DiscrepancyReport::new());
    let timeline = Arc::new(Timeline::new(Duration::from_millis(20)));
    let shadow = Shadow::new(
        hsm,
        SometimesWrong {
            inner: cloud,
            n: Default::default(),
        },
        (report.clone(), timeline.clone()),
    );
    for i in 0..30u32 {
        let cvv = GenerateCardValidationRequest {
            key: key_id(Role::Cvk),
            pan: Pan::new(PAN).unwrap(),
            expiry: CardExpiry::new(&format!("28{:02}", i % 12 + 1)).unwrap(),
            kind: CardValidationKind::Cvv2,
            length: CvvLength::THREE,
        };
        shadow.generate_card_validation(cvv).await.unwrap();
        // State-changing: skipped by the shadow layer.
        let _ = shadow
            .delete_key(DeleteKeyRequest {
                key: KeyId::new(format!("nothing/{i}")).unwrap(),
            })
            .await;
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        shadow.flush().await;
    }
    let snap = report.snapshot();
    let row = snap.operation(Operation::GenerateCardValidation).unwrap();
    assert_eq!((row.matched, row.mismatched), (20, 10));
    let t = timeline.snapshot();
    assert!(t.points.len() >= 3, "{}", t.points.len());
    assert_eq!(t.backends(), ["cloud", "hsm"]);
    assert_eq!(t.skip_reasons(), ["state_changing"]);

    let page = html::render("Drill <night 1>", &snap, &t).unwrap();
    let path = std::env::temp_dir().join(format!("paycrypto-report-{}.html", std::process::id()));
    std::fs::write(&path, &page).unwrap();
    let page = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<title>Drill &lt;night 1&gt;</title>"));
    assert_eq!(page.matches("<svg").count(), 3, "three inline charts");
    for title in [
        "Discrepancy rate",
        "Latency per backend",
        "Skipped operations",
    ] {
        assert!(page.contains(title), "{title}");
    }
    // One legend entry (and one line) per series: 2 backends x p50/p95/p99.
    for series in [
        "hsm p50",
        "hsm p99",
        "cloud p95",
        "state_changing",
        "mismatches and candidate errors",
    ] {
        assert!(page.contains(series), "{series}");
    }
    assert!(
        page.matches("<polyline").count() >= 8, // 1 + 6 + 1
        "a line per series"
    );
    // The table: one row per operation, the mismatching one marked.
    assert!(page.contains("<tr class=\"bad\"><td>generate_card_validation</td><td>hsm → cloud</td><td>30</td><td>20</td><td>10</td>"));
    assert!(page.contains("<td>delete_key</td>"));
    assert!(
        page.contains("discrepancy rate <b>33.333 %</b>"),
        "overall rate"
    );
    // Self-contained: nothing fetched; nothing secret.
    for outside in ["<script", "<link", "src=", "url("] {
        assert!(!page.contains(outside), "{outside}");
    }
    assert!(!page.contains(PAN));
    assert!(!page.contains(&hex::encode_upper(Role::Cvk.fixed_clear())));
}
