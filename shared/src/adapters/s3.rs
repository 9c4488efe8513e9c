//! Files in S3: presigned links to upload and download, a look at what was stored, and
//! objects read and written as streams (the export packet).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::adapters::meter::{RequestMeter, Service};
use crate::rules::error::ApiError;
use crate::rules::upload::SNIFF_BYTES;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Files {
    /// S3's client, built on first use from `s3_config`: most requests of most functions
    /// never touch a file, and building it (S3's endpoint rules) was a sixth of every
    /// cold start's instructions (issue 12). The first request that needs it pays.
    s3: Arc<OnceLock<Client>>,
    s3_config: aws_sdk_s3::Config,
    bucket: String,
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

fn s3_error(err: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::internal(format!("s3: {}", DisplayErrorContext(err)))
}

/// RFC 5987 encoding for `filename*`, so Persian file names survive the download.
fn rfc5987(value: &str) -> String {
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    utf8_percent_encode(value, ATTR_CHAR).to_string()
}

impl Files {
    /// The bucket `bucket`, through the SDK configured from the environment (path-style
    /// addressing where the endpoint needs it, as moto does).
    pub fn connect(sdk: &aws_types::SdkConfig, bucket: &str, link_ttl: Duration, force_path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(force_path_style)
            .interceptor(RequestMeter::new(Service::S3))
            .build();
        Files { s3: Arc::default(), s3_config, bucket: bucket.to_owned(), link_ttl }
    }

    fn s3(&self) -> &Client {
        self.s3.get_or_init(|| Client::from_conf(self.s3_config.clone()))
    }

    fn presigning(&self) -> Result<PresigningConfig, ApiError> {
        PresigningConfig::expires_in(self.link_ttl).map_err(ApiError::internal)
    }

    /// A PUT link that signs the declared type and length, so real S3 refuses any other.
    pub async fn upload_link(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadLink, ApiError> {
        let size = i64::try_from(size).map_err(ApiError::internal)?;
        let request = self
            .s3()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(self.presigning()?)
            .await
            .map_err(s3_error)?;
        let mut headers: serde_json::Map<String, serde_json::Value> =
            request.headers().map(|(k, v)| (k.to_owned(), v.into())).collect();
        headers.insert("content-type".into(), content_type.into());
        headers.insert("content-length".into(), size.to_string().into());
        Ok(UploadLink {
            method: request.method().to_owned(),
            url: request.uri().to_owned(),
            headers,
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
        let request = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .response_content_disposition(format!("attachment; filename*=UTF-8''{}", rfc5987(file_name)))
            .presigned(self.presigning()?)
            .await
            .map_err(s3_error)?;
        Ok((request.uri().to_owned(), now + self.link_ttl))
    }

    /// The object as stored, or `None` when there is none under `key`: its size, version,
    /// first bytes (at most [`SNIFF_BYTES`]) and, when it is at most `hash_max` bytes, the
    /// SHA-256 of the whole version, read chunk by chunk (never held whole).
    pub async fn inspect(&self, key: &str, hash_max: u64) -> Result<Option<StoredObject>, ApiError> {
        let head = match self.s3().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(None),
            Err(e) => return Err(s3_error(e)),
        };
        let size = head.content_length.unwrap_or(0).max(0) as u64;
        let hashed = size <= hash_max;
        let read = if hashed { size } else { SNIFF_BYTES.min(size) };
        let mut first = Vec::new();
        let mut hash = Sha256::new();
        if read > 0 {
            let mut object = self
                .s3()
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .set_version_id(head.version_id.clone())
                .range(format!("bytes=0-{}", read - 1))
                .send()
                .await
                .map_err(s3_error)?;
            while let Some(chunk) = object.body.try_next().await.map_err(ApiError::internal)? {
                let room = (SNIFF_BYTES as usize).saturating_sub(first.len());
                first.extend_from_slice(&chunk[..room.min(chunk.len())]);
                hash.update(&chunk);
            }
        }
        let sha256 = hashed.then(|| hex::encode(hash.finalize()));
        Ok(Some(StoredObject { size, version_id: head.version_id, head: first, sha256 }))
    }
}

/// Packets go up in parts of this size (S3's minimum is 5 MiB for all but the last):
/// what the builder holds of a packet at any time.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

impl Files {
    /// One version of an object as a stream of chunks, or `None` when that version (or
    /// the object) is not there.
    pub async fn read(&self, key: &str, version: Option<&str>) -> Result<Option<ByteStream>, ApiError> {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        let got = self
            .s3()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await;
        match got {
            Ok(object) => Ok(Some(object.body)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key() || e.code() == Some("NoSuchVersion")) => {
                Ok(None)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(s3_error(e)),
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
        let started = self
            .s3()
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(s3_error)?;
        let upload_id = started.upload_id.ok_or_else(|| ApiError::internal("s3 gave no upload id"))?;
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
                let number = parts.len() as i32 + 1;
                let last = part.len() < PART_BYTES;
                size += part.len() as u64;
                let out = self
                    .s3()
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(s3_error)?;
                parts.push(CompletedPart::builder().set_e_tag(out.e_tag).part_number(number).build());
                if last {
                    break;
                }
            }
            Ok::<_, ApiError>((parts, size))
        };
        let (parts, size) = match parts.await {
            Ok(done) => done,
            Err(e) => {
                let aborted =
                    self.s3().abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&upload_id).send().await;
                if let Err(abort) = aborted {
                    tracing::warn!(key, error = %DisplayErrorContext(abort), "could not abort a failed multipart upload");
                }
                return Err(e);
            }
        };
        let done = self
            .s3()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(s3_error)?;
        Ok((done.version_id, size))
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
    #[test]
    fn persian_file_names_are_encoded_for_content_disposition() {
        assert_eq!(super::rfc5987("قرارداد.pdf"), "%D9%82%D8%B1%D8%A7%D8%B1%D8%AF%D8%A7%D8%AF.pdf");
        assert_eq!(super::rfc5987("a b\"c"), "a%20b%22c");
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
