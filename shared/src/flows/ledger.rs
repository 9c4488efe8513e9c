//! The ledger's side of an order's and a withdrawal's transitions (issue 26): what a
//! payment, a release, a refund or a withdrawal books, in the transaction of the step
//! that causes it. Each is called before that step is recorded, and names its event (the
//! entity's next seq).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::commit::Commit;
use crate::adapters::dynamo::keys;
use peyman_rules::error::ApiError;
use peyman_rules::ledger::{Account, Entry, EntryKind, Refusal, Release, cause_seq, entries};
use peyman_rules::lifecycle::OrderState;
use peyman_rules::money::Money;
use peyman_rules::order::Order;
use peyman_rules::timer::clearance_timer;
use peyman_rules::tracked::Tracked;
use peyman_rules::withdrawal::Withdrawal;

/// The cause of an entry booked with `order`'s next step: its partition, its event's seq,
/// and the name the entry carries.
fn cause(order: &Order) -> (String, u64, String) {
    let seq = order.version() + 1;
    (keys::tracked("ORDER", &order.order_id).pk, seq, format!("order/{}#{seq}", order.order_id))
}

/// Books the entry `made` makes with the cause of `order`'s next step, and returns it.
fn book(
    commit: &mut Commit,
    order: &Order,
    made: impl FnOnce(&str) -> Result<Entry, Refusal>,
) -> Result<Entry, ApiError> {
    let (pk, seq, cause) = cause(order);
    let entry = made(&cause).map_err(|e| ApiError::internal(format!("a ledger entry cannot be made: {e}")))?;
    commit.ledger(&pk, seq, &entry, None)?;
    Ok(entry)
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
    .map(drop)
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
    let (pk, seq, cause) = cause(order);
    let (id, seller) = (&order.order_id, &order.seller_id);
    let entry = entries::stage_released(id, seller, release.gross, release.fee, currency(order), &cause, now)
        .map_err(|e| ApiError::internal(format!("a ledger entry cannot be made: {e}")))?;
    // The seller's net is pending for the order's clearance period, then available.
    let clears_at = now + chrono::Duration::seconds(order.policy.clearance_seconds);
    commit.ledger(&pk, seq, &entry, Some(clears_at))?;
    commit.timer(clears_at, &clearance_timer(id, seq))
}

/// A completed order is disputed: its releases still pending (`ledger::pending_releases`)
/// go back into escrow, in one entry, and leave the seller's releases not yet cleared (on
/// the condition that they are still there, so a clearance that ran meanwhile and this
/// reversal never both take the same release).
pub fn release_reversed(
    commit: &mut Commit,
    order: &mut Order,
    releases: &[Entry],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if releases.is_empty() {
        return Ok(());
    }
    let entry = book(commit, order, |cause| entries::release_reversed(releases, cause, now))?;
    order.escrow.released += entry.posted(&Account::Escrow(order.order_id.clone()));
    let pk = keys::tracked("ORDER", &order.order_id).pk;
    for release in releases {
        let seq = cause_seq(&release.cause)
            .ok_or_else(|| ApiError::internal(format!("a release caused by {}", release.cause)))?;
        commit.cleared(&pk, seq)?;
    }
    Ok(())
}

/// What clearing a release does now: nothing yet while the order is disputed or its
/// payment charged back (it is held, and asked again later), or the release's net moved
/// from the seller's pending to available.
pub enum Clearance {
    Held,
    Cleared(Entry),
}

/// The clearance of `release` (one of `order`'s `stage_released` entries).
pub fn clearance(
    order: &Order,
    charged_back: bool,
    release: &Entry,
    now: DateTime<Utc>,
) -> Result<Clearance, ApiError> {
    if order.state == OrderState::Disputed || charged_back {
        return Ok(Clearance::Held);
    }
    let net = -release.posted(&Account::Pending(order.seller_id.clone()));
    let cause = format!("{}/cleared", release.cause);
    let order_id = Some(order.order_id.as_str());
    let entry =
        entries::seller_move(EntryKind::Cleared, &order.seller_id, net, &release.currency, order_id, &cause, now)
            .map_err(|e| ApiError::internal(format!("a clearance cannot be made: {e}")))?;
    Ok(Clearance::Cleared(entry))
}

/// The buyer's bank took `amount` back (a chargeback): what escrow still holds first,
/// the rest (already released) a loss of the platform's.
pub fn chargeback(
    commit: &mut Commit,
    order: &mut Order,
    provider: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let in_escrow = order.escrow.held();
    let entry = book(commit, order, |cause| {
        entries::chargeback(provider, &order.order_id, amount, in_escrow, currency(order), cause, now)
    })?;
    // What escrow gave is the entry's to say (`entries::chargeback` splits it).
    order.escrow.refunded += entry.posted(&Account::Escrow(order.order_id.clone()));
    Ok(())
}

/// The bank decided the chargeback booked as `taken` for us: what it took comes back.
pub fn chargeback_won(
    commit: &mut Commit,
    order: &mut Order,
    taken: &Entry,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    order.escrow.refunded -= taken.posted(&Account::Escrow(order.order_id.clone()));
    book(commit, order, |cause| entries::chargeback_reversed(taken, cause, now)).map(drop)
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
        .map(drop)
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
    .map(drop)
}

/// A withdrawal's step moves its amount between the seller's accounts (asked for:
/// available to withdrawing; paid: withdrawing to the bank; returned: back to available),
/// booked under the withdrawal's next event. Called before that step is recorded.
pub fn withdrawal_moved(
    commit: &mut Commit,
    withdrawal: &Withdrawal,
    kind: EntryKind,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let seq = withdrawal.version() + 1;
    let id = &withdrawal.withdrawal_id;
    let (pk, cause) = (keys::tracked(Withdrawal::KIND, id).pk, format!("withdrawal/{id}#{seq}"));
    let Money { amount, currency } = &withdrawal.amount;
    let entry = entries::seller_move(kind, &withdrawal.seller_id, *amount, currency, None, &cause, now)
        .map_err(|e| ApiError::internal(format!("a ledger entry cannot be made: {e}")))?;
    commit.ledger(&pk, seq, &entry, None)
}
