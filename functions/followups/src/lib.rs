//! Applies follow-ups from SQS, each at most once: a notification for the party told,
//! written only if no notification with that follow-up's id exists. Duplicates (a
//! re-sent outbox entry, an SQS redelivery) change nothing.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::App;
use peyman::error::ApiError;
use peyman::followup::{FollowUp, FollowUpKind};

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(error) = apply(app, message.body.as_deref().unwrap_or_default()).await {
            tracing::error!(message_id = ?message.message_id, %error, "follow-up failed; it will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn apply(app: &App, body: &str) -> Result<(), ApiError> {
    let followup: FollowUp =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not a follow-up: {e}")))?;
    match followup.kind {
        FollowUpKind::Notify => {
            let first = app.store.record_notification(&followup).await?;
            tracing::info!(followup_id = followup.followup_id, first, "notification");
        }
    }
    Ok(())
}
