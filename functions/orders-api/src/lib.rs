//! Orders as the parties see them: *my purchases* (`role=buyer`) and *sales management*
//! (`role=seller`), one order with its terms and hash, and its hash-chained timeline.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::lifecycle::OrderState;
use peyman::order::Order;
use peyman::tracked::{Tracked, history_view, visible};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "GET /v1/orders" => {
            let as_seller = req.role_is_seller()?;
            let status = req.status::<OrderState>()?;
            let page = app
                .store
                .list::<Order>(as_seller, &me.user_id, status.as_deref(), req.limit(20, 100)?, req.query("cursor"))
                .await?;
            let items: Vec<_> = page.items.iter().map(|o| o.view(o.role_of(me), req.now)).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "GET /v1/orders/{order_id}" => {
            let id = req.path_id("order_id")?;
            let (order, role) = visible::<Order>(app, &id, me).await?;
            Reply::ok(order.view(Some(role), req.now))
        }
        "GET /v1/orders/{order_id}/timeline" => {
            let id = req.path_id("order_id")?;
            let (order, _) = visible::<Order>(app, &id, me).await?;
            let events = app.store.timeline::<Order>(&id).await?;
            Reply::ok(history_view(&events, &order.head_hash))
        }
        _ => unknown_route(req),
    }
}
