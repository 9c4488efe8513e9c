//! Checks every uploaded object after S3 stored it (`peyman::flows::uploads`): its real
//! size within the declared limit, its real type by magic bytes, a voice note an allowed
//! audio format. Fed by the bucket's notifications through SQS; reports partial batch
//! failures so one bad message never holds back the others.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::flows::{App, uploads};
use peyman::shell::queue::each_message;

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let now = chrono::Utc::now();
    Ok(each_message(&event, |body, _| async move { uploads::check_notification(app, &body, now).await }).await)
}
