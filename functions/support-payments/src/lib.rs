//! Support's money queues: payments held for review (decided `refund` or `apply`) and
//! refunds the provider kept refusing. Support only; every decision is on the order's
//! timeline with the support user's id.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::keys;
use peyman::lifecycle::Actor;
use peyman::payment::{self, HeldDecision, Payment, Refund};
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

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    if !req.caller.is_support {
        return Err(ApiError::forbidden("support_only", "only support works the payment queues"));
    }
    match req.route.as_str() {
        "GET /v1/support/payments" => {
            if req.query("status").is_some_and(|s| s != "held") {
                return Err(ApiError::malformed("invalid_status", Some("status"), "the queue lists held payments"));
            }
            let page = app.store.queue_page::<Payment>(keys::HELD_PAYMENTS, req.limit(20, 100)?, req.query("cursor"));
            let page = page.await?;
            let items: Vec<_> = page.items.iter().map(with_order).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "GET /v1/support/refunds" => {
            if req.query("status").is_some_and(|s| s != "failed") {
                return Err(ApiError::malformed("invalid_status", Some("status"), "the queue lists failed refunds"));
            }
            let page = app.store.queue_page::<Refund>(keys::FAILED_REFUNDS, req.limit(20, 100)?, req.query("cursor"));
            let page = page.await?;
            let items: Vec<_> = page.items.iter().map(Refund::view).collect();
            Reply::ok(json!({ "items": items, "next_cursor": page.next_cursor }))
        }
        "POST /v1/support/payments/{payment_intent_id}/decision" => {
            let intent_id = req.path_provider_id("payment_intent_id")?;
            let Decision { decision } = req.json()?;
            let (payment, refund) = payment::decide_held(app, &intent_id, decision, &req.caller.user_id).await?;
            Reply::ok(json!({ "payment": with_order(&payment), "refund": refund.as_ref().map(Refund::view) }))
        }
        _ => unknown_route(req),
    }
}

/// A payment as support sees it: with the order it belongs to (empty for an intent whose
/// order was never stored).
fn with_order(payment: &Payment) -> serde_json::Value {
    let mut view = payment.view(Some(Actor::Support));
    view["order_id"] = json!(payment.order_id);
    view
}
