//! Amendments: a running order changes, its contract does not. The terms the buyer
//! accepted stay sealed on the order; a change is an amendment with its own sealed terms
//! (the whole terms after it, canonical JSON, SHA-256), chained to the contract: its hash
//! covers the order, its own id, its number, the hash before it (the contract's for the first, the
//! previous amendment's after), what it changes and the hash of the terms it leaves in
//! force. One party proposes, the other accepts (it takes effect), declines, or lets it
//! expire; its author may withdraw it. One is open at a time, and only while the work
//! runs (in progress or delivered): more days (for the order, or a stage and so the
//! order), more revisions, a lower price for a stage not started yet (its difference
//! refunded from escrow), and a new stage with its deliverables and amount. One that adds
//! money takes effect only when the buyer has paid the difference: accepting it opens that
//! payment, and the provider's success applies it (`flows::payments`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical;
use crate::error::{ApiError, Code};
use crate::lifecycle::{Actor, OrderState, Refusal};
use crate::money::Money;
use crate::offer::Terms;
use crate::order::{Amended, OpenAmendment, Order};
use crate::policy::Policy;
use crate::tracked::refusal;
use crate::validate;

/// `POST /v1/orders/{order_id}/amendments`: at least one change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAmendment {
    #[serde(default)]
    pub extra_days: Option<ExtraDays>,
    #[serde(default)]
    pub extra_revisions: Option<u32>,
    #[serde(default)]
    pub lower_price: Option<LowerPrice>,
    #[serde(default)]
    pub add_stage: Option<NewStage>,
    /// Why, for the other party.
    #[serde(default)]
    pub note: Option<String>,
}

/// What an amendment changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// More days: the order is due this much later (and the stage named, if any, takes
    /// them in its plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_days: Option<ExtraDays>,
    /// More revisions included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_revisions: Option<u32>,
    /// A lower price for a stage not started yet: its amount less this much, refunded from
    /// escrow when it takes effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_price: Option<LowerPrice>,
    /// A new last stage: the price grows by its amount, paid by the buyer before it takes
    /// effect, and the order is due its days later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_stage: Option<NewStage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStage {
    pub title: String,
    pub deliverables: Vec<String>,
    /// What it costs, in the order's currency: paid by the buyer.
    pub amount: Money,
    /// How many days it adds to the order.
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraDays {
    pub days: u32,
    /// The stage (from 1) whose days grow; none: the order's as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowerPrice {
    /// The stage (from 1), after the current one.
    pub stage: u32,
    /// How much less, in the order's currency.
    pub by: Money,
}

/// Where an amendment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentStatus {
    Proposed,
    /// The other party accepted it and it adds money: it takes effect when the buyer's
    /// payment of the difference succeeds.
    AwaitingPayment,
    /// It took effect (accepted, and paid where it adds money).
    Accepted,
    Declined,
    Withdrawn,
    /// Its answer window passed in silence.
    Expired,
    /// Shown, never stored: the order moved on (disputed, completed, cancelled) before it
    /// was answered, so it can no longer be.
    Lapsed,
}

/// One amendment, a record of its own under the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amendment {
    pub amendment_id: String,
    pub order_id: String,
    /// Its place in the order's chain if it takes effect (1 for the first).
    pub number: u32,
    pub proposed_by: Actor,
    pub proposer_id: String,
    pub changes: Changes,
    pub note: Option<String>,
    /// The whole terms it leaves in force, sealed.
    pub terms: Terms,
    pub terms_hash: String,
    /// The hash it chains to: the contract's, or the amendment in force before it.
    pub previous_hash: String,
    /// Its own: over the order, its number, `previous_hash`, its changes and `terms_hash`.
    pub hash: String,
    /// What escrow gives back to the buyer when it takes effect (a lower price).
    pub refund: Option<Money>,
    /// What the buyer pays before it takes effect (a paid stage).
    #[serde(default)]
    pub payment: Option<Money>,
    /// The provider's intent for that payment, once accepted.
    #[serde(default)]
    pub payment_intent_id: Option<String>,
    pub status: AmendmentStatus,
    pub respond_by: DateTime<Utc>,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The seal: what an amendment's hash covers, in canonical JSON.
pub fn seal(
    (order_id, amendment_id): (&str, &str),
    number: u32,
    previous_hash: &str,
    changes: &Changes,
    terms_hash: &str,
) -> String {
    canonical::sha256(&json!({
        "order_id": order_id,
        "amendment_id": amendment_id,
        "number": number,
        "previous_hash": previous_hash,
        "changes": changes,
        "terms_hash": terms_hash,
    }))
}

impl NewAmendment {
    /// Its shape, before the order is read: at least one change, none of zero.
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        if let Some(note) = &self.note {
            validate::text("note", note, policy.message_text_max)?;
        }
        let c = self;
        if c.extra_days.is_none() && c.extra_revisions.is_none() && c.lower_price.is_none() && c.add_stage.is_none() {
            return Err(ApiError::Invalid {
                code: Code::EmptyAmendment,
                field: None,
                detail: "an amendment changes something: extra_days, extra_revisions, lower_price or add_stage".into(),
            });
        }
        if c.lower_price.is_some() && c.add_stage.is_some() {
            return Err(ApiError::invalid(
                Code::MixedAmendment,
                "add_stage",
                "a paid stage and a lower price are two amendments: one is paid, the other refunded",
            ));
        }
        if let Some(stage) = &c.add_stage {
            stage.check(policy)?;
        }
        if let Some(extra) = &c.extra_days
            && !(1..=365).contains(&extra.days)
        {
            return Err(ApiError::invalid(Code::InvalidExtension, "extra_days.days", "from 1 to 365 days more"));
        }
        if c.extra_revisions.is_some_and(|r| !(1..=20).contains(&r)) {
            return Err(ApiError::invalid(Code::InvalidExtension, "extra_revisions", "from 1 to 20 revisions more"));
        }
        if let Some(lower) = &c.lower_price
            && lower.by.amount < 1
        {
            return Err(ApiError::invalid(Code::InvalidAmount, "lower_price.by.amount", "at least 1 less"));
        }
        Ok(())
    }

    /// The amendment `by` proposes on `order` (whose terms in force are `current`, their
    /// hash the order's in force): the whole terms it would leave in force, sealed and
    /// chained, answerable for the order's copied answer window.
    pub fn into_amendment(
        self,
        order: &Order,
        current: &Terms,
        (by, proposer_id): (Actor, &str),
        amendment_id: String,
        now: DateTime<Utc>,
    ) -> Result<Amendment, ApiError> {
        let changes = Changes {
            extra_days: self.extra_days,
            extra_revisions: self.extra_revisions,
            lower_price: self.lower_price,
            add_stage: self.add_stage,
        };
        let (terms, refund) = changes.apply(current, order)?;
        let payment = changes.add_stage.as_ref().map(|s| s.amount.clone());
        let number = order.amended.as_ref().map_or(1, |a| a.count + 1);
        let previous_hash = order.terms_hash_in_force().to_owned();
        let terms_hash = terms.hash();
        let hash = seal((&order.order_id, &amendment_id), number, &previous_hash, &changes, &terms_hash);
        Ok(Amendment {
            amendment_id,
            order_id: order.order_id.clone(),
            number,
            proposed_by: by,
            proposer_id: proposer_id.to_owned(),
            changes,
            note: self.note,
            terms,
            terms_hash,
            previous_hash,
            hash,
            refund,
            payment,
            payment_intent_id: None,
            status: AmendmentStatus::Proposed,
            respond_by: now + chrono::Duration::seconds(order.policy.amendment_response_seconds),
            answered_by: None,
            answered_at: None,
            created_at: now,
        })
    }
}

impl Changes {
    /// `current` with these changes, and what escrow gives back for them; refused where a
    /// change does not fit the order as it stands.
    pub fn apply(&self, current: &Terms, order: &Order) -> Result<(Terms, Option<Money>), ApiError> {
        let mut terms = current.clone();
        let stages = u32::try_from(terms.stages.len()).unwrap_or(u32::MAX);
        let stage_index = |field: &str, stage: u32| -> Result<usize, ApiError> {
            if stage == 0 || stage > stages {
                return Err(ApiError::invalid(Code::StageOutOfRange, field, format!("stages are 1 to {stages}")));
            }
            Ok((stage - 1) as usize)
        };
        if let Some(extra) = &self.extra_days {
            terms.delivery_days += extra.days;
            if let Some(stage) = extra.stage {
                let i = stage_index("extra_days.stage", stage)?;
                if (i as u32) < order.stage {
                    return Err(ApiError::invalid(
                        Code::StageDone,
                        "extra_days.stage",
                        "that stage is accepted already",
                    ));
                }
                let days = &mut terms.stages[i].days;
                *days = Some(days.unwrap_or(0) + extra.days);
            }
        }
        if let Some(extra) = self.extra_revisions {
            terms.revisions_included += extra;
        }
        let mut refund = None;
        if let Some(lower) = &self.lower_price {
            let i = stage_index("lower_price.stage", lower.stage)?;
            if i as u32 <= order.stage {
                return Err(ApiError::invalid(
                    Code::StageStarted,
                    "lower_price.stage",
                    "only a stage after the current one (not started) is priced lower",
                ));
            }
            if lower.by.currency != terms.price.currency {
                return Err(ApiError::invalid(
                    Code::CurrencyMismatch,
                    "lower_price.by.currency",
                    "in the order's currency",
                ));
            }
            let amount = terms.stages[i].amount.unwrap_or(0);
            if lower.by.amount >= amount {
                return Err(ApiError::invalid(
                    Code::InvalidAmount,
                    "lower_price.by.amount",
                    format!("less than the stage's amount ({amount}); a stage keeps a price"),
                ));
            }
            terms.stages[i].amount = Some(amount - lower.by.amount);
            terms.price.amount -= lower.by.amount;
            refund = Some(lower.by.clone());
        }
        if let Some(added) = &self.add_stage {
            added.add_to(&mut terms)?;
        }
        Ok((terms, refund))
    }

    /// The days the order is due later when it takes effect.
    pub fn days_later(&self) -> Option<u32> {
        let days = self.extra_days.as_ref().map_or(0, |e| e.days) + self.add_stage.as_ref().map_or(0, |s| s.days);
        (days > 0).then_some(days)
    }
}

impl NewStage {
    /// Its shape, as an offer's stage is checked, with an amount and days.
    fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        crate::offer::check_stage_text("add_stage", &self.title, &self.deliverables, policy)?;
        if self.amount.amount < 1 {
            return Err(ApiError::invalid(Code::InvalidAmount, "add_stage.amount.amount", "a stage costs at least 1"));
        }
        if !(1..=365).contains(&self.days) {
            return Err(ApiError::invalid(Code::InvalidExtension, "add_stage.days", "from 1 to 365 days"));
        }
        Ok(())
    }

    /// `terms` with this stage last. The price grows by its amount; where the stages carry
    /// no amounts, the last of them takes the price before it (it released all of it, and
    /// still does), so each release stays what it was and the new stage releases its own.
    fn add_to(&self, terms: &mut Terms) -> Result<(), ApiError> {
        if terms.stages.len() >= crate::offer::MAX_STAGES {
            return Err(ApiError::invalid(
                Code::InvalidStageCount,
                "add_stage",
                format!("an order has at most {} stages", crate::offer::MAX_STAGES),
            ));
        }
        if self.amount.currency != terms.price.currency {
            return Err(ApiError::invalid(
                Code::CurrencyMismatch,
                "add_stage.amount.currency",
                "in the order's currency",
            ));
        }
        let price = terms.price.amount.checked_add(self.amount.amount).ok_or_else(|| {
            ApiError::invalid(Code::InvalidAmount, "add_stage.amount.amount", "the price would be too large")
        })?;
        if terms.stages.iter().all(|s| s.amount.is_none())
            && let Some(last) = terms.stages.last_mut()
        {
            last.amount = Some(terms.price.amount);
        }
        let with_days = terms.stages.iter().all(|s| s.days.is_some());
        terms.stages.push(crate::offer::Stage {
            title: self.title.clone(),
            deliverables: self.deliverables.clone(),
            amount: Some(self.amount.amount),
            days: with_days.then_some(self.days),
        });
        terms.price.amount = price;
        terms.delivery_days += self.days;
        Ok(())
    }
}

/// The problem for an order that cannot take an amendment move now, said precisely.
pub fn refused(order: &Order, why: Refusal) -> ApiError {
    use crate::lifecycle::Guard;
    match (why, order.state) {
        (Refusal::NotNow, OrderState::AwaitingPayment) => {
            ApiError::conflict(Code::OrderNotPaid, "only a paid order's work is amended")
        }
        (Refusal::NotNow, OrderState::Disputed) => ApiError::conflict(
            Code::DisputeAlreadyOpen,
            "a disputed order is not amended; its dispute is decided first",
        ),
        (Refusal::NotNow, OrderState::Completed) => {
            ApiError::conflict(Code::OrderCompleted, "a completed order is not amended (its buyer may tip)")
        }
        (Refusal::NotNow, OrderState::Cancelled) => {
            ApiError::conflict(Code::OrderCancelled, "a cancelled order is not amended")
        }
        (Refusal::Guard(Guard::NoAmendmentOpen), _) => {
            ApiError::conflict(Code::AmendmentOpen, "an amendment is already proposed; it is answered first")
        }
        (
            Refusal::Guard(
                Guard::AmendmentOpenByOther | Guard::FreeAmendmentOpenByOther | Guard::PaidAmendmentOpenByOther,
            ),
            _,
        ) => ApiError::conflict(Code::NoAmendmentToAnswer, "no amendment proposed by the other party is open"),
        (Refusal::Guard(Guard::AmendmentOpenByActor), _) => {
            ApiError::conflict(Code::NoAmendmentToAnswer, "no amendment of yours is open to withdraw")
        }
        (other, _) => refusal::<Order>(other),
    }
}

/// The problem for an answer to an amendment that is no longer open.
pub fn answered(amendment: &Amendment, order: &Order) -> ApiError {
    let status = crate::lifecycle::snake(amendment.status_on(order));
    ApiError::conflict(Code::NoAmendmentToAnswer, format!("this amendment is {status}; it takes no answer"))
}

impl Amendment {
    /// It is proposed on `order`: the open one there.
    pub fn opened_on(&self, order: &mut Order) {
        order.amendment_proposed(self.open());
    }

    /// It took effect on `order` at `now`.
    pub fn applied_to(&mut self, order: &mut Order, now: DateTime<Utc>) {
        self.status = AmendmentStatus::Accepted;
        order.amendment_took_effect(self.in_force(), self.changes.days_later(), now);
    }

    /// It took effect on `order` at `now`, in the step whose event `data` names the chain
    /// and the new due time.
    pub fn took_effect(&mut self, order: &mut Order, data: &mut Value, now: DateTime<Utc>) {
        self.applied_to(order, now);
        data["previous_hash"] = json!(self.previous_hash);
        data["terms_hash"] = json!(self.terms_hash);
        data["due_at"] = json!(order.due_at);
    }

    /// It was accepted and adds money: it awaits the buyer's payment of the difference
    /// through `intent_id` until `pay_by`, and stays the open one on `order` meanwhile.
    pub fn awaits_payment(&mut self, order: &mut Order, intent_id: &str, pay_by: DateTime<Utc>) {
        self.status = AmendmentStatus::AwaitingPayment;
        self.payment_intent_id = Some(intent_id.to_owned());
        self.respond_by = pay_by;
        order.amendment = Some(OpenAmendment { payment_intent_id: Some(intent_id.to_owned()), ..self.open() });
    }

    pub fn open(&self) -> OpenAmendment {
        OpenAmendment {
            amendment_id: self.amendment_id.clone(),
            by: self.proposed_by,
            respond_by: self.respond_by,
            adds_money: self.payment.is_some(),
            payment_intent_id: self.payment_intent_id.clone(),
        }
    }

    /// What the order's work reads from its terms once it is in force.
    pub fn in_force(&self) -> Amended {
        Amended {
            amendment_id: self.amendment_id.clone(),
            hash: self.hash.clone(),
            count: self.number,
            price: self.terms.price.clone(),
            revisions_included: self.terms.revisions_included,
            stage_amounts: self.terms.stages.iter().map(|s| s.amount).collect(),
        }
    }

    /// Whether its seal holds: its terms hash to `terms_hash`, and its hash is the seal of
    /// what it says.
    pub fn verifies(&self) -> bool {
        self.terms.hash() == self.terms_hash
            && seal(
                (&self.order_id, &self.amendment_id),
                self.number,
                &self.previous_hash,
                &self.changes,
                &self.terms_hash,
            ) == self.hash
    }

    /// Where it stands on `order` now: a proposal the order no longer holds open lapsed.
    pub fn status_on(&self, order: &Order) -> AmendmentStatus {
        let still_open = order.amendment_answerable().is_some_and(|open| open.amendment_id == self.amendment_id);
        match self.status {
            AmendmentStatus::Proposed | AmendmentStatus::AwaitingPayment if !still_open => AmendmentStatus::Lapsed,
            status => status,
        }
    }

    /// It with its order as `viewer` now sees it (the answer to a move on both).
    pub fn with_order(&self, order: &Order, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        let mut body = self.view(order);
        body["order"] = order.view(viewer, now);
        body
    }

    /// It as the parties read it on `order`.
    pub fn view(&self, order: &Order) -> Value {
        json!({
            "amendment_id": self.amendment_id,
            "order_id": self.order_id,
            "number": self.number,
            "proposed_by": self.proposed_by,
            "proposer_id": self.proposer_id,
            "changes": self.changes,
            "note": self.note,
            "terms": self.terms,
            "terms_hash": self.terms_hash,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
            "hash_verified": self.verifies(),
            "refund": self.refund,
            "payment": self.payment,
            "payment_intent_id": self.payment_intent_id,
            "status": self.status_on(order),
            "respond_by": self.respond_by,
            "answered_by": self.answered_by,
            "answered_at": self.answered_at,
            "created_at": self.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::Stage;
    use crate::order::example;

    fn order(now: DateTime<Utc>) -> Order {
        let mut order = example(now);
        order.terms.stages = vec![
            Stage {
                title: "طرح".into(), deliverables: vec!["۳ طرح".into()], amount: Some(5_000_000), days: Some(3)
            },
            Stage {
                title: "نهایی".into(),
                deliverables: vec!["فایل AI".into()],
                amount: Some(7_000_000),
                days: Some(4),
            },
        ];
        order.terms_hash = order.terms.hash();
        order.start_work(now);
        order.state = OrderState::InProgress;
        order
    }

    fn new(
        extra_days: Option<ExtraDays>,
        extra_revisions: Option<u32>,
        lower_price: Option<LowerPrice>,
    ) -> NewAmendment {
        NewAmendment {
            extra_days, extra_revisions, lower_price, add_stage: None, note: Some("دو روز بیشتر 🙏".into())
        }
    }

    fn irr(amount: i64) -> Money {
        Money { amount, currency: "IRR".into() }
    }

    fn stage(amount: i64, days: u32) -> NewStage {
        NewStage {
            title: "نسخهٔ موبایل".into(),
            deliverables: vec!["فایل Figma ۳ صفحه".into()],
            amount: irr(amount),
            days,
        }
    }

    #[test]
    fn a_paid_stage_is_added_last_and_takes_effect_only_when_applied() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let policy = Policy::default();
        let added = NewAmendment { add_stage: Some(stage(3_000_000, 2)), ..new(None, None, None) };
        added.check(&policy).unwrap();
        let mut amendment =
            added.into_amendment(&order, &order.terms.clone(), (Actor::Seller, "s"), "01A".into(), now).unwrap();
        assert_eq!(amendment.payment, Some(irr(3_000_000)), "the buyer pays its amount");
        assert_eq!(amendment.refund, None);
        assert_eq!(
            (amendment.terms.price.amount, amendment.terms.stages.len(), amendment.terms.delivery_days),
            (15_000_000, 3, 9)
        );
        assert_eq!(amendment.terms.stages[2].amount, Some(3_000_000));
        assert_eq!(amendment.terms.stages[2].days, Some(2), "the stages carry days, so does the new one");
        assert!(amendment.open().adds_money);
        // Accepted, it waits for the payment: the order's terms in force are unchanged.
        let due = order.due_at;
        amendment.opened_on(&mut order);
        amendment.awaits_payment(&mut order, "pi_x", now + chrono::Duration::hours(1));
        assert_eq!(amendment.status, AmendmentStatus::AwaitingPayment);
        assert_eq!((order.stages(), order.price().amount, order.due_at), (2, 12_000_000, due));
        assert_eq!(amendment.status_on(&order), AmendmentStatus::AwaitingPayment);
        // Paid: the stage is the order's third, the due time two days later.
        amendment.applied_to(&mut order, now);
        assert_eq!((order.stages(), order.price().amount), (3, 15_000_000));
        assert_eq!(order.stage_amount(2), Some(3_000_000));
        assert_eq!(order.due_at, due.map(|d| d + chrono::Duration::days(2)));
        assert!(order.amendment.is_none());
    }

    #[test]
    fn a_stage_added_to_stages_without_amounts_leaves_each_release_as_it_was() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        order.terms.stages.iter_mut().for_each(|s| {
            s.amount = None;
            s.days = None;
        });
        let added = NewAmendment { add_stage: Some(stage(3_000_000, 2)), ..new(None, None, None) };
        let amendment =
            added.into_amendment(&order, &order.terms.clone(), (Actor::Seller, "s"), "01A".into(), now).unwrap();
        let amounts: Vec<_> = amendment.terms.stages.iter().map(|s| s.amount).collect();
        assert_eq!(amounts, vec![None, Some(12_000_000), Some(3_000_000)], "the last released all, and still does");
        assert_eq!(amendment.terms.stages[2].days, None);
    }

    #[test]
    fn a_paid_stage_that_does_not_fit_has_its_code() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = order(now);
        let policy = Policy::default();
        let code = |new: NewAmendment| {
            new.check(&policy)
                .and_then(|()| new.into_amendment(&order, &order.terms, (Actor::Seller, "s"), "01A".into(), now))
                .unwrap_err()
                .code()
        };
        let with = |s: NewStage| NewAmendment { add_stage: Some(s), ..new(None, None, None) };
        assert_eq!(code(with(stage(0, 2))), "invalid_amount");
        assert_eq!(code(with(stage(1, 0))), "invalid_extension");
        assert_eq!(code(with(NewStage { deliverables: vec![], ..stage(1, 1) })), "invalid_deliverables");
        assert_eq!(
            code(with(NewStage { amount: Money { amount: 1, currency: "USD".into() }, ..stage(1, 1) })),
            "currency_mismatch"
        );
        let mixed =
            NewAmendment { add_stage: Some(stage(1, 1)), ..new(None, None, Some(LowerPrice { stage: 2, by: irr(1) })) };
        assert_eq!(code(mixed), "mixed_amendment");
    }

    #[test]
    fn an_amendment_seals_the_whole_terms_after_it_and_chains_to_the_contract() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let two_days = new(Some(ExtraDays { days: 2, stage: Some(1) }), Some(1), None);
        let mut first =
            two_days.into_amendment(&order, &order.terms.clone(), (Actor::Seller, "s"), "01A".into(), now).unwrap();
        assert_eq!((first.number, first.previous_hash.as_str()), (1, order.terms_hash.as_str()));
        assert_eq!(
            (first.terms.delivery_days, first.terms.stages[0].days, first.terms.revisions_included),
            (9, Some(5), 3)
        );
        assert_eq!(first.respond_by, now + chrono::Duration::hours(48));
        assert!(first.verifies());
        assert_eq!(order.terms.delivery_days, 7, "the contract is never edited");
        // In force: the due time moves, the revisions count, the chain's head is its hash.
        let due = order.due_at.unwrap();
        order.late = true;
        first.applied_to(&mut order, now);
        assert_eq!(
            (order.due_at, order.late, order.revisions_included()),
            (Some(due + chrono::Duration::days(2)), false, 3)
        );
        assert_eq!(order.terms_hash_in_force(), first.hash);
        // The next one chains to it.
        let cheaper = new(None, None, Some(LowerPrice { stage: 2, by: irr(2_000_000) }));
        let mut second = cheaper.into_amendment(&order, &first.terms, (Actor::Buyer, "b"), "01B".into(), now).unwrap();
        assert_eq!((second.number, second.previous_hash.as_str()), (2, first.hash.as_str()));
        assert_eq!(
            (second.terms.price.amount, second.terms.stages[1].amount, second.refund.clone()),
            (10_000_000, Some(5_000_000), Some(irr(2_000_000)))
        );
        assert_eq!(second.terms.revisions_included, 3, "built on the terms in force");
        second.applied_to(&mut order, now);
        assert_eq!((order.price().amount, order.stage_amount(1)), (10_000_000, Some(5_000_000)));
        // Any change to what it says breaks its seal.
        let mut forged = second.clone();
        forged.terms.price.amount = 1;
        assert!(!forged.verifies());
        let mut forged = second;
        forged.previous_hash = order.terms_hash.clone();
        assert!(!forged.verifies());
    }

    #[test]
    fn each_change_that_does_not_fit_has_its_code_and_the_empty_one_is_refused() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let policy = Policy::default();
        let check = |a: NewAmendment| a.check(&policy).map_err(|e| e.code());
        assert_eq!(check(new(None, None, None)), Err("empty_amendment"));
        assert_eq!(check(new(Some(ExtraDays { days: 0, stage: None }), None, None)), Err("invalid_extension"));
        assert_eq!(check(new(None, Some(0), None)), Err("invalid_extension"));
        assert_eq!(check(new(None, None, Some(LowerPrice { stage: 2, by: irr(0) }))), Err("invalid_amount"));
        assert_eq!(check(new(Some(ExtraDays { days: 2, stage: None }), None, None)), Ok(()));
        let apply = |a: NewAmendment, order: &Order| {
            a.into_amendment(order, &order.terms.clone(), (Actor::Buyer, "b"), "01A".into(), now)
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(
            apply(new(Some(ExtraDays { days: 1, stage: Some(3) }), None, None), &order),
            Err("stage_out_of_range")
        );
        assert_eq!(apply(new(None, None, Some(LowerPrice { stage: 1, by: irr(1) })), &order), Err("stage_started"));
        assert_eq!(
            apply(new(None, None, Some(LowerPrice { stage: 2, by: irr(7_000_000) })), &order),
            Err("invalid_amount")
        );
        let usd = LowerPrice { stage: 2, by: Money { amount: 1, currency: "USD".into() } };
        assert_eq!(apply(new(None, None, Some(usd)), &order), Err("currency_mismatch"));
        order.stage = 1;
        assert_eq!(apply(new(Some(ExtraDays { days: 1, stage: Some(1) }), None, None), &order), Err("stage_done"));
        assert_eq!(apply(new(None, None, Some(LowerPrice { stage: 2, by: irr(1) })), &order), Err("stage_started"));
        // Where the order is not running, each state says why.
        for (state, code) in [
            (OrderState::AwaitingPayment, "order_not_paid"),
            (OrderState::Disputed, "dispute_already_open"),
            (OrderState::Completed, "order_completed"),
            (OrderState::Cancelled, "order_cancelled"),
        ] {
            order.state = state;
            let step = crate::lifecycle::step(
                crate::lifecycle::ORDER,
                state,
                crate::lifecycle::OrderAction::ProposeAmendment,
                Actor::Buyer,
                &crate::tracked::Tracked::facts(&order, now),
            );
            assert_eq!(step.map(|_| ()).map_err(|why| refused(&order, why).code()), Err(code), "{state:?}");
        }
    }

    #[test]
    fn a_proposal_the_order_no_longer_holds_open_lapsed() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = order(now);
        let proposed = new(None, Some(1), None)
            .into_amendment(&order, &order.terms.clone(), (Actor::Seller, "s"), "01A".into(), now)
            .unwrap();
        proposed.opened_on(&mut order);
        assert_eq!(proposed.status_on(&order), AmendmentStatus::Proposed);
        order.dispute_opened("01D", now);
        assert_eq!(proposed.status_on(&order), AmendmentStatus::Lapsed);
        assert_eq!(answered(&proposed, &order).code(), "no_amendment_to_answer");
    }
}
