//! Uploads: declared (with a presigned link to upload to), read (with a short-lived
//! download link for those allowed), and checked once S3 stored the object.

use chrono::{DateTime, Utc};

use crate::adapters::s3::{self, UploadLink};
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::upload::{Upload, UploadDeclaration, UploadStatus};

/// Declares an upload and presigns its object.
pub async fn declare(
    app: &App,
    owner: &Caller,
    declared: UploadDeclaration,
    now: DateTime<Utc>,
) -> Result<(Upload, UploadLink), ApiError> {
    declared.check(&app.config.policy)?;
    let upload_id = ulid::Ulid::new().to_string();
    let object_key = s3::upload_object(&owner.user_id, &upload_id);
    let upload = Upload::declare(declared, upload_id, &owner.user_id, object_key, now);
    app.store.insert_upload(&upload).await?;
    let link = app.files.upload_link(&upload.object_key, &upload.content_type, upload.size_bytes, now).await?;
    Ok((upload, link))
}

/// An upload the caller may see, with its download link (a URL and when it expires)
/// once it is ready.
pub async fn read(
    app: &App,
    caller: &Caller,
    upload_id: &str,
    now: DateTime<Utc>,
) -> Result<(Upload, Option<(String, DateTime<Utc>)>), ApiError> {
    let upload = app.store.upload(upload_id).await?.ok_or(ApiError::NotFound { what: "upload" })?;
    let shared = upload.owner_id != caller.user_id
        && !caller.is_support
        && app.store.is_upload_viewer(upload_id, &caller.user_id).await?;
    if !upload.visible_to(caller, shared) {
        return Err(ApiError::NotFound { what: "upload" });
    }
    let download = match upload.status {
        UploadStatus::Ready => Some(
            app.files
                .download_link(&upload.object_key, upload.checked_version.as_deref(), &upload.served_name(), now)
                .await?,
        ),
        _ => None,
    };
    Ok((upload, download))
}

/// Checks an object S3 stored: its real size and type judged against what was declared,
/// and the upload decided once (`rules::lifecycle::UPLOAD`). Objects outside the uploads
/// prefix, without a record, or already decided are left alone.
pub async fn check_object(app: &App, object_key: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(upload_id) = s3::upload_id_of_object(object_key) else {
        tracing::warn!(object_key, "object outside the uploads prefix; ignored");
        return Ok(());
    };
    let Some(mut upload) = app.store.upload(upload_id).await? else {
        tracing::warn!(object_key, "object with no upload record; ignored");
        return Ok(());
    };
    if upload.object_key != object_key || upload.status != UploadStatus::Pending {
        return Ok(()); // already decided: a redelivery or a later overwrite
    }
    // A file within its kind's limit is hashed whole; a larger one is refused unread.
    let Some(object) = app.files.inspect(object_key, upload.kind.max_bytes(&app.config.policy)).await? else {
        return Err(ApiError::internal(format!("{object_key} was announced but is not in the bucket yet")));
    };
    let verdict = upload.judge(&app.config.policy, object.size, &object.head);
    let decided =
        upload.decide(&verdict, object.version_id, object.sha256, now) && app.store.decide_upload(&upload).await?;
    tracing::info!(upload_id, ?verdict, decided, "upload checked");
    Ok(())
}

/// Checks every object an S3 notification says was created.
pub async fn check_notification(app: &App, body: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    for object_key in s3::created_objects(body)? {
        check_object(app, &object_key, now).await?;
    }
    Ok(())
}
