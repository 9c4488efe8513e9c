//! Support's money queues: payments held for review and refunds the provider kept
//! refusing, newest first, paged by their index. Support only.

use crate::adapters::dynamo::{Page, keys};
use crate::flows::App;
use crate::rules::caller::Caller;
use crate::rules::error::ApiError;
use crate::rules::payment::{Payment, Refund};

/// `status` names the queue; only `held` is one.
pub async fn held_payments(
    app: &App,
    caller: &Caller,
    status: Option<&str>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Payment>, ApiError> {
    caller.require_support("works the payment queues")?;
    if status.is_some_and(|s| s != "held") {
        return Err(ApiError::malformed("invalid_status", Some("status"), "the queue lists held payments"));
    }
    app.store.queue_page(keys::HELD_PAYMENTS, limit, cursor).await
}

/// `status` names the queue; only `failed` is one.
pub async fn failed_refunds(
    app: &App,
    caller: &Caller,
    status: Option<&str>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Refund>, ApiError> {
    caller.require_support("works the payment queues")?;
    if status.is_some_and(|s| s != "failed") {
        return Err(ApiError::malformed("invalid_status", Some("status"), "the queue lists failed refunds"));
    }
    app.store.queue_page(keys::FAILED_REFUNDS, limit, cursor).await
}
