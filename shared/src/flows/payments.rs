//! Money flows: a verified provider event applied once, a refund requested and sent, an
//! unpaid intent cancelled, a held payment decided by support. Each decides with
//! `rules::payment` and commits one transaction with the order's timeline.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::adapters::dynamo::commit::Commit;
use crate::adapters::dynamo::keys::{self, Key};
use crate::adapters::payments::Payments;
use crate::adapters::provider_http::CALL_TIMEOUT;
use crate::flows::{App, chargebacks, ledger, until_not_raced};
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::followup::FollowUp;
use peyman_rules::lifecycle::{
    self, Actor, ORDER, OrderAction, OrderState, PaymentAction, REFUND_START, REFUNDS_CONFIRMED, RefundAction,
};
use peyman_rules::money::Money;
use peyman_rules::order::Order;
use peyman_rules::payment::{
    Answer, Answered, Chargeback, HeldDecision, OnSuccess, PaidByHand, Payment, PaymentEvent, PaymentStatus, Purpose,
    Receipt, Received, ReceivedEvent, Refund, RefundAnswer, RefundCall, RefundStatus, confirmed_by, move_payment,
    move_refund, on_success, refund_timer,
};
use peyman_rules::tracked::{Step, Tracked};
use peyman_rules::validate;

/// Adds a refund of `amount` of `payment` to `commit` ([`Payment::refund`] decides it):
/// its record (a second request with the same id is refused by the store, so it happens
/// once), the follow-up that asks the provider, and a timer at `check_at` that asks again
/// if the follow-up was lost or refused. The caller writes the payment and the order.
fn request_refund(
    commit: &mut Commit,
    payment: &mut Payment,
    refund_id: &str,
    amount: i64,
    reason: &str,
    now: DateTime<Utc>,
    check_at: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    let refund = payment.refund(refund_id, amount, reason, now, check_at)?;
    commit.new_refund(&refund)?;
    commit.followup(FollowUp::send_refund(&refund.intent_id, &refund.refund_id, now))?;
    commit.timer(check_at, &refund_timer(&refund.intent_id, &refund.refund_id))?;
    Ok(refund)
}

/// What a caller is told when the payment kept changing: a lost race it may retry.
fn kept_changing() -> ApiError {
    ApiError::conflict(Code::ConcurrentChange, "the payment kept changing; retry")
}

/// Applies a verified provider event once.
pub async fn receive(
    app: &App,
    provider: &str,
    received: &ReceivedEvent,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    if let PaymentEvent::Ignored { kind } = &received.event {
        tracing::info!(event_id = received.id, kind, "event type not used; acknowledged");
        return Ok(Received::Ignored);
    }
    until_not_raced(ApiError::internal("payment event kept losing races; the provider retries it"), || {
        receive_once(app, provider, received, now)
    })
    .await
}

/// One attempt at applying a provider event.
async fn receive_once(
    app: &App,
    provider: &str,
    received: &ReceivedEvent,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    if app.store.event_received(provider, &received.id).await? {
        return Ok(Received::Duplicate);
    }
    let mut commit = app.store.begin();
    commit.event_received(provider, &received.id, now)?;
    let outcome = match &received.event {
        PaymentEvent::Succeeded { intent_id, our_order_id, received, receipt } => {
            let paid = Paid { provider, intent_id, our_order_id: our_order_id.as_deref(), received, receipt };
            succeeded(app, &mut commit, paid, now).await?
        }
        PaymentEvent::Failed { intent_id, code, message } => {
            failed(app, &mut commit, intent_id, code, message, now).await?
        }
        PaymentEvent::Refunded { intent_id, amount_refunded } => {
            refunded(app, &mut commit, intent_id, *amount_refunded, now).await?
        }
        PaymentEvent::RefundFailed { intent_id, refund_id, provider_refund_id, reason } => {
            let failure = RefundFailure { intent_id, refund_id: refund_id.as_deref(), provider_refund_id, reason };
            refund_failed(app, &mut commit, failure, now).await?
        }
        PaymentEvent::ChargebackOpened { intent_id, provider_dispute_id, amount, reason, status } => {
            let chargeback = Chargeback {
                provider_dispute_id: provider_dispute_id.clone(),
                amount: amount.clone(),
                reason: reason.clone(),
                status: status.clone(),
                opened_at: now,
                closed_at: None,
            };
            chargebacks::opened(app, &mut commit, provider, intent_id, chargeback, now).await?
        }
        PaymentEvent::ChargebackClosed { intent_id, provider_dispute_id, status } => {
            chargebacks::closed(app, &mut commit, intent_id, provider_dispute_id, status, now).await?
        }
        PaymentEvent::Ignored { .. } => Received::Ignored,
    };
    if matches!(outcome, Received::Ignored | Received::AlreadyDecided) {
        // Not ours, or nothing to change: nothing is written, not even the receipt.
        tracing::info!(event_id = received.id, ?outcome, "payment event left alone");
        return Ok(outcome);
    }
    app.commit(commit).await?;
    tracing::info!(event_id = received.id, ?outcome, "payment event applied");
    Ok(outcome)
}

/// A success as the provider reported it.
struct Paid<'a> {
    provider: &'a str,
    intent_id: &'a str,
    our_order_id: Option<&'a str>,
    received: &'a Money,
    receipt: &'a Option<Receipt>,
}

async fn succeeded(app: &App, commit: &mut Commit, paid: Paid<'_>, now: DateTime<Utc>) -> Result<Received, ApiError> {
    let Paid { provider, intent_id, our_order_id, received, receipt } = paid;
    let payment = app.store.payment(intent_id).await?;
    let order_id = payment.as_ref().map(|p| p.order_id.as_str()).filter(|id| !id.is_empty()).or(our_order_id);
    let order = match order_id.filter(|id| ulid::Ulid::from_string(id).is_ok()) {
        Some(id) => app.store.tracked::<Order>(id).await?,
        None => None,
    };
    let decision = on_success(payment.as_ref(), our_order_id.is_some(), order.as_ref(), received);
    let mut payment = payment.unwrap_or_else(|| Payment::unknown(provider, intent_id, order.as_ref(), received, now));
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    if receipt.is_some() {
        payment.receipt = receipt.clone();
    }
    let mut data = json!({ "payment_intent_id": intent_id, "amount": received });
    if let Some(receipt) = receipt {
        // The masked card stays on the payment, out of the seller's sight.
        data["reference_id"] = json!(receipt.reference_id);
    }
    let outcome = match decision {
        OnSuccess::AlreadyDecided => return Ok(Received::AlreadyDecided),
        OnSuccess::NotOurs => {
            tracing::info!(intent_id, "a success for an intent we did not open; left alone");
            return Ok(Received::Ignored);
        }
        OnSuccess::Start => {
            let mut order = order.expect("on_success starts only a known order");
            let t = lifecycle::step(ORDER, order.state, OrderAction::Pay, Actor::System, &order.facts(now))
                .map_err(|r| ApiError::internal(format!("the table refused a payment on_success accepted: {r:?}")))?;
            move_payment(&mut payment, PaymentAction::Succeed, Actor::System, now)?;
            payment.received = Some(received.clone());
            payment.succeeded_at = Some(now);
            order.start_work(now);
            ledger::payment_received(commit, &mut order, provider, received.amount, now)?;
            commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
            Received::OrderStarted
        }
        OnSuccess::Amend => {
            let mut order = order.expect("on_success amends only a known order");
            let Purpose::Amendment { amendment_id } = &payment.purpose else {
                return Err(ApiError::internal("an amendment's success for a payment of something else"));
            };
            let mut amendment = app
                .store
                .amendment(&order.order_id, amendment_id)
                .await?
                .ok_or_else(|| ApiError::internal("an awaited amendment without its record"))?;
            let t = paid_step(&order, OrderAction::PayAmendment, now)?;
            paid_in(commit, &mut order, &mut payment, (provider, received), now)?;
            let mut data = data;
            data["amendment_id"] = json!(amendment.amendment_id);
            data["number"] = json!(amendment.number);
            data["hash"] = json!(amendment.hash);
            amendment.took_effect(&mut order, &mut data, now);
            commit.amendment(&amendment)?;
            commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
            Received::OrderAmended
        }
        OnSuccess::Tip => {
            let mut order = order.expect("on_success tips only a known order");
            let t = paid_step(&order, OrderAction::PayTip, now)?;
            paid_in(commit, &mut order, &mut payment, (provider, received), now)?;
            let release = order
                .release_tip(received.amount, now)
                .map_err(|e| ApiError::internal(format!("a tip cannot be released: {e}")))?;
            ledger::released(commit, &order, &release, now)?;
            let mut data = data;
            data["release"] = json!(release);
            commit.record(&mut order, Step::of(t, Actor::System, None, data), now)?;
            Received::TipPaid
        }
        OnSuccess::Hold(reason) | OnSuccess::HoldAndRefund(reason) => {
            let held = move_payment(&mut payment, PaymentAction::Hold, Actor::System, now)?;
            payment.held_reason = Some(reason);
            payment.received = Some(received.clone());
            let refund = if matches!(decision, OnSuccess::HoldAndRefund(_)) {
                // The whole amount received goes back; the id makes it one refund per intent.
                Some(request_refund(
                    commit,
                    &mut payment,
                    "held",
                    received.amount,
                    "payment could not start an order",
                    now,
                    now + app.config.refund_check_after,
                )?)
            } else {
                None
            };
            if let Some(mut order) = order {
                let mut data = data;
                data["held_reason"] = json!(reason);
                data["refund"] =
                    json!(refund.as_ref().map(|r| json!({ "refund_id": r.refund_id, "amount": r.amount })));
                commit.note(&mut order, &held.note(), data, now)?;
            }
            if refund.is_some() { Received::HeldAndRefunding } else { Received::Held }
        }
    };
    commit.payment(&payment, expected)?;
    Ok(outcome)
}

/// The order's step a payment after its own takes (an amendment's, a tip's): the table
/// allowed it when `on_success` did.
fn paid_step(
    order: &Order,
    action: OrderAction,
    now: DateTime<Utc>,
) -> Result<&'static lifecycle::Transition<OrderState, OrderAction>, ApiError> {
    lifecycle::step(ORDER, order.state, action, Actor::System, &order.facts(now))
        .map_err(|r| ApiError::internal(format!("the table refused a payment on_success accepted: {r:?}")))
}

/// A payment after the order's own succeeded: it is in the order's escrow, and a refund may
/// take from it (newest first).
fn paid_in(
    commit: &mut Commit,
    order: &mut Order,
    payment: &mut Payment,
    (provider, received): (&str, &Money),
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    move_payment(payment, PaymentAction::Succeed, Actor::System, now)?;
    payment.received = Some(received.clone());
    payment.succeeded_at = Some(now);
    order.extra_payments.push(payment.intent_id.clone());
    ledger::payment_received(commit, order, provider, received.amount, now)
}

async fn failed(
    app: &App,
    commit: &mut Commit,
    intent_id: &str,
    code: &Option<String>,
    message: &Option<String>,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    let Some(mut payment) = app.store.payment(intent_id).await? else {
        tracing::info!(intent_id, "a failure for an intent we did not open; left alone");
        return Ok(Received::Ignored);
    };
    // A failure reported after the payment was decided is an earlier attempt's: it
    // changes nothing.
    if payment.status != PaymentStatus::Open {
        return Ok(Received::AlreadyDecided);
    }
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    let t = move_payment(&mut payment, PaymentAction::Fail, Actor::System, now)?;
    payment.record_failure(code.clone(), message.clone(), now);
    commit.payment(&payment, expected)?;
    if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await?
        && order.state == OrderState::AwaitingPayment
    {
        let data = json!({ "payment_intent_id": intent_id, "code": code, "message": message });
        commit.note(&mut order, &t.note(), data, now)?;
    }
    Ok(Received::FailureRecorded)
}

async fn refunded(
    app: &App,
    commit: &mut Commit,
    intent_id: &str,
    amount_refunded: i64,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    let Some(mut payment) = app.store.payment(intent_id).await? else {
        tracing::info!(intent_id, "a refund of an intent we did not open; left alone");
        return Ok(Received::Ignored);
    };
    if amount_refunded <= payment.refund_confirmed {
        return Ok(Received::AlreadyDecided);
    }
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    let newly_confirmed = amount_refunded - payment.refund_confirmed;
    payment.refund_confirmed = amount_refunded;
    let mut refunds = app.store.refunds(intent_id).await?;
    let covered = confirmed_by(&refunds, amount_refunded);
    let mut confirmed = Vec::new();
    for i in covered {
        let seen = refunds[i].seen();
        move_refund(&mut refunds[i], RefundAction::Confirm, Actor::System, now)?;
        commit.refund(&refunds[i], seen)?;
        confirmed.push(refunds[i].refund_id.clone());
    }
    commit.payment(&payment, expected)?;
    // One event for the refunds this total confirmed (none: the total only moved).
    if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? {
        // Only money that entered the order's escrow is on its ledger (a held payment's
        // refund is not: issue 26 leaves held payments off the ledger).
        if order.escrow.paid > 0 {
            ledger::refund_confirmed(commit, &order, &payment.provider, newly_confirmed, now)?;
        }
        let data = json!({ "payment_intent_id": intent_id, "amount_refunded": amount_refunded, "refunds": confirmed });
        commit.note(&mut order, &REFUNDS_CONFIRMED, data, now)?;
    }
    Ok(Received::RefundConfirmed)
}

/// A provider's word that a refund it took failed afterwards.
struct RefundFailure<'a> {
    intent_id: &'a str,
    refund_id: Option<&'a str>,
    provider_refund_id: &'a str,
    reason: &'a Option<String>,
}

/// A refund the provider took failed at the bank: only one of ours (its metadata names a
/// refund we recorded, under the provider's id we recorded) moves. It is asked again with
/// backoff through its one timer (under a new idempotency key), or failed and listed for
/// support after `RETRY_ATTEMPTS`; had the provider's running total confirmed it, the
/// payment's confirmed total drops by it. The order's timeline records each.
async fn refund_failed(
    app: &App,
    commit: &mut Commit,
    failure: RefundFailure<'_>,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
    let RefundFailure { intent_id, refund_id, provider_refund_id, reason } = failure;
    let refund = match refund_id {
        Some(refund_id) => app.store.refund_record(intent_id, refund_id).await?,
        None => None,
    };
    let Some(mut refund) = refund else {
        tracing::info!(intent_id, provider_refund_id, "a failed refund we did not ask for; left alone");
        return Ok(Received::Ignored);
    };
    let (seen, was_confirmed) = (refund.seen(), refund.status == RefundStatus::Confirmed);
    let why = format!("failed after the provider took it: {}", reason.as_deref().unwrap_or("no reason given"));
    let Some(answered) = refund.bounced(provider_refund_id, &why, &app.config.retry, now)? else {
        return Ok(Received::AlreadyDecided);
    };
    let Answered { row, data, retry_at, .. } = answered;
    commit.refund(&refund, seen)?;
    if let Some(at) = retry_at {
        commit.timer(at, &refund_timer(intent_id, &refund.refund_id))?;
    }
    if was_confirmed {
        let mut payment =
            app.store.payment(intent_id).await?.ok_or_else(|| ApiError::internal("a refund without its payment"))?;
        let expected = payment.version;
        payment.version += 1;
        payment.updated_at = now;
        payment.unconfirm_refunded(refund.amount.amount);
        commit.payment(&payment, expected)?;
    }
    if let Some(mut order) = app.store.tracked::<Order>(&refund.order_id).await? {
        let mut data = data;
        data["refund_id"] = json!(refund.refund_id);
        data["amount"] = json!(refund.amount);
        commit.note(&mut order, &row.note(), data, now)?;
    }
    let refund_id = refund.refund_id.as_str();
    Ok(if refund.status == RefundStatus::Failed {
        tracing::error!(intent_id, refund_id, why, "refund failed at the bank too often; support must look");
        Received::RefundFailed
    } else {
        tracing::warn!(intent_id, refund_id, why, ?retry_at, "refund failed at the bank; asked again");
        Received::RefundRetrying
    })
}

/// Refunds `amount` of an order's payment through the provider, once per `refund_id`
/// (asking again returns the first refund). Cancellations of paid orders and dispute
/// resolutions call this; `charge.refunded` confirms it.
pub async fn refund(
    app: &App,
    order_id: &str,
    refund_id: &str,
    amount: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    until_not_raced(kept_changing(), || refund_once(app, order_id, refund_id, amount, reason, now)).await
}

async fn refund_once(
    app: &App,
    order_id: &str,
    refund_id: &str,
    amount: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    let mut order = app.store.tracked::<Order>(order_id).await?.ok_or(ApiError::NotFound { what: "order" })?;
    let intent_id = order.payment_intent_id.clone().ok_or(ApiError::NotFound { what: "payment" })?;
    if let Some(existing) = app.store.refund_record(&intent_id, refund_id).await? {
        return Ok(existing);
    }
    let mut payment = app.store.payment(&intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?;
    let expected = payment.version;
    payment.version += 1;
    let mut commit = app.store.begin();
    let check_at = now + app.config.refund_check_after;
    let refund = request_refund(&mut commit, &mut payment, refund_id, amount, reason, now, check_at)?;
    if order.escrow.paid > 0 && amount > order.escrow.held() {
        return Err(beyond_escrow(&order, amount));
    }
    if order.escrow.paid > 0 {
        ledger::refund_requested(&mut commit, &mut order, refund.amount.amount, now)?;
    }
    commit.payment(&payment, expected)?;
    let data = json!({ "refund_id": refund_id, "amount": refund.amount, "reason": reason });
    commit.note(&mut order, &REFUND_START.note(), data, now)?;
    app.commit(commit).await?;
    Ok(refund)
}

/// A refund of an order: one refund per payment it takes from, under one id.
#[derive(Debug)]
pub struct OrderRefund {
    pub refund_id: String,
    pub amount: Money,
    pub parts: Vec<Refund>,
}

/// Adds to `commit` a refund of `amount` of `order`'s payments (all that is left when
/// `None`; never more than is left: `refund_exceeds_payment`), under `refund_id`, with
/// each payment's new running total. An order paid more than once (a paid amendment, a
/// tip) is refunded from its newest payment first and its own last, each part within what
/// that payment may still give back, under the same id (a refund is keyed by its payment).
/// The caller records the order's own step (its event names the refund) in the same
/// commit, so a cancellation or a dispute's resolution and its refund happen together or
/// not at all.
pub async fn refund_within(
    app: &App,
    commit: &mut Commit,
    order: &mut Order,
    refund_id: &str,
    amount: Option<i64>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<OrderRefund, ApiError> {
    let own = order.payment_intent_id.clone().ok_or(ApiError::NotFound { what: "payment" })?;
    let mut payments = Vec::new();
    for intent_id in order.extra_payments.iter().rev().chain([&own]) {
        payments.push(app.store.payment(intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?);
    }
    let refundable = payments.iter().map(Payment::refundable).sum::<i64>();
    // Only what is still in escrow goes back: what was released is the seller's.
    let in_escrow = if order.escrow.paid > 0 { order.escrow.held() } else { refundable };
    let total = amount.unwrap_or(in_escrow.min(refundable));
    let check_at = now + app.config.refund_check_after;
    let mut left = total;
    let mut parts = Vec::new();
    let last = payments.len() - 1;
    for (i, payment) in payments.iter_mut().enumerate() {
        // The order's own payment takes what is left, and refuses what it cannot give.
        let part = if i == last { left } else { left.min(payment.refundable()) };
        if part == 0 && i != last {
            continue;
        }
        let expected = payment.version;
        payment.version += 1;
        parts.push(request_refund(commit, payment, refund_id, part, reason, now, check_at)?);
        commit.payment(payment, expected)?;
        left -= part;
        if left == 0 {
            break;
        }
    }
    if total > in_escrow {
        return Err(beyond_escrow(order, total));
    }
    if order.escrow.paid > 0 {
        ledger::refund_requested(commit, order, total, now)?;
    }
    let currency = parts.first().map_or_else(|| order.price().currency.clone(), |p| p.amount.currency.clone());
    Ok(OrderRefund { refund_id: refund_id.to_owned(), amount: Money { amount: total, currency }, parts })
}

/// After the commit that would have stored a payment opened for an order that runs (an
/// accepted amendment's, a tip's) failed: the order is read again, and if it `awaits` this
/// intent the commit happened (its answer was lost, or a twin request with the same
/// idempotency key, and so the same intent, won): `Ok`, nothing cancelled. Otherwise the
/// intent nobody can use is cancelled and the error stands. If the order cannot be read
/// the intent stays: a payment to it would be held and refunded.
pub async fn settle_failed_commit(
    app: &App,
    order_id: &str,
    intent_id: &str,
    error: ApiError,
    awaits: impl Fn(&Order) -> bool,
) -> Result<(), ApiError> {
    match app.store.tracked::<Order>(order_id).await {
        Ok(Some(order)) if awaits(&order) => return Ok(()),
        Ok(_) => {}
        Err(read) => {
            tracing::warn!(order_id, error = %read, "cannot tell whether the payment was stored; its intent stays");
            return Err(error);
        }
    }
    if let Err(cancel) = app.payments.cancel(intent_id).await {
        tracing::warn!(intent_id, error = %cancel, "an unused intent stays open; a payment to it is held and refunded");
    }
    Err(error)
}

/// A refund of more than the order's escrow still holds.
fn beyond_escrow(order: &Order, amount: i64) -> ApiError {
    ApiError::invalid(
        Code::RefundExceedsEscrow,
        "amount",
        format!("{amount} is more than the {} still held for this order", order.escrow.held()),
    )
}

/// How long after a claimed refund call its answer is surely back (twice the call's
/// timeout): a claim older than this was never answered.
fn refund_call_answered_within() -> chrono::Duration {
    chrono::Duration::from_std(2 * CALL_TIMEOUT).expect("a few seconds")
}

/// Asks the provider for a requested refund: from its follow-up, or from its timer
/// (`fired`, deleted in the same transaction) when the follow-up was lost or the
/// provider refused it. Stripe's idempotency key (the refund's own) makes asking twice
/// refund once; Zarinpal's refund service has no key, so its one call is claimed in the
/// table first, and a claimed call never answered goes to support rather than being made
/// again. A refusal is retried with backoff and, after `RETRY_ATTEMPTS`, the refund is
/// `failed` and listed for support (`REFUNDS#FAILED`); one the provider cannot make is
/// `manual` (`REFUNDS#MANUAL`). Each answer is an event on the order's timeline. A
/// provider that cannot be reached is an error: SQS or the sweep retries.
pub async fn send_refund(
    app: &App,
    intent_id: &str,
    refund_id: &str,
    fired: Option<&Key>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(mut refund) = app.store.refund_record(intent_id, refund_id).await? else {
        return Err(ApiError::internal(format!("refund {refund_id} of {intent_id} is not recorded")));
    };
    // Only a refund still to be sent needs its payment (the receipt to pay back to, the
    // total refunded) and a decision; any other only loses its timer below.
    let mut to_send = None;
    if refund.status == RefundStatus::Requested {
        let Some(payment) = app.store.payment(intent_id).await? else {
            return Err(ApiError::internal(format!("refund {refund_id} of {intent_id}: the payment is not recorded")));
        };
        let idempotent = app.payments.refunds_are_idempotent();
        let call = if idempotent { RefundCall::Free } else { refund.call(now, refund_call_answered_within()) };
        let by_hand = match call {
            // Its answer will be recorded; a timer that fired now is left to fire again.
            RefundCall::InFlight => return Ok(()),
            RefundCall::OutcomeUnknown => Some(
                "an earlier call to the refund service was never answered and may have refunded: check the \
                 gateway's panel before paying it back"
                    .to_owned(),
            ),
            // Decided before any claim: a refund that cannot be sent costs no write.
            RefundCall::Free => app.payments.refund_by_hand(&payment, refund.amount.amount),
        };
        if by_hand.is_none() && !idempotent {
            let seen = refund.seen();
            refund.start_call(now);
            let mut claim = app.store.begin();
            claim.refund(&refund, seen)?;
            match app.commit(claim).await {
                Ok(()) => {}
                // Another delivery claimed it first; its answer will be recorded.
                Err(ApiError::Conflict { .. }) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        to_send = Some((payment, by_hand));
    }
    let seen = refund.seen();
    let mut commit = app.store.begin();
    if let Some(key) = fired {
        commit.delete(key)?;
    }
    // A refund has one timer at a time: whatever happens now replaces it.
    let subject = refund_timer(intent_id, refund_id);
    if let Some(check_at) = refund.check_at.take()
        && fired.is_none_or(|key| key.sk != keys::timer(check_at.timestamp_millis(), &subject).sk)
    {
        commit.delete(&keys::timer(check_at.timestamp_millis(), &subject))?;
    }
    let Some((mut payment, by_hand)) = to_send else {
        // Sent, confirmed or failed already: only the timer, if any, goes.
        return if fired.is_some() { app.commit(commit).await } else { Ok(()) };
    };
    let answer = match by_hand {
        Some(why) => RefundAnswer::ByHand(why),
        None => app.payments.refund(&payment, refund.amount.amount, refund_id, &refund.idempotency_key()).await?,
    };
    let answered = refund.answered(answer, payment.receipt.as_ref(), &app.config.retry, now)?;
    let Answered { row, data, confirms, retry_at } = answered;
    let (status, why) = (refund.status, refund.failure.as_deref());
    match refund.status {
        RefundStatus::Manual => {
            tracing::warn!(intent_id, refund_id, why, "refund listed for support to pay back by hand")
        }
        RefundStatus::Failed => tracing::error!(intent_id, refund_id, why, "refund failed; support must look"),
        RefundStatus::Requested => tracing::warn!(intent_id, refund_id, why, ?retry_at, "refund refused; retried"),
        _ => tracing::info!(intent_id, refund_id, ?status, "refund sent"),
    }
    if confirms {
        let expected = payment.version;
        payment.version += 1;
        payment.updated_at = now;
        payment.confirm_refunded(refund.amount.amount)?;
        commit.payment(&payment, expected)?;
    }
    if let Some(at) = retry_at {
        commit.timer(at, &subject)?;
    }
    commit.refund(&refund, seen)?;
    if let Some(mut order) = app.store.tracked::<Order>(&refund.order_id).await? {
        let mut data = data;
        data["refund_id"] = json!(refund_id);
        data["amount"] = json!(refund.amount);
        commit.note(&mut order, &row.note(), data, now)?;
    }
    match app.commit(commit).await {
        // Another delivery of this follow-up, or the timer, recorded it first. (After a
        // claimed call nobody else can; should the payment have moved meanwhile, the
        // claim stays and the refund goes to support as an unknown outcome.)
        Ok(()) | Err(ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The follow-up that cancels an order's intent at the provider after its payment
/// window lapsed. If it was paid meanwhile the provider refuses, and the success event
/// holds and refunds that money.
pub async fn cancel_intent(app: &App, intent_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    match app.payments.cancel(intent_id).await? {
        Answer::Refused(why) => {
            tracing::warn!(intent_id, why, "the intent could not be cancelled; its events decide");
            Ok(())
        }
        Answer::Done(()) => {
            until_not_raced(ApiError::internal("the payment kept changing; SQS retries the cancellation"), || {
                record_canceled(app, intent_id, now)
            })
            .await
        }
    }
}

/// Records that the provider cancelled an open intent, on the payment and its order.
async fn record_canceled(app: &App, intent_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(mut payment) = app.store.payment(intent_id).await? else { return Ok(()) };
    if payment.status != PaymentStatus::Open {
        return Ok(());
    }
    let expected = payment.version;
    payment.version += 1;
    let t = move_payment(&mut payment, PaymentAction::Cancel, Actor::System, now)?;
    payment.updated_at = now;
    let mut commit = app.store.begin();
    commit.payment(&payment, expected)?;
    if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? {
        let data = json!({ "payment_intent_id": intent_id });
        commit.note(&mut order, &t.note(), data, now)?;
    }
    app.commit(commit).await
}

/// Support's decision on a held payment, once: `refund` sends back what is left of it;
/// `apply` starts its order (refunding any excess). Either way the payment leaves the
/// held queue, and the order's timeline records the decision with the support user.
pub async fn decide_held(
    app: &App,
    intent_id: &str,
    decision: HeldDecision,
    support: &Caller,
    now: DateTime<Utc>,
) -> Result<(Payment, Option<Refund>), ApiError> {
    support.require_support("works the payment queues")?;
    until_not_raced(kept_changing(), || decide_held_once(app, intent_id, decision, support, now)).await
}

async fn decide_held_once(
    app: &App,
    intent_id: &str,
    decision: HeldDecision,
    support: &Caller,
    now: DateTime<Utc>,
) -> Result<(Payment, Option<Refund>), ApiError> {
    let support_id = support.user_id.as_str();
    let mut payment = app.store.payment(intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?;
    let order = match payment.order_id.as_str() {
        "" => None,
        id => app.store.tracked::<Order>(id).await?,
    };
    if let Some(order) = &order {
        support.require_not_party([order.buyer_id.as_str(), order.seller_id.as_str()], "decide this payment")?;
    }
    let plan = peyman_rules::payment::decide_held(&payment, order.as_ref(), decision)?;
    let check_at = now + app.config.refund_check_after;
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    payment.decided_by = Some(support_id.to_owned());
    let mut commit = app.store.begin();
    let mut data = json!({ "payment_intent_id": intent_id, "decision": decision });
    // The refund first: a held payment may be refunded, a returned one no longer.
    let refund = match &plan.refund {
        Some(r) => Some(request_refund(&mut commit, &mut payment, r.refund_id, r.amount, r.reason, now, check_at)?),
        None => None,
    };
    let moved = move_payment(&mut payment, plan.action, Actor::Support, now)?;
    if plan.starts_order {
        payment.succeeded_at = Some(now);
    }
    data["refund"] = json!(refund.as_ref().map(|r| json!({ "refund_id": r.refund_id, "amount": r.amount })));
    if let Some(mut order) = order {
        let support = Some(support_id);
        if plan.starts_order {
            let t = lifecycle::step(ORDER, order.state, OrderAction::Pay, Actor::System, &order.facts(now))
                .map_err(|r| ApiError::internal(format!("the table refused a payment can_apply accepted: {r:?}")))?;
            order.start_work(now);
            // The order's price enters its escrow; any excess was refunded above.
            let price = order.terms.price.amount;
            ledger::payment_received(&mut commit, &mut order, &payment.provider, price, now)?;
            commit.record(&mut order, Step::of(t, Actor::Support, support, data), now)?;
        } else {
            let state = Some(order.state);
            let step = Step {
                from: state,
                to: order.state,
                event: moved.event,
                actor: Actor::Support,
                actor_id: support,
                notify: moved.notify,
                timers: &[],
                data,
            };
            commit.record(&mut order, step, now)?;
        }
    }
    commit.payment(&payment, expected)?;
    app.commit(commit).await?;
    Ok((payment, refund))
}

/// Support paid back by hand a refund the provider could not make (`manual`) or kept
/// refusing (`failed`), by a bank transfer whose reference it gives: the refund is
/// `confirmed`, with the reference and the support user's id, the payment's
/// `refund_confirmed` grows by it, and the order's timeline says so
/// (`refund_paid_by_hand`, both parties told). Once: any other refund is 409
/// `not_payable_by_hand`.
pub async fn paid_by_hand(
    app: &App,
    intent_id: &str,
    refund_id: &str,
    transfer_reference: &str,
    support: &Caller,
    now: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    support.require_support("works the payment queues")?;
    validate::line("transfer_reference", transfer_reference, TRANSFER_REFERENCE_CHARS)?;
    until_not_raced(kept_changing(), || paid_by_hand_once(app, intent_id, refund_id, transfer_reference, support, now))
        .await
}

/// The longest bank transfer reference support may give.
pub const TRANSFER_REFERENCE_CHARS: usize = 100;

async fn paid_by_hand_once(
    app: &App,
    intent_id: &str,
    refund_id: &str,
    transfer_reference: &str,
    support: &Caller,
    now: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    let support_id = support.user_id.as_str();
    let mut refund =
        app.store.refund_record(intent_id, refund_id).await?.ok_or(ApiError::NotFound { what: "refund" })?;
    let order = app.store.tracked::<Order>(&refund.order_id).await?;
    if let Some(order) = &order {
        support.require_not_party([order.buyer_id.as_str(), order.seller_id.as_str()], "mark this refund paid")?;
    }
    if !matches!(refund.status, RefundStatus::Manual | RefundStatus::Failed) {
        return Err(ApiError::conflict(
            Code::NotPayableByHand,
            "only a refund in support's manual or failed queue is paid back by hand; this one is not",
        ));
    }
    let mut payment = app.store.payment(intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?;
    let seen = refund.seen();
    let t = move_refund(&mut refund, RefundAction::PaidByHand, Actor::Support, now)?;
    refund.paid_by_hand =
        Some(PaidByHand { transfer_reference: transfer_reference.to_owned(), by: support_id.to_owned(), at: now });
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    payment.confirm_refunded(refund.amount.amount)?;
    let mut commit = app.store.begin();
    commit.refund(&refund, seen)?;
    commit.payment(&payment, expected)?;
    if let Some(mut order) = order {
        let data = json!({
            "payment_intent_id": intent_id,
            "refund_id": refund_id,
            "amount": refund.amount,
            "transfer_reference": transfer_reference,
        });
        let step = Step {
            from: Some(order.state),
            to: order.state,
            event: t.event,
            actor: Actor::Support,
            actor_id: Some(support_id),
            notify: t.notify,
            timers: &[],
            data,
        };
        commit.record(&mut order, step, now)?;
    }
    match app.commit(commit).await {
        // Its status or the payment moved meanwhile: look again.
        Err(ApiError::Conflict { .. }) => Err(kept_changing()),
        done => done.map(|()| refund),
    }
}

/// A webhook delivery from `provider`: its signature verified over the raw `body` before
/// anything reads it, then applied once. A bad signature is 400 (`invalid_signature`),
/// a body that is no event of the provider's 400 (`malformed_event`).
pub async fn receive_webhook(
    app: &App,
    provider: &str,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(ReceivedEvent, Received), ApiError> {
    let Payments::Stripe(stripe) = &app.payments else {
        return Err(ApiError::NotFound { what: "payment provider" });
    };
    if provider != crate::adapters::stripe::PROVIDER {
        return Err(ApiError::NotFound { what: "payment provider" });
    }
    stripe
        .verify(signature, body, now)
        .map_err(|e| ApiError::malformed(Code::InvalidSignature, Some("Stripe-Signature"), e.to_string()))?;
    let received = stripe.parse_event(body).map_err(|e| ApiError::malformed(Code::MalformedEvent, Some("body"), e))?;
    let outcome = receive(app, provider, &received, now).await?;
    Ok((received, outcome))
}
