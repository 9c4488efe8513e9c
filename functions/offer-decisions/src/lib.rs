//! The buyer's decision on an offer: accept (placing the order, awaiting payment) or
//! decline with a reason. Accept, decline and withdraw race safely: each commits under
//! the offer's version, so exactly one wins and the others get 409.
//!
//! Accepting opens the provider's PaymentIntent first, for the order's exact price and
//! under an idempotency key made from the new order's id, and then commits the order
//! and its payment record in one transaction: an order never exists without a way to
//! pay it. An intent whose commit lost the race is cancelled at once; one left by a
//! crash before the commit names an order that does not exist, so a payment to it (its
//! client secret never left us) would be held and refunded.

use lambda_http::{Body, Error, Request, Response};
use peyman::App;
use peyman::error::ApiError;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::lifecycle::{self, Actor, OFFER, ORDER_START, OfferAction};
use peyman::offer::Offer;
use peyman::order::Order;
use peyman::payment::Payment;
use peyman::request::Reason;
use peyman::stripe;
use peyman::tracked::{Step, Tracked, act, record, refusal, visible};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "POST /v1/offers/{offer_id}/accept" => {
            let id = req.path_id("offer_id")?;
            req.no_body()?;
            let (mut offer, actor) = visible::<Offer>(app, &id, me).await?;
            let t = lifecycle::step(OFFER, offer.state, OfferAction::Accept, actor, &offer.facts(req.now))
                .map_err(refusal::<Offer>)?;
            let mut order = Order::place(&offer, ulid::Ulid::new().to_string(), &app.config.policy, req.now);
            offer.order_id = Some(order.order_id.clone());
            let intent = app
                .payments
                .create_intent(&order.terms.price, &order.order_id, &format!("order-{}", order.order_id))
                .await?;
            order.payment_intent_id = Some(intent.id.clone());
            let payment = Payment::open(stripe::PROVIDER, &intent, &order, req.now);

            let mut commit = app.store.begin();
            let accepted = Step::of(t, actor, Some(&me.user_id), json!({ "order_id": order.order_id }));
            record(&mut commit, &mut offer, accepted, req.now)?;
            let placed = Step::start(
                &ORDER_START,
                actor,
                Some(&me.user_id),
                json!({ "offer_id": offer.offer_id, "terms_hash": order.terms_hash }),
            );
            record(&mut commit, &mut order, placed, req.now)?;
            commit.contact(&order.buyer_id, &order.seller_id, "ORDER", &order.order_id)?;
            commit.payment(&payment, 0)?;
            if let Err(e) = app.commit(commit).await {
                settle_failed_commit(app, &order.order_id, &intent.id, e).await?;
            }
            Reply::created(json!({
                "order": order.view_with(Some(Actor::Buyer), req.now, Some(&payment)),
                "offer": offer.view(Some(actor), req.now),
            }))
        }
        "POST /v1/offers/{offer_id}/decline" => {
            let id = req.path_id("offer_id")?;
            let reason: Reason = req.json()?;
            reason.check(&app.config.policy)?;
            let data = json!({ "reason": reason.reason });
            let offer = act::<Offer, _>(app, OFFER, &id, OfferAction::Decline, req, data, |o| {
                o.decline_reason = Some(reason.reason.clone())
            })
            .await
            .map_err(|e| match e {
                ApiError::Conflict { code: "concurrent_change", .. } => {
                    ApiError::conflict("offer_changed", "the offer was decided meanwhile")
                }
                other => other,
            })?;
            Reply::ok(offer.view(offer.role_of(me), req.now))
        }
        _ => unknown_route(req),
    }
}

/// After the accept's commit failed: a lost race (409) wrote nothing, so the intent
/// opened for it is cancelled and the buyer told the offer changed. Any other failure is
/// ambiguous (the answer may have been lost after DynamoDB committed), so the order is
/// read again first: if it exists the accept succeeded (`Ok`) and its intent is the
/// order's way to pay, never cancelled. If the order cannot be read, nothing is
/// cancelled: an intent left open names an order that may exist, and if it does not,
/// nobody holds its client secret and a payment to it would be held and refunded.
pub async fn settle_failed_commit(app: &App, order_id: &str, intent_id: &str, error: ApiError) -> Result<(), ApiError> {
    let lost_race = matches!(error, ApiError::Conflict { .. });
    if !lost_race {
        match app.store.tracked::<Order>(order_id).await {
            Ok(Some(_)) => {
                tracing::warn!(order_id, error = %error, "the commit's answer was lost, but it committed");
                return Ok(());
            }
            Ok(None) => {}
            Err(read) => {
                tracing::warn!(order_id, error = %read, "cannot tell whether the order committed; its intent stays");
                return Err(error);
            }
        }
    }
    if let Err(cancel) = app.payments.cancel_intent(intent_id).await {
        tracing::warn!(intent_id, error = %cancel, "an unused intent stays open; nobody can pay it");
    }
    Err(if lost_race { ApiError::conflict("offer_changed", "the offer was decided meanwhile") } else { error })
}
