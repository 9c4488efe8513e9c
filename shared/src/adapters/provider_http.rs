//! The one HTTPS client the payment providers' adapters (`stripe`, `zarinpal`) share, and
//! the builder of S3's (`s3`), which differs only in the roots it trusts.
//!
//! It is built from the same parts as the AWS SDK's client (`sdk`): hyper's client over
//! hyper-rustls and rustls with ring. So each function carries one HTTP and TLS stack,
//! not a second one (reqwest's) beside the SDK's (issue 12).
//!
//! It trusts Mozilla's root set, compiled in (webpki-roots), not the system's certificate
//! folders. Stripe recommends against pinning its roots, because it changes them with a
//! week's notice (<https://docs.stripe.com/tls-certificates>). Zarinpal publishes no chain
//! at all. A narrower set could break payments on a provider's renewal, which costs more
//! than the roots do: the set is only built on a function's first provider call.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one call to a provider may take: below the shortest timeout of a function
/// that calls it (10 s, the template's default, for `offer-decisions`), so a slow provider
/// is a 503 the caller may retry, never a function killed mid-flow.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(6);

/// What a provider's API takes: Stripe a form, Zarinpal JSON.
pub(crate) enum Payload<'a> {
    Form(&'a [(&'a str, String)]),
    Json(&'a serde_json::Value),
}

/// One POST to a provider, bounded by [`CALL_TIMEOUT`]: the answer's status and body, or
/// why there is none (the provider was not reached, or did not answer in time).
pub(crate) async fn post(
    url: &str,
    bearer: Option<&str>,
    idempotency_key: Option<&str>,
    payload: Payload<'_>,
) -> Result<(StatusCode, Bytes), String> {
    let (content_type, body) = match payload {
        Payload::Form(fields) => {
            let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
            ("application/x-www-form-urlencoded", form.into_bytes())
        }
        Payload::Json(value) => ("application/json", serde_json::to_vec(value).map_err(|e| e.to_string())?),
    };
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let request = request.body(Full::new(Bytes::from(body))).map_err(|e| format!("{url}: {e}"))?;
    send(url, request).await
}

/// One GET from a provider (a read: its records, for reconciliation), bounded as a POST is.
pub(crate) async fn get(url: &str, bearer: &str) -> Result<(StatusCode, Bytes), String> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("{url}: {e}"))?;
    send(url, request).await
}

async fn send(url: &str, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String> {
    let exchange = async {
        let response = client().request(request).await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("{url}: {e}"))?.to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("{url}: no answer within {} s", CALL_TIMEOUT.as_secs())))
}

/// A hyper client over rustls with ring: the one HTTP and TLS stack the providers' calls
/// and S3's (`s3`) share.
pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Built on first use: most functions never pay or refund, and building it (a root store,
/// a connector) at init cost every cold start of all of them (issue 12).
fn client() -> &'static HttpsClient {
    static CLIENT: OnceLock<HttpsClient> = OnceLock::new();
    CLIENT.get_or_init(|| https_client(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }))
}

/// An HTTP/1.1 client of TLS 1.2 and 1.3 over ring that trusts `roots`, and gives up on a
/// connection not made in 3.1 s (the AWS SDK's default). Plain HTTP is allowed for the local
/// stand-ins, which override the `https` defaults (`config`); the template only accepts
/// `https` addresses.
pub(crate) fn https_client(roots: rustls::RootCertStore) -> HttpsClient {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_millis(3100)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Write};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A one-shot HTTP server on 127.0.0.1: it keeps the request it was sent (read by the
    /// bench's shared `read_request`) and answers `answer`, or nothing at all when
    /// `answer` is `None`.
    fn one_shot(answer: Option<&'static str>) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/refunds", listener.local_addr().unwrap());
        let served = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let (head, body) = peyman_bench::read_request(&mut BufReader::new(socket.try_clone().unwrap())).unwrap();
            match answer {
                Some(body) => {
                    let reply =
                        format!("HTTP/1.1 402 Payment Required\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    socket.write_all(reply.as_bytes()).unwrap();
                }
                None => std::thread::sleep(CALL_TIMEOUT * 2),
            }
            head + &String::from_utf8(body).unwrap()
        });
        (url, served)
    }

    #[tokio::test]
    async fn a_form_goes_encoded_with_its_token_and_key_and_the_answer_comes_back_whole() {
        let (url, served) = one_shot(Some(r#"{"error":{"message":"کارت رد شد"}}"#));
        let form = [("metadata[note]", "سلام‌ دنیا & =".to_owned()), ("amount", "1200".to_owned())];
        let (status, body) = post(&url, Some("sk_test_1"), Some("refund-1"), Payload::Form(&form)).await.unwrap();
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(std::str::from_utf8(&body).unwrap(), r#"{"error":{"message":"کارت رد شد"}}"#);
        let request = served.join().unwrap();
        assert!(request.starts_with("POST /v1/refunds HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("authorization: Bearer sk_test_1\r\n"), "{request}");
        assert!(request.contains("idempotency-key: refund-1\r\n"), "{request}");
        assert!(request.contains("content-type: application/x-www-form-urlencoded\r\n"), "{request}");
        let sent = request.split("\r\n\r\n").nth(1).unwrap();
        let fields: Vec<(String, String)> = form_urlencoded::parse(sent.as_bytes()).into_owned().collect();
        assert_eq!(fields, form.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn json_goes_as_json_without_a_token_when_none_is_given() {
        let (url, served) = one_shot(Some("{}"));
        let body = serde_json::json!({ "merchant_id": "m-1", "description": "پروژه 😀" });
        let (status, _) = post(&url, None, None, Payload::Json(&body)).await.unwrap();
        assert_eq!(status.as_u16(), 402);
        let request = served.join().unwrap();
        assert!(request.contains("content-type: application/json\r\n"), "{request}");
        assert!(!request.contains("authorization"), "{request}");
        let sent: serde_json::Value = serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(sent, body);
    }

    #[tokio::test]
    async fn a_provider_that_does_not_answer_is_given_up_on_after_the_call_timeout() {
        let (url, _served) = one_shot(None);
        let why = post(&url, None, None, Payload::Json(&serde_json::json!({}))).await.unwrap_err();
        assert!(why.contains("no answer within 6 s"), "{why}");
    }

    #[tokio::test]
    async fn https_is_refused_to_a_server_that_does_not_speak_tls() {
        // The https path runs rustls: a plain-HTTP listener behind an https address fails
        // the handshake instead of being spoken to in the clear.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/v1/refunds", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        });
        assert!(post(&url, None, None, Payload::Json(&serde_json::json!({}))).await.is_err());
    }
}
