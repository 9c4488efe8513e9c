//! Custom-project requests: a buyer asks a seller who takes custom projects; the seller
//! declines (or answers with an offer, in offers-api); the buyer withdraws.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, requests};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, list, serve, unknown_route, with_history};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::Actor;
use peyman_rules::request::Request as CustomRequest;
use peyman_rules::tracked::Tracked;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/custom-project-requests" => {
            let request = requests::create(app, me, req.json()?, now).await?;
            Reply::created(request.view(Some(Actor::Buyer), now))
        }
        "GET /v1/custom-project-requests" => list(app, req, CustomRequest::view).await,
        "GET /v1/custom-project-requests/{request_id}" => {
            with_history(app, req, &req.path_id("request_id")?, CustomRequest::view).await
        }
        "POST /v1/custom-project-requests/{request_id}/decline" => {
            let id = req.path_id("request_id")?;
            let request = requests::decline(app, me, &id, req.json()?, now).await?;
            Reply::ok(request.view(request.role_of(me), now))
        }
        "POST /v1/custom-project-requests/{request_id}/withdraw" => {
            let id = req.path_id("request_id")?;
            req.no_body()?;
            let request = requests::withdraw(app, me, &id, now).await?;
            Reply::ok(request.view(request.role_of(me), now))
        }
        _ => unknown_route(req),
    }
}
