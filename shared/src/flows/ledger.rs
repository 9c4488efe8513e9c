//! The ledger's side of an order's transitions (issue 26): what a payment, a release or
//! a refund books, in the transaction of the order's step that causes it. Each is called
//! before that step is recorded, and names its event (the order's next seq).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::commit::Commit;
use crate::adapters::dynamo::keys;
use peyman_rules::error::ApiError;
use peyman_rules::ledger::{Entry, Refusal, Release, entries};
use peyman_rules::order::Order;
use peyman_rules::tracked::Tracked;

/// The cause of an entry booked with `order`'s next step: its partition, its event's seq,
/// and the name the entry carries.
fn cause(order: &Order) -> (String, u64, String) {
    let seq = order.version() + 1;
    (keys::tracked("ORDER", &order.order_id).pk, seq, format!("order/{}#{seq}", order.order_id))
}

fn book(commit: &mut Commit, order: &Order, made: impl FnOnce(&str) -> Result<Entry, Refusal>) -> Result<(), ApiError> {
    let (pk, seq, cause) = cause(order);
    let entry = made(&cause).map_err(|e| ApiError::internal(format!("a ledger entry cannot be made: {e}")))?;
    commit.ledger(&pk, seq, &entry)
}

fn currency(order: &Order) -> &str {
    &order.terms.price.currency
}

/// The buyer's payment entered the order's escrow (the order starts).
pub fn payment_received(
    commit: &mut Commit,
    order: &mut Order,
    provider: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    order.escrow.paid += amount;
    book(commit, order, |cause| {
        entries::payment_received(provider, &order.order_id, amount, currency(order), cause, now)
    })
}

/// The delivered stage is accepted (by the buyer, or their silence): what it releases is
/// booked and the order moves to its next stage or completes. Returns the step's event
/// data: the stage, and the release if there is one.
pub fn stage_accepted(commit: &mut Commit, order: &mut Order, now: DateTime<Utc>) -> Result<Value, ApiError> {
    let stage = order.stage + 1;
    let release = order.release().map_err(|e| ApiError::internal(format!("a release cannot be made: {e}")))?;
    if let Some(release) = &release {
        released(commit, order, release, now)?;
    }
    order.stage_accepted(now);
    Ok(json!({ "stage": stage, "release": release }))
}

/// A release (`Order::release`, `Order::release_rest`): its amount out of escrow, the fee
/// to the platform, the rest to the seller's pending earnings.
pub fn released(commit: &mut Commit, order: &Order, release: &Release, now: DateTime<Utc>) -> Result<(), ApiError> {
    book(commit, order, |cause| {
        entries::stage_released(
            &order.order_id,
            &order.seller_id,
            release.gross,
            release.fee,
            currency(order),
            cause,
            now,
        )
    })
}

/// A refund asked for: out of escrow, owed to the buyer until the provider confirms it.
pub fn refund_requested(
    commit: &mut Commit,
    order: &mut Order,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    order.escrow.refunded += amount;
    book(commit, order, |cause| entries::refund_requested(&order.order_id, amount, currency(order), cause, now))
}

/// The provider confirmed `amount` more refunded: it leaves the provider's account.
pub fn refund_confirmed(
    commit: &mut Commit,
    order: &Order,
    provider: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    book(commit, order, |cause| {
        entries::refund_confirmed(provider, &order.order_id, amount, currency(order), cause, now)
    })
}
