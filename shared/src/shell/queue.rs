//! SQS batches as queue-fed functions receive them: each message applied on its own and
//! each failure reported as a partial batch failure, so SQS retries only those and its
//! redrive policy ends a poison message in the DLQ.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use peyman_rules::error::ApiError;

/// Applies `apply` to each message body of a batch, with how many times SQS has handed
/// that message out (`ApproximateReceiveCount`, 1 the first time); the failures are
/// reported as partial batch failures (`ReportBatchItemFailures`), the rest are done.
pub async fn each_message<F, Fut>(event: &SqsEvent, apply: F) -> SqsBatchResponse
where
    // The body is passed owned: a borrowed one would make the future's lifetime
    // higher-ranked, which rustc cannot yet prove `Send` for inside `tokio::spawn`.
    F: Fn(String, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        // Boxed: the SDK calls inside make the future deep enough to overflow rustc's
        // layout query depth in the function's `main` when inlined into its future.
        let receives = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
        if let Err(error) = Box::pin(apply(message.body.clone().unwrap_or_default(), receives)).await {
            tracing::error!(message_id = ?message.message_id, %error, "message failed; SQS will retry it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
