//! Seller settings and levels: a seller's own switch for custom projects, and the
//! level that only support sets.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, sellers};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now, policy) = (&req.caller, req.now, &app.config.policy);
    match req.route.as_str() {
        "GET /v1/me/seller-settings" => Reply::ok(sellers::settings(app, me).await?.view(policy)),
        "PUT /v1/me/seller-settings" => Reply::ok(sellers::update(app, me, req.json()?, now).await?.view(policy)),
        "PUT /v1/support/sellers/{user_id}/level" => {
            // Support only, before anything of the request is read.
            me.require_support("sets a seller's level")?;
            let seller = req.path_user("user_id")?;
            Reply::ok(sellers::set_level(app, me, &seller, req.json()?, now).await?.view(policy))
        }
        _ => unknown_route(req),
    }
}
