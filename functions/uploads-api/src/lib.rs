//! Uploads: a presigned link to upload an attachment or a voice note, and the file's
//! status with a short-lived download link for those allowed to see it.

use lambda_http::{Body, Error, Request, Response};
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::upload::{Upload, UploadDeclaration, UploadStatus};
use peyman::{App, keys};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller.user_id;
    match req.route.as_str() {
        "POST /v1/uploads" => {
            let declared: UploadDeclaration = req.json()?;
            declared.check(&app.config.policy)?;
            let upload_id = ulid::Ulid::new().to_string();
            let upload = Upload {
                object_key: keys::upload_object(me, &upload_id),
                upload_id,
                owner_id: me.clone(),
                kind: declared.kind,
                file_name: declared.file_name,
                content_type: declared.content_type,
                size_bytes: declared.size_bytes,
                status: UploadStatus::Pending,
                rejection: None,
                checked_version: None,
                created_at: req.now,
                checked_at: None,
            };
            app.store.insert_upload(&upload).await?;
            let link =
                app.files.upload_link(&upload.object_key, &upload.content_type, upload.size_bytes, req.now).await?;
            let mut body = upload.view(None);
            body["upload"] = json!(link);
            Reply::created(body)
        }
        "GET /v1/uploads/{upload_id}" => {
            let upload_id = req.path_id("upload_id")?;
            let upload = app.store.upload(&upload_id).await?.ok_or(ApiError::NotFound { what: "upload" })?;
            let allowed =
                &upload.owner_id == me || req.caller.is_support || app.store.is_upload_viewer(&upload_id, me).await?;
            if !allowed {
                return Err(ApiError::NotFound { what: "upload" });
            }
            let download = match upload.status {
                UploadStatus::Ready => Some(
                    app.files
                        .download_link(
                            &upload.object_key,
                            upload.checked_version.as_deref(),
                            &upload.file_name,
                            req.now,
                        )
                        .await?,
                ),
                _ => None,
            };
            Reply::ok(upload.view(download))
        }
        _ => unknown_route(req),
    }
}
