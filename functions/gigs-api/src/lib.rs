//! Gigs: a seller lists one, anyone signed in reads it, its seller pauses or renames it.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, gigs};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/gigs" => Reply::created(gigs::create(app, me, req.json()?, now).await?.view()),
        "GET /v1/gigs/{gig_id}" => Reply::ok(gigs::read(app, &req.path_id("gig_id")?).await?.view()),
        "PATCH /v1/gigs/{gig_id}" => {
            let gig_id = req.path_id("gig_id")?;
            Reply::ok(gigs::update(app, me, &gig_id, req.json()?, now).await?.view())
        }
        _ => unknown_route(req),
    }
}
