//! Offers (custom projects): a seller creates one from a request, a message or an
//! earlier order with the buyer, under every rule of the source page; parties read
//! them; the seller withdraws one before it is accepted.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, offers};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, list, serve, unknown_route, with_history};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::Actor;
use peyman_rules::offer::Offer;
use peyman_rules::tracked::Tracked;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/offers" => {
            let offer = offers::place(app, me, req.json()?, now).await?;
            Reply::created(offer.view(Some(Actor::Seller), now))
        }
        "GET /v1/offers" => list(app, req, Offer::view).await,
        "GET /v1/offers/{offer_id}" => with_history(app, req, &req.path_id("offer_id")?, Offer::view).await,
        "POST /v1/offers/{offer_id}/withdraw" => {
            let id = req.path_id("offer_id")?;
            req.no_body()?;
            let offer = offers::withdraw(app, me, &id, now).await?;
            Reply::ok(offer.view(offer.role_of(me), now))
        }
        _ => unknown_route(req),
    }
}
