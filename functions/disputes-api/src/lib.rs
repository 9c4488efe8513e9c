//! Disputes (`peyman::flows::disputes`): a party opens one on a paid order and both add
//! statements; support reads its queue and each case, resolves, and exports a case as a
//! sealed packet (`peyman::flows::exports`; built by the export-builder function).

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, disputes, exports};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::{ApiError, Code};
use peyman_rules::lifecycle::DisputeState;
use peyman_rules::tracked::Tracked;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/orders/{order_id}/disputes" => {
            let (order, dispute) = disputes::open(app, me, &req.path_id("order_id")?, req.json()?, now).await?;
            let mut body = dispute.view();
            body["order"] = order.view(order.role_of(me), now);
            Reply::created(body)
        }
        "GET /v1/orders/{order_id}/disputes/{dispute_id}" => {
            let (order_id, dispute_id) = (req.path_id("order_id")?, req.path_id("dispute_id")?);
            let (dispute, statements, history) = disputes::read(app, me, &order_id, &dispute_id).await?;
            let mut body = dispute.view();
            body["statements"] = statements.iter().map(|s| s.view()).collect();
            body["history"] = history;
            Reply::ok(body)
        }
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/statements" => {
            let (order_id, dispute_id) = (req.path_id("order_id")?, req.path_id("dispute_id")?);
            Reply::created(disputes::add_statement(app, me, &order_id, &dispute_id, req.json()?, now).await?.view())
        }
        "GET /v1/support/disputes" => {
            let state = match req.query("status").unwrap_or("open") {
                "open" => DisputeState::Open,
                "resolved" => DisputeState::Resolved,
                _ => {
                    return Err(ApiError::malformed(Code::InvalidStatus, Some("status"), "status is open or resolved"));
                }
            };
            let (limit, cursor) = (req.limit(20, 100)?, req.query("cursor"));
            let page = disputes::queue(app, me, state, limit, cursor).await?;
            let items: Vec<_> = page.items.iter().map(|d| d.view()).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "GET /v1/support/disputes/{dispute_id}" => {
            Reply::ok(disputes::case(app, me, &req.path_id("dispute_id")?).await?.view(now))
        }
        "POST /v1/support/disputes/{dispute_id}/resolution" => {
            let (dispute, order) = disputes::resolve(app, me, &req.path_id("dispute_id")?, req.json()?, now).await?;
            let mut body = dispute.view();
            body["order"] = order.view(order.role_of(me), now);
            Reply::ok(body)
        }
        "POST /v1/support/disputes/{dispute_id}/exports" => {
            req.no_body()?;
            Reply::accepted(exports::request(app, me, &req.path_id("dispute_id")?, now).await?.view(None))
        }
        "GET /v1/support/exports/{export_id}" => {
            let (export, link) = exports::status(app, me, &req.path_id("export_id")?, now).await?;
            Reply::ok(export.view(link.as_ref().map(|(url, at)| (url.as_str(), *at))))
        }
        _ => unknown_route(req),
    }
}
