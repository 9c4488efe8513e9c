//! Builds dispute export packets (`peyman::flows::exports`), one job per message from the
//! exports queue: a failure is reported so SQS retries it, and on its last receive the
//! export is marked failed before the queue's redrive policy moves it to the DLQ.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::flows::{App, exports};
use peyman::shell::queue::each_message;

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let now = chrono::Utc::now();
    Ok(each_message(&event, |body, receives| async move { exports::build(app, &body, receives, now).await }).await)
}
