//! DynamoDB stream batches as stream-fed functions receive them: records handed on in
//! order, a window of [`WINDOW`] at a time, and the first window that fails reported by
//! its first record's sequence number, so the event source retries from there (a
//! shard's records never overtake one another; what went before it is done).

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use peyman_rules::error::ApiError;

/// How many records are handed on at once: EventBridge and SQS take ten to a request.
pub const WINDOW: usize = 10;

/// Applies `apply` to each window of a batch's records (`eventName` and new image) in
/// order, stopping at the first failure, which is reported (`ReportBatchItemFailures`).
pub async fn in_windows<F, Fut>(event: &Event, apply: F) -> DynamoDbEventResponse
where
    // The records are passed owned, for the reason `shell::queue` passes the body owned.
    F: Fn(Vec<(String, serde_dynamo::Item)>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut response = DynamoDbEventResponse::default();
    for window in event.records.chunks(WINDOW) {
        let records = window.iter().map(|r| (r.event_name.clone(), r.change.new_image.clone())).collect();
        if let Err(error) = Box::pin(apply(records)).await {
            let first = window[0].change.sequence_number.clone();
            tracing::error!(sequence = ?first, %error, "records failed; retried from here");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = first;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
