//! Chargebacks: the buyer's bank disputes a payment, and the provider tells us
//! (`charge.dispute.created`, then `charge.dispute.closed`). Only a payment we recorded
//! is ours. A chargeback on an order that can still be disputed opens a dispute with
//! reason `chargeback` (the order freezes); on one already disputed it joins that
//! dispute; on a completed or cancelled order it goes on the order's timeline. In every
//! case the payment lists it in support's chargeback queue until the bank decides, and
//! while it is undecided support cannot resolve the dispute. The bank's decision is
//! recorded on the payment, the dispute and the order; a `lost` one is no longer ours to
//! refund. Each runs inside the webhook's one transaction (`flows::payments::receive`).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::adapters::dynamo::commit::Commit;
use crate::flows::{App, ledger};
use peyman_rules::dispute::{self, Dispute};
use peyman_rules::error::ApiError;
use peyman_rules::ledger::EntryKind;
use peyman_rules::lifecycle::{
    self, Actor, CHARGEBACK_CLOSED, CHARGEBACK_OPENED, DISPUTE, DISPUTE_START, DisputeAction, ORDER, OrderAction,
};
use peyman_rules::order::Order;
use peyman_rules::payment::{Chargeback, ChargebackClosed, Received};
use peyman_rules::tracked::{Step, Tracked};

/// The provider (`provider`) reports `chargeback` on the payment of `intent_id`.
pub async fn opened(
    app: &App,
    commit: &mut Commit,
    provider: &str,
    intent_id: &str,
    chargeback: Chargeback,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    let Some(mut payment) = app.store.payment(intent_id).await? else {
        tracing::info!(intent_id, "a chargeback on a payment we did not open; left alone");
        return Ok(Received::Ignored);
    };
    let expected = payment.version;
    if !payment.chargeback_opened(&chargeback) {
        return Ok(Received::AlreadyDecided);
    }
    payment.version += 1;
    payment.updated_at = now;
    commit.payment(&payment, expected)?;
    tracing::warn!(intent_id, dispute = chargeback.provider_dispute_id, "chargeback opened; support is told");
    let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? else {
        return Ok(Received::ChargebackRecorded);
    };
    // The provider takes the money back now (an inquiry, `warning_*`, takes nothing), on
    // the ledger under the order's step below, whichever it is.
    if !chargeback.status.starts_with("warning") {
        ledger::chargeback(commit, &mut order, provider, chargeback.amount.amount, now)?;
    }
    let mut data = json!({ "payment_intent_id": intent_id, "chargeback": chargeback });
    if let Ok(t) = lifecycle::step(ORDER, order.state, OrderAction::OpenDispute, Actor::System, &order.facts(now)) {
        let id = ulid::Ulid::new().to_string();
        let mut dispute = dispute::for_chargeback(&order, provider, &chargeback, id, now);
        order.dispute_opened(&dispute.dispute_id, now);
        data["dispute_id"] = json!(dispute.dispute_id);
        data["reason"] = json!(dispute.reason);
        data["description"] = json!(dispute.description);
        commit.record(&mut dispute, Step::start(&DISPUTE_START, Actor::System, None, data.clone()), now)?;
        commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
        return Ok(Received::ChargebackDisputeOpened);
    }
    if let Some(mut dispute) = open_dispute(app, &order).await?
        && let Ok(t) =
            lifecycle::step(DISPUTE, dispute.state, DisputeAction::JoinChargeback, Actor::System, &dispute.facts(now))
    {
        dispute.chargeback = Some(chargeback);
        data["dispute_id"] = json!(dispute.dispute_id);
        commit.record(&mut dispute, Step::of(t, Actor::System, None, data.clone()), now)?;
        commit.note(&mut order, &CHARGEBACK_OPENED, data, now)?;
        return Ok(Received::ChargebackJoined);
    }
    commit.note(&mut order, &CHARGEBACK_OPENED, data, now)?;
    Ok(Received::ChargebackRecorded)
}

/// The provider reports the bank's decision (`status`) on the chargeback
/// `provider_dispute_id` of the payment of `intent_id`.
pub async fn closed(
    app: &App,
    commit: &mut Commit,
    intent_id: &str,
    provider_dispute_id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    let Some(mut payment) = app.store.payment(intent_id).await? else {
        tracing::info!(intent_id, "a chargeback's end on a payment we did not open; left alone");
        return Ok(Received::Ignored);
    };
    if payment.chargeback.as_ref().is_none_or(|c| c.provider_dispute_id != provider_dispute_id) {
        // Ours, but its opening has not arrived yet (a provider's events come in any
        // order): refused, so the provider delivers it again after the opening.
        return Err(ApiError::Unavailable {
            what: "chargeback",
            cause: format!("{provider_dispute_id} closed before it was opened here; the provider retries"),
        });
    }
    let expected = payment.version;
    let ChargebackClosed::Closed(chargeback) = payment.chargeback_closed(provider_dispute_id, status, now)? else {
        return Ok(Received::AlreadyDecided);
    };
    payment.version += 1;
    payment.updated_at = now;
    commit.payment(&payment, expected)?;
    tracing::warn!(intent_id, dispute = provider_dispute_id, status, "chargeback closed");
    let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? else {
        return Ok(Received::ChargebackClosed);
    };
    // Won: what it took comes back, under the order's note below. Lost: it stays gone.
    if status == "won" {
        let entries = app.store.order_ledger(&order.order_id).await?;
        if let Some(taken) = entries.iter().rev().find(|e| e.kind == EntryKind::Chargeback) {
            ledger::chargeback_won(commit, &mut order, taken, now)?;
        }
    }
    let mut data = json!({ "payment_intent_id": intent_id, "chargeback": chargeback });
    if let Some(dispute_id) = order.dispute_id.clone()
        && let Some(mut dispute) = app.store.tracked::<Dispute>(&dispute_id).await?
        && dispute.chargeback.as_ref().is_some_and(|c| c.provider_dispute_id == provider_dispute_id)
    {
        let t =
            lifecycle::step(DISPUTE, dispute.state, DisputeAction::CloseChargeback, Actor::System, &dispute.facts(now))
                .map_err(|why| ApiError::internal(format!("the table refused a chargeback's end: {why:?}")))?;
        dispute.chargeback = Some(chargeback);
        data["dispute_id"] = json!(dispute_id);
        commit.record(&mut dispute, Step::of(t, Actor::System, None, data.clone()), now)?;
    }
    commit.note(&mut order, &CHARGEBACK_CLOSED, data, now)?;
    Ok(Received::ChargebackClosed)
}

/// The order's dispute, when the order is disputed now.
async fn open_dispute(app: &App, order: &Order) -> Result<Option<Dispute>, ApiError> {
    match (&order.dispute_id, order.state) {
        (Some(id), lifecycle::OrderState::Disputed) => app.store.tracked::<Dispute>(id).await,
        _ => Ok(None),
    }
}
