//! The order's work after payment (`peyman::flows::work`): the seller delivers the
//! current stage, the buyer asks for a revision or accepts it; either party cancels an
//! order not yet paid, the buyer a late one, and both a paid one by agreement; either
//! proposes an amendment the other answers (`peyman::flows::amendments`); the buyer tips a
//! completed order (`peyman::flows::tips`); the parties read the deliveries and amendments.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::amendments::{self, Answer};
use peyman::flows::{App, tips, work};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::Actor;
use peyman_rules::tracked::Tracked;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    let order_id = req.path_id("order_id")?;
    let order = match req.route.as_str() {
        "POST /v1/orders/{order_id}/deliveries" => {
            let (order, delivery) = work::deliver(app, me, &order_id, req.json()?, now).await?;
            let mut body = delivery.view(&[], &[]);
            body["order"] = order.view(Some(Actor::Seller), now);
            return Reply::created(body);
        }
        "GET /v1/orders/{order_id}/deliveries" => {
            let (limit, cursor) = (req.limit(20, 100)?, req.query("cursor"));
            let (page, uploads, links) = work::deliveries(app, me, &order_id, limit, cursor, now).await?;
            let items: Vec<_> = page.items.iter().map(|d| d.view(&uploads, &links)).collect();
            return Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }));
        }
        "POST /v1/orders/{order_id}/revision-requests" => {
            work::request_revision(app, me, &order_id, req.json()?, now).await?
        }
        "POST /v1/orders/{order_id}/acceptance" => {
            req.no_body()?;
            work::accept_delivery(app, me, &order_id, now).await?
        }
        "POST /v1/orders/{order_id}/cancel" => {
            req.no_body()?;
            work::cancel(app, me, &order_id, now).await?
        }
        "POST /v1/orders/{order_id}/cancellation-requests" => {
            let order = work::request_cancellation(app, me, &order_id, req.json()?, now).await?;
            return Reply::created(order.view(order.role_of(me), now));
        }
        "POST /v1/orders/{order_id}/cancellation-requests/{request_id}/accept" => {
            req.no_body()?;
            work::accept_cancellation(app, me, &order_id, &req.path_id("request_id")?, now).await?
        }
        "POST /v1/orders/{order_id}/cancellation-requests/{request_id}/decline" => {
            req.no_body()?;
            work::decline_cancellation(app, me, &order_id, &req.path_id("request_id")?, now).await?
        }
        "POST /v1/orders/{order_id}/amendments" => {
            let (order, proposed) = amendments::propose(app, me, &order_id, req.json()?, now).await?;
            return Reply::created(proposed.with_order(&order, order.role_of(me), now));
        }
        "GET /v1/orders/{order_id}/amendments" => return Reply::ok(amendments::list(app, me, &order_id).await?.view()),
        "POST /v1/orders/{order_id}/amendments/{amendment_id}/accept"
        | "POST /v1/orders/{order_id}/amendments/{amendment_id}/decline"
        | "POST /v1/orders/{order_id}/amendments/{amendment_id}/withdraw" => {
            req.no_body()?;
            let (id, answer) = (req.path_id("amendment_id")?, Answer::named_by(&req.route));
            let answered = amendments::answer(app, me, &order_id, &id, answer, now).await?;
            return Reply::ok(answered.view(answered.order.role_of(me), now));
        }
        "POST /v1/orders/{order_id}/tip" => {
            return Reply::created(tips::give(app, me, &order_id, req.json()?, now).await?.view(now));
        }
        _ => return unknown_route(req),
    };
    Reply::ok(order.view(order.role_of(me), now))
}
