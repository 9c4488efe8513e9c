//! Uploads: a presigned link to upload an attachment or a voice note, and the file's
//! status with a short-lived download link for those allowed to see it.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, uploads};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/uploads" => {
            let (upload, link) = uploads::declare(app, me, req.json()?, now).await?;
            let mut body = upload.view(None);
            body["upload"] = json!(link);
            Reply::created(body)
        }
        "GET /v1/uploads/{upload_id}" => {
            let (upload, download) = uploads::read(app, me, &req.path_id("upload_id")?, now).await?;
            Reply::ok(upload.view(download))
        }
        _ => unknown_route(req),
    }
}
