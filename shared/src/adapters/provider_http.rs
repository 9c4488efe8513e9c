//! The one HTTPS client the payment providers' adapters (`stripe`, `zarinpal`) share.
//! The AWS SDK has its own (`sdk`); issue 12 asks for one stack, which is not done yet.

use std::sync::OnceLock;
use std::time::Duration;

/// How long one call to a provider may take: below the shortest timeout of a function
/// that calls it (10 s, the template's default, for `offer-decisions`), so a slow provider
/// is a 503 the caller may retry, never a function killed mid-flow.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(6);

/// reqwest's rustls needs a process-wide crypto provider: the aws-lc-rs the SDK already
/// brings. Any process that builds a reqwest client calls this first (it is idempotent).
pub fn install_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The one HTTPS client for the payment provider, built on first use: most functions
/// never pay or refund, and building it (a root store, a connector) at init cost every
/// cold start of all of them (issue 12).
pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        install_tls_provider();
        reqwest::Client::builder().timeout(CALL_TIMEOUT).build().expect("a TLS client with the installed provider")
    })
}
