//! Applies follow-ups from SQS, each at most once: a notification for the party told,
//! written only if no notification with that follow-up's id exists. Duplicates (a
//! re-sent outbox entry, an SQS redelivery) change nothing.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::error::ApiError;
use peyman::followup::{FollowUp, FollowUpKind};
use peyman::{App, queue};

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
    }
    Ok(())
}
