//! The AWS backend over an in-process emulator, without sockets: the
//! official SDK serializes every request and parses every answer as it
//! would over the network, and an HTTP connector hands the bytes to
//! [`Emulator::handle_json`] (the emulator's request path after transport
//! and signature checks). For fuzzing and fast tests; the emulator's HTTP
//! server is tested separately.

use super::AwsBackend;
use crate::server::aws::Emulator;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// An HTTP client whose every request is answered by an [`Emulator`].
#[derive(Debug, Clone)]
struct InProcess(Emulator);

impl HttpConnector for InProcess {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let emulator = self.0.clone();
        HttpConnectorFuture::new(async move {
            let method = request.method().to_owned();
            // The SDK sends an absolute URI; the emulator routes on the path.
            let uri = request.uri();
            let path = uri
                .split_once("://")
                .map_or(uri, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
            let path = path.split(['?', '#']).next().unwrap_or("/").to_owned();
            let target = request.headers().get("x-amz-target").map(str::to_owned);
            let body = request.body().bytes().unwrap_or_default().to_vec();
            let answer = emulator
                .handle_json(&method, &path, target.as_deref(), &body)
                .await;
            let status = StatusCode::try_from(answer.status)
                .unwrap_or_else(|_| StatusCode::try_from(500).expect("500 is a status"));
            let mut response = HttpResponse::new(status, SdkBody::from(answer.body));
            let content_type = if target.is_some() {
                "application/x-amz-json-1.0"
            } else {
                "application/json"
            };
            response.headers_mut().insert("content-type", content_type);
            if let Some(t) = answer.error_type {
                response.headers_mut().insert("x-amzn-errortype", t);
            }
            Ok(response)
        })
    }
}

impl HttpClient for InProcess {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl AwsBackend {
    /// An AWS backend whose SDK clients talk to `emulator` in process: the
    /// real SDK serialization and error parsing, no sockets, no signature
    /// check (for fuzzing and tests; see the module docs).
    pub async fn in_process(emulator: Emulator) -> Self {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://in-process.invalid")
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDINPROCESS",
                "in-process",
                None,
                None,
                "paycrypto",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .http_client(InProcess(emulator))
            .load()
            .await;
        AwsBackend::from_clients(
            aws_sdk_paymentcryptography::Client::new(&conf),
            aws_sdk_paymentcryptographydata::Client::new(&conf),
        )
        .with_name("aws-in-process")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, BackendExt};
    use crate::conformance::Role;
    use crate::ops::*;

    /// The same answers as over HTTP: the test key set loads through the
    /// SDK, a CVV is generated and verified, a wrong one fails, an unknown
    /// key is KeyNotFound.
    #[tokio::test]
    async fn the_sdk_talks_to_the_emulator_without_sockets() {
        let emu = Emulator::new(Default::default()).unwrap();
        let aws = AwsBackend::in_process(emu.clone()).await;
        crate::testing::load(&aws).await.unwrap();
        assert!(emu.key_count() > 10);
        let req = GenerateCardValidationRequest {
            key: crate::testing::key_id(Role::Cvk),
            pan: crate::Pan::new("4123456789012").unwrap(),
            expiry: crate::CardExpiry::new("8701").unwrap(),
            kind: CardValidationKind::Cvv(crate::ServiceCode::new("101").unwrap()),
            length: crate::types::CvvLength::THREE,
        };
        let g = aws.generate_card_validation(req.clone()).await.unwrap();
        assert_eq!(g.value.expose(), "370"); // published Visa CVV test data
        let reference = crate::testing::software_reference().await;
        crate::testing::differential(&reference, &aws, req.into())
            .await
            .unwrap();
        let e = aws
            .get_key_info(GetKeyInfoRequest {
                key: crate::KeyId::new("test/none").unwrap(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::KeyNotFound, "{e}");
        assert_eq!(aws.name(), "aws-in-process");
    }
}
