//! Reads the table's stream (`peyman::flows::relay`): publishes each new timeline event
//! on the bus and hands each committed transition's follow-ups to SQS, ten records at a
//! time. The first window that fails is reported, so the event source retries from it;
//! a window may then be sent twice, and subscribers and consumers take a repeat as
//! nothing.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use lambda_runtime::Error;
use peyman::flows::{App, relay};
use peyman::shell::stream::in_windows;

pub async fn handle(app: &App, event: Event) -> Result<DynamoDbEventResponse, Error> {
    Ok(in_windows(&event, |records| async move { relay::records(app, &records).await }).await)
}
