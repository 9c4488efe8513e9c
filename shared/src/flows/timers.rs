//! The sweep fires due timers, shard by shard: an unanswered request or an unaccepted
//! offer expires; an unpaid order's payment window lapses (the order is cancelled, its offer is open again unless it
//! expired meanwhile, and its intent is cancelled by a follow-up); an order in
//! progress past its due time is flagged late, and after the grace period its buyer is
//! told they may cancel it; a delivered stage the buyer left unanswered is accepted; an
//! unanswered cancellation request is accepted; a completed order's review window closes;
//! a dispute the other party left unanswered is marked so for support; an amendment left
//! unanswered expires; a refund is asked of the provider again. A timer whose entity has
//! moved on is refused and dropped; one that fails is retried later, then parked.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::adapters::dynamo::keys;
use crate::adapters::dynamo::timers::DueTimer;
use crate::flows::payments::{refund_within, send_refund};
use crate::flows::{App, ledger, reviews};
use peyman_rules::amendment::AmendmentStatus;
use peyman_rules::dispute::Dispute;
use peyman_rules::error::ApiError;
use peyman_rules::followup::FollowUp;
use peyman_rules::ledger::{EntryKind, pending_releases};
use peyman_rules::lifecycle::{
    self, Actor, DISPUTE, DisputeAction, LATE_CANCELLATION_AVAILABLE, Note, OFFER, ORDER, ORDER_LATE, OfferAction,
    OrderAction, REQUEST, RequestAction, Timer, Transition,
};
use peyman_rules::offer::Offer;
use peyman_rules::order::Order;
use peyman_rules::request::Request;
use peyman_rules::retry::Next;
use peyman_rules::timer::{Target, Verdict, target, verdict};
use peyman_rules::tracked::{Step, Tracked};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub fired: usize,
    pub retried: usize,
    pub parked: usize,
}

/// How many timer shards one sweep reads at once: each shard is read and fired in order,
/// and the shards side by side, so a sweep takes about the time of its slowest shards
/// rather than of all of them one after another.
const SHARDS_AT_ONCE: usize = 16;

/// One sweep at `now`.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<Swept, ApiError> {
    use futures_util::stream::{self, StreamExt};
    let outcomes: Vec<Result<Swept, ApiError>> = stream::iter(keys::timer_partitions())
        .map(|partition| sweep_shard(app, partition, now))
        .buffer_unordered(SHARDS_AT_ONCE)
        .collect()
        .await;
    let mut swept = Swept::default();
    for outcome in outcomes {
        let shard = outcome?;
        swept.fired += shard.fired;
        swept.retried += shard.retried;
        swept.parked += shard.parked;
    }
    tracing::info!(?swept, "sweep");
    Ok(swept)
}

/// Sweeps one shard: a page at a time, each timer fired as it is read, so the sweep's
/// memory is a page a shard however many are due.
async fn sweep_shard(app: &App, partition: String, now: DateTime<Utc>) -> Result<Swept, ApiError> {
    let mut swept = Swept::default();
    let mut start = None;
    loop {
        let (due, next) = app.store.due_timers(&partition, now, start).await?;
        for timer in due {
            fire_or_move_aside(app, &timer, now, &mut swept).await?;
        }
        match next {
            Some(next) => start = Some(next),
            None => return Ok(swept),
        }
    }
}

/// Fires `timer`; one that fails is moved aside (later, or parked), so a timer that
/// keeps failing never holds up the ones behind it.
async fn fire_or_move_aside(
    app: &App,
    timer: &DueTimer,
    now: DateTime<Utc>,
    swept: &mut Swept,
) -> Result<(), ApiError> {
    let error = match fire(app, timer, now).await {
        Ok(true) => {
            swept.fired += 1;
            return Ok(());
        }
        Ok(false) => return Ok(()),
        Err(e) => e.to_string(),
    };
    let attempts = timer.attempts + 1;
    let moved = match app.config.retry.after(attempts, now) {
        Next::RetryAt(at) => {
            tracing::warn!(subject = timer.subject, error, attempts, %at, "timer failed; retried later");
            app.store.retry_timer(timer, at, &error).await.map(|()| swept.retried += 1)
        }
        Next::Park => {
            tracing::error!(subject = timer.subject, error, attempts, "timer kept failing; parked for support");
            app.store.park_timer(timer, &error, now).await.map(|()| swept.parked += 1)
        }
    };
    match moved {
        // Another sweep moved it first.
        Ok(()) | Err(ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Fires one timer; `true` when it changed its entity.
pub async fn fire(app: &App, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    match target(&timer.subject) {
        Target::Offer(id) => expire::<Offer, _>(app, OFFER, OfferAction::Expire, id, timer, now).await,
        Target::Request(id) => expire::<Request, _>(app, REQUEST, RequestAction::Expire, id, timer, now).await,
        Target::Order(id, Timer::ExpireAtDeadline) => lapse_payment(app, id, timer, now).await,
        Target::Order(id, Timer::LateAtDue) => flag_late(app, id, timer, now).await,
        Target::Order(id, Timer::LateCancellationOpens) => open_late_cancellation(app, id, timer, now).await,
        Target::Order(id, Timer::AutoComplete) => auto_complete(app, id, timer, now).await,
        Target::Order(id, Timer::CancellationTimeout) => cancellation_timeout(app, id, timer, now).await,
        Target::Order(id, Timer::ReviewWindowCloses) => close_reviews(app, id, timer, now).await,
        Target::Order(id, Timer::AmendmentExpires) => expire_amendment(app, id, timer, now).await,
        Target::Order(_, Timer::ResponseDue) | Target::Unknown => drop_unknown(app, timer).await,
        Target::Refund { intent_id, refund_id } => {
            send_refund(app, intent_id, refund_id, Some(&timer.key), now).await.map(|()| true)
        }
        Target::Clearance { order_id, seq } => clear(app, order_id, seq, timer, now).await,
        Target::Dispute(id) => mark_unanswered(app, id, timer, now).await,
    }
}

/// How long a held clearance waits before it is asked again.
const HELD_CLEARANCE_RETRY: chrono::Duration = chrono::Duration::days(1);

/// Released money's clearance period ended: its net moves from the seller's pending to
/// available, once (the entry's key is the release's), with the timer taken in the same
/// transaction. While the order is disputed or its payment charged back it is held: the
/// timer is moved a day on.
async fn clear(app: &App, order_id: &str, seq: u64, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(order) = order_or_drop(app, order_id, timer).await? else { return Ok(false) };
    let entries = app.store.order_ledger(order_id).await?;
    let released_by = format!("order/{order_id}#{seq}");
    let release = entries.iter().find(|e| e.kind == EntryKind::StageReleased && e.cause == released_by);
    let Some(release) = release else { return drop_unknown(app, timer).await };
    // Cleared already, or taken back into escrow by a dispute after completion.
    if !pending_releases(&entries).iter().any(|r| r.cause == released_by) {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    }
    // Held while the bank's dispute on any of the order's payments (its own, a paid
    // amendment's, a tip's) is open, and for good once it is lost (support decides what
    // the seller keeps); a chargeback the marketplace won holds nothing.
    let mut charged_back = false;
    for intent_id in order.payment_intent_id.iter().chain(&order.extra_payments) {
        let chargeback = app.store.payment(intent_id).await?.and_then(|p| p.chargeback);
        if chargeback.is_some_and(|c| c.closed_at.is_none() || c.status != "won") {
            charged_back = true;
            break;
        }
    }
    let mut commit = app.store.begin();
    commit.take(&timer.key)?;
    let changed = match ledger::clearance(&order, charged_back, release, now)? {
        ledger::Clearance::Held => {
            commit.timer(now + HELD_CLEARANCE_RETRY, &timer.subject)?;
            false
        }
        ledger::Clearance::Cleared(entry) => {
            let pk = keys::tracked("ORDER", order_id).pk;
            commit.ledger(&pk, seq, &entry, None)?;
            commit.cleared(&pk, seq)?;
            true
        }
    };
    app.commit(commit).await?;
    Ok(changed)
}

async fn drop_unknown(app: &App, timer: &DueTimer) -> Result<bool, ApiError> {
    tracing::warn!(subject = timer.subject, "a timer for nothing we know; dropped");
    app.store.delete_key(&timer.key).await?;
    Ok(false)
}

/// The payment window of an unpaid order lapsed: in one transaction the order is
/// cancelled, its offer reopened (or expired, if its own deadline passed meanwhile), and
/// the cancellation of its intent put in the outbox.
async fn lapse_payment(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    let Some(t) = due_step(app, ORDER, OrderAction::LapsePayment, &order, timer, now).await? else { return Ok(false) };
    let mut commit = app.store.begin();
    let data = json!({ "payment_intent_id": order.payment_intent_id });
    commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
    if let Some(mut offer) = app.store.tracked::<Offer>(&order.offer_id).await?
        && offer.order_id.as_deref() == Some(id)
        && let Ok(t) = lifecycle::step(OFFER, offer.state, OfferAction::Reopen, Actor::System, &offer.facts(now))
    {
        offer.order_id = None;
        commit.record(&mut offer, Step::of(t, Actor::System, None, json!({ "lapsed_order_id": id })), now)?;
    }
    if let Some(intent_id) = &order.payment_intent_id {
        commit.followup(FollowUp::cancel_payment(intent_id, now))?;
    }
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// A delivered stage the buyer left unanswered past the auto-complete window is accepted
/// for them: the next stage is in progress, or the order is complete. The timer of an
/// earlier delivery (the stage was revised and delivered again since) is dropped.
async fn auto_complete(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    if order.auto_complete_at.is_none() || order.auto_complete_at != timer.due_at {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    }
    let Some(t) = due_step(app, ORDER, OrderAction::AutoComplete, &order, timer, now).await? else { return Ok(false) };
    let mut commit = app.store.begin();
    let data = ledger::stage_accepted(&mut commit, &mut order, now)?;
    commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// A cancellation request the other party left unanswered past the response window is
/// accepted for them: the order is cancelled and refunded. The timer of a request that
/// was answered (or of an earlier one) is dropped.
async fn cancellation_timeout(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    let Some(request) = order.cancellation.clone().filter(|c| Some(c.respond_by) == timer.due_at) else {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    };
    let Some(t) = due_step(app, ORDER, OrderAction::CancellationTimeout, &order, timer, now).await? else {
        return Ok(false);
    };
    let mut commit = app.store.begin();
    let reason = "cancelled by agreement (no answer in time)";
    let refund = refund_within(app, &mut commit, &mut order, "cancellation", None, reason, now).await?;
    order.cancellation = None;
    let data = json!({
        "request_id": request.request_id,
        "refund": { "refund_id": refund.refund_id, "amount": refund.amount },
    });
    commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// A completed order's review window closed: what was written is published (the buyer's
/// review under the gig, counted in its summary), and no review can be written any more.
/// The timer of an order whose reviews were both written, and so published, is dropped.
async fn close_reviews(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    if order.reviews.published_at.is_some() {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    }
    let Some(t) = due_step(app, ORDER, OrderAction::CloseReviews, &order, timer, now).await? else { return Ok(false) };
    let mut written = app.store.order_reviews(id).await?;
    let mut commit = app.store.begin();
    let data = reviews::publish(&mut commit, &mut written, now)?;
    order.review_window_closed(now);
    commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// The response window of a dispute passed with no statement from the other party: it is
/// marked unanswered on its timeline (both parties are told) and support is told (the
/// queue shows it; the log line feeds an alarm). A timer of a dispute answered, marked or
/// closed since is dropped.
async fn mark_unanswered(app: &App, dispute_id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let dispute = app.store.tracked::<Dispute>(dispute_id).await?;
    let Some(mut dispute) = dispute.filter(|d| d.response_due().is_some() && d.response_due() == timer.due_at) else {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    };
    let Some(t) = due_step(app, DISPUTE, DisputeAction::MarkUnanswered, &dispute, timer, now).await? else {
        return Ok(false);
    };
    dispute.unanswered_at = Some(now);
    let data = json!({ "respond_by": dispute.respond_by, "waiting_on": dispute.waiting_on() });
    let mut commit = app.store.begin();
    commit.record(&mut dispute, Step::of(t, Actor::System, None, data), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    tracing::warn!(dispute_id, order_id = dispute.order_id, "dispute unanswered");
    Ok(true)
}

/// An amendment left unanswered past its window expires: its record and the order's step
/// in one transaction. A timer of one answered, or of an order that moved on, is dropped.
async fn expire_amendment(app: &App, order_id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let order = app.store.tracked::<Order>(order_id).await?;
    let open = order.as_ref().and_then(|o| o.amendment.clone()).filter(|a| Some(a.respond_by) == timer.due_at);
    let (Some(mut order), Some(open)) = (order, open) else {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    };
    let Some(t) = due_step(app, ORDER, OrderAction::ExpireAmendment, &order, timer, now).await? else {
        return Ok(false);
    };
    let mut proposed = app
        .store
        .amendment(order_id, &open.amendment_id)
        .await?
        .ok_or_else(|| ApiError::internal("an open amendment without its record"))?;
    proposed.status = AmendmentStatus::Expired;
    proposed.answered_at.get_or_insert(now);
    order.amendment_closed();
    let mut data = json!({ "amendment_id": proposed.amendment_id, "number": proposed.number, "hash": proposed.hash });
    let mut commit = app.store.begin();
    // Accepted and unpaid: its intent is cancelled through the outbox, as an unpaid
    // order's is; a payment that still arrives is held and refunded.
    if let Some(intent_id) = &open.payment_intent_id {
        commit.followup(FollowUp::cancel_payment(intent_id, now))?;
        data["payment_intent_id"] = json!(intent_id);
    }
    commit.amendment(&proposed)?;
    commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// An order in progress passed its due time undelivered: it is flagged late.
async fn flag_late(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    if !order.flag_late(now) {
        return keep_if_early(app, timer, order.due_at, now).await;
    }
    let data = json!({ "due_at": order.due_at });
    note_and_drop(app, &mut order, timer, &ORDER_LATE, data, now).await
}

/// The grace period after a late order's due time is over: its buyer may cancel it.
async fn open_late_cancellation(app: &App, id: &str, timer: &DueTimer, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(mut order) = order_or_drop(app, id, timer).await? else { return Ok(false) };
    if !order.late_cancellation_opens(now) {
        return keep_if_early(app, timer, order.timer_due(Timer::LateCancellationOpens), now).await;
    }
    note_and_drop(app, &mut order, timer, &LATE_CANCELLATION_AVAILABLE, json!({}), now).await
}

/// Writes what a fired timer found into the order's timeline and drops the timer, in one
/// transaction.
async fn note_and_drop(
    app: &App,
    order: &mut Order,
    timer: &DueTimer,
    note: &Note,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let mut commit = app.store.begin();
    commit.note(order, note, data, now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// The timer's order; a timer for an order that does not exist is dropped.
async fn order_or_drop(app: &App, id: &str, timer: &DueTimer) -> Result<Option<Order>, ApiError> {
    let order = app.store.tracked::<Order>(id).await?;
    if order.is_none() {
        app.store.delete_key(&timer.key).await?;
    }
    Ok(order)
}

/// A timer that fired before its time stays for a later sweep; one whose order moved on
/// (delivered, cancelled) is dropped.
async fn keep_if_early(
    app: &App,
    timer: &DueTimer,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    if due.is_none_or(|due| now >= due) {
        app.store.delete_key(&timer.key).await?;
    }
    Ok(false)
}

async fn expire<T: Tracked, A: Copy + PartialEq>(
    app: &App,
    table: &'static [Transition<T::State, A>],
    action: A,
    id: &str,
    timer: &DueTimer,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let Some(mut entity) = app.store.tracked::<T>(id).await? else {
        app.store.delete_key(&timer.key).await?;
        return Ok(false);
    };
    let Some(t) = due_step(app, table, action, &entity, timer, now).await? else { return Ok(false) };
    let mut commit = app.store.begin();
    commit.record(&mut entity, Step::of(t, Actor::System, None, json!({})), now)?;
    commit.delete(&timer.key)?;
    app.commit(commit).await?;
    Ok(true)
}

/// The row a fired timer's action takes on `entity` now, if any (`timer::verdict`): one
/// not due yet keeps its timer for a later sweep; one whose entity moved on is dropped.
async fn due_step<T: Tracked, A: Copy + PartialEq>(
    app: &App,
    table: &'static [Transition<T::State, A>],
    action: A,
    entity: &T,
    timer: &DueTimer,
    now: DateTime<Utc>,
) -> Result<Option<&'static Transition<T::State, A>>, ApiError> {
    match verdict(table, entity.state(), action, &entity.facts(now)) {
        Verdict::Fire(row) => Ok(Some(row)),
        Verdict::Keep => Ok(None),
        Verdict::Drop => {
            app.store.delete_key(&timer.key).await?;
            Ok(None)
        }
    }
}
