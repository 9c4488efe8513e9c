//! Payments and refunds: records of their own, one payment per provider PaymentIntent,
//! listed on their order and written into its timeline. The provider's verified events
//! (not the frontend) move an order from `awaiting_payment` to `in_progress`; what an
//! event means is decided here, by pure functions, and applied in one transaction
//! together with the record that the event was received, so a duplicate or a retried
//! delivery has no second effect and an out-of-order one never moves an order back.
//!
//! Money that cannot start an order (the amount or currency differs, the order was
//! cancelled, the intent is unknown) is never lost: the payment is `held` for review and,
//! where no order can use it, refunded through the outbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::App;
use crate::error::ApiError;
use crate::followup::FollowUp;
use crate::lifecycle::{
    self, Actor, Facts, ORDER, OrderAction, OrderState, PAYMENT, PaymentAction, REFUND, REFUND_START, RefundAction,
    Transition,
};
pub use crate::lifecycle::{PaymentStatus, RefundStatus};
use crate::money::Money;
use crate::order::Order;
use crate::retry::Next;
use crate::store::Commit;
use crate::stripe::{Answer, Intent, ReceivedEvent};
use crate::tracked::{Step, Tracked, note, record};

/// What a provider told us, in our words.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    /// The money was taken: `received` as the provider reports it. `our_order_id` is the
    /// order our mark on the intent names, if it carries this deployment's mark.
    Succeeded { intent_id: String, our_order_id: Option<String>, received: Money },
    /// An attempt to pay failed (the buyer may try again).
    Failed { intent_id: String, code: Option<String>, message: Option<String> },
    /// The provider has refunded `amount_refunded` in total so far.
    Refunded { intent_id: String, amount_refunded: i64 },
    /// An event type we do not use; acknowledged so the provider stops sending it.
    Ignored { kind: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldReason {
    /// The amount or currency received differs from the order's price.
    AmountMismatch,
    /// The order no longer awaits payment (cancelled when its window lapsed).
    OrderNotPayable,
    /// A PaymentIntent we never opened, or one whose order does not exist.
    UnknownPayment,
    /// The provider refunded (part of) it before telling us it succeeded.
    RefundedBeforeSuccess,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub at: DateTime<Utc>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// How many failed attempts a payment keeps (the newest).
const FAILURES_KEPT: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub intent_id: String,
    pub provider: String,
    /// Empty for a payment whose order is unknown.
    pub order_id: String,
    /// What the order asked for (for a payment whose order is unknown, what was received).
    pub amount: Money,
    /// What the provider reports it took, once it succeeded: for a held payment this is
    /// what support decides on and what a refund may return at most.
    #[serde(default)]
    pub received: Option<Money>,
    pub client_secret: Option<String>,
    pub status: PaymentStatus,
    pub held_reason: Option<HeldReason>,
    pub failures: Vec<Failure>,
    /// Refunds asked of the provider, in total.
    pub refund_requested: i64,
    /// Refunds the provider confirmed, in total (`charge.refunded`).
    pub refund_confirmed: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
    /// The support user who decided a held payment.
    #[serde(default)]
    pub decided_by: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// Chosen by the caller, so asking twice for the same refund refunds once.
    pub refund_id: String,
    pub intent_id: String,
    pub order_id: String,
    pub amount: Money,
    pub reason: String,
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    /// The provider's last refusal.
    pub failure: Option<String>,
    /// How often the provider refused it; after `RETRY_ATTEMPTS` it is `failed`.
    #[serde(default)]
    pub attempts: u32,
    /// When its one timer fires to ask the provider again, while it is `requested`.
    #[serde(default)]
    pub check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The timer that checks a refund reached the provider, and retries it if not.
pub fn refund_timer(intent_id: &str, refund_id: &str) -> String {
    format!("refund/{intent_id}/{refund_id}")
}

impl Payment {
    /// The payment opened for a new order.
    pub fn open(provider: &str, intent: &Intent, order: &Order, now: DateTime<Utc>) -> Payment {
        let mut payment = Payment::unknown(provider, &intent.id, Some(order), &order.terms.price, now);
        payment.client_secret = Some(intent.client_secret.clone());
        // Written new (expected version 0) as version 1.
        payment.version = 1;
        payment
    }

    /// A payment for an intent we never opened, recorded so the money is not lost (and
    /// the base of one we open).
    fn unknown(provider: &str, intent_id: &str, order: Option<&Order>, amount: &Money, now: DateTime<Utc>) -> Payment {
        Payment {
            intent_id: intent_id.to_owned(),
            provider: provider.to_owned(),
            order_id: order.map(|o| o.order_id.clone()).unwrap_or_default(),
            amount: amount.clone(),
            received: None,
            client_secret: None,
            status: PaymentStatus::Open,
            held_reason: None,
            failures: Vec::new(),
            refund_requested: 0,
            refund_confirmed: 0,
            created_at: now,
            updated_at: now,
            succeeded_at: None,
            decided_by: None,
            version: 0,
        }
    }

    /// How the payment shows to a party: the client secret only to the buyer, and only
    /// while it can still be paid.
    pub fn view(&self, viewer: Option<Actor>) -> Value {
        let secret = (viewer == Some(Actor::Buyer) && self.status == PaymentStatus::Open)
            .then_some(self.client_secret.as_deref())
            .flatten();
        json!({
            "provider": self.provider,
            "payment_intent_id": self.intent_id,
            "client_secret": secret,
            "amount": self.amount,
            "received": self.received,
            "status": self.status,
            "held_reason": self.held_reason,
            "failures": self.failures,
            "refund_requested": self.refund_requested,
            "refund_confirmed": self.refund_confirmed,
            "created_at": self.created_at,
            "succeeded_at": self.succeeded_at,
            "decided_by": self.decided_by,
        })
    }
}

/// Moves `payment` through its table (`lifecycle::PAYMENT`). The decisions here ask only
/// for rows that exist, so a refusal is our bug.
fn move_payment(
    payment: &mut Payment,
    action: PaymentAction,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<&'static Transition<PaymentStatus, PaymentAction>, ApiError> {
    let t = lifecycle::step(PAYMENT, payment.status, action, actor, &Facts::at(now)).map_err(|r| {
        ApiError::internal(format!(
            "payment {}: {action:?} from {:?} refused: {r:?}",
            payment.intent_id, payment.status
        ))
    })?;
    payment.status = t.to;
    Ok(t)
}

/// Moves `refund` through its table (`lifecycle::REFUND`).
fn move_refund(
    refund: &mut Refund,
    action: RefundAction,
    now: DateTime<Utc>,
) -> Result<&'static Transition<RefundStatus, RefundAction>, ApiError> {
    let t = lifecycle::step(REFUND, refund.status, action, Actor::System, &Facts::at(now)).map_err(|r| {
        ApiError::internal(format!("refund {}: {action:?} from {:?} refused: {r:?}", refund.refund_id, refund.status))
    })?;
    refund.status = t.to;
    refund.updated_at = now;
    Ok(t)
}

impl Payment {
    /// What was paid: what the provider reported, or the price asked where no report
    /// has been kept.
    pub fn paid(&self) -> &Money {
        self.received.as_ref().unwrap_or(&self.amount)
    }
}

impl Refund {
    pub fn view(&self) -> Value {
        json!({
            "refund_id": self.refund_id,
            "payment_intent_id": self.intent_id,
            "amount": self.amount,
            "reason": self.reason,
            "status": self.status,
            "provider_refund_id": self.provider_refund_id,
            "failure": self.failure,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// What a `Succeeded` event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// This payment was already decided: a duplicate or a late repeat.
    AlreadyDecided,
    /// Start the order's work.
    Start,
    /// Hold the money for review; an order exists that support may still start.
    Hold(HeldReason),
    /// Hold the money and refund it: no order can use it.
    HoldAndRefund(HeldReason),
    /// An intent we neither opened nor marked: another product's on the same account.
    NotOurs,
}

/// Decides a success. Only what is ours is touched: an intent we hold a record of, or
/// one that carries our mark (`marked`: the crash between opening the intent and
/// committing its order leaves no record, and that money is held and refunded). Never
/// moves an order backwards: only an order awaiting payment starts, and only with
/// exactly its price.
pub fn on_success(payment: Option<&Payment>, marked: bool, order: Option<&Order>, received: &Money) -> OnSuccess {
    if payment.is_none() && !marked {
        return OnSuccess::NotOurs;
    }
    let (Some(payment), Some(order)) = (payment, order) else {
        return OnSuccess::HoldAndRefund(HeldReason::UnknownPayment);
    };
    if matches!(payment.status, PaymentStatus::Succeeded | PaymentStatus::Held) {
        return OnSuccess::AlreadyDecided;
    }
    if order.state != OrderState::AwaitingPayment || order.payment_intent_id.as_deref() != Some(&payment.intent_id) {
        return OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable);
    }
    let price = &order.terms.price;
    if received.amount != price.amount || !received.currency.eq_ignore_ascii_case(&price.currency) {
        return OnSuccess::Hold(HeldReason::AmountMismatch);
    }
    if payment.refund_confirmed > 0 {
        return OnSuccess::Hold(HeldReason::RefundedBeforeSuccess);
    }
    OnSuccess::Start
}

/// The refunds a provider's running total `amount_refunded` covers, oldest first: each
/// refund is confirmed once the total reaches the sum up to and including it.
pub fn confirmed_by(refunds: &[Refund], amount_refunded: i64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..refunds.len()).collect();
    order.sort_by_key(|&i| (refunds[i].created_at, refunds[i].refund_id.clone()));
    let mut total = 0;
    let mut covered = Vec::new();
    for i in order {
        if refunds[i].status == RefundStatus::Failed {
            continue;
        }
        total += refunds[i].amount.amount;
        if total <= amount_refunded && refunds[i].status != RefundStatus::Confirmed {
            covered.push(i);
        }
    }
    covered
}

/// Adds a refund of `amount` to `commit`: its record (a second request with the same id
/// is refused by the store, so it happens once), the payment's running total, the
/// follow-up that asks the provider, and a timer at `check_at` that asks again if the
/// follow-up was lost or refused. The caller writes the payment and the order.
pub fn request_refund(
    commit: &mut Commit,
    payment: &mut Payment,
    refund_id: &str,
    amount: i64,
    reason: &str,
    now: DateTime<Utc>,
    check_at: DateTime<Utc>,
) -> Result<Refund, ApiError> {
    if !matches!(payment.status, PaymentStatus::Succeeded | PaymentStatus::Held) {
        return Err(ApiError::conflict("not_paid", "only money that was paid can be refunded"));
    }
    let paid = payment.paid().amount;
    if amount <= 0 || payment.refund_requested + amount > paid {
        return Err(ApiError::invalid(
            "refund_exceeds_payment",
            "amount",
            format!("at most {} can still be refunded", paid - payment.refund_requested),
        ));
    }
    payment.refund_requested += amount;
    payment.updated_at = now;
    let refund = Refund {
        refund_id: refund_id.to_owned(),
        intent_id: payment.intent_id.clone(),
        order_id: payment.order_id.clone(),
        amount: Money { amount, currency: payment.paid().currency.clone() },
        reason: reason.to_owned(),
        status: REFUND_START.state,
        provider_refund_id: None,
        failure: None,
        attempts: 0,
        check_at: Some(check_at),
        created_at: now,
        updated_at: now,
    };
    commit.new_refund(&refund)?;
    commit.followup(FollowUp::send_refund(&refund.intent_id, &refund.refund_id, now))?;
    commit.timer(check_at, &refund_timer(&refund.intent_id, &refund.refund_id))?;
    Ok(refund)
}

/// What receiving an event did, as the webhook reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Received {
    Duplicate,
    Ignored,
    OrderStarted,
    Held,
    HeldAndRefunding,
    FailureRecorded,
    RefundConfirmed,
    AlreadyDecided,
}

/// How often a receipt is rebuilt after losing a race on the payment or the order
/// before the provider is asked to retry.
const ATTEMPTS: usize = 5;

/// Applies a verified provider event once.
pub async fn receive(app: &App, provider: &str, received: &ReceivedEvent) -> Result<Received, ApiError> {
    if let PaymentEvent::Ignored { kind } = &received.event {
        tracing::info!(event_id = received.id, kind, "event type not used; acknowledged");
        return Ok(Received::Ignored);
    }
    for _ in 0..ATTEMPTS {
        if app.store.event_received(provider, &received.id).await? {
            return Ok(Received::Duplicate);
        }
        let now = Utc::now();
        let mut commit = app.store.begin();
        commit.event_received(provider, &received.id, now)?;
        let outcome = match &received.event {
            PaymentEvent::Succeeded { intent_id, our_order_id, received } => {
                succeeded(app, &mut commit, provider, intent_id, our_order_id.as_deref(), received, now).await?
            }
            PaymentEvent::Failed { intent_id, code, message } => {
                failed(app, &mut commit, intent_id, code, message, now).await?
            }
            PaymentEvent::Refunded { intent_id, amount_refunded } => {
                refunded(app, &mut commit, intent_id, *amount_refunded, now).await?
            }
            PaymentEvent::Ignored { .. } => Received::Ignored,
        };
        if matches!(outcome, Received::Ignored | Received::AlreadyDecided) {
            // Not ours, or nothing to change: nothing is written, not even the receipt.
            tracing::info!(event_id = received.id, ?outcome, "payment event left alone");
            return Ok(outcome);
        }
        match app.commit(commit).await {
            Ok(()) => {
                tracing::info!(event_id = received.id, ?outcome, "payment event applied");
                return Ok(outcome);
            }
            Err(ApiError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::internal("payment event kept losing races; the provider retries it"))
}

async fn succeeded(
    app: &App,
    commit: &mut Commit,
    provider: &str,
    intent_id: &str,
    our_order_id: Option<&str>,
    received: &Money,
    now: DateTime<Utc>,
) -> Result<Received, ApiError> {
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
    let data = json!({ "payment_intent_id": intent_id, "amount": received });
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
            record(commit, &mut order, Step::of(t, Actor::System, None, data), now)?;
            Received::OrderStarted
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
                    now + app.config.outbox_grace,
                )?)
            } else {
                None
            };
            if let Some(mut order) = order {
                let mut data = data;
                data["held_reason"] = json!(reason);
                data["refund"] =
                    json!(refund.as_ref().map(|r| json!({ "refund_id": r.refund_id, "amount": r.amount })));
                note(commit, &mut order, held.event, held.notify, data, now)?;
            }
            if refund.is_some() { Received::HeldAndRefunding } else { Received::Held }
        }
    };
    commit.payment(&payment, expected)?;
    Ok(outcome)
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
    payment.failures.push(Failure { at: now, code: code.clone(), message: message.clone() });
    let excess = payment.failures.len().saturating_sub(FAILURES_KEPT);
    payment.failures.drain(..excess);
    commit.payment(&payment, expected)?;
    if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await?
        && order.state == OrderState::AwaitingPayment
    {
        let data = json!({ "payment_intent_id": intent_id, "code": code, "message": message });
        note(commit, &mut order, t.event, t.notify, data, now)?;
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
    payment.refund_confirmed = amount_refunded;
    let mut refunds = app.store.refunds(intent_id).await?;
    let covered = confirmed_by(&refunds, amount_refunded);
    let mut confirmed = Vec::new();
    let mut step = None;
    for i in covered {
        let previous = refunds[i].status;
        step = Some(move_refund(&mut refunds[i], RefundAction::Confirm, now)?);
        commit.refund(&refunds[i], previous, refunds[i].attempts)?;
        confirmed.push(refunds[i].refund_id.clone());
    }
    commit.payment(&payment, expected)?;
    // One event for the refunds this total confirmed (none: the total only moved).
    let (event, notify) =
        step.map_or(("refund_confirmed", [Actor::Buyer, Actor::Seller].as_slice()), |t| (t.event, t.notify));
    if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? {
        let data = json!({ "payment_intent_id": intent_id, "amount_refunded": amount_refunded, "refunds": confirmed });
        note(commit, &mut order, event, notify, data, now)?;
    }
    Ok(Received::RefundConfirmed)
}

/// Refunds `amount` of an order's payment through the provider, once per `refund_id`
/// (asking again returns the first refund). Cancellations of paid orders and dispute
/// resolutions call this; `charge.refunded` confirms it.
pub async fn refund(app: &App, order_id: &str, refund_id: &str, amount: i64, reason: &str) -> Result<Refund, ApiError> {
    for _ in 0..ATTEMPTS {
        let mut order = app.store.tracked::<Order>(order_id).await?.ok_or(ApiError::NotFound { what: "order" })?;
        let intent_id = order.payment_intent_id.clone().ok_or(ApiError::NotFound { what: "payment" })?;
        if let Some(existing) = app.store.refund_record(&intent_id, refund_id).await? {
            return Ok(existing);
        }
        let mut payment = app.store.payment(&intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?;
        let now = Utc::now();
        let expected = payment.version;
        payment.version += 1;
        let mut commit = app.store.begin();
        let check_at = now + app.config.outbox_grace;
        let refund = request_refund(&mut commit, &mut payment, refund_id, amount, reason, now, check_at)?;
        commit.payment(&payment, expected)?;
        let data = json!({ "refund_id": refund_id, "amount": refund.amount, "reason": reason });
        note(&mut commit, &mut order, REFUND_START.event, REFUND_START.notify, data, now)?;
        match app.commit(commit).await {
            Ok(()) => return Ok(refund),
            Err(ApiError::Conflict { code: "concurrent_change", .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict("concurrent_change", "the payment kept changing; retry"))
}

/// Asks the provider for a requested refund: from its follow-up, or from its timer
/// (`fired`, deleted in the same transaction) when the follow-up was lost or the
/// provider refused it. The idempotency key is the refund's own, so asking twice refunds
/// once. A refusal is retried with backoff and, after `RETRY_ATTEMPTS`, the refund is
/// `failed` and listed for support (`REFUNDS#FAILED`). Each answer is an event on the
/// order's timeline. A provider that cannot be reached is an error: SQS or the sweep
/// retries.
pub async fn send_refund(
    app: &App,
    intent_id: &str,
    refund_id: &str,
    fired: Option<&crate::keys::Key>,
) -> Result<(), ApiError> {
    let Some(mut refund) = app.store.refund_record(intent_id, refund_id).await? else {
        return Err(ApiError::internal(format!("refund {refund_id} of {intent_id} is not recorded")));
    };
    let mut commit = app.store.begin();
    if let Some(key) = fired {
        commit.delete(key)?;
    }
    // A refund has one timer at a time: whatever happens now replaces it.
    let subject = refund_timer(intent_id, refund_id);
    if let Some(check_at) = refund.check_at.take()
        && fired.is_none_or(|key| key.sk != crate::keys::timer(check_at.timestamp_millis(), &subject).sk)
    {
        commit.delete(&crate::keys::timer(check_at.timestamp_millis(), &subject))?;
    }
    if refund.status != RefundStatus::Requested {
        // Sent, confirmed or failed already: only the timer, if any, goes.
        return if fired.is_some() { app.commit(commit).await } else { Ok(()) };
    }
    let key = format!("refund-{intent_id}-{refund_id}");
    let answer = app.payments.refund(intent_id, refund.amount.amount, refund_id, &key).await?;
    let now = Utc::now();
    let attempts = refund.attempts;
    refund.updated_at = now;
    let (t, data) = match answer {
        Answer::Done((provider_id, status)) => {
            tracing::info!(intent_id, refund_id, provider_id, status, "refund sent");
            refund.provider_refund_id = Some(provider_id.clone());
            (move_refund(&mut refund, RefundAction::Send, now)?, json!({ "provider_refund_id": provider_id }))
        }
        Answer::Refused(why) => {
            refund.attempts += 1;
            refund.failure = Some(why.clone());
            match app.config.retry.after(refund.attempts, now) {
                Next::RetryAt(at) => {
                    tracing::warn!(intent_id, refund_id, why, attempts = refund.attempts, %at, "refund refused; retried");
                    commit.timer(at, &subject)?;
                    refund.check_at = Some(at);
                    let data = json!({ "failure": why, "attempts": refund.attempts, "retry_at": at });
                    (move_refund(&mut refund, RefundAction::Refuse, now)?, data)
                }
                Next::Park => {
                    tracing::error!(
                        intent_id,
                        refund_id,
                        why,
                        attempts = refund.attempts,
                        "refund failed; support must look"
                    );
                    let data = json!({ "failure": why, "attempts": refund.attempts });
                    (move_refund(&mut refund, RefundAction::GiveUp, now)?, data)
                }
            }
        }
    };
    commit.refund(&refund, RefundStatus::Requested, attempts)?;
    if let Some(mut order) = app.store.tracked::<Order>(&refund.order_id).await? {
        let mut data = data;
        data["refund_id"] = json!(refund_id);
        data["amount"] = json!(refund.amount);
        note(&mut commit, &mut order, t.event, t.notify, data, now)?;
    }
    match app.commit(commit).await {
        // Another delivery of this follow-up, or the timer, recorded it first.
        Ok(()) | Err(ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The follow-up that cancels an order's intent at the provider after its payment
/// window lapsed. If it was paid meanwhile the provider refuses, and the success event
/// holds and refunds that money.
pub async fn cancel_intent(app: &App, intent_id: &str) -> Result<(), ApiError> {
    match app.payments.cancel_intent(intent_id).await? {
        Answer::Refused(why) => {
            tracing::warn!(intent_id, why, "the intent could not be cancelled; its events decide");
            Ok(())
        }
        Answer::Done(()) => {
            for _ in 0..ATTEMPTS {
                let Some(mut payment) = app.store.payment(intent_id).await? else { return Ok(()) };
                if payment.status != PaymentStatus::Open {
                    return Ok(());
                }
                let expected = payment.version;
                payment.version += 1;
                let now = Utc::now();
                let t = move_payment(&mut payment, PaymentAction::Cancel, Actor::System, now)?;
                payment.updated_at = now;
                let mut commit = app.store.begin();
                commit.payment(&payment, expected)?;
                if let Some(mut order) = app.store.tracked::<Order>(&payment.order_id).await? {
                    let data = json!({ "payment_intent_id": intent_id });
                    note(&mut commit, &mut order, t.event, t.notify, data, now)?;
                }
                match app.commit(commit).await {
                    Ok(()) => return Ok(()),
                    Err(ApiError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(ApiError::internal("the payment kept changing; SQS retries the cancellation"))
        }
    }
}

/// What support decides on a held payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldDecision {
    /// Send back everything received that is not being refunded already.
    Refund,
    /// Start the order with it: it covers the price (any excess is refunded).
    Apply,
}

/// Why a held payment cannot start its order, if it cannot: the order must still await
/// payment through exactly this intent, nothing of it may have been refunded, and what
/// was received must cover the price in its currency.
pub fn can_apply(payment: &Payment, order: Option<&Order>) -> Result<(), ApiError> {
    let payable = order.is_some_and(|o| {
        o.state == OrderState::AwaitingPayment && o.payment_intent_id.as_deref() == Some(&payment.intent_id)
    });
    let Some(order) = order.filter(|_| payable) else {
        return Err(ApiError::conflict("order_not_payable", "the order no longer awaits this payment; refund it"));
    };
    let (received, price) = (payment.paid(), &order.terms.price);
    if payment.refund_requested > 0 || payment.refund_confirmed > 0 {
        return Err(ApiError::conflict("payment_refunded", "part of this payment was refunded; refund the rest"));
    }
    if !received.currency.eq_ignore_ascii_case(&price.currency) || received.amount < price.amount {
        return Err(ApiError::conflict("amount_short", "what was received does not cover the order's price"));
    }
    Ok(())
}

/// Support's decision on a held payment, once: `refund` sends back what is left of it;
/// `apply` starts its order (refunding any excess). Either way the payment leaves the
/// held queue, and the order's timeline records the decision with the support user.
pub async fn decide_held(
    app: &App,
    intent_id: &str,
    decision: HeldDecision,
    support_id: &str,
) -> Result<(Payment, Option<Refund>), ApiError> {
    for _ in 0..ATTEMPTS {
        let mut payment = app.store.payment(intent_id).await?.ok_or(ApiError::NotFound { what: "payment" })?;
        if payment.status != PaymentStatus::Held {
            return Err(ApiError::conflict("not_held", "this payment is not held; it was decided already"));
        }
        let order = match payment.order_id.as_str() {
            "" => None,
            id => app.store.tracked::<Order>(id).await?,
        };
        let now = Utc::now();
        let check_at = now + app.config.outbox_grace;
        let expected = payment.version;
        payment.version += 1;
        payment.updated_at = now;
        payment.decided_by = Some(support_id.to_owned());
        let mut commit = app.store.begin();
        let mut data = json!({ "payment_intent_id": intent_id, "decision": decision });
        let (moved, refund) = match decision {
            HeldDecision::Refund => {
                let rest = payment.paid().amount - payment.refund_requested;
                let refund = (rest > 0)
                    .then(|| {
                        let reason = "support refunded a held payment";
                        request_refund(&mut commit, &mut payment, "support", rest, reason, now, check_at)
                    })
                    .transpose()?;
                (move_payment(&mut payment, PaymentAction::ReturnHeld, Actor::Support, now)?, refund)
            }
            HeldDecision::Apply => {
                can_apply(&payment, order.as_ref())?;
                let excess = payment.paid().amount - order.as_ref().map_or(0, |o| o.terms.price.amount);
                let moved = move_payment(&mut payment, PaymentAction::ApplyHeld, Actor::Support, now)?;
                payment.succeeded_at = Some(now);
                let refund = (excess > 0)
                    .then(|| {
                        let reason = "support applied a held payment; the excess goes back";
                        request_refund(&mut commit, &mut payment, "excess", excess, reason, now, check_at)
                    })
                    .transpose()?;
                (moved, refund)
            }
        };
        data["refund"] = json!(refund.as_ref().map(|r| json!({ "refund_id": r.refund_id, "amount": r.amount })));
        if let Some(mut order) = order {
            let support = Some(support_id);
            if decision == HeldDecision::Apply {
                let t = lifecycle::step(ORDER, order.state, OrderAction::Pay, Actor::System, &order.facts(now))
                    .map_err(|r| {
                        ApiError::internal(format!("the table refused a payment can_apply accepted: {r:?}"))
                    })?;
                order.start_work(now);
                record(&mut commit, &mut order, Step::of(t, Actor::Support, support, data), now)?;
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
                record(&mut commit, &mut order, step, now)?;
            }
        }
        commit.payment(&payment, expected)?;
        match app.commit(commit).await {
            Ok(()) => return Ok((payment, refund)),
            Err(ApiError::Conflict { code: "concurrent_change", .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict("concurrent_change", "the payment kept changing; retry"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{Offer, OfferSource, Terms};

    fn order() -> Order {
        let now = Utc::now();
        let terms = Terms {
            gig_id: "g".into(),
            title: "t".into(),
            description: "d".into(),
            price: Money { amount: 5_000_000, currency: "IRR".into() },
            delivery_days: 3,
            stages: vec![],
            revisions_included: 1,
            expires_at: now + chrono::Duration::days(1),
            special_conditions: vec![],
        };
        let offer = Offer {
            offer_id: "o".into(),
            seller_id: "seller".into(),
            buyer_id: "buyer".into(),
            source: OfferSource::MessageId("m".into()),
            terms_hash: terms.hash(),
            terms,
            state: crate::lifecycle::OfferState::Accepted,
            order_id: None,
            decline_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
            head_hash: String::new(),
        };
        let mut order = Order::place(&offer, "01J00000000000000000000000".into(), &Default::default(), now);
        order.payment_intent_id = Some("pi_1".into());
        order
    }

    fn payment(order: &Order) -> Payment {
        Payment::open("stripe", &Intent { id: "pi_1".into(), client_secret: "s".into() }, order, Utc::now())
    }

    #[test]
    fn exactly_the_price_starts_an_awaiting_order() {
        let order = order();
        let p = payment(&order);
        let price = order.terms.price.clone();
        assert_eq!(on_success(Some(&p), true, Some(&order), &price), OnSuccess::Start);
        let lower = Money { amount: price.amount - 1, ..price.clone() };
        assert_eq!(on_success(Some(&p), true, Some(&order), &lower), OnSuccess::Hold(HeldReason::AmountMismatch));
        let usd = Money { currency: "USD".into(), ..price.clone() };
        assert_eq!(on_success(Some(&p), true, Some(&order), &usd), OnSuccess::Hold(HeldReason::AmountMismatch));
        let lowercase = Money { currency: "irr".into(), ..price };
        assert_eq!(on_success(Some(&p), true, Some(&order), &lowercase), OnSuccess::Start);
    }

    #[test]
    fn a_decided_payment_is_never_decided_again() {
        let order = order();
        let price = order.terms.price.clone();
        for status in [PaymentStatus::Succeeded, PaymentStatus::Held] {
            let mut p = payment(&order);
            p.status = status;
            assert_eq!(on_success(Some(&p), true, Some(&order), &price), OnSuccess::AlreadyDecided);
        }
    }

    #[test]
    fn money_no_order_can_use_is_held_and_refunded() {
        let mut order = order();
        let p = payment(&order);
        let price = order.terms.price.clone();
        // Marked as ours but never committed (the crash after opening the intent).
        assert_eq!(on_success(None, true, None, &price), OnSuccess::HoldAndRefund(HeldReason::UnknownPayment));
        assert_eq!(on_success(Some(&p), false, None, &price), OnSuccess::HoldAndRefund(HeldReason::UnknownPayment));
        order.state = OrderState::Cancelled;
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &price),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );
        // A paid order never goes back, and a second intent cannot pay it twice.
        order.state = OrderState::InProgress;
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &price),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );
        order.state = OrderState::AwaitingPayment;
        order.payment_intent_id = Some("pi_other".into());
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &price),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );
    }

    #[test]
    fn support_applies_a_held_payment_only_to_the_order_it_can_still_start() {
        let mut order = order();
        let mut p = payment(&order);
        let code = |p: &Payment, o: Option<&Order>| can_apply(p, o).err().map(|e| e.problem().code.to_string());
        p.received = Some(Money { amount: 5_000_001, currency: "irr".into() });
        assert_eq!(code(&p, Some(&order)), None, "covers the price (the excess is refunded)");
        p.received = Some(Money { amount: 4_999_999, currency: "IRR".into() });
        assert_eq!(code(&p, Some(&order)), Some("amount_short".to_string()));
        p.received = Some(Money { amount: 5_000_000, currency: "USD".into() });
        assert_eq!(code(&p, Some(&order)), Some("amount_short".to_string()));
        p.received = Some(order.terms.price.clone());
        p.refund_requested = 1;
        assert_eq!(code(&p, Some(&order)), Some("payment_refunded".to_string()));
        p.refund_requested = 0;
        assert_eq!(code(&p, None), Some("order_not_payable".to_string()));
        order.payment_intent_id = Some("pi_other".into());
        assert_eq!(code(&p, Some(&order)), Some("order_not_payable".to_string()));
        order.payment_intent_id = Some("pi_1".into());
        order.state = OrderState::Cancelled;
        assert_eq!(code(&p, Some(&order)), Some("order_not_payable".to_string()));
    }

    #[test]
    fn an_intent_we_neither_opened_nor_marked_is_not_ours() {
        let order = order();
        let price = order.terms.price.clone();
        assert_eq!(on_success(None, false, None, &price), OnSuccess::NotOurs);
        // Even when its metadata happens to name an order of ours, without our mark.
        assert_eq!(on_success(None, false, Some(&order), &price), OnSuccess::NotOurs);
    }

    #[test]
    fn a_refund_before_the_success_holds_it() {
        let order = order();
        let mut p = payment(&order);
        p.refund_confirmed = 1;
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &order.terms.price),
            OnSuccess::Hold(HeldReason::RefundedBeforeSuccess)
        );
    }

    fn refund(id: &str, amount: i64, secs: i64, status: RefundStatus) -> Refund {
        let at = DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        Refund {
            refund_id: id.into(),
            intent_id: "pi_1".into(),
            order_id: "o".into(),
            amount: Money { amount, currency: "IRR".into() },
            reason: "r".into(),
            status,
            provider_refund_id: None,
            failure: None,
            attempts: 0,
            check_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_running_total_confirms_refunds_oldest_first() {
        let refunds = vec![
            refund("b", 300, 2, RefundStatus::Sent),
            refund("a", 200, 1, RefundStatus::Sent),
            refund("c", 500, 3, RefundStatus::Requested),
        ];
        assert_eq!(confirmed_by(&refunds, 100), Vec::<usize>::new());
        assert_eq!(confirmed_by(&refunds, 200), vec![1]);
        assert_eq!(confirmed_by(&refunds, 999), vec![1, 0]);
        assert_eq!(confirmed_by(&refunds, 1000), vec![1, 0, 2]);
        let mut done = refunds.clone();
        done[1].status = RefundStatus::Confirmed;
        assert_eq!(confirmed_by(&done, 500), vec![0]);
    }
}
