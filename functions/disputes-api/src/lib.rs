//! Disputes (`peyman::flows::disputes`): a party opens one on a paid order, both add
//! statements, settle it or its opener withdraws it; support reads its queue and each case,
//! asks questions, resolves, and exports a case as a sealed packet (`peyman::flows::exports`;
//! built by the export-builder function).

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::disputes::PartyMove::{self, Accept, Decline, Propose, Withdraw, WithdrawSettlement};
use peyman::flows::{App, disputes, exports};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::DisputeState;
use peyman_rules::tracked::Tracked;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let (me, now) = (&req.caller, req.now);
    match req.route.as_str() {
        "POST /v1/orders/{order_id}/disputes" => {
            let (order, dispute) = disputes::open(app, me, &req.path_id("order_id")?, req.json()?, now).await?;
            Reply::created(dispute.with_order(&order, order.role_of(&req.caller), req.now))
        }
        "GET /v1/orders/{order_id}/disputes/{dispute_id}" => {
            let (order_id, dispute_id) = (req.path_id("order_id")?, req.path_id("dispute_id")?);
            let (dispute, statements, history) = disputes::read(app, me, &order_id, &dispute_id).await?;
            Reply::ok(dispute.as_party_reads_it(dispute.role_of(me), &statements, history, now))
        }
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/statements" => {
            let (order_id, dispute_id) = (req.path_id("order_id")?, req.path_id("dispute_id")?);
            Reply::created(disputes::add_statement(app, me, &order_id, &dispute_id, req.json()?, now).await?.view())
        }
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/settlement" => party(app, req, Propose(req.json()?)).await,
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/settlement/accept" => party(app, req, Accept).await,
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/settlement/decline" => party(app, req, Decline).await,
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/settlement/withdraw" => {
            party(app, req, WithdrawSettlement).await
        }
        "POST /v1/orders/{order_id}/disputes/{dispute_id}/withdrawal" => party(app, req, Withdraw).await,
        "POST /v1/support/disputes/{dispute_id}/questions" => {
            Reply::created(disputes::ask(app, me, &req.path_id("dispute_id")?, req.json()?, now).await?.view())
        }
        "GET /v1/support/disputes" => {
            let state = req.state::<DisputeState>()?.unwrap_or(DisputeState::Open);
            let (limit, cursor) = (req.limit(20, 100)?, req.query("cursor"));
            let page = disputes::queue(app, me, state, limit, cursor).await?;
            let items: Vec<_> = page.items.iter().map(|d| d.view()).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "GET /v1/support/disputes/{dispute_id}" => {
            Reply::ok(disputes::case(app, me, &req.path_id("dispute_id")?).await?.view(now))
        }
        "POST /v1/support/disputes/{dispute_id}/resolution" => {
            let (dispute, order) = disputes::resolve(app, me, &req.path_id("dispute_id")?, req.json()?, now).await?;
            Reply::ok(dispute.with_order(&order, order.role_of(&req.caller), req.now))
        }
        "POST /v1/support/disputes/{dispute_id}/exports" => {
            req.no_body()?;
            Reply::accepted(exports::request(app, me, &req.path_id("dispute_id")?, now).await?.view(None))
        }
        "GET /v1/support/exports/{export_id}" => {
            let (export, link) = exports::status(app, me, &req.path_id("export_id")?, now).await?;
            Reply::ok(export.view(link.as_ref().map(|(url, at)| (url.as_str(), *at))))
        }
        _ => unknown_route(req),
    }
}

/// A party's settlement move or withdrawal: the dispute, with the order as it now stands.
async fn party(app: &App, req: &ApiRequest, made: PartyMove) -> Result<Reply, ApiError> {
    if !matches!(made, Propose(_)) {
        req.no_body()?;
    }
    let (order_id, dispute_id) = (req.path_id("order_id")?, req.path_id("dispute_id")?);
    let (dispute, order) = disputes::party_move(app, &req.caller, &order_id, &dispute_id, made, req.now).await?;
    Reply::ok(dispute.with_order(&order, order.role_of(&req.caller), req.now))
}
