//! Idempotency records: claimed, completed with the answer, or released.

use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};

use super::{Store, db_error, is_condition_failure, key_item, keys, n, s};
use peyman_rules::error::ApiError;

/// What an idempotency claim found.
#[derive(Debug, PartialEq)]
pub enum IdempotencyClaim {
    /// No live record: the caller runs the request.
    Acquired,
    /// The first request with this key completed: replay its response.
    Completed { status: u16, content_type: String, body: String },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used with another request.
    PayloadMismatch,
}

impl Store {
    /// Claims `key` for one request (AWS Lambda Powertools semantics): a record that is
    /// absent, expired, or in progress past its deadline is taken over.
    pub async fn claim_idempotency(
        &self,
        user_id: &str,
        idempotency_key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, ApiError> {
        let key = keys::idempotency(user_id, idempotency_key);
        let mut record = key_item(&key);
        record.insert("entity".into(), s("idempotency"));
        record.insert("status".into(), s("in_progress"));
        record.insert("payload_hash".into(), s(payload_hash));
        record.insert("in_progress_until".into(), n(in_progress_until.timestamp()));
        record.insert("ttl".into(), n(expires_at.timestamp()));
        let result = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression(
                "attribute_not_exists(PK) OR #ttl < :now OR (#status = :in_progress AND in_progress_until < :now)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(IdempotencyClaim::Acquired),
            Err(e) if is_condition_failure(&e) => {
                let old = match e.into_service_error() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item,
                    _ => None,
                };
                match old {
                    Some(old) => old,
                    None => self.get(&key).await?.unwrap_or_default(),
                }
            }
            Err(e) => return Err(db_error(e)),
        };
        let text = |name: &str| existing.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        if text("payload_hash") != payload_hash {
            return Ok(IdempotencyClaim::PayloadMismatch);
        }
        if text("status") != "completed" {
            return Ok(IdempotencyClaim::InProgress);
        }
        Ok(IdempotencyClaim::Completed {
            status: existing
                .get("response_status")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(200),
            content_type: text("response_content_type"),
            body: text("response_body"),
        })
    }

    pub async fn complete_idempotency(
        &self,
        user_id: &str,
        idempotency_key: &str,
        payload_hash: &str,
        response: (u16, &str, &str),
        expires_at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let (status, content_type, body) = response;
        let mut record = key_item(&keys::idempotency(user_id, idempotency_key));
        record.insert("entity".into(), s("idempotency"));
        record.insert("status".into(), s("completed"));
        record.insert("payload_hash".into(), s(payload_hash));
        record.insert("response_status".into(), n(status));
        record.insert("response_content_type".into(), s(content_type));
        record.insert("response_body".into(), s(body));
        record.insert("ttl".into(), n(expires_at.timestamp()));
        self.db.put_item().table_name(&self.table).set_item(Some(record)).send().await.map_err(db_error)?;
        Ok(())
    }

    /// Forgets a claim whose request failed on our side, so a retry runs again.
    pub async fn release_idempotency(&self, user_id: &str, idempotency_key: &str) -> Result<(), ApiError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::idempotency(user_id, idempotency_key))))
            .send()
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
