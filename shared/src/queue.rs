//! SQS both ways. Sending follow-ups is best effort after the commit: what fails stays in
//! the outbox and the sweeper sends it later. Consuming a batch reports each failed
//! message on its own, so SQS retries only those and its redrive policy ends a poison
//! message in the DLQ.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::error::ApiError;
use crate::followup::FollowUp;

#[derive(Debug, Clone)]
pub struct Queues {
    sqs: Client,
    followups_url: String,
}

impl Queues {
    pub fn new(sqs: Client, followups_url: impl Into<String>) -> Self {
        Queues { sqs, followups_url: followups_url.into() }
    }

    /// Sends `followups`; the ones SQS took are returned, so only they leave the outbox.
    pub async fn send(&self, followups: &[FollowUp]) -> Result<Vec<FollowUp>, ApiError> {
        let mut sent = Vec::new();
        for batch in followups.chunks(10) {
            let mut request = self.sqs.send_message_batch().queue_url(&self.followups_url);
            for (i, followup) in batch.iter().enumerate() {
                let body = serde_json::to_string(followup).map_err(ApiError::internal)?;
                request = request.entries(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(ApiError::internal)?,
                );
            }
            let out = request
                .send()
                .await
                .map_err(|e| ApiError::internal(format!("sqs: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))?;
            for ok in out.successful {
                if let Some(f) = ok.id.parse::<usize>().ok().and_then(|i| batch.get(i)) {
                    sent.push(f.clone());
                }
            }
        }
        Ok(sent)
    }
}

/// Applies `apply` to each message body of a batch; the failures are reported as
/// partial batch failures (`ReportBatchItemFailures`), the rest are done.
pub async fn each_message<F, Fut>(event: &SqsEvent, apply: F) -> SqsBatchResponse
where
    // The body is passed owned: a borrowed one would make the future's lifetime
    // higher-ranked, which rustc cannot yet prove `Send` for inside `tokio::spawn`.
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        // Boxed: the SDK calls inside make the future deep enough to overflow rustc's
        // layout query depth in the function's `main` when inlined into its future.
        if let Err(error) = Box::pin(apply(message.body.clone().unwrap_or_default())).await {
            tracing::error!(message_id = ?message.message_id, %error, "message failed; SQS will retry it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
