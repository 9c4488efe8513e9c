//! Files in S3 through the AWS SDK's S3 client: presigned links to upload and download
//! (the SDK's presigner), a look at what was stored, objects read and written as streams
//! (the export packet), and a packet's retention under S3 Object Lock.
//!
//! The client is built on first use: most requests of most functions never touch a file,
//! and its endpoint rules cost a cold start that has no use for them. It brings what a
//! hand-signed client lacked: the SDK's retries with backoff, stalled-stream protection
//! on every body, checksums on what we upload, and its error types. The tests check what
//! we store with the SDK's own client, against moto with signatures checked.

use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectLockMode, ObjectLockRetentionMode};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::adapters::meter::{RequestMeter, Service};
use peyman_rules::error::ApiError;
use peyman_rules::upload::SNIFF_BYTES;

#[derive(Debug, Clone)]
pub struct Files {
    sdk: aws_types::SdkConfig,
    bucket: String,
    force_path_style: bool,
    link_ttl: Duration,
    client: std::sync::Arc<OnceLock<Client>>,
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
pub struct ObjectBody(ByteStream);

impl ObjectBody {
    /// The next chunk, or `None` at the end.
    pub async fn try_next(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.0.try_next().await.map_err(|e| s3_error(format!("reading an object: {e}")))
    }
}

fn s3_error(message: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("s3: {message}"))
}

/// A failed call, said with S3's code and message where it gave them.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    error: SdkError<E, R>,
) -> ApiError {
    let detail = match error.as_service_error() {
        Some(e) => format!("{} {}", e.code().unwrap_or("?"), e.message().unwrap_or_default()),
        None => aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
    };
    s3_error(format!("{what}: {detail}"))
}

/// Whether S3 answered 404: no such key, or no such version of it.
fn not_found<E>(error: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> bool {
    error.raw_response().is_some_and(|r| r.status().as_u16() == 404)
}

/// S3's rule for URLs: everything but the unreserved characters is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// RFC 5987 encoding for `filename*`, so Persian file names survive the download.
fn rfc5987(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

impl Files {
    /// The bucket `bucket`, at the endpoint and with the region and credentials of the SDK
    /// configuration: virtual-hosted unless `force_path_style` (as moto needs).
    pub fn connect(sdk: &aws_types::SdkConfig, bucket: &str, link_ttl: Duration, force_path_style: bool) -> Self {
        Files { sdk: sdk.clone(), bucket: bucket.to_owned(), force_path_style, link_ttl, client: Default::default() }
    }

    /// The SDK's S3 client, built the first time a file is touched.
    fn s3(&self) -> &Client {
        self.client.get_or_init(|| {
            let config = aws_sdk_s3::config::Builder::from(&self.sdk)
                .force_path_style(self.force_path_style)
                .interceptor(RequestMeter::new(Service::S3))
                .build();
            Client::from_conf(config)
        })
    }

    fn presigning(&self, now: DateTime<Utc>) -> Result<PresigningConfig, ApiError> {
        PresigningConfig::builder()
            .start_time(now.into())
            .expires_in(self.link_ttl)
            .build()
            .map_err(|e| s3_error(format!("presigning: {e}")))
    }

    /// A PUT link that signs the declared type and length, so real S3 refuses any other.
    pub async fn upload_link(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadLink, ApiError> {
        let size = i64::try_from(size).map_err(|_| s3_error("an upload larger than S3 takes"))?;
        // `If-None-Match: *`, signed: S3 writes the key only if it holds nothing yet, so the
        // link works once and the version the checker judges is the only one there is.
        let presigned = self
            .s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .if_none_match("*")
            .presigned(self.presigning(now)?)
            .await
            .map_err(|e| failed("presigning a PUT", e))?;
        Ok(UploadLink {
            method: presigned.method().to_owned(),
            url: presigned.uri().to_owned(),
            headers: presigned.headers().map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned().into())).collect(),
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
        let presigned = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .response_content_disposition(disposition)
            .presigned(self.presigning(now)?)
            .await
            .map_err(|e| failed("presigning a GET", e))?;
        Ok((presigned.uri().to_owned(), now + self.link_ttl))
    }

    /// The object as stored, or `None` when there is none under `key`: its size, version,
    /// first bytes (at most [`SNIFF_BYTES`]) and, when it is at most `hash_max` bytes, the
    /// SHA-256 of the whole version, read chunk by chunk (never held whole).
    pub async fn inspect(&self, key: &str, hash_max: u64) -> Result<Option<StoredObject>, ApiError> {
        let head = match self.s3().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => head,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(failed(&format!("HEAD {key}"), e)),
        };
        let size = head.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let version_id = head.version_id().filter(|v| *v != "null").map(str::to_owned);
        let hashed = size <= hash_max;
        let read = if hashed { size } else { SNIFF_BYTES.min(size) };
        let mut first = Vec::new();
        let mut hash = Sha256::new();
        if read > 0 {
            let got = self
                .s3()
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .set_version_id(version_id.clone())
                .range(format!("bytes=0-{}", read - 1))
                .send()
                .await
                .map_err(|e| failed(&format!("GET {key}"), e))?;
            let mut object = ObjectBody(got.body);
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
        let got = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await;
        match got {
            Ok(object) => Ok(Some(ObjectBody(object.body))),
            // NoSuchKey and NoSuchVersion.
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(failed(&format!("GET {key}"), e)),
        }
    }

    /// Writes everything `source` yields to `key` and returns the version written and its
    /// size; with `retain_until`, that version is kept under Object Lock until then
    /// ([`Files::retain`]). What fits in one part of [`PART_BYTES`] is one PutObject that
    /// carries its lock (one request where a multipart upload and a lock take four);
    /// anything larger is a multipart upload, one part at a time, locked once complete. A
    /// failure aborts the upload, so no parts are left behind.
    pub async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
        mut source: impl tokio::io::AsyncRead + Unpin,
        retain_until: Option<DateTime<Utc>>,
    ) -> Result<(Option<String>, u64), ApiError> {
        use tokio::io::AsyncReadExt;
        let s3 = self.s3();
        let mut first = Vec::with_capacity(PART_BYTES);
        (&mut source).take(PART_BYTES as u64).read_to_end(&mut first).await.map_err(ApiError::internal)?;
        if first.len() < PART_BYTES {
            let size = first.len() as u64;
            let put = s3.put_object().bucket(&self.bucket).key(key).content_type(content_type);
            let put = match retain_until {
                Some(until) => put
                    .object_lock_mode(ObjectLockMode::Governance)
                    .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until.timestamp())),
                None => put,
            };
            let done = put.body(ByteStream::from(first)).send().await.map_err(|e| failed(&format!("PUT {key}"), e))?;
            return Ok((done.version_id().filter(|v| *v != "null").map(str::to_owned), size));
        }
        let started = s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| failed(&format!("CreateMultipartUpload {key}"), e))?;
        let upload_id =
            started.upload_id().ok_or_else(|| s3_error("CreateMultipartUpload gave no upload id"))?.to_owned();
        let mut first = Some(first);
        let parts = async {
            let mut parts = Vec::new();
            let mut size = 0u64;
            loop {
                let mut part = first.take().unwrap_or_else(|| Vec::with_capacity(PART_BYTES));
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
                let number = i32::try_from(parts.len() + 1).map_err(ApiError::internal)?;
                let last = part.len() < PART_BYTES;
                size += part.len() as u64;
                let out = s3
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(|e| failed(&format!("UploadPart {number} of {key}"), e))?;
                let etag = out.e_tag().ok_or_else(|| s3_error("UploadPart gave no ETag"))?;
                let mut completed = CompletedPart::builder().part_number(number).e_tag(etag);
                // The part's checksum, as the SDK computed and S3 checked it, so the
                // completion names the same.
                completed = completed.set_checksum_crc32(out.checksum_crc32().map(str::to_owned));
                parts.push(completed.build());
                if last {
                    break;
                }
            }
            Ok::<_, ApiError>((parts, size))
        };
        let (parts, size) = match parts.await {
            Ok(done) => done,
            Err(e) => {
                let aborted = s3.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&upload_id).send();
                if let Err(abort) = aborted.await {
                    tracing::warn!(key, error = %failed("AbortMultipartUpload", abort), "could not abort a failed multipart upload");
                }
                return Err(e);
            }
        };
        let done = s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| failed(&format!("CompleteMultipartUpload {key}"), e))?;
        let version = done.version_id().filter(|v| *v != "null").map(str::to_owned);
        if let Some(until) = retain_until {
            self.retain(key, version.as_deref(), until).await?;
        }
        Ok((version, size))
    }

    /// Keeps one version of `key` under S3 Object Lock until `until`, in governance mode:
    /// nobody without `s3:BypassGovernanceRetention` (no function has it) can delete or
    /// overwrite that version before then. Setting it again with the same date is a no-op.
    async fn retain(&self, key: &str, version: Option<&str>, until: DateTime<Utc>) -> Result<(), ApiError> {
        let retention = aws_sdk_s3::types::ObjectLockRetention::builder()
            .mode(ObjectLockRetentionMode::Governance)
            .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until.timestamp()))
            .build();
        self.s3()
            .put_object_retention()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .retention(retention)
            .send()
            .await
            .map_err(|e| failed(&format!("PutObjectRetention {key}"), e))?;
        Ok(())
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
    use aws_credential_types::provider::SharedCredentialsProvider;

    #[test]
    fn persian_file_names_are_encoded_for_content_disposition() {
        assert_eq!(rfc5987("قرارداد.pdf"), "%D9%82%D8%B1%D8%A7%D8%B1%D8%AF%D8%A7%D8%AF.pdf");
        assert_eq!(rfc5987("a b\"c"), "a%20b%22c");
    }

    fn sdk(endpoint: Option<&str>) -> aws_types::SdkConfig {
        let credentials =
            aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        let mut sdk = aws_types::SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-central-1"))
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        sdk.set_endpoint_url(endpoint.map(str::to_owned));
        sdk.build()
    }

    #[tokio::test]
    async fn objects_are_addressed_virtual_hosted_unless_path_style_is_asked() {
        let (ttl, now) = (Duration::from_secs(60), Utc::now());
        let aws = Files::connect(&sdk(None), "peyman-files", ttl, false);
        let (url, _) = aws.download_link("a/b c", None, "x", now).await.unwrap();
        assert!(url.starts_with("https://peyman-files.s3.eu-central-1.amazonaws.com/a/b%20c?"), "{url}");
        let moto = Files::connect(&sdk(Some("http://127.0.0.1:5200/")), "peyman-files", ttl, true);
        let (url, _) = moto.download_link("a", Some("v1"), "x", now).await.unwrap();
        assert!(url.starts_with("http://127.0.0.1:5200/peyman-files/a?"), "{url}");
        assert!(url.contains("versionId=v1"), "{url}");
    }

    /// The presigned link carries S3's query signature for the declared headers, and the
    /// signature is SigV4's for this request: the same request and time sign the same.
    #[tokio::test]
    async fn upload_links_are_presigned_for_their_type_and_length() {
        let files = Files::connect(&sdk(Some("http://127.0.0.1:5200")), "peyman-files", Duration::from_secs(900), true);
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let link = files.upload_link("uploads/u1/01AB", "image/png", 1234, now).await.unwrap();
        assert_eq!(link.method, "PUT");
        assert!(link.url.starts_with("http://127.0.0.1:5200/peyman-files/uploads/u1/01AB?"), "{}", link.url);
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20261203%2Feu-central-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20261203T100000Z",
            "X-Amz-Expires=900",
            "X-Amz-Security-Token=token",
            "X-Amz-Signature=",
        ] {
            assert!(link.url.contains(part), "{part} in {}", link.url);
        }
        let signed = link.url.split("X-Amz-SignedHeaders=").nth(1).unwrap().split('&').next().unwrap();
        for header in ["content-length", "content-type", "host", "if-none-match"] {
            assert!(signed.split("%3B").any(|h| h == header), "{header} is signed: {signed}");
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
