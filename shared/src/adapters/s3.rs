//! Files in S3: presigned links to upload and download, a look at what was stored, and
//! objects read and written as streams (the export packet).
//!
//! The calls are S3's REST API, signed with SigV4 by `aws-sigv4` (the SDK's own signer)
//! and sent on the hyper client the providers' calls use (`provider_http`), trusting the
//! Amazon roots only. We make eight kinds of call; the SDK's S3 crate, with its endpoint
//! rules, checksums, XML and event-stream crates, was about 0.7 MB of each of the five
//! zips that touch files, every one of them over the 2.5 MB goal (issue 12). The tests
//! check what we store with the SDK's own S3 client, against moto.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::adapters::meter::{self, Service};
use crate::adapters::provider_http::{HttpsClient, https_client};
use crate::adapters::sdk::AMAZON_ROOTS;
use peyman_rules::error::ApiError;
use peyman_rules::upload::SNIFF_BYTES;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Files {
    /// Where the bucket's objects are: `{base}/{key}`, URL-encoded.
    base: String,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    link_ttl: Duration,
}

/// A presigned upload: the client sends `method` to `url` with exactly `headers`.
#[derive(Debug, Serialize)]
pub struct UploadLink {
    pub method: String,
    pub url: String,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub expires_at: DateTime<Utc>,
}

/// What was really stored: its size, version and first bytes.
#[derive(Debug)]
pub struct StoredObject {
    pub size: u64,
    pub version_id: Option<String>,
    pub head: Vec<u8>,
    /// The SHA-256 of the whole version (hex), read as a stream; `None` for an object
    /// larger than the caller would hash.
    pub sha256: Option<String>,
}

/// An object's content as it arrives, chunk by chunk (never held whole).
#[derive(Debug)]
pub struct ObjectBody(Incoming);

impl ObjectBody {
    /// The next chunk, or `None` at the end.
    pub async fn try_next(&mut self) -> Result<Option<Bytes>, ApiError> {
        while let Some(frame) = self.0.frame().await {
            if let Ok(data) = frame.map_err(|e| s3_error(format!("reading an object: {e}")))?.into_data() {
                return Ok(Some(data));
            }
        }
        Ok(None)
    }
}

fn s3_error(message: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("s3: {message}"))
}

/// S3's rule for URLs: everything but the unreserved characters is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// RFC 5987 encoding for `filename*`, so Persian file names survive the download.
fn rfc5987(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// An object key as a URL path: each segment encoded, the slashes kept.
fn key_path(key: &str) -> String {
    key.split('/').map(|segment| utf8_percent_encode(segment, UNRESERVED).to_string()).collect::<Vec<_>>().join("/")
}

/// A query string from pairs, encoded as SigV4 signs it (a bare name for an empty value).
fn query(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(name, value)| match value.is_empty() {
            true => name.to_string(),
            false => format!("{name}={}", utf8_percent_encode(value, UNRESERVED)),
        })
        .collect();
    encoded.join("&")
}

/// The text of the first `<tag>` in an S3 XML answer, its five entities decoded.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let text = &xml[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// XML-escapes text for the body we send.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Our one client to S3, built on first use: most requests of most functions never touch
/// a file.
fn client() -> &'static HttpsClient {
    static CLIENT: OnceLock<HttpsClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certificates = CertificateDer::pem_slice_iter(AMAZON_ROOTS).flatten();
        roots.add_parsable_certificates(certificates);
        https_client(roots)
    })
}

/// How many times a call is tried when S3 is briefly unavailable: the SDK's standard.
const ATTEMPTS: u32 = 3;

/// Whether an answer says "try again": S3's 500, 503 (SlowDown) and the like.
fn transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// One call's answer when its body is small (everything but a read).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn error(&self, what: &str) -> ApiError {
        let code = xml_text(&self.body, "Code").unwrap_or_default();
        let message = xml_text(&self.body, "Message").unwrap_or_default();
        s3_error(format!("{what}: {} {code} {message}", self.status.as_u16()))
    }
}

impl Files {
    /// The bucket `bucket`, at the endpoint and with the region and credentials of the SDK
    /// configuration: virtual-hosted (`https://{bucket}.s3.{region}.amazonaws.com`) unless
    /// `force_path_style` (`{endpoint}/{bucket}`, as moto needs).
    pub fn connect(sdk: &aws_types::SdkConfig, bucket: &str, link_ttl: Duration, force_path_style: bool) -> Self {
        let region = sdk.region().map(|r| r.as_ref().to_owned());
        let endpoint = sdk
            .endpoint_url()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", region.as_deref().unwrap_or("us-east-1")));
        let base = match (force_path_style, endpoint.split_once("://")) {
            (false, Some((scheme, host))) => format!("{scheme}://{bucket}.{host}"),
            _ => format!("{endpoint}/{bucket}"),
        };
        Files { base, region, credentials: sdk.credentials_provider(), link_ttl }
    }

    fn url(&self, key: &str, pairs: &[(&str, &str)]) -> String {
        let path = format!("{}/{}", self.base, key_path(key));
        if pairs.is_empty() { path } else { format!("{path}?{}", query(pairs)) }
    }

    /// The credentials to sign with, now (Lambda's are the role's, from the environment).
    async fn identity(&self) -> Result<Identity, ApiError> {
        let provider = self.credentials.as_ref().ok_or_else(|| s3_error("no credentials in the environment"))?;
        let credentials = provider.provide_credentials().await.map_err(|e| s3_error(format!("credentials: {e}")))?;
        Ok(credentials.into())
    }

    /// Signs `request` for S3 at `time`: in its headers, or in its URL for `expires_in`.
    fn sign<B>(
        &self,
        identity: &Identity,
        request: &mut Request<B>,
        body: SignableBody<'_>,
        time: SystemTime,
        expires_in: Option<Duration>,
    ) -> Result<(), ApiError> {
        let region = self.region.as_deref().ok_or_else(|| s3_error("no region in the environment"))?;
        let mut settings = SigningSettings::default();
        // S3 signs paths as they are sent, and wants the payload's hash in a header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        if let Some(expires_in) = expires_in {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires_in);
            settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        }
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| s3_error(format!("signing: {e}")))?
            .into();
        let uri = request.uri().to_string();
        let headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new(request.method().as_str(), Cow::Owned(uri), headers, body)
            .map_err(|e| s3_error(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| s3_error(format!("signing: {e}")))?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    /// Sends one signed call, tried again (up to [`ATTEMPTS`]) when S3 is briefly
    /// unavailable, and returns its answer with the body unread.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response<Incoming>, ApiError> {
        let identity = self.identity().await?;
        let mut attempt = 1;
        loop {
            let mut request = Request::builder().method(method.clone()).uri(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let mut request = request.body(Full::new(body.clone())).map_err(|e| s3_error(format!("{url}: {e}")))?;
            self.sign(&identity, &mut request, SignableBody::Bytes(&body), SystemTime::now(), None)?;
            meter::count_request(Service::S3);
            let answer = client().request(request).await;
            match answer {
                Ok(response) if !(transient(response.status()) && attempt < ATTEMPTS) => return Ok(response),
                Err(e) if attempt >= ATTEMPTS => return Err(s3_error(format!("{method} {url}: {e}"))),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            attempt += 1;
        }
    }

    /// [`Files::send`], with the answer's body read whole (S3's small XML documents).
    async fn call(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Bytes) -> Result<Answer, ApiError> {
        let response = self.send(method, url, headers, body).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| s3_error(format!("{url}: {e}")))?.to_bytes();
        Ok(Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() })
    }

    /// A link to `url` for `method`, signed at `now` with `headers`, for the link's lifetime.
    async fn presign(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let identity = self.identity().await?;
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).map_err(|e| s3_error(format!("{url}: {e}")))?;
        self.sign(&identity, &mut request, SignableBody::UnsignedPayload, now.into(), Some(self.link_ttl))?;
        Ok(request.uri().to_string())
    }

    /// A PUT link that signs the declared type and length, so real S3 refuses any other.
    pub async fn upload_link(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadLink, ApiError> {
        let length = size.to_string();
        // `If-None-Match: *`, signed: S3 writes the key only if it holds nothing yet, so the
        // link works once and the version the checker judges is the only one there is.
        let headers = [("content-type", content_type), ("content-length", length.as_str()), ("if-none-match", "*")];
        let url = self.presign(Method::PUT, &self.url(key, &[("x-id", "PutObject")]), &headers, now).await?;
        Ok(UploadLink {
            method: "PUT".to_owned(),
            url,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string().into())).collect(),
            expires_at: now + self.link_ttl,
        })
    }

    /// A short-lived GET link to one version of an object, saved under its file name.
    pub async fn download_link(
        &self,
        key: &str,
        version: Option<&str>,
        file_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let disposition = format!("attachment; filename*=UTF-8''{}", rfc5987(file_name));
        let mut pairs = vec![("response-content-disposition", disposition.as_str())];
        pairs.extend(version.map(|v| ("versionId", v)));
        pairs.push(("x-id", "GetObject"));
        let url = self.presign(Method::GET, &self.url(key, &pairs), &[], now).await?;
        Ok((url, now + self.link_ttl))
    }

    /// The object as stored, or `None` when there is none under `key`: its size, version,
    /// first bytes (at most [`SNIFF_BYTES`]) and, when it is at most `hash_max` bytes, the
    /// SHA-256 of the whole version, read chunk by chunk (never held whole).
    pub async fn inspect(&self, key: &str, hash_max: u64) -> Result<Option<StoredObject>, ApiError> {
        let head = self.call(Method::HEAD, &self.url(key, &[]), &[], Bytes::new()).await?;
        if head.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !head.status.is_success() {
            return Err(head.error(&format!("HEAD {key}")));
        }
        let size = header(&head.headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0u64);
        let version_id = header(&head.headers, "x-amz-version-id").filter(|v| *v != "null").map(str::to_owned);
        let hashed = size <= hash_max;
        let read = if hashed { size } else { SNIFF_BYTES.min(size) };
        let mut first = Vec::new();
        let mut hash = Sha256::new();
        if read > 0 {
            let range = format!("bytes=0-{}", read - 1);
            let pairs: Vec<_> = version_id.as_deref().map(|v| ("versionId", v)).into_iter().collect();
            let response = self.send(Method::GET, &self.url(key, &pairs), &[("range", &range)], Bytes::new()).await?;
            if !response.status().is_success() {
                return Err(s3_error(format!("GET {key}: {}", response.status().as_u16())));
            }
            let mut object = ObjectBody(response.into_body());
            while let Some(chunk) = object.try_next().await? {
                let room = (SNIFF_BYTES as usize).saturating_sub(first.len());
                first.extend_from_slice(&chunk[..room.min(chunk.len())]);
                hash.update(&chunk);
            }
        }
        let sha256 = hashed.then(|| hex::encode(hash.finalize()));
        Ok(Some(StoredObject { size, version_id, head: first, sha256 }))
    }
}

/// Packets go up in parts of this size (S3's minimum is 5 MiB for all but the last):
/// what the builder holds of a packet at any time.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

impl Files {
    /// One version of an object as a stream of chunks, or `None` when that version (or
    /// the object) is not there.
    pub async fn read(&self, key: &str, version: Option<&str>) -> Result<Option<ObjectBody>, ApiError> {
        let pairs: Vec<_> = version.map(|v| ("versionId", v)).into_iter().collect();
        let response = self.send(Method::GET, &self.url(key, &pairs), &[], Bytes::new()).await?;
        match response.status() {
            status if status.is_success() => Ok(Some(ObjectBody(response.into_body()))),
            // NoSuchKey and NoSuchVersion.
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let answer = Answer { status, headers: HeaderMap::new(), body: String::from_utf8_lossy(&body).into() };
                Err(answer.error(&format!("GET {key}")))
            }
        }
    }

    /// Writes everything `source` yields to `key` as a multipart upload, one part of
    /// [`PART_BYTES`] at a time, and returns the version written and its size. A failure
    /// aborts the upload, so no parts are left behind.
    pub async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
        mut source: impl tokio::io::AsyncRead + Unpin,
    ) -> Result<(Option<String>, u64), ApiError> {
        use tokio::io::AsyncReadExt;
        let url = self.url(key, &[("uploads", "")]);
        let started = self.call(Method::POST, &url, &[("content-type", content_type)], Bytes::new()).await?;
        if !started.status.is_success() {
            return Err(started.error(&format!("CreateMultipartUpload {key}")));
        }
        let upload_id =
            xml_text(&started.body, "UploadId").ok_or_else(|| s3_error("CreateMultipartUpload gave no upload id"))?;
        let parts = async {
            let mut parts = Vec::new();
            let mut size = 0u64;
            loop {
                let mut part = Vec::with_capacity(PART_BYTES);
                while part.len() < PART_BYTES {
                    // `take` bounds each read to what the part still has room for.
                    let room = (PART_BYTES - part.len()) as u64;
                    if (&mut source).take(room).read_to_end(&mut part).await.map_err(ApiError::internal)? == 0 {
                        break;
                    }
                }
                if part.is_empty() && !parts.is_empty() {
                    break;
                }
                let number = (parts.len() + 1).to_string();
                let last = part.len() < PART_BYTES;
                size += part.len() as u64;
                let url = self.url(key, &[("partNumber", &number), ("uploadId", &upload_id)]);
                let out = self.call(Method::PUT, &url, &[], Bytes::from(part)).await?;
                if !out.status.is_success() {
                    return Err(out.error(&format!("UploadPart {number} of {key}")));
                }
                let etag = header(&out.headers, "etag").ok_or_else(|| s3_error("UploadPart gave no ETag"))?;
                parts.push((number, etag.to_owned()));
                if last {
                    break;
                }
            }
            Ok::<_, ApiError>((parts, size))
        };
        let (parts, size) = match parts.await {
            Ok(done) => done,
            Err(e) => {
                let url = self.url(key, &[("uploadId", &upload_id)]);
                match self.call(Method::DELETE, &url, &[], Bytes::new()).await {
                    Ok(aborted) if aborted.status.is_success() => {}
                    Ok(aborted) => {
                        tracing::warn!(key, error = %aborted.error("AbortMultipartUpload"), "could not abort a failed multipart upload")
                    }
                    Err(abort) => tracing::warn!(key, error = %abort, "could not abort a failed multipart upload"),
                }
                return Err(e);
            }
        };
        let listed: String = parts
            .iter()
            .map(|(number, etag)| {
                format!("<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>", xml_escape(etag))
            })
            .collect();
        let document = format!(
            r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{listed}</CompleteMultipartUpload>"#
        );
        let url = self.url(key, &[("uploadId", &upload_id)]);
        let done = self.call(Method::POST, &url, &[("content-type", "application/xml")], Bytes::from(document)).await?;
        // S3 may answer 200 and still have failed, with an <Error> document.
        if !done.status.is_success() || done.body.contains("<Error>") {
            return Err(done.error(&format!("CompleteMultipartUpload {key}")));
        }
        let version = header(&done.headers, "x-amz-version-id").filter(|v| *v != "null").map(str::to_owned);
        Ok((version, size))
    }
}

/// Where an upload's object lives: under its owner's prefix, so a bucket policy or a
/// lifecycle rule can reason per user.
pub fn upload_object(owner_id: &str, upload_id: &str) -> String {
    format!("uploads/{owner_id}/{upload_id}")
}

/// The upload id in an object key made by [`upload_object`].
pub fn upload_id_of_object(object_key: &str) -> Option<&str> {
    let rest = object_key.strip_prefix("uploads/")?;
    let (_owner, id) = rest.split_once('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The parts of an S3 notification we read. `aws_lambda_events::s3::S3Event` insists on
/// fields (event time with offset, principal, request parameters) that S3 test events
/// and moto leave out, and a notification we cannot parse would be a poison message.
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
    /// `s3:TestEvent`, sent once when the notification is configured.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: Entity,
}

#[derive(Debug, Deserialize)]
struct Entity {
    object: Object,
}

#[derive(Debug, Deserialize)]
struct Object {
    key: String,
}

/// The keys of the objects an S3 notification (as SQS delivers it) says were created;
/// none for the test event S3 sends when the notification is configured.
pub fn created_objects(body: &str) -> Result<Vec<String>, ApiError> {
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not an S3 notification: {e}")))?;
    if notification.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let created = notification.records.iter().filter(|r| r.event_name.starts_with("ObjectCreated"));
    // Keys in notifications are form-encoded: '+' is a space.
    Ok(created
        .map(|record| {
            let raw = record.s3.object.key.replace('+', " ");
            percent_encoding::percent_decode_str(&raw).decode_utf8_lossy().into_owned()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_file_names_are_encoded_for_content_disposition() {
        assert_eq!(rfc5987("قرارداد.pdf"), "%D9%82%D8%B1%D8%A7%D8%B1%D8%AF%D8%A7%D8%AF.pdf");
        assert_eq!(rfc5987("a b\"c"), "a%20b%22c");
    }

    #[test]
    fn keys_keep_their_slashes_and_encode_the_rest() {
        assert_eq!(key_path("uploads/user:7@x/01AB"), "uploads/user%3A7%40x/01AB");
        assert_eq!(key_path("exports/قرار داد"), "exports/%D9%82%D8%B1%D8%A7%D8%B1%20%D8%AF%D8%A7%D8%AF");
    }

    #[test]
    fn queries_encode_values_and_leave_empty_ones_bare() {
        assert_eq!(query(&[("uploads", "")]), "uploads");
        assert_eq!(query(&[("partNumber", "2"), ("uploadId", "a+b/c=")]), "partNumber=2&uploadId=a%2Bb%2Fc%3D");
    }

    #[test]
    fn xml_answers_give_their_first_tag_decoded() {
        let xml = "<Error><Code>NoSuchUpload</Code><Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error>";
        assert_eq!(xml_text(xml, "Code").as_deref(), Some("NoSuchUpload"));
        assert_eq!(xml_text(xml, "Message").as_deref(), Some("a <b> & \"c\""));
        assert_eq!(xml_text(xml, "UploadId"), None);
        assert_eq!(xml_escape("\"etag\"&<"), "&quot;etag&quot;&amp;&lt;");
    }

    fn sdk(endpoint: Option<&str>) -> aws_types::SdkConfig {
        let mut sdk = aws_types::SdkConfig::builder().region(aws_types::region::Region::new("eu-central-1"));
        sdk.set_endpoint_url(endpoint.map(str::to_owned));
        sdk.build()
    }

    #[test]
    fn objects_are_addressed_virtual_hosted_unless_path_style_is_asked() {
        let ttl = Duration::from_secs(60);
        let aws = Files::connect(&sdk(None), "peyman-files", ttl, false);
        assert_eq!(aws.url("a/b c", &[]), "https://peyman-files.s3.eu-central-1.amazonaws.com/a/b%20c");
        let moto = Files::connect(&sdk(Some("http://127.0.0.1:5200/")), "peyman-files", ttl, true);
        assert_eq!(moto.url("a", &[("versionId", "v1")]), "http://127.0.0.1:5200/peyman-files/a?versionId=v1");
    }

    /// The presigned link carries S3's query signature for the declared headers, and the
    /// signature is SigV4's for this request: the same request and time sign the same.
    #[tokio::test]
    async fn upload_links_are_presigned_for_their_type_and_length() {
        let mut config = sdk(Some("http://127.0.0.1:5200"));
        let credentials =
            aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        config = config.into_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build();
        let files = Files::connect(&config, "peyman-files", Duration::from_secs(900), true);
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let link = files.upload_link("uploads/u1/01AB", "image/png", 1234, now).await.unwrap();
        assert_eq!(link.method, "PUT");
        assert!(link.url.starts_with("http://127.0.0.1:5200/peyman-files/uploads/u1/01AB?"), "{}", link.url);
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20261203%2Feu-central-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20261203T100000Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match",
            "X-Amz-Security-Token=token",
            "X-Amz-Signature=",
        ] {
            assert!(link.url.contains(part), "{part} in {}", link.url);
        }
        assert_eq!(link.headers["content-type"], "image/png");
        assert_eq!(link.headers["content-length"], "1234");
        assert_eq!(link.headers["if-none-match"], "*", "a link writes its key once");
        assert_eq!(link.expires_at, now + chrono::Duration::seconds(900));
        let again = files.upload_link("uploads/u1/01AB", "image/png", 1234, now).await.unwrap();
        assert_eq!(again.url, link.url);
        let other = files.upload_link("uploads/u1/01AB", "image/png", 1235, now).await.unwrap();
        assert_ne!(other.url, link.url, "the length is signed");
    }
}

#[cfg(test)]
mod object_key_tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn object_keys_round_trip_for_any_owner(owner in "[A-Za-z0-9._:@-]{1,128}") {
            let id = ulid::Ulid::new().to_string();
            let key = upload_object(&owner, &id);
            proptest::prop_assert_eq!(upload_id_of_object(&key), Some(id.as_str()));
        }
    }

    #[test]
    fn object_keys_round_trip() {
        assert_eq!(upload_id_of_object(&upload_object("u1", "01ABC")), Some("01ABC"));
        assert_eq!(upload_id_of_object("elsewhere/u1/01ABC"), None);
        assert_eq!(upload_id_of_object("uploads/u1/a/b"), None);
    }
}
