//! The buyer accepts an offer: the order is placed, awaiting payment. Accept, decline and
//! withdraw race safely: each commits under the offer's version, so exactly one wins and
//! the others get 409.
//!
//! Accepting opens the provider's intent first, for the order's exact price and under an
//! idempotency key made from the new order's id, and then commits the order and its
//! payment record in one transaction: an order never exists without a way to pay it. An
//! intent whose commit lost the race is cancelled at once; one left by a crash before the
//! commit names an order that does not exist, so a payment to it (its client secret never
//! left us) would be held and refunded.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flows::offers::decided_meanwhile;
use crate::flows::tracked::visible;
use crate::flows::{App, payments};
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, Actor, OFFER, ORDER_START, OfferAction};
use peyman_rules::offer::Offer;
use peyman_rules::order::Order;
use peyman_rules::payment::Payment;
use peyman_rules::tracked::{Step, Tracked, refusal};

/// What accepting placed.
#[derive(Debug)]
pub struct Accepted {
    pub offer: Offer,
    pub actor: Actor,
    pub order: Order,
    pub payment: Payment,
}

pub async fn accept(app: &App, caller: &Caller, offer_id: &str, now: DateTime<Utc>) -> Result<Accepted, ApiError> {
    let (mut offer, actor) = visible::<Offer>(app, offer_id, caller).await?;
    let t =
        lifecycle::step(OFFER, offer.state, OfferAction::Accept, actor, &offer.facts(now)).map_err(refusal::<Offer>)?;
    let mut order = Order::place(&offer, ulid::Ulid::new().to_string(), &app.config.policy, now);
    offer.order_id = Some(order.order_id.clone());
    let intent = app.payments.open(&order.terms.price, &order.order_id, &format!("order-{}", order.order_id)).await?;
    order.payment_intent_id = Some(intent.id.clone());
    let payment = Payment::open(app.payments.provider(), &intent, &order, now);

    let mut commit = app.store.begin();
    let accepted = Step::of(t, actor, Some(&caller.user_id), json!({ "order_id": order.order_id }));
    commit.record(&mut offer, accepted, now)?;
    let data = json!({ "offer_id": offer.offer_id, "terms_hash": order.terms_hash });
    commit.record(&mut order, Step::start(&ORDER_START, actor, Some(&caller.user_id), data), now)?;
    commit.contact(&order.buyer_id, &order.seller_id, "ORDER", &order.order_id)?;
    commit.payment(&payment, 0)?;
    if let Err(e) = app.commit(commit).await {
        settle_failed_commit(app, &order.order_id, &intent.id, e).await?;
    }
    Ok(Accepted { offer, actor, order, payment })
}

/// After the accept's commit failed: if the order exists with this intent the accept
/// committed (the answer was lost after DynamoDB committed) and its intent is the order's
/// way to pay, never cancelled; otherwise (a lost race, or nothing committed) the intent
/// is cancelled and a lost race is told as the offer having changed. If the order cannot
/// be read nothing is cancelled: an intent left open names an order that may exist, and
/// if it does not, nobody holds its client secret and a payment to it would be held and
/// refunded (`payments::settle_failed_commit`).
pub async fn settle_failed_commit(app: &App, order_id: &str, intent_id: &str, error: ApiError) -> Result<(), ApiError> {
    let placed = |order: &Order| order.payment_intent_id.as_deref() == Some(intent_id);
    payments::settle_failed_commit(app, order_id, intent_id, error, placed).await.map_err(decided_meanwhile)
}
