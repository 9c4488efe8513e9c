//! Messages between two users, with attachments and a voice note.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, messages};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "POST /v1/conversations/{user_id}/messages" => {
            let other = req.path_user("user_id")?;
            let (message, uploads) = messages::send(app, me, &other, req.json()?, req.now).await?;
            Reply::created(message.view(&uploads))
        }
        "GET /v1/conversations/{user_id}/messages" => {
            let other = req.path_user("user_id")?;
            let (order_id, limit) = (req.query_id("order_id")?, req.limit(20, 100)?);
            let page = messages::conversation(app, me, &other, order_id.as_deref(), limit, req.query("cursor")).await?;
            let (page, uploads) = page;
            let items: Vec<_> = page.items.iter().map(|m| m.view(&uploads)).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        _ => unknown_route(req),
    }
}
