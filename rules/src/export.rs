//! A dispute's export: support asks for one, the builder (fed by SQS) streams the packet
//! into S3 and records it ready with the object version it wrote, or failed after its
//! retries. The packet's format is `rules::packet`'s; its page is `rules::packet_page`'s.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Asked for; the builder has not finished it.
    Queued,
    /// Built, sealed and stored.
    Ready,
    /// The builder gave up after its retries (the job is in the exports DLQ).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// A ULID; also the packet's id in its manifest and seal.
    pub export_id: String,
    pub dispute_id: String,
    pub order_id: String,
    pub requested_by: String,
    pub status: ExportStatus,
    /// Where the packet is, and the version the builder wrote (downloads are pinned to
    /// it, so a second build racing the first can never swap what was recorded).
    pub object_key: String,
    #[serde(default)]
    pub object_version: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Hex SHA-256 of the manifest, as the seal names it.
    #[serde(default)]
    pub manifest_sha256: Option<String>,
    /// Files the packet lists with a problem (missing or not matching their recorded hash).
    #[serde(default)]
    pub files_with_problems: u32,
    #[serde(default)]
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a packet lives in the bucket: beside, never among, the uploads (whose prefix
/// the upload checker watches).
pub fn packet_object(dispute_id: &str, export_id: &str) -> String {
    format!("exports/{dispute_id}/{export_id}.zip")
}

/// What the builder learnt while writing a packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub object_version: Option<String>,
    pub size_bytes: u64,
    pub manifest_sha256: String,
    pub files: usize,
    pub files_with_problems: u32,
}

impl Export {
    pub fn queued(export_id: String, dispute_id: &str, order_id: &str, by: &str, now: DateTime<Utc>) -> Export {
        Export {
            object_key: packet_object(dispute_id, &export_id),
            export_id,
            dispute_id: dispute_id.to_owned(),
            order_id: order_id.to_owned(),
            requested_by: by.to_owned(),
            status: ExportStatus::Queued,
            object_version: None,
            size_bytes: None,
            manifest_sha256: None,
            files_with_problems: 0,
            failure: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn ready(&mut self, built: &Built, now: DateTime<Utc>) {
        self.status = ExportStatus::Ready;
        self.object_version = built.object_version.clone();
        self.size_bytes = Some(built.size_bytes);
        self.manifest_sha256 = Some(built.manifest_sha256.clone());
        self.files_with_problems = built.files_with_problems;
        self.updated_at = now;
    }

    pub fn failed(&mut self, why: &str, now: DateTime<Utc>) {
        self.status = ExportStatus::Failed;
        self.failure = Some(why.to_owned());
        self.updated_at = now;
    }

    /// What support sees; `download` is a fresh link while it is ready.
    pub fn view(&self, download: Option<(&str, DateTime<Utc>)>) -> Value {
        json!({
            "export_id": self.export_id,
            "dispute_id": self.dispute_id,
            "order_id": self.order_id,
            "status": self.status,
            "requested_by": self.requested_by,
            "size_bytes": self.size_bytes,
            "manifest_sha256": self.manifest_sha256,
            "files_with_problems": self.files_with_problems,
            "failure": self.failure,
            "download_url": download.map(|(url, _)| url),
            "download_expires_at": download.map(|(_, at)| at),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_moves_from_queued_to_ready_or_failed_and_keeps_what_was_built() {
        let now = Utc::now();
        let mut export = Export::queued("01EXP".into(), "01DIS", "01ORD", "support-1", now);
        assert_eq!(export.status, ExportStatus::Queued);
        assert_eq!(export.object_key, "exports/01DIS/01EXP.zip");
        assert_eq!(export.view(None)["download_url"], Value::Null);
        let built = Built {
            object_version: Some("v1".into()),
            size_bytes: 42,
            manifest_sha256: "ab".into(),
            files: 3,
            files_with_problems: 1,
        };
        let mut ready = export.clone();
        ready.ready(&built, now);
        assert_eq!(
            (ready.status, ready.object_version.as_deref(), ready.size_bytes),
            (ExportStatus::Ready, Some("v1"), Some(42))
        );
        assert_eq!(ready.view(Some(("https://x", now)))["download_url"], "https://x");
        export.failed("dispute_not_found", now);
        assert_eq!((export.status, export.failure.as_deref()), (ExportStatus::Failed, Some("dispute_not_found")));
    }
}
