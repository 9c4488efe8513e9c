//! Payments and refunds, provider-neutral: records of their own, one payment per
//! provider intent, listed on their order and written into its timeline. The provider's
//! verified events (not the frontend) move an order from `awaiting_payment` to
//! `in_progress`; what an event means is decided here, by pure functions, and
//! `flows::payments` applies it in one transaction together with the record that the
//! event was received, so a duplicate or a retried delivery has no second effect and an
//! out-of-order one never moves an order back.
//!
//! Money that cannot start an order (the amount or currency differs, the order was
//! cancelled, the intent is unknown) is never lost: the payment is `held` for review and,
//! where no order can use it, refunded through the outbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::lifecycle::{
    self, Actor, Facts, OrderState, PAYMENT, PaymentAction, REFUND, REFUND_START, RefundAction, Transition,
};
pub use crate::lifecycle::{PaymentStatus, RefundStatus};
use crate::money::Money;
use crate::order::Order;
use crate::retry::{Backoff, Next};

/// A payment the provider opened for an order: its id and how the buyer pays it: with
/// a client secret in our page (Stripe), or on the provider's page at `pay_url`
/// (Zarinpal's StartPay, whose authority is the id).
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub id: String,
    pub client_secret: Option<String>,
    pub pay_url: Option<String>,
}

/// What the provider's verification of a payment names: its reference id and the
/// payer's masked card number, all support needs to pay it back by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub reference_id: String,
    pub card_pan: String,
}

/// What a provider answered to a call that may be refused for good (a 4xx): retrying
/// that would not help, so the caller records it instead of failing.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Done(T),
    Refused(String),
}

/// What became of asking a provider to refund.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundAnswer {
    /// The provider took it. `settled`: its answer is final (Zarinpal's instant card
    /// refund, which no later event confirms); otherwise an event confirms it later
    /// (Stripe's `charge.refunded`).
    Sent { provider_refund_id: String, status: String, settled: bool },
    /// The provider answered no; asking again later may help.
    Refused(String),
    /// The provider cannot refund it through its API (why): support pays it back by hand.
    ByHand(String),
}

/// What a provider's answer did to a refund ([`Refund::answered`]).
#[derive(Debug)]
pub struct Answered {
    /// The row the refund moved along; its event goes on the order's timeline.
    pub row: &'static Transition<RefundStatus, RefundAction>,
    /// What the timeline records of the answer.
    pub data: Value,
    /// The answer is final: the payment's confirmed total grows by the refund.
    pub confirms: bool,
    /// A refusal to ask again: when the refund's one timer fires.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A verified provider event: its id (recorded once) and what it means to us.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub id: String,
    pub event: PaymentEvent,
}

/// What a provider told us, in our words.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    /// The money was taken: `received` as the provider reports it. `our_order_id` is the
    /// order our mark on the intent names, if it carries this deployment's mark;
    /// `receipt`, what a verifying provider (Zarinpal) reported of the payer's card.
    Succeeded { intent_id: String, our_order_id: Option<String>, received: Money, receipt: Option<Receipt> },
    /// An attempt to pay failed (the buyer may try again).
    Failed { intent_id: String, code: Option<String>, message: Option<String> },
    /// The provider has refunded `amount_refunded` in total so far.
    Refunded { intent_id: String, amount_refunded: i64 },
    /// A refund the provider took failed afterwards (Stripe's `refund.failed`, or a
    /// `refund.updated` to `failed` or `canceled`): `refund_id` is the id our metadata on
    /// it names, `provider_refund_id` the provider's own.
    RefundFailed { intent_id: String, refund_id: Option<String>, provider_refund_id: String, reason: Option<String> },
    /// The buyer's bank disputes `amount` of the payment (`charge.dispute.created`), for
    /// `reason`, the provider's dispute in `status`.
    ChargebackOpened { intent_id: String, provider_dispute_id: String, amount: Money, reason: String, status: String },
    /// The bank decided it (`charge.dispute.closed`): `status` is `won`, `lost` or
    /// `warning_closed`.
    ChargebackClosed { intent_id: String, provider_dispute_id: String, status: String },
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

/// A chargeback: the buyer's bank disputes the payment, and the provider has taken the
/// disputed amount back until the bank decides. Only its closing as `lost` keeps the money
/// with the buyer (and makes it no longer refundable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chargeback {
    /// The provider's id of it (Stripe's `dp_…`).
    pub provider_dispute_id: String,
    pub amount: Money,
    /// The bank's reason, in the provider's words (`fraudulent`, `product_not_received`…).
    pub reason: String,
    /// The provider's status: open while `needs_response`, `under_review`, `warning_*`;
    /// decided when `won`, `lost` or `warning_closed`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

impl Chargeback {
    /// Still undecided by the bank.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// What a chargeback's closing did to its payment ([`Payment::chargeback_closed`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ChargebackClosed {
    /// Not the payment's chargeback, or already closed: nothing changes.
    Unchanged,
    /// Recorded: the chargeback as it now stands.
    Closed(Chargeback),
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
    /// The provider's page the buyer pays on (Zarinpal's StartPay).
    #[serde(default)]
    pub pay_url: Option<String>,
    /// The payer's masked card and the reference id, where the provider reports them.
    #[serde(default)]
    pub receipt: Option<Receipt>,
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
    /// The buyer's bank's chargeback on it, if any (the last one told).
    #[serde(default)]
    pub chargeback: Option<Chargeback>,
    /// What chargebacks the bank decided for the buyer took back for good: no longer
    /// ours to refund.
    #[serde(default)]
    pub charged_back: i64,
    /// What it pays for: the order, an amendment's difference, or the buyer's tip.
    #[serde(default)]
    pub purpose: Purpose,
    pub version: u64,
}

/// What a payment pays for. An order has one payment of its own and, after it, one per
/// paid amendment and one for a tip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    #[default]
    Order,
    /// The difference an accepted amendment adds (a paid stage).
    Amendment { amendment_id: String },
    /// The buyer's tip on the completed order.
    Tip,
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
    /// For a refund support pays by hand (`manual`): the card and reference of the
    /// payment it returns. Shown to support only.
    #[serde(default)]
    pub pay_back_to: Option<Receipt>,
    /// Calls started to a provider that has no idempotency key (Zarinpal): each is
    /// claimed in the table before it is made, so at most one is ever in flight.
    #[serde(default)]
    pub calls: u32,
    /// When the claimed call began; cleared when its answer is recorded. Still set long
    /// after: the call's outcome is unknown (a crash, a lost answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_started_at: Option<DateTime<Utc>>,
    /// Support's word that it paid this one back by hand.
    #[serde(default)]
    pub paid_by_hand: Option<PaidByHand>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How support paid a refund back by hand: the bank transfer's reference, who, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidByHand {
    pub transfer_reference: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A refund record as it was read: what a write of it checks is unchanged, so of two
/// deliveries racing, one records its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundSeen {
    pub status: RefundStatus,
    pub attempts: u32,
    pub calls: u32,
}

/// Whether a refund may be sent to a provider without idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundCall {
    /// No call is in flight: claim one, then make it.
    Free,
    /// A call began lately; its answer will be recorded (the refund's timer looks again).
    InFlight,
    /// A call began so long ago that it must have ended, and no answer was recorded: it
    /// may have refunded. Asking again could pay twice, so support checks by hand.
    OutcomeUnknown,
}

/// The timer that checks a refund reached the provider, and retries it if not.
pub fn refund_timer(intent_id: &str, refund_id: &str) -> String {
    format!("refund/{intent_id}/{refund_id}")
}

impl Payment {
    /// The payment opened for a new order.
    pub fn open(provider: &str, intent: &Intent, order: &Order, now: DateTime<Utc>) -> Payment {
        Payment::open_for(provider, intent, order, (&order.terms.price, Purpose::Order), now)
    }

    /// The payment opened through `intent` for `amount` of `order` and what it pays for.
    pub fn open_for(
        provider: &str,
        intent: &Intent,
        order: &Order,
        (amount, purpose): (&Money, Purpose),
        now: DateTime<Utc>,
    ) -> Payment {
        let mut payment = Payment::unknown(provider, &intent.id, Some(order), amount, now);
        payment.purpose = purpose;
        payment.client_secret = intent.client_secret.clone();
        payment.pay_url = intent.pay_url.clone();
        // Written new (expected version 0) as version 1.
        payment.version = 1;
        payment
    }

    /// A payment for an intent we never opened, recorded so the money is not lost (and
    /// the base of one we open).
    pub fn unknown(
        provider: &str,
        intent_id: &str,
        order: Option<&Order>,
        amount: &Money,
        now: DateTime<Utc>,
    ) -> Payment {
        Payment {
            intent_id: intent_id.to_owned(),
            provider: provider.to_owned(),
            order_id: order.map(|o| o.order_id.clone()).unwrap_or_default(),
            amount: amount.clone(),
            received: None,
            client_secret: None,
            pay_url: None,
            receipt: None,
            status: PaymentStatus::Open,
            held_reason: None,
            failures: Vec::new(),
            refund_requested: 0,
            refund_confirmed: 0,
            created_at: now,
            updated_at: now,
            succeeded_at: None,
            decided_by: None,
            chargeback: None,
            charged_back: 0,
            purpose: Purpose::Order,
            version: 0,
        }
    }

    /// How the payment shows to a party: the client secret and the pay page only to the
    /// buyer, and only while it can still be paid; the card's receipt to the buyer and
    /// support, never to the seller.
    /// The payment as support sees it: with the order it belongs to (empty for an intent
    /// whose order was never stored).
    pub fn support_view(&self) -> Value {
        let mut view = self.view(Some(Actor::Support));
        view["order_id"] = json!(self.order_id);
        view
    }

    pub fn view(&self, viewer: Option<Actor>) -> Value {
        let payable = viewer == Some(Actor::Buyer) && self.status == PaymentStatus::Open;
        let receipt = matches!(viewer, Some(Actor::Buyer | Actor::Support)).then_some(self.receipt.as_ref()).flatten();
        json!({
            "provider": self.provider,
            "payment_intent_id": self.intent_id,
            "client_secret": self.client_secret.as_deref().filter(|_| payable),
            "pay_url": self.pay_url.as_deref().filter(|_| payable),
            "receipt": receipt,
            "purpose": self.purpose,
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
            "chargeback": self.chargeback,
            "charged_back": self.charged_back,
        })
    }
}

/// Moves `payment` through its table (`lifecycle::PAYMENT`). The decisions here ask only
/// for rows that exist, so a refusal is our bug.
pub fn move_payment(
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
pub fn move_refund(
    refund: &mut Refund,
    action: RefundAction,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<&'static Transition<RefundStatus, RefundAction>, ApiError> {
    let t = lifecycle::step(REFUND, refund.status, action, actor, &Facts::at(now)).map_err(|r| {
        ApiError::internal(format!("refund {}: {action:?} from {:?} refused: {r:?}", refund.refund_id, refund.status))
    })?;
    refund.status = t.to;
    refund.updated_at = now;
    Ok(t)
}

impl Payment {
    /// Records a failed attempt to pay, keeping the newest ten.
    pub fn record_failure(&mut self, code: Option<String>, message: Option<String>, now: DateTime<Utc>) {
        self.failures.push(Failure { at: now, code, message });
        let excess = self.failures.len().saturating_sub(FAILURES_KEPT);
        self.failures.drain(..excess);
    }

    /// A refund of `amount` of what was paid, added to the payment's running total: only
    /// money that was paid, and never more than is left of it. It is `requested`; a
    /// timer at `check_at` asks the provider again if its follow-up was lost.
    pub fn refund(
        &mut self,
        refund_id: &str,
        amount: i64,
        reason: &str,
        now: DateTime<Utc>,
        check_at: DateTime<Utc>,
    ) -> Result<Refund, ApiError> {
        if !matches!(self.status, PaymentStatus::Succeeded | PaymentStatus::Held) {
            return Err(ApiError::conflict(Code::NotPaid, "only money that was paid can be refunded"));
        }
        let left = self.refundable();
        // Checked: an amount near i64::MAX must be refused, not wrap below what was paid.
        if amount <= 0 || amount > left {
            return Err(ApiError::invalid(
                Code::RefundExceedsPayment,
                "amount",
                format!("at most {left} can still be refunded"),
            ));
        }
        self.refund_requested += amount;
        self.updated_at = now;
        Ok(Refund {
            refund_id: refund_id.to_owned(),
            intent_id: self.intent_id.clone(),
            order_id: self.order_id.clone(),
            amount: Money { amount, currency: self.paid().currency.clone() },
            reason: reason.to_owned(),
            status: REFUND_START.state,
            provider_refund_id: None,
            failure: None,
            attempts: 0,
            check_at: Some(check_at),
            pay_back_to: None,
            calls: 0,
            call_started_at: None,
            paid_by_hand: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// What is left to refund: what was paid less the refunds asked and what a lost
    /// chargeback took back (never below zero).
    pub fn refundable(&self) -> i64 {
        (self.paid().amount - self.refund_requested).saturating_sub(self.charged_back).max(0)
    }

    /// Counts `amount` as no longer refunded: a refund the provider confirmed then failed
    /// at the bank (the provider's running total drops by it).
    pub fn unconfirm_refunded(&mut self, amount: i64) {
        self.refund_confirmed = self.refund_confirmed.saturating_sub(amount).max(0);
    }

    /// Records a chargeback the provider reported; `false` when it was recorded already.
    pub fn chargeback_opened(&mut self, chargeback: &Chargeback) -> bool {
        if self.chargeback.as_ref().is_some_and(|c| c.provider_dispute_id == chargeback.provider_dispute_id) {
            return false;
        }
        self.chargeback = Some(chargeback.clone());
        true
    }

    /// Records the bank's decision on the payment's open chargeback `provider_dispute_id`.
    /// `lost`: the disputed amount stays with the buyer, so it can no longer be refunded.
    pub fn chargeback_closed(
        &mut self,
        provider_dispute_id: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<ChargebackClosed, ApiError> {
        let Some(chargeback) = self.chargeback.as_mut() else { return Ok(ChargebackClosed::Unchanged) };
        if chargeback.provider_dispute_id != provider_dispute_id || !chargeback.is_open() {
            return Ok(ChargebackClosed::Unchanged);
        }
        chargeback.status = status.to_owned();
        chargeback.closed_at = Some(now);
        if status == "lost" {
            self.charged_back = self.charged_back.checked_add(chargeback.amount.amount).ok_or_else(|| {
                ApiError::internal(format!("chargebacks of {} past the largest amount", self.intent_id))
            })?;
        }
        Ok(ChargebackClosed::Closed(chargeback.clone()))
    }

    /// What was paid: what the provider reported, or the price asked where no report
    /// has been kept.
    pub fn paid(&self) -> &Money {
        self.received.as_ref().unwrap_or(&self.amount)
    }

    /// Counts `amount` more as refunded (confirmed by the provider, or paid by hand).
    /// Checked: a total past i64 is an error, never a wrapped number.
    pub fn confirm_refunded(&mut self, amount: i64) -> Result<(), ApiError> {
        self.refund_confirmed = self.refund_confirmed.checked_add(amount).ok_or_else(|| {
            ApiError::internal(format!("refunds of {} confirmed past the largest amount", self.intent_id))
        })?;
        Ok(())
    }
}

impl Refund {
    pub fn seen(&self) -> RefundSeen {
        RefundSeen { status: self.status, attempts: self.attempts, calls: self.calls }
    }

    /// Whether a call may be made now to a provider without idempotency keys, when a
    /// call's answer is surely back `answered_within` after it began.
    pub fn call(&self, now: DateTime<Utc>, answered_within: chrono::Duration) -> RefundCall {
        match self.call_started_at {
            None => RefundCall::Free,
            Some(at) if now - at < answered_within => RefundCall::InFlight,
            Some(_) => RefundCall::OutcomeUnknown,
        }
    }

    /// Claims the one call to a provider without idempotency keys (the caller writes it
    /// conditionally on what it read).
    pub fn start_call(&mut self, now: DateTime<Utc>) {
        self.calls += 1;
        self.call_started_at = Some(now);
    }

    /// Takes the provider's `answer` to this requested refund at `now`: the claimed call
    /// is over; the refund moves along its row (sent; confirmed when the answer is final;
    /// listed for support to pay back by hand to the card `receipt` names; or refused, to
    /// be asked again when `retry` says, or failed once it says to stop). Returns the row
    /// and what the order's timeline records, whether the payment's confirmed total grows
    /// by the refund, and when its one timer asks again.
    pub fn answered(
        &mut self,
        answer: RefundAnswer,
        receipt: Option<&Receipt>,
        retry: &Backoff,
        now: DateTime<Utc>,
    ) -> Result<Answered, ApiError> {
        self.call_started_at = None;
        self.updated_at = now;
        let (action, data, confirms, retry_at) = match answer {
            RefundAnswer::ByHand(why) => {
                self.pay_back_to = receipt.cloned();
                let reference = receipt.map(|r| r.reference_id.clone());
                let data = json!({ "by": "support", "reference_id": reference, "why": why });
                self.failure = Some(why);
                (RefundAction::PayByHand, data, false, None)
            }
            RefundAnswer::Sent { provider_refund_id, status, settled } => {
                let mut data = json!({ "provider_refund_id": provider_refund_id });
                if settled {
                    // No later event confirms it: the provider's answer is the confirmation.
                    data["provider_status"] = json!(status);
                }
                self.provider_refund_id = Some(provider_refund_id);
                let action = if settled { RefundAction::Confirm } else { RefundAction::Send };
                (action, data, settled, None)
            }
            RefundAnswer::Refused(why) => {
                self.attempts += 1;
                self.failure = Some(why.clone());
                match retry.after(self.attempts, now) {
                    Next::RetryAt(at) => {
                        self.check_at = Some(at);
                        let data = json!({ "failure": why, "attempts": self.attempts, "retry_at": at });
                        (RefundAction::Refuse, data, false, Some(at))
                    }
                    Next::Park => {
                        (RefundAction::GiveUp, json!({ "failure": why, "attempts": self.attempts }), false, None)
                    }
                }
            }
        };
        let row = move_refund(self, action, Actor::System, now)?;
        Ok(Answered { row, data, confirms, retry_at })
    }

    /// Takes the provider's word that this refund, which it had taken (`sent`, or already
    /// `confirmed` by its running total), failed at the bank (`why`): it is asked again
    /// when `retry` says, with a new idempotency key (its attempts grew), or failed for
    /// support once it says to stop. `None`: the word is not about this refund as it
    /// stands (another attempt's provider id, or the refund is not one the provider
    /// holds), and nothing changes.
    pub fn bounced(
        &mut self,
        provider_refund_id: &str,
        why: &str,
        retry: &Backoff,
        now: DateTime<Utc>,
    ) -> Result<Option<Answered>, ApiError> {
        let taken = matches!(self.status, RefundStatus::Sent | RefundStatus::Confirmed);
        if !taken || self.provider_refund_id.as_deref() != Some(provider_refund_id) {
            return Ok(None);
        }
        self.attempts += 1;
        self.failure = Some(why.to_owned());
        self.updated_at = now;
        let data = json!({ "provider_refund_id": provider_refund_id, "failure": why, "attempts": self.attempts });
        let (action, data, retry_at) = match retry.after(self.attempts, now) {
            Next::RetryAt(at) => {
                self.check_at = Some(at);
                let mut data = data;
                data["retry_at"] = json!(at);
                (RefundAction::Bounce, data, Some(at))
            }
            Next::Park => (RefundAction::GiveUp, data, None),
        };
        let row = move_refund(self, action, Actor::System, now)?;
        Ok(Some(Answered { row, data, confirms: false, retry_at }))
    }

    /// The idempotency key of the call that asks the provider for this refund now: one
    /// per attempt, so two deliveries of one attempt refund once, and an attempt after a
    /// refusal or a bounce is a new request (a provider replays a key's first answer).
    pub fn idempotency_key(&self) -> String {
        format!("refund-{}-{}-{}", self.intent_id, self.refund_id, self.attempts)
    }

    /// The refund as support sees it: with the card and reference to pay a manual one
    /// back to.
    pub fn support_view(&self) -> Value {
        let mut view = self.view();
        view["pay_back_to"] = json!(self.pay_back_to);
        view
    }

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
            "paid_by_hand": self.paid_by_hand,
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
    /// Apply the accepted amendment it pays for.
    Amend,
    /// Release the tip it pays to the seller.
    Tip,
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
    let ours = Some(payment.intent_id.as_str());
    let (payable, then) = match &payment.purpose {
        Purpose::Order => {
            (order.state == OrderState::AwaitingPayment && order.payment_intent_id.as_deref() == ours, OnSuccess::Start)
        }
        Purpose::Amendment { amendment_id } => {
            let awaited = order
                .amendment_answerable()
                .is_some_and(|a| &a.amendment_id == amendment_id && a.payment_intent_id.as_deref() == ours);
            (awaited, OnSuccess::Amend)
        }
        Purpose::Tip => {
            let awaited = order.state == OrderState::Completed
                && order
                    .tip
                    .as_ref()
                    .is_some_and(|t| t.paid_at.is_none() && Some(t.payment_intent_id.as_str()) == ours);
            (awaited, OnSuccess::Tip)
        }
    };
    if !payable {
        return OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable);
    }
    // What we asked for: the order's price, or the amendment's or tip's amount.
    let asked = match payment.purpose {
        Purpose::Order => &order.terms.price,
        Purpose::Amendment { .. } | Purpose::Tip => &payment.amount,
    };
    if received.amount != asked.amount || !received.currency.eq_ignore_ascii_case(&asked.currency) {
        return OnSuccess::Hold(HeldReason::AmountMismatch);
    }
    if payment.refund_confirmed > 0 {
        return OnSuccess::Hold(HeldReason::RefundedBeforeSuccess);
    }
    then
}

/// The refunds a provider's running total `amount_refunded` covers, oldest first: each
/// refund is confirmed once the total reaches the sum up to and including it.
pub fn confirmed_by(refunds: &[Refund], amount_refunded: i64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..refunds.len()).collect();
    order.sort_by_key(|&i| (refunds[i].created_at, refunds[i].refund_id.clone()));
    let mut total: i64 = 0;
    let mut covered = Vec::new();
    for i in order {
        if refunds[i].status == RefundStatus::Failed {
            continue;
        }
        total = total.saturating_add(refunds[i].amount.amount);
        if total <= amount_refunded && refunds[i].status != RefundStatus::Confirmed {
            covered.push(i);
        }
    }
    covered
}

/// What receiving an event did, as the webhook reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Received {
    Duplicate,
    Ignored,
    OrderStarted,
    /// An accepted amendment's payment: it took effect.
    OrderAmended,
    /// The buyer's tip: released to the seller.
    TipPaid,
    Held,
    HeldAndRefunding,
    FailureRecorded,
    RefundConfirmed,
    /// A refund the provider took failed at the bank; it is asked again.
    RefundRetrying,
    /// ... too often: it is failed, for support.
    RefundFailed,
    /// A chargeback opened a dispute on the order, which froze.
    ChargebackDisputeOpened,
    /// A chargeback joined the order's open dispute.
    ChargebackJoined,
    /// A chargeback on an order that can no longer be disputed: on its timeline and in
    /// support's chargeback queue.
    ChargebackRecorded,
    ChargebackClosed,
    AlreadyDecided,
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
        return Err(ApiError::conflict(Code::OrderNotPayable, "the order no longer awaits this payment; refund it"));
    };
    let (received, price) = (payment.paid(), &order.terms.price);
    if payment.refund_requested > 0 || payment.refund_confirmed > 0 {
        return Err(ApiError::conflict(Code::PaymentRefunded, "part of this payment was refunded; refund the rest"));
    }
    if !received.currency.eq_ignore_ascii_case(&price.currency) || received.amount < price.amount {
        return Err(ApiError::conflict(Code::AmountShort, "what was received does not cover the order's price"));
    }
    Ok(())
}

/// What support's decision on a held payment does ([`decide_held`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPlan {
    /// The payment's row: sent back, or applied.
    pub action: PaymentAction,
    /// What goes back to the buyer, if anything: all that is left (refund) or what exceeds
    /// the price (apply).
    pub refund: Option<PlannedRefund>,
    /// The order starts with this payment.
    pub starts_order: bool,
}

/// A refund a decision asks for: its id (one per kind, so asking twice refunds once),
/// amount and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRefund {
    pub refund_id: &'static str,
    pub amount: i64,
    pub reason: &'static str,
}

/// Support's decision on a held `payment` of `order`: `refund` sends back all that is not
/// being refunded already; `apply` starts the order when [`can_apply`] allows, refunding
/// any excess. Either way the payment leaves the held queue.
pub fn decide_held(payment: &Payment, order: Option<&Order>, decision: HeldDecision) -> Result<HeldPlan, ApiError> {
    if payment.status != PaymentStatus::Held {
        return Err(ApiError::conflict(Code::NotHeld, "this payment is not held; it was decided already"));
    }
    let planned = |refund_id, amount, reason| (amount > 0).then_some(PlannedRefund { refund_id, amount, reason });
    Ok(match decision {
        HeldDecision::Refund => HeldPlan {
            action: PaymentAction::ReturnHeld,
            refund: planned(
                "support",
                payment.paid().amount - payment.refund_requested,
                "support refunded a held payment",
            ),
            starts_order: false,
        },
        HeldDecision::Apply => {
            can_apply(payment, order)?;
            let excess = payment.paid().amount - order.map_or(0, |o| o.terms.price.amount);
            HeldPlan {
                action: PaymentAction::ApplyHeld,
                refund: planned("excess", excess, "support applied a held payment; the excess goes back"),
                starts_order: true,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order awaiting 5,000,000 IRR through `pi_1`.
    fn order() -> Order {
        let mut order = crate::order::example(Utc::now());
        order.terms.price.amount = 5_000_000;
        order
    }

    fn payment(order: &Order) -> Payment {
        let intent = Intent { id: "pi_1".into(), client_secret: Some("s".into()), pay_url: None };
        Payment::open("stripe", &intent, order, Utc::now())
    }

    #[test]
    fn a_refund_near_the_largest_amount_is_refused_not_wrapped() {
        let order = order();
        let mut p = payment(&order);
        p.status = PaymentStatus::Succeeded;
        let now = Utc::now();
        p.refund("r1", 1, "dispute", now, now).unwrap();
        for amount in [i64::MAX, i64::MAX - 1, 5_000_000, i64::MIN, 0] {
            let err = p.refund("r2", amount, "dispute", now, now).unwrap_err();
            assert_eq!(err.problem_code(), Code::RefundExceedsPayment, "{amount}");
        }
        assert_eq!(p.refund_requested, 1, "nothing refused was counted");
        let last = p.refund("r3", 4_999_999, "dispute", now, now).unwrap();
        assert_eq!((last.amount.amount, p.refund_requested), (4_999_999, 5_000_000), "all that is left, exactly");
    }

    #[test]
    fn confirmed_refunds_are_counted_without_overflow() {
        let order = order();
        let mut p = payment(&order);
        p.status = PaymentStatus::Succeeded;
        p.received = Some(Money { amount: i64::MAX, currency: "IRR".into() });
        let now = Utc::now();
        let refunds = [p.refund("a", i64::MAX - 1, "x", now, now).unwrap(), p.refund("b", 1, "x", now, now).unwrap()];
        assert_eq!(confirmed_by(&refunds, i64::MAX), vec![0, 1]);
        assert_eq!(confirmed_by(&refunds, i64::MAX - 1), vec![0]);
        p.confirm_refunded(i64::MAX - 1).unwrap();
        assert!(p.confirm_refunded(2).is_err(), "past i64");
        assert_eq!(p.refund_confirmed, i64::MAX - 1, "a refused count changes nothing");
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
    fn an_amendment_s_or_a_tip_s_payment_applies_only_what_still_awaits_it() {
        use crate::order::{OpenAmendment, Tip};
        let now = Utc::now();
        let mut order = order();
        order.state = OrderState::InProgress;
        let intent = Intent { id: "pi_more".into(), client_secret: Some("s".into()), pay_url: None };
        let more = Money { amount: 3_000_000, currency: "IRR".into() };
        let purpose = Purpose::Amendment { amendment_id: "01A".into() };
        let p = Payment::open_for("stripe", &intent, &order, (&more, purpose), now);
        let open = OpenAmendment {
            amendment_id: "01A".into(),
            by: Actor::Seller,
            respond_by: now,
            adds_money: true,
            payment_intent_id: Some("pi_more".into()),
        };
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &more),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );
        order.amendment = Some(open.clone());
        assert_eq!(on_success(Some(&p), true, Some(&order), &more), OnSuccess::Amend);
        let less = Money { amount: 1, ..more.clone() };
        assert_eq!(on_success(Some(&p), true, Some(&order), &less), OnSuccess::Hold(HeldReason::AmountMismatch));
        order.amendment = Some(OpenAmendment { payment_intent_id: Some("pi_other".into()), ..open });
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &more),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );
        order.state = OrderState::Disputed;
        order.amendment = None;
        assert_eq!(
            on_success(Some(&p), true, Some(&order), &more),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable)
        );

        let tip =
            Payment::open_for("stripe", &Intent { id: "pi_tip".into(), ..intent }, &order, (&more, Purpose::Tip), now);
        order.tip =
            Some(Tip { amount: more.clone(), payment_intent_id: "pi_tip".into(), created_at: now, paid_at: None });
        assert_eq!(
            on_success(Some(&tip), true, Some(&order), &more),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable),
            "disputed"
        );
        order.state = OrderState::Completed;
        assert_eq!(on_success(Some(&tip), true, Some(&order), &more), OnSuccess::Tip);
        order.tip.as_mut().unwrap().paid_at = Some(now);
        assert_eq!(
            on_success(Some(&tip), true, Some(&order), &more),
            OnSuccess::HoldAndRefund(HeldReason::OrderNotPayable),
            "tipped once"
        );
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
        let code = |p: &Payment, o: Option<&Order>| can_apply(p, o).err().map(|e| e.code().to_string());
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
            pay_back_to: None,
            calls: 0,
            call_started_at: None,
            paid_by_hand: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_refund_call_is_claimed_once_and_an_unanswered_one_goes_to_support() {
        let within = chrono::Duration::seconds(12);
        let mut r = refund("a", 200, 0, RefundStatus::Requested);
        let start = r.created_at;
        assert_eq!(r.call(start, within), RefundCall::Free);
        let before = r.seen();
        r.start_call(start);
        // The claim changes what a conditional write compares, so two claims cannot both land.
        assert_ne!(r.seen(), before);
        assert_eq!(r.call(start + chrono::Duration::seconds(11), within), RefundCall::InFlight);
        assert_eq!(r.call(start + within, within), RefundCall::OutcomeUnknown);
        r.call_started_at = None;
        assert_eq!(r.call(start + within, within), RefundCall::Free);
    }

    #[test]
    fn a_refunds_answer_moves_it_along_its_row() {
        let retry = Backoff {
            first: std::time::Duration::from_secs(30),
            longest: std::time::Duration::from_secs(3600),
            attempts: 3,
        };
        let receipt = Receipt { reference_id: "201".into(), card_pan: "6037-99**-****-1234".into() };
        let sent =
            |settled| RefundAnswer::Sent { provider_refund_id: "re_1".into(), status: "succeeded".into(), settled };
        let mut r = refund("a", 200, 0, RefundStatus::Requested);
        let now = r.created_at + chrono::Duration::seconds(5);
        r.start_call(r.created_at);

        // Stripe: taken, confirmed later by its event; the claimed call is over.
        let a = r.clone().answered(sent(false), Some(&receipt), &retry, now).unwrap();
        assert_eq!((a.row.event, a.confirms, a.retry_at), ("refund_sent", false, None));
        let mut taken = r.clone();
        taken.answered(sent(false), None, &retry, now).unwrap();
        assert_eq!((taken.status, taken.provider_refund_id.as_deref()), (RefundStatus::Sent, Some("re_1")));
        assert_eq!((taken.call_started_at, taken.updated_at), (None, now));

        // Zarinpal's instant refund: the answer is the confirmation, and the total grows.
        let mut settled = r.clone();
        let a = settled.answered(sent(true), None, &retry, now).unwrap();
        assert_eq!((a.row.event, a.confirms, settled.status), ("refund_confirmed", true, RefundStatus::Confirmed));
        assert_eq!(a.data["provider_status"], "succeeded");

        // Not through the API: support pays it back by hand, to the card the payment names.
        let mut by_hand = r.clone();
        let a = by_hand.answered(RefundAnswer::ByHand("no token".into()), Some(&receipt), &retry, now).unwrap();
        assert_eq!((a.row.event, by_hand.status), ("refund_manual", RefundStatus::Manual));
        assert_eq!((by_hand.pay_back_to.as_ref(), by_hand.failure.as_deref()), (Some(&receipt), Some("no token")));
        assert_eq!(a.data["reference_id"], "201");

        // Refused: asked again later, doubling, until the attempts run out; then failed.
        let mut refused = r.clone();
        let a = refused.answered(RefundAnswer::Refused("declined".into()), None, &retry, now).unwrap();
        assert_eq!((a.row.event, refused.status, refused.attempts), ("refund_refused", RefundStatus::Requested, 1));
        assert_eq!((a.retry_at, refused.check_at), (Some(now + chrono::Duration::seconds(30)), a.retry_at));
        let a = refused.answered(RefundAnswer::Refused("declined".into()), None, &retry, now).unwrap();
        assert_eq!(a.retry_at, Some(now + chrono::Duration::seconds(60)));
        let a = refused.answered(RefundAnswer::Refused("declined".into()), None, &retry, now).unwrap();
        assert_eq!((a.row.event, refused.status, a.retry_at), ("refund_failed", RefundStatus::Failed, None));
        assert_eq!(a.data["attempts"], 3);

        // A decided refund takes no answer.
        assert!(settled.answered(sent(false), None, &retry, now).is_err());
    }

    #[test]
    fn support_decides_a_held_payment_once() {
        let order = order();
        let mut held = payment(&order);
        held.status = PaymentStatus::Held;
        let price = order.terms.price.amount;
        held.received = Some(Money { amount: price + 700, ..order.terms.price.clone() });
        // Refund: all that is not already being refunded goes back.
        let plan = decide_held(&held, Some(&order), HeldDecision::Refund).unwrap();
        assert_eq!((plan.action, plan.starts_order), (PaymentAction::ReturnHeld, false));
        assert_eq!(plan.refund.as_ref().map(|r| (r.refund_id, r.amount)), Some(("support", price + 700)));
        let mut partly = held.clone();
        partly.refund_requested = price + 700;
        assert_eq!(decide_held(&partly, None, HeldDecision::Refund).unwrap().refund, None, "nothing left to send");
        // Apply: the order starts and the excess goes back; exactly the price sends nothing back.
        let plan = decide_held(&held, Some(&order), HeldDecision::Apply).unwrap();
        assert_eq!((plan.action, plan.starts_order), (PaymentAction::ApplyHeld, true));
        assert_eq!(plan.refund.map(|r| (r.refund_id, r.amount)), Some(("excess", 700)));
        let mut exact = held.clone();
        exact.received = Some(order.terms.price.clone());
        assert_eq!(decide_held(&exact, Some(&order), HeldDecision::Apply).unwrap().refund, None);
        // What cannot start the order is refused, each with its code.
        let code = |p: &Payment, o: Option<&Order>| decide_held(p, o, HeldDecision::Apply).unwrap_err().code();
        assert_eq!(code(&held, None), "order_not_payable");
        let mut paid = order.clone();
        paid.state = OrderState::InProgress;
        assert_eq!(code(&held, Some(&paid)), "order_not_payable");
        assert_eq!(code(&partly, Some(&order)), "payment_refunded");
        let mut short = held.clone();
        short.received = Some(Money { amount: price - 1, ..order.terms.price.clone() });
        assert_eq!(code(&short, Some(&order)), "amount_short");
        // A decided payment is decided once.
        let mut decided = held.clone();
        decided.status = PaymentStatus::Refunded;
        assert_eq!(decide_held(&decided, Some(&order), HeldDecision::Refund).unwrap_err().code(), "not_held");
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

    #[test]
    fn a_refund_that_fails_at_the_bank_is_asked_again_under_a_new_key_then_failed() {
        let retry = Backoff {
            first: std::time::Duration::from_secs(30),
            longest: std::time::Duration::from_secs(3600),
            attempts: 2,
        };
        let mut r = refund("a", 200, 0, RefundStatus::Sent);
        r.provider_refund_id = Some("re_1".into());
        let now = r.created_at + chrono::Duration::seconds(5);
        let first_key = r.idempotency_key();
        // Another attempt's provider id, or a refund the provider does not hold: nothing moves.
        assert!(r.clone().bounced("re_other", "closed", &retry, now).unwrap().is_none());
        for untaken in [RefundStatus::Requested, RefundStatus::Failed, RefundStatus::Manual] {
            let mut other = r.clone();
            other.status = untaken;
            assert!(other.bounced("re_1", "closed", &retry, now).unwrap().is_none(), "{untaken:?}");
        }
        // Sent or already confirmed: asked again at the backoff, under a new key.
        for taken in [RefundStatus::Sent, RefundStatus::Confirmed] {
            let mut bounced = r.clone();
            bounced.status = taken;
            let a = bounced.bounced("re_1", "card closed", &retry, now).unwrap().unwrap();
            assert_eq!((a.row.event, bounced.status, bounced.attempts), ("refund_bounced", RefundStatus::Requested, 1));
            assert_eq!((a.retry_at, bounced.check_at), (Some(now + chrono::Duration::seconds(30)), a.retry_at));
            assert_eq!(a.data["failure"], "card closed");
            assert_ne!(bounced.idempotency_key(), first_key, "a new attempt is a new request");
        }
        // Out of attempts: failed, for support.
        let mut last = r.clone();
        last.attempts = 1;
        let a = last.bounced("re_1", "card closed", &retry, now).unwrap().unwrap();
        assert_eq!((a.row.event, last.status, a.retry_at), ("refund_failed", RefundStatus::Failed, None));
        // One attempt, one key: two deliveries of it refund once.
        assert_eq!(r.idempotency_key(), r.clone().idempotency_key());
    }

    #[test]
    fn a_chargeback_is_recorded_once_and_a_lost_one_is_no_longer_refundable() {
        let order = order();
        let mut p = payment(&order);
        p.status = PaymentStatus::Succeeded;
        let now = Utc::now();
        let chargeback = Chargeback {
            provider_dispute_id: "dp_1".into(),
            amount: Money { amount: 3_000_000, currency: "IRR".into() },
            reason: "fraudulent".into(),
            status: "needs_response".into(),
            opened_at: now,
            closed_at: None,
        };
        assert!(p.chargeback_opened(&chargeback));
        assert!(!p.chargeback_opened(&chargeback), "told twice, recorded once");
        assert_eq!(p.chargeback_closed("dp_other", "lost", now).unwrap(), ChargebackClosed::Unchanged);
        let ChargebackClosed::Closed(closed) = p.chargeback_closed("dp_1", "lost", now).unwrap() else {
            panic!("the payment's chargeback closes")
        };
        assert!(!closed.is_open());
        assert_eq!(p.chargeback_closed("dp_1", "lost", now).unwrap(), ChargebackClosed::Unchanged, "once");
        assert_eq!((p.charged_back, p.refundable()), (3_000_000, 2_000_000));
        let err = p.refund("r", 2_000_001, "dispute", now, now).unwrap_err();
        assert_eq!(err.problem_code(), Code::RefundExceedsPayment);
        p.refund("r", 2_000_000, "dispute", now, now).unwrap();
        assert_eq!(p.refundable(), 0);
        // Won: the money comes back to us, and stays refundable.
        let mut won = payment(&order);
        won.status = PaymentStatus::Succeeded;
        won.chargeback_opened(&chargeback);
        won.chargeback_closed("dp_1", "won", now).unwrap();
        assert_eq!((won.charged_back, won.refundable()), (0, 5_000_000));
    }

    #[test]
    fn a_confirmed_total_drops_by_a_refund_that_failed_but_never_below_zero() {
        let order = order();
        let mut p = payment(&order);
        p.refund_confirmed = 700;
        p.unconfirm_refunded(500);
        assert_eq!(p.refund_confirmed, 200);
        p.unconfirm_refunded(i64::MAX);
        assert_eq!(p.refund_confirmed, 0);
    }
}
