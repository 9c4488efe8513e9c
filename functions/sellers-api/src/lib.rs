//! Seller settings and levels: a seller's own switch for custom projects, and the
//! level that only support sets; and a seller's earnings and statement (issue 26).

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, earnings, sellers};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use serde_json::json;

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
        "GET /v1/me/earnings" => {
            req.no_body()?;
            let (balances, next_clearance_at) = earnings::balances(app, me).await?;
            let balances: Vec<_> = balances
                .iter()
                .map(|b| {
                    json!({
                        "currency": b.currency, "pending": b.pending, "available": b.available,
                        "withdrawing": b.withdrawing, "paid_out": b.paid_out,
                    })
                })
                .collect();
            Reply::ok(json!({ "balances": balances, "next_clearance_at": next_clearance_at }))
        }
        "GET /v1/me/ledger" => {
            let page = earnings::statement(app, me, req.limit(20, 100)?, req.query("cursor")).await?;
            let items: Vec<_> = page.items.iter().map(|e| e.statement_line(&me.user_id)).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        _ => unknown_route(req),
    }
}
