//! Applies follow-ups from SQS, each at most once (`peyman::flows::followups`); reports
//! partial batch failures so SQS retries only those.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::flows::{App, followups};
use peyman::shell::queue::each_message;

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let now = chrono::Utc::now();
    Ok(each_message(&event, |body, _| async move { followups::apply(app, &body, now).await }).await)
}
