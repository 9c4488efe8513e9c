//! Disputes: when buyer and seller fall out over a paid order, either opens one; the order
//! freezes (`disputed`: no timer and no party moves it) until support resolves it from
//! what the custom project says: `release` (the order is complete), `refund` (cancelled,
//! all that was paid refunded) or `partial_refund` (an amount refunded, the order
//! complete). Meanwhile the parties add statements with files. A dispute has its own
//! hash-chained timeline; its opening and resolution are also on the order's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::lifecycle::{Actor, DisputeState, OrderAction, OrderState, Refusal};
use crate::money::Money;
use crate::order::Order;
use crate::payment::Chargeback;
use crate::policy::Policy;
use crate::tracked::refusal;
use crate::{upload, validate};

/// Why a dispute is opened: a fixed list, so support's queue can be read at a glance and
/// each reason points at the part of the contract support reads first. The first three
/// are the buyer's usual complaints, the next two the seller's; `other` says it in the
/// description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeReason {
    /// The work (or the current stage) was not delivered by its due time.
    NotDelivered,
    /// What was delivered does not match the terms' deliverables.
    NotAsAgreed,
    /// The seller refuses a revision the terms still include.
    RevisionRefused,
    /// The buyer does not answer or does not provide what the work needs.
    BuyerUnresponsive,
    /// The buyer asks for work outside the terms.
    OutsideTheTerms,
    Other,
    /// The buyer's bank disputes the payment: the provider's word opens it (`System`);
    /// no party may choose it.
    Chargeback,
}

/// `POST /v1/orders/{order_id}/disputes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDispute {
    pub reason: DisputeReason,
    pub description: String,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
    #[serde(default)]
    pub voice_note_upload_id: Option<String>,
}

/// `POST /v1/orders/{order_id}/disputes/{dispute_id}/statements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatement {
    pub text: String,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
    #[serde(default)]
    pub voice_note_upload_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Release,
    Refund,
    PartialRefund,
}

/// `POST /v1/support/disputes/{dispute_id}/resolution`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResolution {
    pub decision: Decision,
    /// What `partial_refund` returns to the buyer; nothing else takes one.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Support's word to the parties.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub decision: Decision,
    pub refund_amount: Option<Money>,
    pub refund_id: Option<String>,
    pub note: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

/// Files a party names: attachments and an optional voice note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Files {
    pub attachment_upload_ids: Vec<String>,
    pub voice_note_upload_id: Option<String>,
}

impl Files {
    /// The shape of the ids, before anything is loaded.
    fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        upload::check_ids(&self.attachment_upload_ids, policy)?;
        if let Some(id) = &self.voice_note_upload_id {
            validate::ulid("voice_note_upload_id", id)?;
        }
        Ok(())
    }

    /// Every id, attachments first.
    pub fn ids(&self) -> Vec<String> {
        self.attachment_upload_ids.iter().chain(self.voice_note_upload_id.iter()).cloned().collect()
    }

    /// Each must be `owner`'s own, of its kind, checked and `ready`.
    pub fn check_owned(&self, owner: &str, uploads: &[upload::Upload]) -> Result<(), ApiError> {
        upload::check_references(uploads, owner, &self.attachment_upload_ids, self.voice_note_upload_id.as_ref(), true)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    pub dispute_id: String,
    pub order_id: String,
    pub offer_id: String,
    pub buyer_id: String,
    pub seller_id: String,
    pub opened_by: Actor,
    pub opener_id: String,
    pub reason: DisputeReason,
    pub description: String,
    pub files: Files,
    /// The order's state when it was opened.
    pub order_state: OrderState,
    pub state: DisputeState,
    pub resolution: Option<Resolution>,
    /// The bank's chargeback on the order's payment, when one opened or joined it: while
    /// it is open, support waits for the bank (no resolution).
    #[serde(default)]
    pub chargeback: Option<Chargeback>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

/// A party's statement on an open dispute: a record of its own under the dispute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub statement_id: String,
    pub dispute_id: String,
    pub by: Actor,
    pub author_id: String,
    pub text: String,
    pub files: Files,
    pub created_at: DateTime<Utc>,
}

impl NewDispute {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        if self.reason == DisputeReason::Chargeback {
            return Err(ApiError::invalid(
                Code::ReasonNotAllowed,
                "reason",
                "a chargeback is opened by the buyer's bank through the payment provider, not by a party",
            ));
        }
        validate::text("description", &self.description, policy.message_text_max)?;
        self.files().check(policy)
    }

    pub fn files(&self) -> Files {
        Files {
            attachment_upload_ids: self.attachment_upload_ids.clone(),
            voice_note_upload_id: self.voice_note_upload_id.clone(),
        }
    }

    /// The dispute `by` opens on `order` at `now` (before it is recorded: version 0).
    pub fn into_dispute(
        self,
        order: &Order,
        by: Actor,
        opener_id: &str,
        dispute_id: String,
        now: DateTime<Utc>,
    ) -> Dispute {
        let files = self.files();
        Dispute {
            dispute_id,
            order_id: order.order_id.clone(),
            offer_id: order.offer_id.clone(),
            buyer_id: order.buyer_id.clone(),
            seller_id: order.seller_id.clone(),
            opened_by: by,
            opener_id: opener_id.to_owned(),
            reason: self.reason,
            description: self.description,
            files,
            order_state: order.state,
            state: DisputeState::Open,
            resolution: None,
            chargeback: None,
            created_at: now,
            updated_at: now,
            version: 0,
            head_hash: crate::timeline::GENESIS.into(),
        }
    }
}

/// The dispute a chargeback opens on `order` (one the order's state lets be disputed):
/// opened by the provider (`System`, named `provider`), its reason `chargeback`, its
/// description the bank's reason and amount, and no files.
pub fn for_chargeback(
    order: &Order,
    provider: &str,
    chargeback: &Chargeback,
    dispute_id: String,
    now: DateTime<Utc>,
) -> Dispute {
    let description = format!(
        "The buyer's bank disputes the payment ({} {}): {}.",
        chargeback.amount.amount, chargeback.amount.currency, chargeback.reason
    );
    let new = NewDispute {
        reason: DisputeReason::Chargeback,
        description,
        attachment_upload_ids: Vec::new(),
        voice_note_upload_id: None,
    };
    let mut dispute = new.into_dispute(order, Actor::System, provider, dispute_id, now);
    dispute.chargeback = Some(chargeback.clone());
    dispute
}

impl NewStatement {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("text", &self.text, policy.message_text_max)?;
        self.files().check(policy)
    }

    pub fn files(&self) -> Files {
        Files {
            attachment_upload_ids: self.attachment_upload_ids.clone(),
            voice_note_upload_id: self.voice_note_upload_id.clone(),
        }
    }

    pub fn into_statement(
        self,
        dispute_id: &str,
        by: Actor,
        author_id: &str,
        id: String,
        now: DateTime<Utc>,
    ) -> Statement {
        let files = self.files();
        Statement {
            statement_id: id,
            dispute_id: dispute_id.to_owned(),
            by,
            author_id: author_id.to_owned(),
            text: self.text,
            files,
            created_at: now,
        }
    }
}

impl NewResolution {
    /// Its shape: a note, and an amount exactly when the decision is a partial refund, in
    /// the order's currency. Whether the amount is within what is left of the payment is
    /// the payment's to say.
    pub fn check(&self, policy: &Policy, order: &Order) -> Result<(), ApiError> {
        validate::text("note", &self.note, policy.message_text_max)?;
        match (self.decision, &self.amount) {
            (Decision::PartialRefund, None) => {
                Err(ApiError::invalid(Code::AmountRequired, "amount", "a partial refund names its amount"))
            }
            (Decision::PartialRefund, Some(amount)) if amount.currency != order.terms.price.currency => Err(
                ApiError::invalid(Code::CurrencyMismatch, "amount.currency", "the refund is in the order's currency"),
            ),
            (Decision::PartialRefund, Some(amount)) if amount.amount < 1 => {
                Err(ApiError::invalid(Code::RefundAmountOutOfRange, "amount.amount", "a partial refund is at least 1"))
            }
            (Decision::Release | Decision::Refund, Some(_)) => {
                Err(ApiError::invalid(Code::AmountNotAllowed, "amount", "only a partial refund names an amount"))
            }
            _ => Ok(()),
        }
    }

    /// The order's move this decision makes.
    pub fn order_action(&self) -> OrderAction {
        match self.decision {
            Decision::Release => OrderAction::ReleaseDisputed,
            Decision::Refund => OrderAction::RefundDisputed,
            Decision::PartialRefund => OrderAction::PartlyRefundDisputed,
        }
    }
}

/// The problem for an order that cannot be disputed now, said precisely.
pub fn refused(order: &Order, why: Refusal) -> ApiError {
    match (why, order.state) {
        (Refusal::NotNow, OrderState::AwaitingPayment) => {
            ApiError::conflict(Code::OrderNotPaid, "only a paid order can be disputed")
        }
        (Refusal::NotNow, OrderState::Disputed) => {
            ApiError::conflict(Code::DisputeAlreadyOpen, "this order already has an open dispute")
        }
        (Refusal::NotNow, OrderState::Completed) => {
            ApiError::conflict(Code::OrderCompleted, "a completed order can no longer be disputed")
        }
        (Refusal::NotNow, OrderState::Cancelled) => {
            ApiError::conflict(Code::OrderCancelled, "a cancelled order can no longer be disputed")
        }
        (other, _) => refusal::<Order>(other),
    }
}

/// The problem for a dispute that cannot take a statement or a resolution now.
pub fn closed(why: Refusal) -> ApiError {
    match why {
        Refusal::NotNow => ApiError::conflict(Code::DisputeResolved, "this dispute has been resolved"),
        other => refusal::<Dispute>(other),
    }
}

/// The answer to a resolution that lost the race to `winner`, whatever the loser's own
/// attempt ran into (a stale read of the payment, a commit that found the dispute
/// moved): 409, with the decision that won.
pub fn resolved_meanwhile(winner: &Dispute) -> ApiError {
    let how = winner.resolution.as_ref().map_or_else(
        || "resolved".to_owned(),
        |r| {
            let decision = crate::lifecycle::snake(r.decision);
            match &r.refund_amount {
                Some(amount) => {
                    format!("{decision} ({} {} refunded) by {}", amount.amount, amount.currency, r.decided_by)
                }
                None => format!("{decision} by {}", r.decided_by),
            }
        },
    );
    ApiError::conflict(Code::DisputeResolved, format!("this dispute is resolved already: {how}"))
}

impl Dispute {
    /// Whether support may decide it now: not while the bank is still deciding its
    /// chargeback (a decision could pay back money the bank holds, or release it).
    pub fn check_decidable(&self) -> Result<(), ApiError> {
        match &self.chargeback {
            Some(chargeback) if chargeback.is_open() => Err(ApiError::conflict(
                Code::ChargebackOpen,
                "the buyer's bank is deciding a chargeback on this payment; resolve it once the bank has decided",
            )),
            _ => Ok(()),
        }
    }

    pub fn view(&self) -> Value {
        json!({
            "dispute_id": self.dispute_id,
            "order_id": self.order_id,
            "offer_id": self.offer_id,
            "buyer_id": self.buyer_id,
            "seller_id": self.seller_id,
            "opened_by": self.opened_by,
            "opener_id": self.opener_id,
            "reason": self.reason,
            "description": self.description,
            "attachment_upload_ids": self.files.attachment_upload_ids,
            "voice_note_upload_id": self.files.voice_note_upload_id,
            "order_state_when_opened": self.order_state,
            "status": self.state,
            "resolution": self.resolution,
            "chargeback": self.chargeback,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

impl Statement {
    pub fn view(&self) -> Value {
        json!({
            "statement_id": self.statement_id,
            "dispute_id": self.dispute_id,
            "by": self.by,
            "author_id": self.author_id,
            "text": self.text,
            "attachment_upload_ids": self.files.attachment_upload_ids,
            "voice_note_upload_id": self.files.voice_note_upload_id,
            "created_at": self.created_at,
        })
    }
}

crate::tracked::tracked!(Dispute, DisputeState, "DISPUTE", "dispute", dispute_id, {
    /// Support's queue: open disputes oldest first, resolved ones after.
    fn support_queue(&self) -> Option<DisputeState> {
        Some(self.state)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{self, DISPUTE, DisputeAction, ORDER, OrderAction};
    use crate::order::example;
    use crate::tracked::Tracked;

    fn code(e: ApiError) -> &'static str {
        e.code()
    }

    #[test]
    fn only_a_paid_order_not_yet_final_is_disputed_and_each_refusal_says_why() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        let try_open = |order: &Order, actor| {
            lifecycle::step(ORDER, order.state, OrderAction::OpenDispute, actor, &order.facts(now))
                .map(|t| t.to)
                .map_err(|why| code(refused(order, why)))
        };
        for (state, expected) in [
            (OrderState::AwaitingPayment, Err("order_not_paid")),
            (OrderState::InProgress, Ok(OrderState::Disputed)),
            (OrderState::Delivered, Ok(OrderState::Disputed)),
            (OrderState::Disputed, Err("dispute_already_open")),
            (OrderState::Completed, Err("order_completed")),
            (OrderState::Cancelled, Err("order_cancelled")),
        ] {
            order.state = state;
            assert_eq!(try_open(&order, Actor::Buyer), expected, "{state:?}");
        }
        order.state = OrderState::InProgress;
        assert_eq!(try_open(&order, Actor::Seller), Ok(OrderState::Disputed));
        assert_eq!(try_open(&order, Actor::Support), Err("not_allowed_for_role"));
    }

    #[test]
    fn a_disputed_order_is_frozen_for_everyone_but_support() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        order.state = OrderState::Disputed;
        let far = now + chrono::Duration::days(365);
        for row in ORDER.iter().filter(|t| t.from == OrderState::Disputed) {
            assert_eq!(row.by, &[Actor::Support], "{:?}", row.action);
        }
        for actor in [Actor::Buyer, Actor::Seller, Actor::System] {
            assert!(lifecycle::allowed(ORDER, order.state, actor, &order.facts(far)).is_empty(), "{actor:?}");
        }
        // Opening it stops every clock that could move it.
        order.state = OrderState::Delivered;
        order.delivered(now);
        order.cancellation_requested("01REQ".into(), Actor::Buyer, "buyer", "r".into(), now);
        order.dispute_opened("01DISPUTE");
        assert_eq!((order.auto_complete_at, order.cancellation.is_none()), (None, true));
    }

    #[test]
    fn a_resolution_names_an_amount_only_for_a_partial_refund() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = example(now);
        let policy = Policy::default();
        let irr = |amount| Some(Money { amount, currency: "IRR".into() });
        let check = |decision, amount: Option<Money>, note: &str| {
            NewResolution { decision, amount, note: note.into() }.check(&policy, &order).map_err(code)
        };
        assert_eq!(check(Decision::Release, None, "تحویل کامل بود"), Ok(()));
        assert_eq!(check(Decision::Refund, None, "n"), Ok(()));
        assert_eq!(check(Decision::PartialRefund, irr(1), "n"), Ok(()));
        assert_eq!(check(Decision::PartialRefund, None, "n"), Err("amount_required"));
        assert_eq!(check(Decision::PartialRefund, irr(0), "n"), Err("refund_amount_out_of_range"));
        assert_eq!(check(Decision::PartialRefund, irr(-5), "n"), Err("refund_amount_out_of_range"));
        let usd = Some(Money { amount: 5, currency: "USD".into() });
        assert_eq!(check(Decision::PartialRefund, usd, "n"), Err("currency_mismatch"));
        assert_eq!(check(Decision::Release, irr(5), "n"), Err("amount_not_allowed"));
        assert_eq!(check(Decision::Release, None, " "), Err("empty"));
        // Each decision moves the order its own way.
        let to = |decision| {
            let action = NewResolution { decision, amount: None, note: "n".into() }.order_action();
            let mut disputed = example(now);
            disputed.state = OrderState::Disputed;
            lifecycle::step(ORDER, disputed.state, action, Actor::Support, &disputed.facts(now)).unwrap().to
        };
        assert_eq!(to(Decision::Release), OrderState::Completed);
        assert_eq!(to(Decision::Refund), OrderState::Cancelled);
        assert_eq!(to(Decision::PartialRefund), OrderState::Completed);
    }

    #[test]
    fn a_resolved_dispute_takes_nothing_more() {
        let facts = lifecycle::Facts::at(Utc::now());
        for action in [DisputeAction::AddStatement, DisputeAction::Resolve] {
            for actor in [Actor::Buyer, Actor::Seller, Actor::Support, Actor::System] {
                let refused = lifecycle::step(DISPUTE, DisputeState::Resolved, action, actor, &facts);
                assert_eq!(refused.map_err(|why| code(closed(why))).err(), Some("dispute_resolved"));
            }
        }
        let support_states =
            lifecycle::step(DISPUTE, DisputeState::Open, DisputeAction::AddStatement, Actor::Support, &facts);
        assert_eq!(support_states.map_err(|why| code(closed(why))).err(), Some("not_allowed_for_role"));
    }

    #[test]
    fn a_chargeback_dispute_is_the_providers_alone_and_waits_for_the_bank() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = example(now);
        order.state = OrderState::InProgress;
        let policy = Policy::default();
        let by_party = NewDispute {
            reason: DisputeReason::Chargeback,
            description: "my bank".into(),
            attachment_upload_ids: vec![],
            voice_note_upload_id: None,
        };
        let err = by_party.check(&policy).unwrap_err();
        assert!(matches!(&err, ApiError::Invalid { field: Some(f), .. } if f == "reason"), "{err:?}");
        assert_eq!(err.code(), "reason_not_allowed");
        let chargeback = Chargeback {
            provider_dispute_id: "dp_1".into(),
            amount: Money { amount: 7_000, currency: "IRR".into() },
            reason: "fraudulent".into(),
            status: "needs_response".into(),
            opened_at: now,
            closed_at: None,
        };
        let mut dispute = for_chargeback(&order, "stripe", &chargeback, "01D".into(), now);
        assert_eq!(
            (dispute.reason, dispute.opened_by, dispute.opener_id.as_str()),
            (DisputeReason::Chargeback, Actor::System, "stripe")
        );
        assert!(dispute.description.contains("fraudulent"), "{}", dispute.description);
        assert_eq!(code(dispute.check_decidable().unwrap_err()), "chargeback_open");
        dispute.chargeback.as_mut().unwrap().closed_at = Some(now);
        assert!(dispute.check_decidable().is_ok(), "decided once the bank has");
        // Joined to an open dispute, closed whenever the bank decides.
        for (state, action, ok) in [
            (DisputeState::Open, DisputeAction::JoinChargeback, true),
            (DisputeState::Resolved, DisputeAction::JoinChargeback, false),
            (DisputeState::Open, DisputeAction::CloseChargeback, true),
            (DisputeState::Resolved, DisputeAction::CloseChargeback, true),
        ] {
            let step = lifecycle::step(DISPUTE, state, action, Actor::System, &dispute.facts(now));
            assert_eq!(step.is_ok(), ok, "{state:?} {action:?}");
            for party in [Actor::Buyer, Actor::Seller, Actor::Support] {
                assert!(lifecycle::step(DISPUTE, state, action, party, &dispute.facts(now)).is_err());
            }
        }
    }
}
