//! Uploads, who else may read each, and the checker's verdict, recorded once.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Store, db_error, decode, item, key_item, keys, s};
use peyman_rules::error::ApiError;
use peyman_rules::upload::Upload;

impl Store {
    pub async fn insert_upload(&self, upload: &Upload) -> Result<(), ApiError> {
        if !self.insert(item(&keys::upload(&upload.upload_id), "upload", upload)?).await? {
            return Err(ApiError::internal("upload id collision"));
        }
        Ok(())
    }

    pub async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, ApiError> {
        self.get_as(&keys::upload(upload_id)).await
    }

    /// The uploads among `ids` that exist.
    pub async fn uploads(&self, ids: &[&str]) -> Result<Vec<Upload>, ApiError> {
        let mut unique: Vec<&str> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let keys = unique.iter().map(|id| key_item(&keys::upload(id))).collect();
        self.read_many(keys, true).await?.into_iter().map(decode).collect()
    }

    /// Whether `user_id` was sent the upload in a message.
    pub async fn is_upload_viewer(&self, upload_id: &str, user_id: &str) -> Result<bool, ApiError> {
        Ok(self.get(&keys::upload_viewer(upload_id, user_id)).await?.is_some())
    }

    /// Stores the checker's decision on `upload` (`Upload::decide`), once: only a
    /// pending upload moves. `false` when it was already decided (a redelivered
    /// notification).
    pub async fn decide_upload(&self, upload: &Upload) -> Result<bool, ApiError> {
        let status = serde_json::to_value(upload.status).map_err(ApiError::internal)?;
        let (rejection, version) = (upload.rejection.as_deref(), upload.checked_version.as_deref());
        let checked_at =
            upload.checked_at.ok_or_else(|| ApiError::internal("an undecided upload was stored as decided"))?;
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::upload(&upload.upload_id))))
            .condition_expression("#status = :pending")
            .update_expression(
                "SET #status = :status, rejection = :rejection, checked_version = :version, sha256 = :sha256, \
                 checked_at = :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":status", s(status.as_str().unwrap_or_default()))
            .expression_attribute_values(":rejection", rejection.map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":version", version.map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":sha256", upload.sha256.as_deref().map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":now", s(checked_at.to_rfc3339()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(db_error(e)),
        }
    }
}
