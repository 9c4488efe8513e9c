//! Amendments of a running order (`rules::amendment`): either party proposes one, the other
//! accepts (it takes effect in the same transaction: the due time moves and its timers are
//! re-armed, more revisions count, a lower price refunds its difference from escrow
//! through the payment's own rule) or declines it; its author withdraws it; the sweeper
//! expires one left unanswered (`flows::timers`). Each is a step of the order's table, on its timeline with
//! the amendment's hash, and the amendment's record is written in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::flows::App;
use crate::flows::payments::refund_within;
use crate::flows::tracked::visible;
use peyman_rules::amendment::{self, Amendment, AmendmentStatus, NewAmendment};
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, ORDER, OrderAction};
use peyman_rules::offer::Terms;
use peyman_rules::order::Order;
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

/// A party answers the open amendment `amendment_id`: accepted, it takes effect (and a lower
/// price's difference is refunded); declined or withdrawn, the order is as it was.
pub async fn answer(
    app: &App,
    caller: &Caller,
    order_id: &str,
    amendment_id: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<(Order, Amendment), ApiError> {
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
    match answer {
        Answer::Accept => {
            proposed.status = AmendmentStatus::Accepted;
            if let Some(refund) = &proposed.refund {
                let reason = format!("amendment {}: a lower price", proposed.number);
                let id = format!("amendment-{}", proposed.number);
                let sent = refund_within(app, &mut commit, &mut order, &id, Some(refund.amount), &reason, now).await?;
                data["refund"] = json!({ "refund_id": sent.refund_id, "amount": sent.amount });
            }
            proposed.applied_to(&mut order, now);
            data["previous_hash"] = json!(proposed.previous_hash);
            data["terms_hash"] = json!(proposed.terms_hash);
            data["due_at"] = json!(order.due_at);
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
    app.commit(commit).await?;
    Ok((order, proposed))
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
