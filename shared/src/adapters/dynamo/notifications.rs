//! Notifications: written once per follow-up, listed for their recipient newest first,
//! and marked read.

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::{Page, Store, db_error, decode, item, key_item, keys, s};
use peyman_rules::error::ApiError;
use peyman_rules::followup::FollowUp;
use peyman_rules::notification::Notification;

impl Store {
    /// Applies a follow-up once: `false` when it was already applied.
    pub async fn record_notification(&self, followup: &FollowUp) -> Result<bool, ApiError> {
        let key = keys::notification(&followup.recipient_id, &followup.followup_id);
        self.insert(item(&key, "notification", followup)?).await
    }

    /// One page of `user_id`'s notifications, newest first.
    pub async fn notifications(
        &self,
        user_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Notification>, ApiError> {
        self.prefix_page(&keys::notification(user_id, "").pk, keys::NOTIFICATION_PREFIX, limit, cursor).await
    }

    /// Marks one of `user_id`'s notifications read at `now`, once: marking it again keeps
    /// the first time. `None` when they have no such notification.
    pub async fn mark_notification_read(
        &self,
        user_id: &str,
        notification_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Notification>, ApiError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::notification(user_id, notification_id))))
            .condition_expression("attribute_exists(PK)")
            .update_expression("SET read_at = if_not_exists(read_at, :now)")
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => decode(out.attributes.unwrap_or_default()).map(Some),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(db_error(e)),
        }
    }
}
