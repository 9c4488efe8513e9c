//! Our S3 adapter (`peyman::adapters::s3`, the SDK's client) against moto, signatures checked,
//! each effect checked with the AWS SDK's own S3 client: a packet written in several
//! parts, read back by version, looked at, a failed write leaving no parts behind, and
//! the presigned links used as a browser would.

use peyman::adapters::s3::PART_BYTES;
use peyman_e2e::Aws;
use peyman_rules::upload::SNIFF_BYTES;
use sha2::{Digest, Sha256};

/// Bytes that differ from part to part, so a part written twice or out of order shows.
fn content(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(len as u64);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A key with Persian letters, a ZWNJ, a space and the characters S3 wants encoded.
fn key(name: &str) -> String {
    format!("files-test/{}/می‌خواهم:{name} 1+1=2.bin", ulid::Ulid::new())
}

#[tokio::test]
async fn a_packet_is_written_in_parts_and_read_back_by_its_version() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("packet");
    let bytes = content(PART_BYTES + 1000);

    let (version, size) = files.write_stream(&key, "application/zip", &bytes[..], None).await.expect("written");
    assert_eq!(size, bytes.len() as u64);
    let version = version.expect("the bucket is versioned");

    // What the SDK sees: the whole content, its type and our version.
    let stored = aws.s3.get_object().bucket(&aws.bucket).key(&key).send().await.expect("stored");
    assert_eq!(stored.content_type(), Some("application/zip"));
    assert_eq!(stored.version_id(), Some(version.as_str()));
    let whole = stored.body.collect().await.unwrap().into_bytes();
    assert_eq!(sha256(&whole), sha256(&bytes));

    // Read back as a stream, by version; an older version stays readable after a newer write.
    files.write_stream(&key, "application/zip", &b"newer"[..], None).await.expect("a second version");
    let mut body = files.read(&key, Some(&version)).await.unwrap().expect("that version");
    let mut read = Vec::new();
    while let Some(chunk) = body.try_next().await.unwrap() {
        read.extend_from_slice(&chunk);
    }
    assert_eq!(sha256(&read), sha256(&bytes));
    let mut latest = files.read(&key, None).await.unwrap().expect("the latest");
    assert_eq!(latest.try_next().await.unwrap().as_deref(), Some(&b"newer"[..]));

    assert!(files.read(&format!("{key}.missing"), None).await.unwrap().is_none());
    aws.s3.delete_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await.unwrap();
    assert!(files.read(&key, Some(&version)).await.unwrap().is_none(), "a deleted version is not there");
}

#[tokio::test]
async fn inspect_gives_the_size_the_version_the_first_bytes_and_the_hash() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("inspected");
    let bytes = content(SNIFF_BYTES as usize * 2 + 7);
    let put = aws.s3.put_object().bucket(&aws.bucket).key(&key).body(bytes.clone().into()).send().await.unwrap();

    let seen = files.inspect(&key, bytes.len() as u64).await.unwrap().expect("there");
    assert_eq!(seen.size, bytes.len() as u64);
    assert_eq!(seen.version_id.as_deref(), put.version_id());
    assert_eq!(seen.head, bytes[..SNIFF_BYTES as usize]);
    assert_eq!(seen.sha256, Some(sha256(&bytes)));

    // Over the hash limit only the first bytes are read, and there is no hash.
    let seen = files.inspect(&key, bytes.len() as u64 - 1).await.unwrap().expect("there");
    assert_eq!((seen.head.len(), seen.sha256), (SNIFF_BYTES as usize, None));

    assert!(files.inspect(&format!("{key}.missing"), 1024).await.unwrap().is_none());
}

/// A packet of more than a part is locked once its multipart upload completes (one that
/// fits in a part carries its lock on its one PutObject: `exports.rs` checks that).
#[tokio::test]
async fn a_packet_of_several_parts_is_locked_until_the_date_asked() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("locked");
    let until = chrono::Utc::now() + chrono::Duration::days(3);
    let bytes = content(PART_BYTES + 10);
    let (version, _) = files.write_stream(&key, "application/zip", &bytes[..], Some(until)).await.expect("written");
    let version = version.expect("the bucket is versioned");
    let head = aws.s3.head_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await.unwrap();
    assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"));
    assert_eq!(head.object_lock_retain_until_date().map(|d| d.secs()), Some(until.timestamp()));
    let deleted = aws.s3.delete_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await;
    assert!(deleted.is_err(), "a locked version cannot be deleted");
}

/// A source that gives a part and a half, then fails.
struct Failing(Vec<u8>);

impl tokio::io::AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0.is_empty() {
            return std::task::Poll::Ready(Err(std::io::Error::other("the source broke")));
        }
        let n = self.0.len().min(buf.remaining());
        buf.put_slice(&self.0[..n]);
        self.0.drain(..n);
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failed_write_aborts_its_upload_and_leaves_no_object() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("failed");

    let failed = files.write_stream(&key, "application/zip", Failing(content(PART_BYTES + PART_BYTES / 2)), None).await;
    assert!(failed.is_err());

    let open = aws.s3.list_multipart_uploads().bucket(&aws.bucket).prefix(&key).send().await.unwrap();
    assert!(open.uploads().is_empty(), "{:?}", open.uploads());
    assert!(aws.s3.head_object().bucket(&aws.bucket).key(&key).send().await.is_err());
}

/// The local cloud checks a presigned link as S3 does (`infra/local/moto_server.py`):
/// the signature over the signed headers, the lifetime, and the signer's policy. A link
/// the SDK presigned for us works once within its time; a header changed, an expired link
/// or a second write to the key is refused.
#[tokio::test]
async fn a_link_is_refused_when_changed_expired_or_used_again() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("strict");
    let bytes = content(100);
    let http = reqwest::Client::new();
    let put = |link: &peyman::adapters::s3::UploadLink, content_type: Option<&str>| {
        let mut put = http.put(&link.url).body(bytes.clone());
        for (name, value) in &link.headers {
            let value = if name == "content-type" {
                content_type.unwrap_or(value.as_str().unwrap())
            } else {
                value.as_str().unwrap()
            };
            put = put.header(name, value);
        }
        put.send()
    };
    let old = chrono::Utc::now() - chrono::Duration::hours(1);
    let expired = files.upload_link(&key, "application/pdf", 100, old).await.unwrap();
    assert_eq!(put(&expired, None).await.unwrap().status(), 403, "an expired link");
    let link = files.upload_link(&key, "application/pdf", 100, chrono::Utc::now()).await.unwrap();
    assert_eq!(put(&link, Some("text/html")).await.unwrap().status(), 403, "another type than the signed one");
    assert!(put(&link, None).await.unwrap().status().is_success());
    assert_eq!(put(&link, None).await.unwrap().status(), 412, "the key is written once");
    let versions = aws.s3.list_object_versions().bucket(&aws.bucket).prefix(&key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1);
}

#[tokio::test]
async fn presigned_links_upload_and_download_with_the_file_name() {
    let aws = Aws::connect().await;
    let files = aws.app().await.files;
    let key = key("linked");
    let bytes = content(1234);
    let now = chrono::Utc::now();

    let link = files.upload_link(&key, "application/pdf", bytes.len() as u64, now).await.unwrap();
    let http = reqwest::Client::new();
    let mut put = http.put(&link.url).body(bytes.clone());
    for (name, value) in &link.headers {
        put = put.header(name, value.as_str().unwrap());
    }
    let put = put.send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let head = aws.s3.head_object().bucket(&aws.bucket).key(&key).send().await.expect("uploaded");
    assert_eq!((head.content_length(), head.content_type()), (Some(1234), Some("application/pdf")));

    let (url, expires_at) = files.download_link(&key, head.version_id(), "قرارداد نهایی.pdf", now).await.unwrap();
    assert!(expires_at > now);
    let got = http.get(&url).send().await.unwrap();
    assert!(got.status().is_success(), "{}", got.status());
    let disposition = got.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(
        disposition,
        "attachment; filename*=UTF-8''%D9%82%D8%B1%D8%A7%D8%B1%D8%AF%D8%A7%D8%AF%20%D9%86%D9%87%D8%A7%DB%8C%DB%8C.pdf"
    );
    assert_eq!(sha256(&got.bytes().await.unwrap()), sha256(&bytes));
}
