//! Messages between two users, with attachments and a voice note.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::message::NewMessage;
use peyman::upload;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller.user_id;
    match req.route.as_str() {
        "POST /v1/conversations/{user_id}/messages" => {
            let other = req.path_user("user_id")?;
            let message = req.json::<NewMessage>()?.into_message(&app.config.policy, me, &other, req.now)?;
            let ids: Vec<&str> = message.upload_ids().map(String::as_str).collect();
            let uploads = app.store.uploads(&ids).await?;
            upload::check_references(
                &uploads,
                me,
                &message.attachment_upload_ids,
                message.voice_note_upload_id.as_ref(),
                false,
            )?;
            app.store.insert_message(&message).await?;
            Reply::created(message.view(&uploads))
        }
        "GET /v1/conversations/{user_id}/messages" => {
            let other = req.path_user("user_id")?;
            if &other == me {
                return Err(ApiError::invalid(
                    "self_conversation",
                    "user_id",
                    "there is no conversation with yourself",
                ));
            }
            let page = app.store.messages(me, &other, req.limit(20, 100)?, req.query("cursor")).await?;
            let ids: Vec<&str> = page.items.iter().flat_map(|m| m.upload_ids()).map(String::as_str).collect();
            let uploads = app.store.uploads(&ids).await?;
            let items: Vec<_> = page.items.iter().map(|m| m.view(&uploads)).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        _ => unknown_route(req),
    }
}
