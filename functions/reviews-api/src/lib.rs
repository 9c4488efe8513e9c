//! Reviews (`peyman::flows::reviews`): each party reviews the other on a completed
//! order, double-blind; the seller answers the buyer's review; the parties read their
//! order's reviews, and anyone signed in a gig's published ones.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, reviews};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::review;
use peyman_rules::tracked::Tracked;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/orders/{order_id}/review" => {
            let (order, written) = reviews::write(app, me, &req.path_id("order_id")?, req.json()?, now).await?;
            let mut body = written.view();
            body["order"] = order.view(order.role_of(me), now);
            Reply::created(body)
        }
        "POST /v1/orders/{order_id}/review/reply" => {
            Reply::created(reviews::reply(app, me, &req.path_id("order_id")?, req.json()?, now).await?.view())
        }
        "GET /v1/orders/{order_id}/reviews" => {
            let (order, viewer, written) = reviews::of_order(app, me, &req.path_id("order_id")?).await?;
            Reply::ok(review::order_view(&order, &written, viewer))
        }
        "GET /v1/gigs/{gig_id}/reviews" => {
            let (limit, cursor) = (req.limit(20, 100)?, req.query("cursor"));
            let page = reviews::of_gig(app, &req.path_id("gig_id")?, limit, cursor).await?;
            let items: Vec<_> = page.items.iter().map(review::Review::view).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        _ => unknown_route(req),
    }
}
