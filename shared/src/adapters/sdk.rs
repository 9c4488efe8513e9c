//! The AWS SDK's configuration, shared by every client of a function: its HTTP client
//! trusts only the Amazon Trust Services roots (`amazon_roots.pem`, compiled in), the
//! chains every AWS endpoint presents. The SDK's default client opens and parses every
//! certificate under the system's certificate folders at start, which was most of a cold
//! start's instructions; the functions never talk TLS to anything else through the SDK.
//!
//! Credentials and region come from the environment only. Lambda puts the execution
//! role's credentials and the region there (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`), and so do the local stack and the tests. The
//! default chains build providers a function never uses, an STS client among them, whose
//! endpoint rules alone cost a sixth of a cold start (issue 12).

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, as PEM.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("amazon_roots.pem");

/// The SDK configuration from the environment (region, credentials, endpoint), with an
/// HTTPS client of rustls over ring that trusts the Amazon roots only. The SDK's default
/// crypto, aws-lc-rs, is a second, larger library that nothing else here needs (issue 12).
pub async fn config() -> SdkConfig {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a fixed trust store");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_sdk_trusts_the_five_amazon_roots_and_nothing_else() {
        let roots: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOTS).collect::<Result<_, _>>().unwrap();
        assert_eq!(roots.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, refused) = store.add_parsable_certificates(roots);
        assert_eq!((added, refused), (5, 0));
    }
}
