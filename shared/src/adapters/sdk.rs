//! The AWS SDK's configuration, shared by every client of a function: its HTTP client
//! trusts only the Amazon Trust Services roots (`amazon_roots.pem`, compiled in), the
//! chains every AWS endpoint presents. The SDK's default client opens and parses every
//! certificate under the system's certificate folders at start, which was most of a cold
//! start's instructions; the functions never talk TLS to anything else through the SDK.
//!
//! The configuration is read from the environment, with no SDK loader. Lambda puts the
//! execution role's credentials and the region there (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`), and so do the local stack
//! and the tests, which also set `AWS_ENDPOINT_URL`. aws-config's loader built provider
//! chains a function never uses (an STS client among them, whose endpoint rules alone cost
//! a sixth of a cold start), read profile files, and was about 250 KB of every function's
//! code (issue 12). Retries, timeouts, the sleep and the identity cache are the clients'
//! own defaults for the behaviour version.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::SdkConfig;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, as PEM.
pub const AMAZON_ROOTS: &[u8] = include_bytes!("amazon_roots.pem");

/// The SDK configuration from the environment (region, credentials, endpoint), with an
/// HTTPS client of rustls over ring that trusts the Amazon roots only. The SDK's default
/// crypto, aws-lc-rs, is a second, larger library that nothing else here needs (issue 12).
pub async fn config() -> SdkConfig {
    from_environment(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The configuration `lookup` describes: what [`config`] reads, testable without the
/// process's environment. Missing credentials leave the provider unset, so a call fails
/// with the SDK's own "no credentials" error, not the process at start.
fn from_environment(lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build().expect("a fixed trust store");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    let credentials = match (lookup("AWS_ACCESS_KEY_ID"), lookup("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            let credentials = Credentials::new(key, secret, lookup("AWS_SESSION_TOKEN"), None, "environment");
            Some(SharedCredentialsProvider::new(credentials))
        }
        _ => None,
    };
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .region(lookup("AWS_REGION").or_else(|| lookup("AWS_DEFAULT_REGION")).map(Region::new));
    sdk.set_credentials_provider(credentials);
    sdk.set_endpoint_url(lookup("AWS_ENDPOINT_URL"));
    sdk.build()
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

    fn environment(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
    }

    #[tokio::test]
    async fn lambdas_variables_give_the_region_the_credentials_and_the_endpoint() {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        let sdk = from_environment(environment(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(sdk.behavior_version(), Some(BehaviorVersion::latest()));
        assert!(sdk.http_client().is_some());
        let credentials = sdk.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn the_default_region_stands_in_and_missing_credentials_or_endpoint_stay_unset() {
        let sdk = from_environment(environment(&[("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "AKID")]));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert!(sdk.credentials_provider().is_none(), "a key without its secret is no credentials");
        assert_eq!(sdk.endpoint_url(), None);
    }
}
