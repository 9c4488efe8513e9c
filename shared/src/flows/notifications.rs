//! A user's notifications: what the follow-ups told them, newest first, and marking one
//! read. Each user reads only their own: the key is theirs.

use chrono::{DateTime, Utc};

use crate::adapters::dynamo::Page;
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::notification::Notification;

pub async fn list(
    app: &App,
    caller: &Caller,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Notification>, ApiError> {
    app.store.notifications(&caller.user_id, limit, cursor).await
}

/// Marks one of the caller's notifications read; again, it keeps the first time.
pub async fn mark_read(
    app: &App,
    caller: &Caller,
    notification_id: &str,
    now: DateTime<Utc>,
) -> Result<Notification, ApiError> {
    let read = app.store.mark_notification_read(&caller.user_id, notification_id, now).await?;
    read.ok_or(ApiError::NotFound { what: "notification" })
}
