//! Support's money queues: payments held for review, refunds the provider kept refusing
//! and refunds to pay back by hand, newest first, paged by their index. Support only.

use crate::adapters::dynamo::{Page, keys};
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::payment::{Payment, Refund};

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
        return Err(ApiError::malformed(Code::InvalidStatus, Some("status"), "the queue lists held payments"));
    }
    app.store.queue_page(keys::HELD_PAYMENTS, limit, cursor).await
}

/// `status` names the queue: `failed` (the provider kept refusing them; the default) or
/// `manual` (support pays them back by hand).
pub async fn refunds_for_support(
    app: &App,
    caller: &Caller,
    status: Option<&str>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Refund>, ApiError> {
    caller.require_support("works the payment queues")?;
    let queue = match status {
        None | Some("failed") => keys::FAILED_REFUNDS,
        Some("manual") => keys::MANUAL_REFUNDS,
        Some(_) => {
            return Err(ApiError::malformed(Code::InvalidStatus, Some("status"), "the queues are failed and manual"));
        }
    };
    app.store.queue_page(queue, limit, cursor).await
}
