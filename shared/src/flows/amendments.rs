//! Amendments of a running order (`rules::amendment`): either party proposes one, the other
//! accepts (it takes effect in the same transaction: the due time moves and its timers are
//! re-armed, more revisions count, a lower price refunds its difference from escrow
//! through the payment's own rule) or declines it; its author withdraws it; the sweeper
//! expires one left unanswered (`flows::timers`). Accepting one that adds money (a paid
//! stage) opens the buyer's payment of the difference instead, as accepting an offer opens
//! the order's: it takes effect when the provider's success arrives (`flows::payments`),
//! and expires unpaid at the end of the order's payment window. Each is a step of the order's table, on its timeline with
//! the amendment's hash, and the amendment's record is written in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::flows::App;
use crate::flows::payments::{refund_within, settle_failed_commit};
use crate::flows::tracked::visible;
use peyman_rules::amendment::{self, Amendment, AmendmentStatus, NewAmendment};
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, Actor, ORDER, OrderAction};
use peyman_rules::offer::Terms;
use peyman_rules::order::Order;
use peyman_rules::payment::{Payment, Purpose};
use peyman_rules::tracked::{Step, Tracked};

/// A party proposes an amendment of a running order (one open at a time): its whole terms
/// after it are sealed and chained to the terms in force.
pub async fn propose(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewAmendment,
    now: DateTime<Utc>,
) -> Result<(Order, Amendment), ApiError> {
    new.check(&app.config.policy)?;
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, OrderAction::ProposeAmendment, actor, &order.facts(now))
        .map_err(|why| amendment::refused(&order, why))?;
    let current = terms_in_force(app, &order).await?;
    let proposed =
        new.into_amendment(&order, &current, (actor, &caller.user_id), ulid::Ulid::new().to_string(), now)?;
    proposed.opened_on(&mut order);
    let data = json!({
        "amendment_id": proposed.amendment_id,
        "number": proposed.number,
        "changes": proposed.changes,
        "hash": proposed.hash,
        "respond_by": proposed.respond_by,
    });
    let mut commit = app.store.begin();
    commit.amendment(&proposed)?;
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok((order, proposed))
}

/// The terms in force on `order`: the contract, or the last amendment that took effect.
async fn terms_in_force(app: &App, order: &Order) -> Result<Terms, ApiError> {
    match &order.amended {
        None => Ok(order.terms.clone()),
        Some(amended) => app
            .store
            .amendment(&order.order_id, &amended.amendment_id)
            .await?
            .map(|a| a.terms)
            .ok_or_else(|| ApiError::internal("an order amended by an amendment it does not hold")),
    }
}

/// How a party answers an open amendment.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Accept,
    Decline,
    /// Its author takes it back.
    Withdraw,
}

impl Answer {
    /// The answer a route ends with: `…/accept`, `…/decline` or `…/withdraw`.
    pub fn named_by(route: &str) -> Answer {
        match route.rsplit('/').next() {
            Some("accept") => Answer::Accept,
            Some("decline") => Answer::Decline,
            _ => Answer::Withdraw,
        }
    }
}

/// What answering an amendment left: it, its order, and the payment accepting it opened
/// (an amendment that adds money).
pub struct Answered {
    pub order: Order,
    pub amendment: Amendment,
    pub payment: Option<Payment>,
}

impl Answered {
    /// The amendment with its order and payment as `viewer` sees them.
    pub fn view(&self, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        let mut body = self.amendment.with_order(&self.order, viewer, now);
        body["payment"] = json!(self.payment.as_ref().map(|p| p.view(viewer)));
        body
    }
}

/// A party answers the open amendment `amendment_id`: accepted, it takes effect (and a lower
/// price's difference is refunded), or, when it adds money, waits for the buyer's payment
/// opened here; declined or withdrawn, the order is as it was.
pub async fn answer(
    app: &App,
    caller: &Caller,
    order_id: &str,
    amendment_id: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<Answered, ApiError> {
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let mut proposed =
        app.store.amendment(order_id, amendment_id).await?.ok_or(ApiError::NotFound { what: "amendment" })?;
    let action = match answer {
        Answer::Accept => OrderAction::AcceptAmendment,
        Answer::Decline => OrderAction::DeclineAmendment,
        Answer::Withdraw => OrderAction::WithdrawAmendment,
    };
    if proposed.status_on(&order) != AmendmentStatus::Proposed {
        return Err(amendment::answered(&proposed, &order));
    }
    let t = lifecycle::step(ORDER, order.state, action, actor, &order.facts(now))
        .map_err(|why| amendment::refused(&order, why))?;
    let mut commit = app.store.begin();
    proposed.answered_by = Some(caller.user_id.clone());
    proposed.answered_at = Some(now);
    let mut data = json!({ "amendment_id": amendment_id, "number": proposed.number, "hash": proposed.hash });
    let mut payment = None;
    match answer {
        Answer::Accept if proposed.payment.is_some() => {
            let opened = open_payment(app, &mut proposed, &mut order, now).await?;
            commit.payment(&opened, 0)?;
            data["payment_intent_id"] = json!(opened.intent_id);
            data["amount"] = json!(opened.amount);
            data["pay_by"] = json!(proposed.respond_by);
            payment = Some(opened);
        }
        Answer::Accept => {
            if let Some(refund) = &proposed.refund {
                let reason = format!("amendment {}: a lower price", proposed.number);
                let id = format!("amendment-{}", proposed.number);
                let sent = refund_within(app, &mut commit, &mut order, &id, Some(refund.amount), &reason, now).await?;
                data["refund"] = json!({ "refund_id": sent.refund_id, "amount": sent.amount });
            }
            proposed.took_effect(&mut order, &mut data, now);
        }
        Answer::Decline => {
            proposed.status = AmendmentStatus::Declined;
            order.amendment_closed();
        }
        Answer::Withdraw => {
            proposed.status = AmendmentStatus::Withdrawn;
            order.amendment_closed();
        }
    }
    commit.amendment(&proposed)?;
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    if let Err(e) = app.commit(commit).await {
        let e = lost_to(app, order_id, amendment_id, e).await;
        match &payment {
            Some(opened) => {
                let awaits = |o: &Order| {
                    o.amendment.as_ref().and_then(|a| a.payment_intent_id.as_deref()) == Some(opened.intent_id.as_str())
                };
                settle_failed_commit(app, &order.order_id, &opened.intent_id, e, awaits).await?;
            }
            None => return Err(e),
        }
    }
    Ok(Answered { order, amendment: proposed, payment })
}

/// The error for an answer whose commit lost a race: if the amendment can no longer be
/// answered (another answer won, or the order moved on and it lapsed), that, with its
/// state (409); else `error` as it was.
async fn lost_to(app: &App, order_id: &str, amendment_id: &str, error: ApiError) -> ApiError {
    if !matches!(error, ApiError::Conflict { .. }) {
        return error;
    }
    let order = app.store.tracked::<Order>(order_id).await;
    let amendment = app.store.amendment(order_id, amendment_id).await;
    match (order, amendment) {
        (Ok(Some(order)), Ok(Some(a))) if a.status_on(&order) != AmendmentStatus::Proposed => {
            amendment::answered(&a, &order)
        }
        _ => error,
    }
}

/// Opens the buyer's payment of what `proposed` adds, under an idempotency key made from
/// it (asking twice opens one intent), and leaves it awaiting that payment until the end
/// of the order's payment window.
async fn open_payment(
    app: &App,
    proposed: &mut Amendment,
    order: &mut Order,
    now: DateTime<Utc>,
) -> Result<Payment, ApiError> {
    let amount = proposed.payment.clone().ok_or_else(|| ApiError::internal("a paid amendment without an amount"))?;
    let key = format!("amendment-{}", proposed.amendment_id);
    let intent = app.payments.open(&amount, &order.order_id, &key).await?;
    let purpose = Purpose::Amendment { amendment_id: proposed.amendment_id.clone() };
    let payment = Payment::open_for(app.payments.provider(), &intent, order, (&amount, purpose), now);
    let pay_by = now + chrono::Duration::seconds(order.policy.payment_window_seconds);
    proposed.awaits_payment(order, &intent.id, pay_by);
    Ok(payment)
}

/// An order's amendments as its parties (and support) read them.
pub struct Listed {
    pub order: Order,
    pub amendments: Vec<Amendment>,
}

impl Listed {
    /// Every amendment proposed on the order, oldest first, each with where it stands.
    pub fn view(&self) -> Value {
        json!({ "items": self.amendments.iter().map(|a| a.view(&self.order)).collect::<Vec<_>>() })
    }
}

/// An order's amendments, every one its parties (and support) may read.
pub async fn list(app: &App, caller: &Caller, order_id: &str) -> Result<Listed, ApiError> {
    let (order, _) = visible::<Order>(app, order_id, caller).await?;
    Ok(Listed { amendments: app.store.amendments(order_id).await?, order })
}

/// The amendments that took effect on `order`, in the chain's order.
pub async fn in_force(app: &App, order: &Order) -> Result<Vec<Amendment>, ApiError> {
    let mut amendments: Vec<Amendment> = app
        .store
        .amendments(&order.order_id)
        .await?
        .into_iter()
        .filter(|a| a.status == AmendmentStatus::Accepted)
        .collect();
    amendments.sort_by_key(|a| a.number);
    Ok(amendments)
}
