//! Orders as the parties see them: *my purchases* (`role=buyer`) and *sales management*
//! (`role=seller`), one order with its terms and hash, its payments and refunds, and its
//! hash-chained timeline.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::order::Order;
use peyman::payment::Refund;
use peyman::tracked::{self, visible};

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "GET /v1/orders" => tracked::list(app, req, Order::view).await,
        "GET /v1/orders/{order_id}" => {
            let id = req.path_id("order_id")?;
            let (order, role) = visible::<Order>(app, &id, me).await?;
            let (payments, refunds) = app.store.order_payments(&id).await?;
            let opened = payments.iter().find(|p| order.payment_intent_id.as_deref() == Some(&p.intent_id));
            let mut body = order.view_with(Some(role), req.now, opened);
            body["payments"] = payments.iter().map(|p| p.view(Some(role))).collect();
            body["refunds"] = refunds.iter().map(Refund::view).collect();
            Reply::ok(body)
        }
        "GET /v1/orders/{order_id}/timeline" => {
            let id = req.path_id("order_id")?;
            let (order, _) = visible::<Order>(app, &id, me).await?;
            Reply::ok(tracked::history(app, &order).await?)
        }
        _ => unknown_route(req),
    }
}
