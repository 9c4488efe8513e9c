//! Applies follow-ups from SQS, each at most once: a notification for the party told,
//! written only if no notification with that follow-up's id exists; a payment cancelled
//! or a refund sent at the provider, under an idempotency key of its own and recorded
//! only from the state that asked for it. Duplicates (a re-sent outbox entry, an SQS
//! redelivery) change nothing.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::error::ApiError;
use peyman::followup::{FollowUp, FollowUpKind};
use peyman::{App, payment, queue};

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    Ok(queue::each_message(&event, |body| async move { apply(app, &body).await }).await)
}

async fn apply(app: &App, body: &str) -> Result<(), ApiError> {
    let followup: FollowUp =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not a follow-up: {e}")))?;
    match followup.kind {
        FollowUpKind::Notify => {
            let first = app.store.record_notification(&followup).await?;
            tracing::info!(followup_id = followup.followup_id, first, "notification");
        }
        FollowUpKind::CancelPayment => {
            let intent_id = followup.subject.strip_prefix("payment/").ok_or_else(|| malformed(&followup))?;
            payment::cancel_intent(app, intent_id).await?;
        }
        FollowUpKind::SendRefund => {
            let (intent_id, refund_id) = followup
                .subject
                .strip_prefix("refund/")
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(|| malformed(&followup))?;
            payment::send_refund(app, intent_id, refund_id, None).await?;
        }
    }
    Ok(())
}

fn malformed(followup: &FollowUp) -> ApiError {
    ApiError::internal(format!("follow-up {} has a malformed subject {:?}", followup.followup_id, followup.subject))
}
