//! Orders: what accepting an offer places. The order keeps a copy of the terms, their
//! hash and the policy in force, so later changes to either never alter it. Work starts
//! only once the provider confirms payment (`payment`): then the order is due
//! `delivery_days` after that moment, and is flagged late if it passes undelivered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ledger::{self, Escrow, FeePolicy, Release};
use crate::lifecycle::{self, Actor, ORDER, OrderState, ReviewFacts, Timer};
use crate::money::Money;
use crate::offer::{Offer, Terms};
use crate::policy::Policy;
use crate::timeline;
use crate::tracked::Tracked;

/// A party's request to cancel a paid order by agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancellationRequest {
    pub request_id: String,
    pub by: Actor,
    pub by_user: String,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// The other party's silence until then accepts it.
    pub respond_by: DateTime<Utc>,
}

/// Where a completed order's reviews stand (the reviews themselves are records of their
/// own, `rules::review`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderReviews {
    pub buyer_reviewed_at: Option<DateTime<Utc>>,
    pub seller_reviewed_at: Option<DateTime<Utc>>,
    /// When both became visible (the second was written, or the window closed).
    pub published_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
}

/// The policy copied onto an order when it is placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPolicy {
    pub payment_window_seconds: i64,
    pub auto_complete_seconds: i64,
    pub mutual_cancellation_response_seconds: i64,
    pub late_cancellation_grace_seconds: i64,
    pub review_window_seconds: i64,
    /// The fee on each release, as the policy was when the order was placed.
    #[serde(default)]
    pub fee: FeePolicy,
    /// How long released money is pending before the seller may withdraw it.
    #[serde(default = "default_clearance_seconds")]
    pub clearance_seconds: i64,
    /// How long the other party has to answer a dispute before it is marked unanswered.
    #[serde(default = "default_dispute_response_seconds")]
    pub dispute_response_seconds: i64,
    /// How long after completion the order may still be disputed.
    #[serde(default = "default_dispute_after_completion_seconds")]
    pub dispute_after_completion_seconds: i64,
    /// How long the other party has to answer a proposed amendment.
    #[serde(default = "default_amendment_response_seconds")]
    pub amendment_response_seconds: i64,
    /// The fee on the buyer's tip (none by default).
    #[serde(default = "FeePolicy::none")]
    pub tip_fee: FeePolicy,
}

fn default_clearance_seconds() -> i64 {
    14 * 86_400
}

fn default_dispute_response_seconds() -> i64 {
    72 * 3_600
}

fn default_dispute_after_completion_seconds() -> i64 {
    3 * 86_400
}

fn default_amendment_response_seconds() -> i64 {
    48 * 3_600
}

/// The amendment proposed on an order and not yet answered (one at a time; the record
/// is `amendment::Amendment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAmendment {
    pub amendment_id: String,
    pub by: Actor,
    /// Until when it may be answered; once accepted, until when its payment may come.
    pub respond_by: DateTime<Utc>,
    /// It adds money (a paid stage): it takes effect when the buyer pays the difference.
    #[serde(default)]
    pub adds_money: bool,
    /// Accepted, it awaits this payment (the provider's intent for the difference).
    #[serde(default)]
    pub payment_intent_id: Option<String>,
}

/// The buyer's tip on a completed order: one, paid like the order, released to the seller
/// in full less the tip fee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tip {
    pub amount: Money,
    pub payment_intent_id: String,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// The amendment in force: the chain's head and what the work reads from its terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amended {
    pub amendment_id: String,
    pub hash: String,
    pub count: u32,
    pub price: Money,
    pub revisions_included: u32,
    pub stage_amounts: Vec<Option<i64>>,
}

/// Where a disputed order stood when its dispute froze it, so a withdrawn dispute
/// resumes it with its clocks where they stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frozen {
    pub state: OrderState,
    pub at: DateTime<Utc>,
    /// When a delivered stage would have been accepted for a silent buyer.
    pub auto_complete_at: Option<DateTime<Utc>>,
}

impl OrderPolicy {
    pub fn from(policy: &Policy) -> Self {
        OrderPolicy {
            payment_window_seconds: policy.payment_window.num_seconds(),
            auto_complete_seconds: policy.auto_complete.num_seconds(),
            mutual_cancellation_response_seconds: policy.cancellation_response.num_seconds(),
            late_cancellation_grace_seconds: policy.late_cancellation_grace.num_seconds(),
            review_window_seconds: policy.review_window.num_seconds(),
            fee: policy.fee,
            clearance_seconds: policy.clearance.num_seconds(),
            dispute_response_seconds: policy.dispute_response.num_seconds(),
            dispute_after_completion_seconds: policy.dispute_after_completion.num_seconds(),
            amendment_response_seconds: policy.amendment_response.num_seconds(),
            tip_fee: policy.tip_fee,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub offer_id: String,
    pub buyer_id: String,
    pub seller_id: String,
    pub gig_id: String,
    pub terms: Terms,
    pub terms_hash: String,
    pub policy: OrderPolicy,
    pub state: OrderState,
    /// When the payment window closes (while awaiting payment).
    pub payment_due_at: DateTime<Utc>,
    /// The provider's intent opened for it (the order is paid through exactly this one).
    pub payment_intent_id: Option<String>,
    /// When the provider confirmed payment.
    pub paid_at: Option<DateTime<Utc>>,
    /// Paid time plus the delivery days.
    pub due_at: Option<DateTime<Utc>>,
    /// Its due time passed without a delivery.
    pub late: bool,
    pub revisions_used: u32,
    /// The stage in progress or delivered (0-based); stages are delivered and accepted
    /// in order.
    #[serde(default)]
    pub stage: u32,
    /// When the delivered stage is accepted for a silent buyer (while delivered).
    #[serde(default)]
    pub auto_complete_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The open request to cancel it by agreement, if any (one at a time).
    #[serde(default)]
    pub cancellation: Option<CancellationRequest>,
    #[serde(default)]
    pub reviews: OrderReviews,
    /// The dispute opened on it last, if any (one open at a time; a withdrawn one may be
    /// followed by another).
    #[serde(default)]
    pub dispute_id: Option<String>,
    /// Where it stood when its open dispute froze it.
    #[serde(default)]
    pub frozen: Option<Frozen>,
    /// The amendment proposed and not yet answered, if any (one at a time).
    #[serde(default)]
    pub amendment: Option<OpenAmendment>,
    /// The amendment in force, if any took effect: the head of the chain from `terms_hash`
    /// and what the work reads from its terms (`terms` stay as the buyer accepted them).
    #[serde(default)]
    pub amended: Option<Amended>,
    /// What was paid into its escrow and what left it (issue 26).
    #[serde(default)]
    pub escrow: Escrow,
    /// The payments it took after its own, newest last: paid amendments and the tip. A
    /// refund takes from the newest first (`flows::payments::refund_within`).
    #[serde(default)]
    pub extra_payments: Vec<String>,
    /// The buyer's tip, once offered.
    #[serde(default)]
    pub tip: Option<Tip>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

impl Order {
    /// The order an accepted offer places.
    pub fn place(offer: &Offer, order_id: String, policy: &Policy, now: DateTime<Utc>) -> Order {
        // The fee is the one the seller was shown with the offer.
        let policy = OrderPolicy { fee: offer.fee, ..OrderPolicy::from(policy) };
        Order {
            order_id,
            offer_id: offer.offer_id.clone(),
            buyer_id: offer.buyer_id.clone(),
            seller_id: offer.seller_id.clone(),
            gig_id: offer.terms.gig_id.clone(),
            terms: offer.terms.clone(),
            terms_hash: offer.terms_hash.clone(),
            payment_due_at: now + chrono::Duration::seconds(policy.payment_window_seconds),
            policy,
            state: OrderState::AwaitingPayment,
            payment_intent_id: None,
            paid_at: None,
            due_at: None,
            late: false,
            revisions_used: 0,
            stage: 0,
            auto_complete_at: None,
            completed_at: None,
            cancellation: None,
            reviews: OrderReviews::default(),
            dispute_id: None,
            frozen: None,
            amendment: None,
            amended: None,
            escrow: Escrow::default(),
            extra_payments: Vec::new(),
            tip: None,
            created_at: now,
            updated_at: now,
            version: 0,
            head_hash: timeline::GENESIS.into(),
        }
    }

    /// Payment confirmed at `now`: the work's clock starts.
    pub fn start_work(&mut self, now: DateTime<Utc>) {
        self.paid_at = Some(now);
        self.due_at = Some(now + chrono::Duration::days(i64::from(self.terms.delivery_days)));
    }

    /// The deadline the table's guards look at: the payment window while unpaid, the due
    /// time while in progress.
    pub fn current_deadline(&self) -> Option<DateTime<Utc>> {
        match self.state {
            OrderState::AwaitingPayment => Some(self.payment_due_at),
            OrderState::InProgress => self.due_at,
            OrderState::Delivered => self.auto_complete_at,
            OrderState::Completed => self.review_window_ends_at(),
            OrderState::Disputed | OrderState::Cancelled => None,
        }
    }

    /// When a completed order's review window closes.
    pub fn review_window_ends_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.map(|at| at + chrono::Duration::seconds(self.policy.review_window_seconds))
    }

    /// What the table's review guards look at.
    pub fn review_facts(&self) -> ReviewFacts {
        ReviewFacts {
            by_buyer: self.reviews.buyer_reviewed_at.is_some(),
            by_seller: self.reviews.seller_reviewed_at.is_some(),
            published: self.reviews.published_at.is_some(),
            replied: self.reviews.replied_at.is_some(),
        }
    }

    /// `by` reviewed the other party at `now`; with both reviews written, both are
    /// published.
    pub fn reviewed(&mut self, by: Actor, now: DateTime<Utc>) {
        match by {
            Actor::Buyer => self.reviews.buyer_reviewed_at = Some(now),
            Actor::Seller => self.reviews.seller_reviewed_at = Some(now),
            Actor::Support | Actor::System => {}
        }
        if self.reviews.buyer_reviewed_at.is_some() && self.reviews.seller_reviewed_at.is_some() {
            self.reviews.published_at = Some(now);
        }
    }

    /// A dispute was opened on it at `now`: it freezes, so nothing waits on a clock any
    /// more (no auto-complete), and an open cancellation request gives way to the dispute.
    /// Where it stood is kept for a withdrawal.
    pub fn dispute_opened(&mut self, dispute_id: &str, now: DateTime<Utc>) {
        self.dispute_id = Some(dispute_id.to_owned());
        self.frozen = Some(Frozen { state: self.state, at: now, auto_complete_at: self.auto_complete_at });
        self.auto_complete_at = None;
        self.cancellation = None;
        self.amendment = None;
    }

    /// Its dispute was decided at `now` (by support or a settlement), moving it to `to`:
    /// a completed order's review window opens.
    pub fn dispute_resolved(&mut self, to: OrderState, now: DateTime<Utc>) {
        self.frozen = None;
        if to == OrderState::Completed {
            self.completed_at = Some(now);
        }
    }

    /// Its dispute was withdrawn at `now`: the clocks go on from where they stopped. Work
    /// in progress is due as much later as it was frozen, a delivered stage has what was
    /// left of its auto-complete window. A cancellation request that gave way to the
    /// dispute stays withdrawn (either party may ask again).
    pub fn dispute_withdrawn(&mut self, now: DateTime<Utc>) {
        self.dispute_id = None;
        let Some(frozen) = self.frozen.take() else { return };
        match frozen.state {
            OrderState::InProgress => {
                let paused = now - frozen.at;
                self.due_at = self.due_at.map(|due| due + paused);
            }
            OrderState::Delivered => {
                let full = chrono::Duration::seconds(self.policy.auto_complete_seconds);
                let left = frozen.auto_complete_at.map_or(full, |at| (at - frozen.at).max(chrono::Duration::zero()));
                self.auto_complete_at = Some(now + left);
            }
            _ => {}
        }
    }

    /// Until when a completed order may still be disputed: never once a dispute on it was
    /// decided (a withdrawn one leaves no `dispute_id`).
    pub fn disputable_until(&self) -> Option<DateTime<Utc>> {
        (self.state == OrderState::Completed && self.dispute_id.is_none())
            .then(|| {
                self.completed_at.map(|at| at + chrono::Duration::seconds(self.policy.dispute_after_completion_seconds))
            })
            .flatten()
    }

    /// The review window closed at `now`: what was written is published.
    pub fn review_window_closed(&mut self, now: DateTime<Utc>) {
        self.reviews.published_at.get_or_insert(now);
    }

    /// The seller answered the buyer's review at `now`.
    pub fn review_replied(&mut self, now: DateTime<Utc>) {
        self.reviews.replied_at = Some(now);
    }

    pub fn timer_due(&self, timer: Timer) -> Option<DateTime<Utc>> {
        match timer {
            Timer::ExpireAtDeadline => self.current_deadline(),
            Timer::LateAtDue => self.due_at,
            Timer::LateCancellationOpens => {
                self.due_at.map(|due| due + chrono::Duration::seconds(self.policy.late_cancellation_grace_seconds))
            }
            Timer::AutoComplete => self.auto_complete_at,
            Timer::CancellationTimeout => self.cancellation.as_ref().map(|c| c.respond_by),
            Timer::ReviewWindowCloses => self.review_window_ends_at(),
            Timer::AmendmentExpires => self.amendment.as_ref().map(|a| a.respond_by),
            Timer::ResponseDue => None,
        }
    }

    /// Whether the late timer should flag it now: in progress, undelivered past its due
    /// time, and not flagged yet.
    pub fn turns_late(&self, now: DateTime<Utc>) -> bool {
        self.state == OrderState::InProgress && !self.late && self.due_at.is_some_and(|due| now >= due)
    }

    /// When its buyer may cancel it alone: a late order in progress (its current stage
    /// undelivered), once the grace period after its due time has passed.
    pub fn late_cancellation_at(&self) -> Option<DateTime<Utc>> {
        (self.state == OrderState::InProgress && self.late)
            .then(|| self.timer_due(Timer::LateCancellationOpens))
            .flatten()
    }

    /// Whether the buyer may now be told that they can cancel it as late.
    pub fn late_cancellation_opens(&self, now: DateTime<Utc>) -> bool {
        self.state == OrderState::InProgress
            && self.late
            && self.timer_due(Timer::LateCancellationOpens).is_some_and(|at| now >= at)
    }

    /// The hash of the terms in force: the contract's, or the last amendment's that took
    /// effect (the head of the chain).
    pub fn terms_hash_in_force(&self) -> &str {
        self.amended.as_ref().map_or(&self.terms_hash, |a| &a.hash)
    }

    /// The price in force.
    pub fn price(&self) -> &Money {
        self.amended.as_ref().map_or(&self.terms.price, |a| &a.price)
    }

    /// The revisions the terms in force include.
    pub fn revisions_included(&self) -> u32 {
        self.amended.as_ref().map_or(self.terms.revisions_included, |a| a.revisions_included)
    }

    /// Stage `index`'s (0-based) amount in the terms in force, if it has one.
    pub fn stage_amount(&self, index: u32) -> Option<i64> {
        match &self.amended {
            Some(a) => a.stage_amounts.get(index as usize).copied().flatten(),
            None => self.terms.stages.get(index as usize).and_then(|s| s.amount),
        }
    }

    /// An amendment was proposed: it is the open one, answerable until its window ends.
    pub fn amendment_proposed(&mut self, open: OpenAmendment) {
        self.amendment = Some(open);
    }

    /// The open amendment, while the work runs (one the order moved past with it open,
    /// completed or cancelled, can no longer be answered).
    pub fn amendment_answerable(&self) -> Option<&OpenAmendment> {
        self.amendment.as_ref().filter(|_| matches!(self.state, OrderState::InProgress | OrderState::Delivered))
    }

    /// The open amendment was answered (declined, withdrawn) or expired: none is open.
    pub fn amendment_closed(&mut self) {
        self.amendment = None;
    }

    /// An amendment took effect at `now`: its terms (`in_force`) are in force. `extra_days`
    /// more move the due time (and a late flag whose new due time is ahead comes down); a
    /// delivered stage waiting for the buyer keeps its auto-complete time.
    pub fn amendment_took_effect(&mut self, in_force: Amended, extra_days: Option<u32>, now: DateTime<Utc>) {
        self.amendment = None;
        if let Some(days) = extra_days {
            self.due_at = self.due_at.map(|due| due + chrono::Duration::days(i64::from(days)));
            if self.late && self.due_at.is_some_and(|due| due > now) {
                self.late = false;
            }
        }
        self.amended = Some(in_force);
    }

    /// How many stages the terms in force have (at least one).
    pub fn stages(&self) -> u32 {
        let count = self.amended.as_ref().map_or(self.terms.stages.len(), |a| a.stage_amounts.len());
        u32::try_from(count).unwrap_or(u32::MAX).max(1)
    }

    /// Stages after the current one.
    pub fn stages_left(&self) -> u32 {
        self.stages().saturating_sub(self.stage + 1)
    }

    /// The current stage was delivered at `now`: the buyer's silence accepts it after the
    /// order's copied auto-complete window.
    pub fn delivered(&mut self, now: DateTime<Utc>) {
        self.auto_complete_at = Some(now + chrono::Duration::seconds(self.policy.auto_complete_seconds));
    }

    /// The buyer asked for a revision of the delivered stage: one more is used, and the
    /// auto-complete clock stops.
    pub fn revision_requested(&mut self) {
        self.revisions_used += 1;
        self.auto_complete_at = None;
    }

    /// What accepting the delivered stage releases from escrow, its fee and the seller's
    /// net, taken out of escrow here; `None` when it releases nothing. A stage releases its
    /// own amount where the terms give stages amounts (never more than escrow holds); the
    /// last stage releases all that escrow still holds, and where the stages have no
    /// amounts, it is the only one that releases.
    pub fn release(&mut self) -> Result<Option<Release>, ledger::Refusal> {
        let held = self.escrow.held();
        let gross = if self.stages_left() == 0 { held } else { self.stage_amount(self.stage).unwrap_or(0).min(held) };
        self.take(gross)
    }

    /// Everything escrow still holds, released to the seller (a dispute decided for them,
    /// in whole or after a partial refund); `None` when it holds nothing.
    pub fn release_rest(&mut self) -> Result<Option<Release>, ledger::Refusal> {
        self.take(self.escrow.held())
    }

    /// The buyer's tip of `amount`, paid into escrow, out again to the seller at once, less
    /// the order's tip fee.
    pub fn release_tip(&mut self, amount: i64, now: DateTime<Utc>) -> Result<Release, ledger::Refusal> {
        let fee = self.policy.tip_fee.fee(amount)?;
        self.escrow.released += amount;
        if let Some(tip) = &mut self.tip {
            tip.paid_at = Some(now);
        }
        Ok(Release { stage: self.stages(), gross: amount, fee, net: amount - fee })
    }

    /// `gross` out of escrow to the seller, less the order's fee.
    fn take(&mut self, gross: i64) -> Result<Option<Release>, ledger::Refusal> {
        if gross <= 0 {
            return Ok(None);
        }
        let fee = self.policy.fee.fee(gross)?;
        self.escrow.released += gross;
        Ok(Some(Release { stage: self.stage + 1, gross, fee, net: gross - fee }))
    }

    /// The delivered stage was accepted (by the buyer or their silence) at `now`: the next
    /// stage is in progress, or, after the last, the order is complete.
    pub fn stage_accepted(&mut self, now: DateTime<Utc>) {
        self.auto_complete_at = None;
        if self.stages_left() == 0 {
            self.completed_at = Some(now);
        } else {
            self.stage += 1;
        }
    }

    /// The open cancellation request: who made it and until when it may be answered.
    pub fn open_request(&self) -> Option<(Actor, DateTime<Utc>)> {
        self.cancellation.as_ref().map(|c| (c.by, c.respond_by))
    }

    /// `by` asks to cancel: the other party has the order's copied response window to
    /// answer; meanwhile no silence completes a delivered stage.
    pub fn cancellation_requested(
        &mut self,
        request_id: String,
        by: Actor,
        by_user: &str,
        reason: String,
        now: DateTime<Utc>,
    ) {
        let respond_by = now + chrono::Duration::seconds(self.policy.mutual_cancellation_response_seconds);
        self.cancellation = Some(CancellationRequest {
            request_id,
            by,
            by_user: by_user.to_owned(),
            reason,
            requested_at: now,
            respond_by,
        });
        self.auto_complete_at = None;
    }

    /// The request was declined at `now`: the work goes on, and a delivered stage's
    /// auto-complete clock starts again.
    pub fn cancellation_declined(&mut self, now: DateTime<Utc>) {
        self.cancellation = None;
        if self.state == OrderState::Delivered {
            self.delivered(now);
        }
    }

    /// Raises the `late` flag if it turns late now ([`Order::turns_late`]); `false` when
    /// it does not.
    pub fn flag_late(&mut self, now: DateTime<Utc>) -> bool {
        let turns = self.turns_late(now);
        self.late |= turns;
        turns
    }

    /// The order as a party sees it.
    pub fn view(&self, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        self.view_with(viewer, now, None)
    }

    /// The order with `payment`, the view of the payment opened for it, where the caller
    /// loaded it (a single order, not a list).
    pub fn view_with(&self, viewer: Option<Actor>, now: DateTime<Utc>, payment: Option<Value>) -> Value {
        let allowed = viewer.map(|a| lifecycle::allowed(ORDER, self.state, a, &self.facts(now))).unwrap_or_default();
        json!({
            "order_id": self.order_id,
            "offer_id": self.offer_id,
            "buyer_id": self.buyer_id,
            "seller_id": self.seller_id,
            "gig_id": self.gig_id,
            "terms": self.terms,
            "terms_hash": self.terms_hash,
            "terms_hash_verified": self.terms.hash() == self.terms_hash,
            "policy": self.policy,
            "status": self.state,
            "payment_due_at": self.payment_due_at,
            "paid_at": self.paid_at,
            "due_at": self.due_at,
            "late": self.late,
            "revisions_used": self.revisions_used,
            "stage": self.stage + 1,
            "stages": self.stages(),
            "auto_complete_at": self.auto_complete_at,
            "completed_at": self.completed_at,
            "cancellation_request": self.cancellation,
            "amendment": self.amendment_answerable(),
            "amended": self.amended.as_ref().map(|a| json!({
                "count": a.count,
                "amendment_id": a.amendment_id,
                "hash": a.hash,
                "price": a.price,
                "revisions_included": a.revisions_included,
            })),
            "dispute_id": self.dispute_id,
            "tip": self.tip,
            "money": {
                "currency": self.terms.price.currency,
                "paid": self.escrow.paid,
                "released": self.escrow.released,
                "refunded": self.escrow.refunded,
                "in_escrow": self.escrow.held(),
                // What a cancellation would do now, for the parties to see before they
                // agree one: escrow goes back, released stages stay the seller's.
                "on_cancellation": {
                    "refund_to_buyer": self.escrow.held(),
                    "seller_keeps": self.escrow.released,
                },
            },
            "reviews": {
                "window_ends_at": self.review_window_ends_at(),
                "buyer_reviewed": self.reviews.buyer_reviewed_at.is_some(),
                "seller_reviewed": self.reviews.seller_reviewed_at.is_some(),
                "published_at": self.reviews.published_at,
                "replied": self.reviews.replied_at.is_some(),
            },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "allowed_actions": allowed,
            "payment": payment,
        })
    }
}

crate::tracked::tracked!(Order, crate::lifecycle::OrderState, "ORDER", "order", order_id, {
    const SEALED: &'static [&'static str] = &["terms", "terms_hash", "policy"];
    fn deadline(&self) -> Option<DateTime<Utc>> {
        self.current_deadline()
    }
    fn timer_at(&self, timer: crate::lifecycle::Timer) -> Option<DateTime<Utc>> {
        self.timer_due(timer)
    }
    fn revisions(&self) -> (u32, u32) {
        (self.revisions_used, self.revisions_included())
    }
    fn open_amendment(&self) -> Option<crate::lifecycle::AmendmentFacts> {
        self.amendment.as_ref().map(|a| crate::lifecycle::AmendmentFacts {
            by: a.by,
            until: a.respond_by,
            adds_money: a.adds_money,
            accepted: a.payment_intent_id.is_some(),
        })
    }
    fn tip(&self) -> Option<crate::lifecycle::TipFacts> {
        self.tip.as_ref().map(|t| match t.paid_at {
            None => crate::lifecycle::TipFacts::AwaitingPayment,
            Some(_) => crate::lifecycle::TipFacts::Paid,
        })
    }
    fn stages_left(&self) -> u32 {
        Order::stages_left(self)
    }
    fn right_opens_at(&self) -> Option<DateTime<Utc>> {
        self.late_cancellation_at()
    }
    fn open_request(&self) -> Option<(crate::lifecycle::Actor, DateTime<Utc>)> {
        Order::open_request(self)
    }
    fn reviews(&self) -> crate::lifecycle::ReviewFacts {
        self.review_facts()
    }
    fn resumes(&self) -> Option<OrderState> {
        self.frozen.as_ref().map(|f| f.state)
    }
    fn disputable_until(&self) -> Option<DateTime<Utc>> {
        Order::disputable_until(self)
    }
});

/// An order placed from an accepted offer at `now`, awaiting payment through `pi_1`:
/// 12,000,000 IRR, 7 days, 2 revisions, Persian text and an emoji in its terms. A fixture
/// for tests here and in the crates above (feature `fixtures`, for their tests only).
#[cfg(any(test, feature = "fixtures"))]
pub fn example(now: DateTime<Utc>) -> Order {
    use crate::money::Money;
    use crate::offer::OfferSource;
    let terms = Terms {
        gig_id: "01GIG".into(),
        title: "لوگوی فروشگاه 🎨".into(),
        description: "طرح نهایی\u{200c}ها".into(),
        price: Money { amount: 12_000_000, currency: "IRR".into() },
        delivery_days: 7,
        stages: vec![],
        revisions_included: 2,
        expires_at: now + chrono::Duration::days(7),
        special_conditions: vec![],
    };
    let offer = Offer {
        offer_id: "01OFFER".into(),
        seller_id: "seller".into(),
        buyer_id: "buyer".into(),
        source: OfferSource::MessageId("01MSG".into()),
        terms_hash: terms.hash(),
        terms,
        state: lifecycle::OfferState::Accepted,
        order_id: Some("01ORDER".into()),
        decline_reason: None,
        fee: FeePolicy::default(),
        created_at: now,
        updated_at: now,
        version: 1,
        head_hash: String::new(),
    };
    let mut order = Order::place(&offer, "01ORDER".into(), &Policy::default(), now);
    order.payment_intent_id = Some("pi_1".into());
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{ORDER_LATE, ORDER_START, OrderAction, Transition};
    use crate::timeline::{GENESIS, verify};
    use crate::tracked::{Step, Tracked, advance};

    fn staged(amounts: &[Option<i64>]) -> Order {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        order.terms.stages = amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| crate::offer::Stage {
                title: format!("stage {i}"),
                deliverables: vec!["x".into()],
                amount: *amount,
                days: None,
            })
            .collect();
        order.escrow.paid = 12_000_000;
        order
    }

    #[test]
    fn each_stage_releases_its_amount_less_the_fee_and_the_last_what_is_left() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = staged(&[Some(4_000_000), Some(8_000_000)]);
        let first = order.release().unwrap().expect("the first stage's amount");
        assert_eq!(first, Release { stage: 1, gross: 4_000_000, fee: 400_000, net: 3_600_000 });
        order.stage_accepted(now);
        assert_eq!(order.escrow.held(), 8_000_000);
        let last = order.release().unwrap().expect("the rest");
        assert_eq!((last.stage, last.gross, last.fee), (2, 8_000_000, 800_000));
        assert_eq!(order.escrow.held(), 0);
        assert_eq!(order.release(), Ok(None), "nothing is left to release");
    }

    #[test]
    fn without_stage_amounts_only_the_last_stage_releases_and_only_what_escrow_holds() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = staged(&[None, None]);
        assert_eq!(order.release(), Ok(None), "the first of two stages without amounts releases nothing");
        order.stage_accepted(now);
        order.escrow.refunded = 2_000_000;
        let last = order.release().unwrap().expect("what escrow still holds");
        assert_eq!((last.gross, last.fee, last.net), (10_000_000, 1_000_000, 9_000_000));
        assert_eq!(order.escrow, Escrow { paid: 12_000_000, released: 10_000_000, refunded: 2_000_000 });
    }

    #[test]
    fn the_seller_sees_what_each_release_nets_after_the_fee() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = staged(&[Some(60_000), Some(11_940_000)]);
        let offer = serde_json::json!({
            "offer_id": "01OFFER", "seller_id": "seller", "buyer_id": "buyer",
            "source": { "message_id": "01MSG" }, "terms": order.terms, "terms_hash": order.terms_hash,
            "state": "sent", "order_id": null, "decline_reason": null, "created_at": now,
            "updated_at": now, "version": 1, "head_hash": "",
        });
        let mut offer: Offer = serde_json::from_value(offer).unwrap();
        // 60,000 pays the 50,000 minimum; 11,940,000 pays 10 %.
        assert_eq!(offer.seller_net(), 10_000 + 11_940_000 - 1_194_000);
        offer.terms.stages.iter_mut().for_each(|s| s.amount = None);
        assert_eq!(offer.seller_net(), 12_000_000 - 1_200_000, "one release of the whole price");
        offer.fee = FeePolicy { basis_points: 0, minimum: 0 };
        assert_eq!(offer.seller_net(), 12_000_000);
        let placed = Order::place(&offer, "01ORDER".into(), &Policy::default(), now);
        assert_eq!(placed.policy.fee, offer.fee, "the order keeps the fee its offer showed");
    }

    /// The store splits the sealed fields off by name: a name that is not a field would
    /// split nothing and leave the terms rewritten on every transition.
    #[test]
    fn the_sealed_fields_of_an_order_and_an_offer_are_fields_of_theirs() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = serde_json::to_value(example(now)).unwrap();
        assert!(Order::SEALED.iter().all(|name| order.get(name).is_some()), "{:?}", Order::SEALED);
        let offer = serde_json::json!({
            "offer_id": "01OFFER", "seller_id": "seller", "buyer_id": "buyer",
            "source": { "message_id": "01MSG" }, "terms": order["terms"], "terms_hash": order["terms_hash"],
            "state": "sent", "order_id": null, "decline_reason": null, "created_at": order["created_at"],
            "updated_at": order["updated_at"], "version": 1, "head_hash": "",
        });
        let offer = serde_json::to_value(serde_json::from_value::<Offer>(offer).unwrap()).unwrap();
        assert!(Offer::SEALED.iter().all(|name| offer.get(name).is_some()), "{:?}", Offer::SEALED);
    }

    #[test]
    fn an_order_turns_late_once_past_its_due_time_in_progress() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        assert!(!order.flag_late(now + chrono::Duration::days(30)), "an unpaid order is never late");
        order.state = OrderState::InProgress;
        order.start_work(now);
        let due = order.due_at.unwrap();
        assert_eq!(due, now + chrono::Duration::days(7));
        assert!(!order.flag_late(due - chrono::Duration::seconds(1)));
        assert!(!order.late);
        assert!(order.flag_late(due));
        assert!(order.late);
        assert!(!order.flag_late(due + chrono::Duration::days(1)), "flagged once");
        let opens = due + chrono::Duration::hours(24);
        assert!(!order.late_cancellation_opens(opens - chrono::Duration::seconds(1)));
        assert!(order.late_cancellation_opens(opens));
    }

    #[test]
    fn advancing_chains_the_timeline_and_says_what_to_write() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        assert_eq!(order.head_hash, GENESIS);
        let placed = advance(&mut order, Step::start(&ORDER_START, Actor::Buyer, Some("buyer"), Value::Null), now);
        assert_eq!((placed.expected, order.version), (0, 1));
        assert_eq!(placed.followups.iter().map(|f| f.recipient_id.as_str()).collect::<Vec<_>>(), ["seller"]);
        assert_eq!(placed.timers, vec![(order.payment_due_at, "order/01ORDER".to_owned())]);

        let later = now + chrono::Duration::minutes(5);
        let t = pay_step(&order, later);
        let paid = advance(&mut order, Step::of(t, Actor::System, None, Value::Null), later);
        assert_eq!((paid.expected, order.version, order.state), (1, 2, OrderState::InProgress));
        assert_eq!(order.updated_at, later);
        let state = order.state;
        let noted = advance(&mut order, Step::note(state, &ORDER_LATE, Value::Null), later);
        assert_eq!(order.state, OrderState::InProgress, "a note moves no state");
        assert_eq!(noted.followups.len(), 2, "both parties are told");
        // The three events chain from the genesis to the order's head.
        let events = [placed.event, paid.event, noted.event];
        assert_eq!(verify(&events, &order.head_hash), Ok(()));
        assert_eq!(events.iter().map(|e| e.at).collect::<Vec<_>>(), [now, later, later], "time is the input");
    }

    /// `allowed_actions` for every role in every state the order can be in: the matrix
    /// frontends draw their buttons from.
    #[test]
    fn allowed_actions_in_every_state_for_every_role() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let hour = chrono::Duration::hours(1);
        let at = |mut order: Order, state: OrderState| {
            order.state = state;
            order
        };
        let paid = |mut order: Order| {
            order.start_work(now - hour);
            order
        };
        let unpaid = example(now);
        let in_progress = at(paid(example(now)), OrderState::InProgress);
        let mut late = in_progress.clone();
        late.due_at = Some(now - chrono::Duration::hours(25));
        late.late = true;
        let mut asked = in_progress.clone();
        asked.cancellation_requested("01REQ".into(), Actor::Buyer, "buyer", "r".into(), now - hour);
        let mut delivered = at(in_progress.clone(), OrderState::Delivered);
        delivered.delivered(now);
        let mut no_revisions = delivered.clone();
        no_revisions.revisions_used = 2;
        let mut completed = at(in_progress.clone(), OrderState::Completed);
        completed.completed_at = Some(now - hour);
        let mut buyer_reviewed = completed.clone();
        buyer_reviewed.reviewed(Actor::Buyer, now);
        let mut published = buyer_reviewed.clone();
        published.reviewed(Actor::Seller, now);
        let mut window_over = completed.clone();
        window_over.completed_at = Some(now - chrono::Duration::days(15));
        let cancelled = at(unpaid.clone(), OrderState::Cancelled);
        let mut tipping = published.clone();
        tipping.tip = Some(Tip {
            amount: Money { amount: 1, currency: "IRR".into() },
            payment_intent_id: "pi_tip".into(),
            created_at: now,
            paid_at: None,
        });
        let mut tipped = tipping.clone();
        tipped.tip.as_mut().unwrap().paid_at = Some(now);

        let mut disputed = delivered.clone();
        disputed.dispute_opened("01DISPUTE", now);
        let disputed = at(disputed, OrderState::Disputed);

        // A chargeback (`System`) opens a dispute wherever a party may.
        const D: &str = "open_dispute";
        // Either party proposes an amendment of the running work.
        const A: &str = "propose_amendment";
        let cases: [(&str, &Order, [&[&str]; 4]); 14] = [
            ("unpaid", &unpaid, [&["cancel"], &["cancel"], &[], &["pay"]]),
            (
                "in progress",
                &in_progress,
                [&["request_cancellation", A, D], &["deliver", "request_cancellation", A, D], &[], &[D]],
            ),
            (
                "late",
                &late,
                [&["cancel", "request_cancellation", A, D], &["deliver", "request_cancellation", A, D], &[], &[D]],
            ),
            (
                "buyer asked to cancel",
                &asked,
                [&[A, D], &["deliver", "accept_cancellation", "decline_cancellation", A, D], &[], &[D]],
            ),
            (
                "delivered",
                &delivered,
                [
                    &["request_revision", "accept_delivery", "request_cancellation", A, D],
                    &["request_cancellation", A, D],
                    &[],
                    &[D],
                ],
            ),
            (
                "delivered, no revisions left",
                &no_revisions,
                [&["accept_delivery", "request_cancellation", A, D], &["request_cancellation", A, D], &[], &[D]],
            ),
            (
                // Support decides; the system applies a settlement or a withdrawal the
                // dispute's own table allowed.
                "disputed: frozen for the parties",
                &disputed,
                [
                    &[],
                    &[],
                    &["release_disputed", "refund_disputed", "partly_refund_disputed"],
                    &["release_disputed", "refund_disputed", "partly_refund_disputed", "resume_disputed"],
                ],
            ),
            // Within the window after completion either party may still dispute it; its
            // buyer may tip it once, at any time after.
            ("completed", &completed, [&[D, "review", "tip"], &[D, "review"], &[], &[]]),
            ("the buyer reviewed", &buyer_reviewed, [&[D, "tip"], &[D, "review"], &[], &[]]),
            ("both reviewed", &published, [&[D, "tip"], &[D, "reply"], &[], &[]]),
            ("a tip awaits its payment", &tipping, [&[D], &[D, "reply"], &[], &["pay_tip"]]),
            ("tipped", &tipped, [&[D], &[D, "reply"], &[], &[]]),
            ("review window over", &window_over, [&["tip"], &[], &[], &["close_reviews"]]),
            ("cancelled", &cancelled, [&[], &[], &[], &[]]),
        ];
        for (name, order, expected) in cases {
            for (actor, want) in [Actor::Buyer, Actor::Seller, Actor::Support, Actor::System].into_iter().zip(expected)
            {
                let allowed = lifecycle::allowed(ORDER, order.state, actor, &order.facts(now));
                let names: Vec<String> =
                    allowed.iter().map(|a| serde_json::to_value(a).unwrap().as_str().unwrap().to_owned()).collect();
                assert_eq!(names, want, "{name}, {actor:?}");
            }
        }
        // What a party is shown is the table's answer for them.
        assert_eq!(
            delivered.view(Some(Actor::Buyer), now)["allowed_actions"],
            json!(["request_revision", "accept_delivery", "request_cancellation", A, D])
        );
        assert_eq!(delivered.view(None, now)["allowed_actions"], json!([]));
    }

    fn pay_step(order: &crate::order::Order, now: DateTime<Utc>) -> &'static Transition<OrderState, OrderAction> {
        lifecycle::step(ORDER, order.state, OrderAction::Pay, Actor::System, &order.facts(now)).unwrap()
    }
}
