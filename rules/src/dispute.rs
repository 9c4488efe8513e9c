//! Disputes: when buyer and seller fall out over a paid order, either opens one (on a
//! completed order, within a window after completion); the order freezes (`disputed`: no
//! timer and no party moves it) until support resolves it from what the custom project
//! says: `release` (the order is complete), `refund` (cancelled, all that was paid
//! refunded) or `partial_refund` (an amount refunded, the order complete). Meanwhile the
//! parties add statements with files; the other party has a response window to answer
//! before support is told it went unanswered; support may ask either party a question. The
//! parties may settle it themselves (one proposes the split of escrow, the other accepts:
//! decided as support's decision would be), or its opener may withdraw it (the order goes
//! back where it was). A dispute has its own hash-chained timeline; its opening and
//! outcome are also on the order's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::lifecycle::{self, Actor, DisputeAction, DisputeState, OrderAction, OrderState, Refusal};
use crate::money::Money;
use crate::order::Order;
use crate::payment::Chargeback;
use crate::policy::Policy;
use crate::tracked::{Tracked, refusal};
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
    /// The id of support's question this statement answers, if it answers one.
    #[serde(default)]
    pub answers: Option<String>,
}

/// Whom support asks: one of the parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Buyer,
    Seller,
}

impl Party {
    pub fn actor(self) -> Actor {
        match self {
            Party::Buyer => Actor::Buyer,
            Party::Seller => Actor::Seller,
        }
    }
}

/// `POST /v1/support/disputes/{dispute_id}/questions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    pub to: Party,
    pub text: String,
}

/// `POST /v1/orders/{order_id}/disputes/{dispute_id}/settlement`: how the proposer would
/// split what escrow holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSettlement {
    pub refund_to_buyer: Money,
    pub release_to_seller: Money,
    #[serde(default)]
    pub note: Option<String>,
}

/// A settlement proposed on an open dispute, waiting for the other party's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub by: Actor,
    pub by_user: String,
    pub refund_to_buyer: Money,
    pub release_to_seller: Money,
    pub note: Option<String>,
    pub proposed_at: DateTime<Utc>,
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
    /// Support's user id, or, for a settlement, the party who accepted it.
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    /// The settlement the parties agreed, when it was theirs.
    #[serde(default)]
    pub settlement: Option<Settlement>,
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
    /// Until when the other party may answer before support is told (none for a
    /// chargeback, which both parties answer).
    #[serde(default)]
    pub respond_by: Option<DateTime<Utc>>,
    /// When the other party first added a statement.
    #[serde(default)]
    pub answered_at: Option<DateTime<Utc>>,
    /// When the response window passed without an answer.
    #[serde(default)]
    pub unanswered_at: Option<DateTime<Utc>>,
    /// The settlement proposed and not yet answered, if any.
    #[serde(default)]
    pub settlement: Option<Settlement>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

/// A party's statement on an open dispute, or support's question to a party: a record of
/// its own under the dispute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub statement_id: String,
    pub dispute_id: String,
    pub by: Actor,
    pub author_id: String,
    pub text: String,
    pub files: Files,
    /// Support's question: the party asked.
    #[serde(default)]
    pub to: Option<Actor>,
    /// A party's answer: the question it answers.
    #[serde(default)]
    pub answers: Option<String>,
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
            respond_by: Some(now + chrono::Duration::seconds(order.policy.dispute_response_seconds)),
            answered_at: None,
            unanswered_at: None,
            settlement: None,
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
    dispute.respond_by = None;
    dispute
}

impl NewStatement {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("text", &self.text, policy.message_text_max)?;
        if let Some(id) = &self.answers {
            validate::ulid("answers", id)?;
        }
        self.files().check(policy)
    }

    /// What it answers, if anything, must be a question of this dispute put to `by`.
    pub fn check_answers(&self, by: Actor, statements: &[Statement]) -> Result<(), ApiError> {
        let Some(id) = &self.answers else { return Ok(()) };
        match statements.iter().find(|s| &s.statement_id == id && s.to.is_some()) {
            Some(question) if question.to == Some(by) => Ok(()),
            Some(_) => {
                Err(ApiError::invalid(Code::NotYourQuestion, "answers", "that question was put to the other party"))
            }
            None => Err(ApiError::invalid(Code::UnknownQuestion, "answers", "no question of this dispute has this id")),
        }
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
            to: None,
            answers: self.answers,
            created_at: now,
        }
    }
}

impl NewQuestion {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("text", &self.text, policy.message_text_max)
    }

    pub fn into_question(self, dispute_id: &str, asked_by: &str, id: String, now: DateTime<Utc>) -> Statement {
        Statement {
            statement_id: id,
            dispute_id: dispute_id.to_owned(),
            by: Actor::Support,
            author_id: asked_by.to_owned(),
            text: self.text,
            files: Files { attachment_upload_ids: Vec::new(), voice_note_upload_id: None },
            to: Some(self.to.actor()),
            answers: None,
            created_at: now,
        }
    }
}

impl NewSettlement {
    /// Its note, and its split ([`check_split`]).
    pub fn check(&self, policy: &Policy, order: &Order) -> Result<(), ApiError> {
        if let Some(note) = &self.note {
            validate::text("note", note, policy.message_text_max)?;
        }
        check_split(&self.refund_to_buyer, &self.release_to_seller, order)
    }

    pub fn into_settlement(self, by: Actor, by_user: &str, now: DateTime<Utc>) -> Settlement {
        Settlement {
            by,
            by_user: by_user.to_owned(),
            refund_to_buyer: self.refund_to_buyer,
            release_to_seller: self.release_to_seller,
            note: self.note,
            proposed_at: now,
        }
    }
}

/// A split of `order`'s escrow: both parts in the order's currency, neither negative, and
/// together exactly what escrow holds now.
fn check_split(refund_to_buyer: &Money, release_to_seller: &Money, order: &Order) -> Result<(), ApiError> {
    let currency = &order.terms.price.currency;
    for (field, part) in [("refund_to_buyer", refund_to_buyer), ("release_to_seller", release_to_seller)] {
        if &part.currency != currency {
            return Err(ApiError::invalid(
                Code::CurrencyMismatch,
                format!("{field}.currency"),
                "a settlement is in the order's currency",
            ));
        }
        if part.amount < 0 {
            return Err(ApiError::invalid(Code::InvalidAmount, format!("{field}.amount"), "a part is 0 or more"));
        }
    }
    let held = order.escrow.held();
    if refund_to_buyer.amount.checked_add(release_to_seller.amount) != Some(held) {
        return Err(ApiError::invalid(
            Code::SettlementDoesNotAddUp,
            "refund_to_buyer",
            format!("the parts add up to what escrow holds: {held} {currency}"),
        ));
    }
    Ok(())
}

impl Settlement {
    /// Whether it still splits what `order`'s escrow holds (escrow may have moved since it
    /// was proposed: a chargeback).
    pub fn check_still_splits(&self, order: &Order) -> Result<(), ApiError> {
        check_split(&self.refund_to_buyer, &self.release_to_seller, order)
    }

    /// The decision it amounts to: nothing refunded releases all, nothing released refunds
    /// all, anything else is a partial refund of its refund part.
    pub fn decision(&self) -> (Decision, Option<i64>) {
        match (self.refund_to_buyer.amount, self.release_to_seller.amount) {
            (0, _) => (Decision::Release, None),
            (_, 0) => (Decision::Refund, None),
            (refund, _) => (Decision::PartialRefund, Some(refund)),
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
        self.decision.order_action()
    }
}

impl Decision {
    /// The order's move this decision makes.
    pub fn order_action(self) -> OrderAction {
        match self {
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
        (Refusal::NotNow | Refusal::Guard(_), OrderState::Completed) => ApiError::conflict(
            Code::DisputeWindowClosed,
            "a completed order may be disputed only within its window after completion",
        ),
        (Refusal::NotNow, OrderState::Cancelled) => {
            ApiError::conflict(Code::OrderCancelled, "a cancelled order can no longer be disputed")
        }
        (other, _) => refusal::<Order>(other),
    }
}

/// The problem for a dispute that cannot take a statement or a resolution now.
pub fn closed(why: Refusal) -> ApiError {
    match why {
        Refusal::NotNow => ApiError::conflict(Code::DisputeResolved, "this dispute has been resolved or withdrawn"),
        other => refusal::<Dispute>(other),
    }
}

/// The problem for a settlement move or a withdrawal the dispute's table refuses, said
/// precisely.
pub fn refused_move(action: DisputeAction, why: Refusal) -> ApiError {
    use lifecycle::Guard;
    match (action, why) {
        (_, Refusal::Guard(Guard::NoRequestOpen)) => {
            ApiError::conflict(Code::SettlementOpen, "a settlement is already proposed; it is answered first")
        }
        (_, Refusal::Guard(Guard::RequestOpenByOther)) => {
            ApiError::conflict(Code::NoSettlementToAnswer, "no settlement proposed by the other party is open")
        }
        (_, Refusal::Guard(Guard::RequestOpenByActor)) => {
            ApiError::conflict(Code::NoSettlementToAnswer, "no settlement of yours is open to withdraw")
        }
        (_, Refusal::Guard(Guard::Opener)) => {
            ApiError::forbidden(Code::NotTheOpener, "only the party who opened the dispute may withdraw it")
        }
        (_, other) => closed(other),
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
            "respond_by": self.respond_by,
            "answered_at": self.answered_at,
            "unanswered": self.unanswered_at.is_some(),
            "unanswered_at": self.unanswered_at,
            "settlement": self.settlement,
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
            "to": self.to,
            "answers": self.answers,
            "created_at": self.created_at,
        })
    }
}

impl Dispute {
    /// Whether `by` is the party a dispute waits on: not its opener.
    pub fn answers_it(&self, by: Actor) -> bool {
        matches!(by, Actor::Buyer | Actor::Seller) && by != self.opened_by
    }

    /// The party its response window waits on: the one who did not open it.
    pub fn waiting_on(&self) -> Actor {
        if self.opened_by == Actor::Buyer { Actor::Seller } else { Actor::Buyer }
    }

    /// `by` added a statement at `now`: the first from the other party answers it.
    pub fn statement_added(&mut self, by: Actor, now: DateTime<Utc>) {
        if self.answers_it(by) && self.answered_at.is_none() {
            self.answered_at = Some(now);
        }
    }

    /// Until when the response window runs, while nobody has answered and it has not been
    /// marked unanswered yet.
    pub fn response_due(&self) -> Option<DateTime<Utc>> {
        (self.state == DisputeState::Open && self.answered_at.is_none() && self.unanswered_at.is_none())
            .then_some(self.respond_by)
            .flatten()
    }

    /// The dispute with its order as `viewer` now sees it (the answer to a move that
    /// changed both).
    pub fn with_order(&self, order: &Order, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        let mut body = self.view();
        body["order"] = order.view(viewer, now);
        body
    }

    /// The dispute as a party (or support) reads it: its statements and questions, its
    /// verified timeline (`history`), and what `viewer` may do now.
    pub fn as_party_reads_it(
        &self,
        viewer: Option<Actor>,
        statements: &[Statement],
        history: Value,
        now: DateTime<Utc>,
    ) -> Value {
        let mut body = self.view();
        body["statements"] = statements.iter().map(Statement::view).collect();
        body["history"] = history;
        body["allowed_actions"] = json!(self.allowed(viewer, now));
        body
    }

    /// Every party action this dispute allows `viewer` now.
    pub fn allowed(&self, viewer: Option<Actor>, now: DateTime<Utc>) -> Vec<DisputeAction> {
        viewer.map(|a| lifecycle::allowed(lifecycle::DISPUTE, self.state, a, &self.facts(now))).unwrap_or_default()
    }
}

crate::tracked::tracked!(Dispute, DisputeState, "DISPUTE", "dispute", dispute_id, {
    /// Support's queue: open disputes oldest first, resolved ones after.
    fn support_queue(&self) -> Option<DisputeState> {
        Some(self.state)
    }
    fn deadline(&self) -> Option<DateTime<Utc>> {
        self.response_due()
    }
    fn timer_at(&self, timer: crate::lifecycle::Timer) -> Option<DateTime<Utc>> {
        (timer == crate::lifecycle::Timer::ResponseDue).then(|| self.response_due()).flatten()
    }
    /// A proposed settlement, answerable while the dispute is open.
    fn open_request(&self) -> Option<(Actor, DateTime<Utc>)> {
        self.settlement.as_ref().map(|s| (s.by, DateTime::<Utc>::MAX_UTC))
    }
    fn opener(&self) -> Option<Actor> {
        Some(self.opened_by)
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
            (OrderState::Completed, Err("dispute_window_closed")),
            (OrderState::Cancelled, Err("order_cancelled")),
        ] {
            order.state = state;
            assert_eq!(try_open(&order, Actor::Buyer), expected, "{state:?}");
        }
        // A completed order, within the window after completion (3 days) and not after.
        order.state = OrderState::Completed;
        order.completed_at = Some(now - chrono::Duration::days(3) + chrono::Duration::seconds(1));
        assert_eq!(try_open(&order, Actor::Seller), Ok(OrderState::Disputed));
        assert_eq!(try_open(&order, Actor::System), Err("not_allowed_for_role"), "no chargeback dispute on it");
        order.completed_at = Some(now - chrono::Duration::days(3));
        assert_eq!(try_open(&order, Actor::Buyer), Err("dispute_window_closed"));
        // Nor once a dispute on it was decided.
        order.completed_at = Some(now);
        order.dispute_id = Some("01DECIDED".into());
        assert_eq!(try_open(&order, Actor::Buyer), Err("dispute_window_closed"));
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
        // Only support moves it, or the system applying what the dispute's table let a
        // party do (a settlement, a withdrawal); no timer's action is among them.
        for row in ORDER.iter().filter(|t| t.from == OrderState::Disputed) {
            assert!(row.by.iter().all(|a| matches!(a, Actor::Support | Actor::System)), "{:?}", row.action);
            assert!(row.timers.iter().all(|t| *t != lifecycle::Timer::ExpireAtDeadline), "{:?}", row.action);
        }
        for actor in [Actor::Buyer, Actor::Seller] {
            assert!(lifecycle::allowed(ORDER, order.state, actor, &order.facts(far)).is_empty(), "{actor:?}");
        }
        for timer_action in [OrderAction::AutoComplete, OrderAction::CancellationTimeout, OrderAction::CloseReviews] {
            let step = lifecycle::step(ORDER, order.state, timer_action, Actor::System, &order.facts(far));
            assert_eq!(step.err(), Some(Refusal::NotNow), "{timer_action:?}");
        }
        // Opening it stops every clock that could move it.
        order.state = OrderState::Delivered;
        order.delivered(now);
        order.cancellation_requested("01REQ".into(), Actor::Buyer, "buyer", "r".into(), now);
        order.dispute_opened("01DISPUTE", now);
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

    fn disputed(state: OrderState, now: DateTime<Utc>) -> (Order, Dispute) {
        let mut order = example(now);
        order.start_work(now);
        order.state = state;
        order.escrow.paid = 12_000_000;
        if state == OrderState::Delivered {
            order.delivered(now);
        }
        let new = NewDispute {
            reason: DisputeReason::NotAsAgreed,
            description: "طبق بند ۲ نیست".into(),
            attachment_upload_ids: vec![],
            voice_note_upload_id: None,
        };
        let dispute = new.into_dispute(&order, Actor::Buyer, &order.buyer_id.clone(), "01D".into(), now);
        order.dispute_opened("01D", now);
        order.state = OrderState::Disputed;
        (order, dispute)
    }

    #[test]
    fn the_other_party_has_a_response_window_and_silence_is_marked_once() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (_, mut dispute) = disputed(OrderState::InProgress, now);
        let due = now + chrono::Duration::hours(72);
        assert_eq!((dispute.respond_by, dispute.timer_at(lifecycle::Timer::ResponseDue)), (Some(due), Some(due)));
        let mark = |d: &Dispute, at| {
            lifecycle::step(DISPUTE, d.state, DisputeAction::MarkUnanswered, Actor::System, &d.facts(at))
        };
        assert!(mark(&dispute, due - chrono::Duration::seconds(1)).is_err(), "not before the window ends");
        assert_eq!(mark(&dispute, due).map(|t| t.event).ok(), Some("dispute_unanswered"));
        // The opener's own statements answer nothing; the other party's first does.
        dispute.statement_added(Actor::Buyer, now);
        assert_eq!(dispute.answered_at, None);
        dispute.statement_added(Actor::Seller, now + chrono::Duration::hours(1));
        assert_eq!(dispute.answered_at, Some(now + chrono::Duration::hours(1)));
        assert_eq!(dispute.response_due(), None, "an answered dispute has no clock");
        assert!(mark(&dispute, due).is_err());
        // Once marked, never again.
        let (_, mut silent) = disputed(OrderState::InProgress, now);
        silent.unanswered_at = Some(due);
        assert!(mark(&silent, due).is_err());
        assert_eq!(silent.view()["unanswered"], true);
    }

    #[test]
    fn a_settlement_splits_escrow_exactly_and_is_answered_by_the_other_party() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (order, mut dispute) = disputed(OrderState::InProgress, now);
        let policy = Policy::default();
        let irr = |amount| Money { amount, currency: "IRR".into() };
        let new = |refund, release| NewSettlement {
            refund_to_buyer: irr(refund),
            release_to_seller: irr(release),
            note: None,
        };
        assert_eq!(new(4_000_000, 8_000_000).check(&policy, &order).map_err(code), Ok(()));
        assert_eq!(new(4_000_000, 7_999_999).check(&policy, &order).map_err(code), Err("settlement_does_not_add_up"));
        assert_eq!(new(-1, 12_000_001).check(&policy, &order).map_err(code), Err("invalid_amount"));
        let usd = NewSettlement { refund_to_buyer: Money { amount: 0, currency: "USD".into() }, ..new(0, 12_000_000) };
        assert_eq!(usd.check(&policy, &order).map_err(code), Err("currency_mismatch"));
        // What each split decides.
        assert_eq!(new(0, 12_000_000).into_settlement(Actor::Seller, "s", now).decision(), (Decision::Release, None));
        assert_eq!(new(12_000_000, 0).into_settlement(Actor::Seller, "s", now).decision(), (Decision::Refund, None));
        assert_eq!(
            new(4_000_000, 8_000_000).into_settlement(Actor::Seller, "s", now).decision(),
            (Decision::PartialRefund, Some(4_000_000))
        );
        // One open at a time; its author may not answer it; the other party may.
        let step = |d: &Dispute, action, actor| {
            lifecycle::step(DISPUTE, d.state, action, actor, &d.facts(now))
                .map(|t| t.to)
                .map_err(|why| code(refused_move(action, why)))
        };
        assert_eq!(step(&dispute, DisputeAction::ProposeSettlement, Actor::Seller), Ok(DisputeState::Open));
        assert_eq!(step(&dispute, DisputeAction::AcceptSettlement, Actor::Buyer), Err("no_settlement_to_answer"));
        dispute.settlement = Some(new(4_000_000, 8_000_000).into_settlement(Actor::Seller, "s", now));
        assert_eq!(step(&dispute, DisputeAction::ProposeSettlement, Actor::Buyer), Err("settlement_open"));
        assert_eq!(step(&dispute, DisputeAction::AcceptSettlement, Actor::Seller), Err("no_settlement_to_answer"));
        assert_eq!(step(&dispute, DisputeAction::AcceptSettlement, Actor::Buyer), Ok(DisputeState::Resolved));
        assert_eq!(step(&dispute, DisputeAction::DeclineSettlement, Actor::Buyer), Ok(DisputeState::Open));
        assert_eq!(step(&dispute, DisputeAction::ProposeSettlement, Actor::Support), Err("not_allowed_for_role"));
        // Only its opener withdraws it.
        assert_eq!(step(&dispute, DisputeAction::Withdraw, Actor::Seller), Err("not_the_opener"));
        assert_eq!(step(&dispute, DisputeAction::Withdraw, Actor::Buyer), Ok(DisputeState::Withdrawn));
        dispute.state = DisputeState::Withdrawn;
        assert_eq!(step(&dispute, DisputeAction::AddStatement, Actor::Seller), Err("dispute_resolved"));
    }

    #[test]
    fn a_withdrawn_dispute_resumes_the_order_with_its_clocks_where_they_stopped() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let later = now + chrono::Duration::hours(30);
        let resume = |order: &Order| {
            lifecycle::step(ORDER, order.state, OrderAction::ResumeDisputed, Actor::System, &order.facts(later))
                .map(|t| t.to)
        };
        // Work in progress: due as much later as it was frozen.
        let (mut order, _) = disputed(OrderState::InProgress, now);
        let due = order.due_at.unwrap();
        assert_eq!(resume(&order), Ok(OrderState::InProgress));
        order.dispute_withdrawn(later);
        assert_eq!(order.due_at, Some(due + chrono::Duration::hours(30)));
        // A delivered stage: what was left of its auto-complete window (3 days).
        let (mut order, _) = disputed(OrderState::Delivered, now);
        assert_eq!(resume(&order), Ok(OrderState::Delivered));
        order.dispute_withdrawn(later);
        assert_eq!(order.auto_complete_at, Some(later + chrono::Duration::days(3)));
        assert_eq!(order.frozen, None);
        // No party moves the order itself.
        let (order, _) = disputed(OrderState::InProgress, now);
        for party in [Actor::Buyer, Actor::Seller] {
            assert!(
                lifecycle::step(ORDER, order.state, OrderAction::ResumeDisputed, party, &order.facts(later)).is_err()
            );
        }
    }

    #[test]
    fn an_answer_names_a_question_put_to_its_author() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let question = NewQuestion { to: Party::Seller, text: "فایل لایه‌باز کجاست؟".into() }.into_question(
            "01D",
            "support-1",
            "01HQUESTION00000000000000".into(),
            now,
        );
        assert_eq!((question.by, question.to), (Actor::Support, Some(Actor::Seller)));
        let answer = |id: &str| NewStatement {
            text: "در پیوست".into(),
            attachment_upload_ids: vec![],
            voice_note_upload_id: None,
            answers: Some(id.into()),
        };
        let asked = [question.clone()];
        assert_eq!(answer(&question.statement_id).check_answers(Actor::Seller, &asked).map_err(code), Ok(()));
        assert_eq!(
            answer(&question.statement_id).check_answers(Actor::Buyer, &asked).map_err(code),
            Err("not_your_question")
        );
        assert_eq!(
            answer("01HOTHER000000000000000000").check_answers(Actor::Seller, &asked).map_err(code),
            Err("unknown_question")
        );
    }
}
