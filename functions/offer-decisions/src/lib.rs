//! The buyer's decision on an offer: accept (placing the order, awaiting payment, see
//! `peyman::flows::accept`) or decline with a reason.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, accept, offers};
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
    match req.route.as_str() {
        "POST /v1/offers/{offer_id}/accept" => {
            let id = req.path_id("offer_id")?;
            req.no_body()?;
            let accepted = accept::accept(app, me, &id, now).await?;
            let payment = accepted.payment.view(Some(Actor::Buyer));
            Reply::created(json!({
                "order": accepted.order.view_with(Some(Actor::Buyer), now, Some(payment)),
                "offer": accepted.offer.view(Some(accepted.actor), now),
            }))
        }
        "POST /v1/offers/{offer_id}/decline" => {
            let id = req.path_id("offer_id")?;
            let offer = offers::decline(app, me, &id, req.json()?, now).await?;
            Reply::ok(offer.view(offer.role_of(me), now))
        }
        _ => unknown_route(req),
    }
}
