//! Support's money queues: payments held for review, refunds the provider kept refusing
//! and refunds to pay back by hand, newest first, paged by their index; and the work that
//! is stuck (timers parked after failing too often, follow-ups not sent). Support only.

use serde_json::{Value, json};

use crate::adapters::dynamo::{Page, keys};
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::payment::{Payment, Refund};

/// `status` names the queue: `held` (the default: payments held for review) or
/// `chargeback` (payments whose chargeback the bank has not decided yet).
pub async fn held_payments(
    app: &App,
    caller: &Caller,
    status: Option<&str>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Payment>, ApiError> {
    caller.require_support("works the payment queues")?;
    let queue = match status {
        None | Some("held") => keys::HELD_PAYMENTS,
        Some("chargeback") => keys::CHARGEBACK_PAYMENTS,
        Some(_) => {
            return Err(ApiError::malformed(Code::InvalidStatus, Some("status"), "the queues are held and chargeback"));
        }
    };
    app.store.queue_page(queue, "PAYMENT#", false, limit, cursor).await
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
    app.store.queue_page(queue, "PAYMENT#", false, limit, cursor).await
}

/// Work that stopped on its own: timers parked after failing `RETRY_ATTEMPTS` times (each
/// with its subject, attempts, last error and when it was parked), oldest first. The
/// list is short unless something is broken (and then the `ParkedTimers` alarm has
/// paged someone). Follow-ups cannot get stuck here: they are written with their
/// transition and the relay takes them from the table's stream (a relay that falls
/// behind raises `RelayBehind`).
pub async fn parked_work(app: &App, caller: &Caller) -> Result<Value, ApiError> {
    caller.require_support("reads the parked work")?;
    let timers: Vec<_> = app
        .store
        .parked_timers()
        .await?
        .iter()
        .map(|t| {
            json!({ "subject": t.subject, "attempts": t.attempts, "last_error": t.last_error, "parked_at": t.parked_at })
        })
        .collect();
    Ok(json!({ "timers": timers }))
}
