//! SQS event sources, as Lambda's poller runs them: receive a batch, invoke the function,
//! delete what succeeded, and let the reported failures become visible again so that the
//! queue's redrive policy sends them to the DLQ after `maxReceiveCount` receives.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::json;

use crate::functions;
use crate::server::Gateway;

pub struct Source {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub region: String,
    /// Locally a failed message is visible again after this long, not after the queue's
    /// visibility timeout (minutes in AWS), so retries and redrive happen in seconds.
    pub retry_after: Duration,
}

pub async fn run(gateway: Arc<Gateway>, sqs: aws_sdk_sqs::Client, source: Source) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&source.queue_url)
            .max_number_of_messages(source.batch_size.clamp(1, 10))
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = source.queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(e), "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<_, _> =
                    m.attributes.iter().flatten().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "md5OfBody": m.md5_of_body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": source.queue_arn,
                    "awsRegion": source.region,
                })
            })
            .collect();
        let failed: Vec<String> = match serde_json::from_value::<SqsEvent>(json!({ "Records": records })) {
            Ok(event) => match functions::invoke_sqs(gateway.app(&source.function), &source.function, event).await {
                Ok(response) => response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect(),
                Err(e) => {
                    tracing::error!(function = source.function, error = %e, "function failed; the whole batch is retried");
                    messages.iter().filter_map(|m| m.message_id.clone()).collect()
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "could not build the SQS event");
                messages.iter().filter_map(|m| m.message_id.clone()).collect()
            }
        };
        for message in &messages {
            let Some(receipt) = message.receipt_handle.as_deref() else { continue };
            let outcome = if message.message_id.as_ref().is_some_and(|id| failed.contains(id)) {
                sqs.change_message_visibility()
                    .queue_url(&source.queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(source.retry_after.as_secs() as i32)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else {
                sqs.delete_message()
                    .queue_url(&source.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = outcome {
                tracing::warn!(queue = source.queue_url, error = e, "could not settle a message");
            }
        }
    }
}
