//! Applies follow-ups from SQS, each at most once: a payment cancelled or a refund sent at
//! the provider, under an idempotency key of its own and recorded only from the state
//! that asked for it. The relay writes notifications itself; one that reaches this queue
//! (sent before it did) is written as the relay writes it, only if no notification with
//! that follow-up's id exists. Duplicates (a stream record read twice, an SQS
//! redelivery) change nothing.

use chrono::{DateTime, Utc};

use crate::flows::App;
use crate::flows::payments::{cancel_intent, send_refund};
use peyman_rules::error::ApiError;
use peyman_rules::followup::{FollowUp, FollowUpKind};

/// Applies one follow-up, as a queue message's body.
pub async fn apply(app: &App, body: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let followup: FollowUp =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not a follow-up: {e}")))?;
    match followup.kind {
        FollowUpKind::Notify => {
            let first = app.store.record_notification(&followup).await?;
            tracing::info!(followup_id = followup.followup_id, first, "notification");
        }
        FollowUpKind::CancelPayment => {
            let intent_id = followup.subject.strip_prefix("payment/").ok_or_else(|| malformed(&followup))?;
            cancel_intent(app, intent_id, now).await?;
        }
        FollowUpKind::SendRefund => {
            let (intent_id, refund_id) = followup
                .subject
                .strip_prefix("refund/")
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(|| malformed(&followup))?;
            send_refund(app, intent_id, refund_id, None, now).await?;
        }
        // Sent to the exports queue, never here; a stray one is refused, not dropped.
        FollowUpKind::BuildExport => return Err(malformed(&followup)),
    }
    Ok(())
}

fn malformed(followup: &FollowUp) -> ApiError {
    ApiError::internal(format!("follow-up {} has a malformed subject {:?}", followup.followup_id, followup.subject))
}
