//! Seller settings and levels: a seller's own switch for custom projects, and the
//! level that only support sets.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::seller::{LevelUpdate, SettingsUpdate};

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let policy = &app.config.policy;
    match req.route.as_str() {
        "GET /v1/me/seller-settings" => Reply::ok(app.store.seller_settings(&req.caller.user_id).await?.view(policy)),
        "PUT /v1/me/seller-settings" => {
            let update: SettingsUpdate = req.json()?;
            if update.level.is_some() {
                return Err(ApiError::invalid("read_only_field", "level", "only support sets a seller's level"));
            }
            let settings =
                app.store.set_custom_projects(&req.caller.user_id, update.custom_projects_enabled, req.now).await?;
            Reply::ok(settings.view(policy))
        }
        "PUT /v1/support/sellers/{user_id}/level" => {
            if !req.caller.is_support {
                return Err(ApiError::forbidden("support_only", "only support sets a seller's level"));
            }
            let seller = req.path_user("user_id")?;
            let update: LevelUpdate = req.json()?;
            let settings = app.store.set_level(&seller, update.level, &req.caller.user_id, req.now).await?;
            Reply::ok(settings.view(policy))
        }
        _ => unknown_route(req),
    }
}
