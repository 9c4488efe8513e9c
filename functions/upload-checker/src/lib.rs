//! Checks every uploaded object after S3 stored it: its real size within the declared
//! limit, its real type by magic bytes, a voice note an allowed audio format. Marks the
//! upload `ready` or `rejected`, once. Fed by the bucket's notifications through SQS;
//! reports partial batch failures so one bad message never holds back the others.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use peyman::error::ApiError;
use peyman::upload::UploadStatus;
use peyman::{App, keys, queue};
use serde::Deserialize;

/// The parts of an S3 notification we read. `aws_lambda_events::s3::S3Event` insists on
/// fields (event time with offset, principal, request parameters) that S3 test events
/// and moto leave out, and a notification we cannot parse would be a poison message.
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
    /// `s3:TestEvent`, sent once when the notification is configured.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: Entity,
}

#[derive(Debug, Deserialize)]
struct Entity {
    object: Object,
}

#[derive(Debug, Deserialize)]
struct Object {
    key: String,
}

pub async fn handle(app: &App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    Ok(queue::each_message(&event, |body| async move { check_message(app, &body).await }).await)
}

async fn check_message(app: &App, body: &str) -> Result<(), ApiError> {
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not an S3 notification: {e}")))?;
    if notification.event.as_deref() == Some("s3:TestEvent") {
        return Ok(());
    }
    for record in notification.records.iter().filter(|r| r.event_name.starts_with("ObjectCreated")) {
        // Keys in notifications are form-encoded: '+' is a space.
        let raw = record.s3.object.key.replace('+', " ");
        let key = percent_encoding::percent_decode_str(&raw).decode_utf8_lossy();
        check_object(app, &key).await?;
    }
    Ok(())
}

async fn check_object(app: &App, object_key: &str) -> Result<(), ApiError> {
    let Some(upload_id) = keys::upload_id_of_object(object_key) else {
        tracing::warn!(object_key, "object outside the uploads prefix; ignored");
        return Ok(());
    };
    let Some(upload) = app.store.upload(upload_id).await? else {
        tracing::warn!(object_key, "object with no upload record; ignored");
        return Ok(());
    };
    if upload.object_key != object_key || upload.status != UploadStatus::Pending {
        return Ok(()); // already decided: a redelivery or a later overwrite
    }
    let Some(object) = app.files.inspect(object_key).await? else {
        return Err(ApiError::internal(format!("{object_key} was announced but is not in the bucket yet")));
    };
    let verdict = upload.judge(&app.config.policy, object.size, &object.head);
    let decided =
        app.store.decide_upload(upload_id, &verdict, object.version_id.as_deref(), chrono::Utc::now()).await?;
    tracing::info!(upload_id, ?verdict, decided, "upload checked");
    Ok(())
}
