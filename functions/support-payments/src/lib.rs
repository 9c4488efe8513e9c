//! Support's money queues: payments held for review (decided `refund` or `apply`), and
//! refunds the provider kept refusing or cannot make (paid back by hand), and the work
//! that stopped on its own (parked timers, follow-ups not sent). Support only;
//! every decision is on the order's timeline with the support user's id.

use lambda_http::{Body, Error, Request, Response};
use peyman::flows::{App, payments, reconciliation, support};
use peyman::shell::answer::Reply;
use peyman::shell::http::{ApiRequest, serve, unknown_route};
use peyman_rules::error::ApiError;
use peyman_rules::payment::{HeldDecision, Payment, Refund};
use serde::Deserialize;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    decision: HeldDecision,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaidBack {
    transfer_reference: String,
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    // Support only, before anything of the request is read.
    me.require_support("works the payment queues")?;
    let (status, cursor) = (req.query("status"), req.query("cursor"));
    match req.route.as_str() {
        "GET /v1/support/payments" => {
            let page = support::held_payments(app, me, status, req.limit(20, 100)?, cursor).await?;
            let items: Vec<_> = page.items.iter().map(Payment::support_view).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "GET /v1/support/refunds" => {
            let page = support::refunds_for_support(app, me, status, req.limit(20, 100)?, cursor).await?;
            let items: Vec<_> = page.items.iter().map(Refund::support_view).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "POST /v1/support/payments/{payment_intent_id}/decision" => {
            let intent_id = req.path_provider_id("payment_intent_id")?;
            let Decision { decision } = req.json()?;
            let (payment, refund) = payments::decide_held(app, &intent_id, decision, me, req.now).await?;
            Reply::ok(json!({ "payment": payment.support_view(), "refund": refund.as_ref().map(Refund::view) }))
        }
        "POST /v1/support/refunds/{payment_intent_id}/{refund_id}/paid-by-hand" => {
            let intent_id = req.path_provider_id("payment_intent_id")?;
            let refund_id = req.path_provider_id("refund_id")?;
            let PaidBack { transfer_reference } = req.json()?;
            let refund = payments::paid_by_hand(app, &intent_id, &refund_id, &transfer_reference, me, req.now).await?;
            Reply::ok(json!({ "refund": refund.support_view() }))
        }
        "GET /v1/support/parked-work" => Reply::ok(support::parked_work(app, me).await?),
        "GET /v1/support/reconciliation" => {
            let reports = reconciliation::reports(app, me, req.limit(7, 90)?).await?;
            Reply::ok(json!({ "provider": app.payments.provider(), "reports": reports }))
        }
        _ => unknown_route(req),
    }
}
