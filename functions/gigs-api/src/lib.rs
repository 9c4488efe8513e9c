//! Gigs: a seller lists one, anyone signed in reads it, its seller pauses or renames it.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::gig::{GigPatch, NewGig};
use peyman::http::{ApiRequest, Reply, serve, unknown_route};

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let policy = &app.config.policy;
    match req.route.as_str() {
        "POST /v1/gigs" => {
            let gig = req.json::<NewGig>()?.into_gig(policy, &req.caller.user_id, req.now)?;
            app.store.insert_gig(&gig).await?;
            Reply::created(gig.view())
        }
        "GET /v1/gigs/{gig_id}" => {
            let gig = app.store.gig(&req.path_id("gig_id")?).await?.ok_or(ApiError::NotFound { what: "gig" })?;
            Reply::ok(gig.view())
        }
        "PATCH /v1/gigs/{gig_id}" => {
            let gig_id = req.path_id("gig_id")?;
            let patch: GigPatch = req.json()?;
            patch.check(policy)?;
            Reply::ok(app.store.update_gig(&gig_id, &req.caller.user_id, &patch, req.now).await?.view())
        }
        _ => unknown_route(req),
    }
}
