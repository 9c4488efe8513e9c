//! A user's notifications: what happened to their requests, offers and orders, newest
//! first, and marking one read.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, notifications};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::notification::Notification;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "GET /v1/me/notifications" => {
            let page = notifications::list(app, me, req.limit(20, 100)?, req.query("cursor")).await?;
            let items: Vec<_> = page.items.iter().map(Notification::view).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "POST /v1/me/notifications/{notification_id}/read" => {
            let id = req.path_id("notification_id")?;
            req.no_body()?;
            Reply::ok(notifications::mark_read(app, me, &id, req.now).await?.view())
        }
        _ => unknown_route(req),
    }
}
