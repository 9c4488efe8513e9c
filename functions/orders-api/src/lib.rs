//! Orders as the parties see them: *my purchases* (`role=buyer`) and *sales management*
//! (`role=seller`), one order with its terms and hash, its payments and refunds, and its
//! hash-chained timeline.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, orders};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, list, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::order::Order;
use peyman_rules::payment::Refund;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "GET /v1/orders" => list(app, req, Order::view).await,
        "GET /v1/orders/{order_id}" => {
            let record = orders::read(app, me, &req.path_id("order_id")?).await?;
            let role = Some(record.role);
            let mut body = record.order.view_with(role, req.now, record.opened().map(|p| p.view(role)));
            body["payments"] = record.payments.iter().map(|p| p.view(role)).collect();
            body["refunds"] = record.refunds.iter().map(Refund::view).collect();
            Reply::ok(body)
        }
        "GET /v1/orders/{order_id}/timeline" => Reply::ok(orders::timeline(app, me, &req.path_id("order_id")?).await?),
        _ => unknown_route(req),
    }
}
