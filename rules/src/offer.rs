//! Offers (custom projects): the terms a seller sends a buyer, checked against the source
//! page's rules, hashed, and never changed once sent.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical;
use crate::error::{ApiError, Code};
use crate::ledger::FeePolicy;
use crate::lifecycle::{self, Actor, OFFER, OfferState};
use crate::money::Money;
use crate::policy::{LevelLimits, Policy};
use crate::tracked::Tracked;
use crate::validate;

/// Where an offer comes from: a buyer's request, a message, or an earlier order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OfferSource {
    RequestId(String),
    MessageId(String),
    OrderId(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub title: String,
    pub deliverables: Vec<String>,
    pub amount: Option<i64>,
    pub days: Option<u32>,
}

/// The contract: everything the parties agreed, the only basis for a dispute. Hashed in
/// its canonical form (see `canonical`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub gig_id: String,
    pub title: String,
    pub description: String,
    pub price: Money,
    pub delivery_days: u32,
    pub stages: Vec<Stage>,
    pub revisions_included: u32,
    pub expires_at: DateTime<Utc>,
    pub special_conditions: Vec<String>,
}

/// `POST /v1/offers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    pub buyer_id: String,
    pub source: OfferSource,
    pub gig_id: String,
    pub title: String,
    pub description: String,
    pub price: Money,
    pub delivery_days: u32,
    pub stages: Vec<Stage>,
    pub revisions_included: u32,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub special_conditions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub offer_id: String,
    pub seller_id: String,
    pub buyer_id: String,
    pub source: OfferSource,
    pub terms: Terms,
    pub terms_hash: String,
    pub state: OfferState,
    /// The order its acceptance placed.
    pub order_id: Option<String>,
    pub decline_reason: Option<String>,
    /// The platform's fee as it was when the offer was sent: what the seller was shown,
    /// and what its order takes from each release.
    #[serde(default)]
    pub fee: FeePolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

pub const MAX_STAGES: usize = 10;
pub const MAX_DELIVERABLES: usize = 20;
pub const MAX_CONDITIONS: usize = 20;
pub const MAX_REVISIONS: u32 = 100;
pub const MAX_EXPIRY_DAYS: i64 = 30;
pub const DEFAULT_EXPIRY_DAYS: i64 = 7;

impl NewOffer {
    /// Checks the shape of the terms (everything that needs no lookup) and fixes the
    /// expiry. The rules that need the seller, gig or conversation are `check_rules`.
    pub fn terms(&self, policy: &Policy, now: DateTime<Utc>) -> Result<Terms, ApiError> {
        validate::user_id("buyer_id", &self.buyer_id)?;
        let source_id = match &self.source {
            OfferSource::RequestId(id) => ("source.request_id", id),
            OfferSource::MessageId(id) => ("source.message_id", id),
            OfferSource::OrderId(id) => ("source.order_id", id),
        };
        validate::ulid(source_id.0, source_id.1)?;
        validate::ulid("gig_id", &self.gig_id)?;
        validate::line("title", &self.title, policy.offer_title_max)?;
        validate::text("description", &self.description, policy.offer_description_max)?;
        if self.price.amount <= 0 {
            return Err(ApiError::invalid(
                Code::InvalidPrice,
                "price.amount",
                "the price must be a positive whole amount",
            ));
        }
        if self.price.currency != policy.currency {
            return Err(ApiError::invalid(
                Code::UnsupportedCurrency,
                "price.currency",
                format!("prices are in {} (ISO 4217)", policy.currency),
            ));
        }
        if self.delivery_days == 0 {
            return Err(ApiError::invalid(Code::InvalidDeliveryDays, "delivery_days", "at least one day"));
        }
        if self.revisions_included > MAX_REVISIONS {
            return Err(ApiError::invalid(
                Code::TooManyRevisions,
                "revisions_included",
                format!("at most {MAX_REVISIONS}"),
            ));
        }
        self.check_stages(policy)?;
        if self.special_conditions.len() > MAX_CONDITIONS {
            return Err(ApiError::invalid(
                Code::TooManyConditions,
                "special_conditions",
                format!("at most {MAX_CONDITIONS}"),
            ));
        }
        for (i, condition) in self.special_conditions.iter().enumerate() {
            validate::text(&format!("special_conditions[{i}]"), condition, policy.offer_condition_max)?;
        }
        if self.text_chars() > policy.offer_text_total_max {
            return Err(ApiError::invalid(
                Code::TermsTooLong,
                "terms",
                format!("all the text of the terms together is at most {} characters", policy.offer_text_total_max),
            ));
        }
        let expires_at = self.expires_at.unwrap_or(now + Duration::days(DEFAULT_EXPIRY_DAYS));
        if expires_at <= now {
            return Err(ApiError::invalid(Code::ExpiryInPast, "expires_at", "the expiry must be in the future"));
        }
        if expires_at > now + Duration::days(MAX_EXPIRY_DAYS) {
            return Err(ApiError::invalid(
                Code::ExpiryTooFar,
                "expires_at",
                format!("at most {MAX_EXPIRY_DAYS} days ahead"),
            ));
        }
        Ok(Terms {
            gig_id: self.gig_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            price: self.price.clone(),
            delivery_days: self.delivery_days,
            stages: self.stages.clone(),
            revisions_included: self.revisions_included,
            expires_at,
            special_conditions: self.special_conditions.clone(),
        })
    }

    /// Every character of the terms' text.
    fn text_chars(&self) -> usize {
        let stages = self.stages.iter().map(|s| s.title.chars().count() + chars(&s.deliverables)).sum::<usize>();
        self.title.chars().count() + self.description.chars().count() + stages + chars(&self.special_conditions)
    }

    fn check_stages(&self, policy: &Policy) -> Result<(), ApiError> {
        if self.stages.is_empty() || self.stages.len() > MAX_STAGES {
            return Err(ApiError::invalid(Code::InvalidStageCount, "stages", format!("1 to {MAX_STAGES} stages")));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            check_stage_text(&format!("stages[{i}]"), &stage.title, &stage.deliverables, policy)?;
            if stage.amount.is_some_and(|a| a <= 0) {
                return Err(ApiError::invalid(
                    Code::InvalidPrice,
                    format!("stages[{i}].amount"),
                    "a stage amount is positive",
                ));
            }
            if stage.days == Some(0) {
                return Err(ApiError::invalid(
                    Code::InvalidDeliveryDays,
                    format!("stages[{i}].days"),
                    "at least one day",
                ));
            }
        }
        let amounts: Vec<_> = self.stages.iter().filter_map(|s| s.amount).collect();
        if !amounts.is_empty() {
            if amounts.len() != self.stages.len() {
                return Err(ApiError::invalid(
                    Code::StageAmountsIncomplete,
                    "stages",
                    "give every stage an amount, or none",
                ));
            }
            let sum = amounts.iter().try_fold(0i64, |acc, a| acc.checked_add(*a));
            if sum != Some(self.price.amount) {
                return Err(ApiError::invalid(
                    Code::StageAmountsMismatch,
                    "stages",
                    "stage amounts must add up to the price",
                ));
            }
        }
        let days: Vec<_> = self.stages.iter().filter_map(|s| s.days).collect();
        if !days.is_empty() {
            if days.len() != self.stages.len() {
                return Err(ApiError::invalid(
                    Code::StageDaysIncomplete,
                    "stages",
                    "give every stage its days, or none",
                ));
            }
            if days.iter().map(|d| u64::from(*d)).sum::<u64>() != u64::from(self.delivery_days) {
                return Err(ApiError::invalid(
                    Code::StageDaysMismatch,
                    "stages",
                    "stage days must add up to delivery_days",
                ));
            }
        }
        Ok(())
    }
}

fn chars(texts: &[String]) -> usize {
    texts.iter().map(|t| t.chars().count()).sum()
}

impl Terms {
    /// The source page's level rule: price and delivery time within the seller's limits.
    /// A cap set in another currency is never skipped: the price is refused.
    pub fn check_level(&self, limits: &LevelLimits) -> Result<(), ApiError> {
        if let Some(max) = &limits.max_price
            && self.price.currency != max.currency
        {
            return Err(ApiError::invalid(
                Code::UnsupportedCurrency,
                "price.currency",
                format!("your level's cap is set in {}; the price must be too", max.currency),
            ));
        }
        if let Some(max) = &limits.max_price
            && self.price.amount > max.amount
        {
            return Err(ApiError::invalid(
                Code::PriceAboveLevelLimit,
                "price.amount",
                format!("your level allows at most {} {}", max.amount, max.currency),
            ));
        }
        if self.delivery_days > limits.max_delivery_days {
            return Err(ApiError::invalid(
                Code::DeliveryAboveLevelLimit,
                "delivery_days",
                format!("your level allows at most {} days", limits.max_delivery_days),
            ));
        }
        Ok(())
    }

    pub fn hash(&self) -> String {
        canonical::sha256(self)
    }
}

/// A stage's title and deliverables (an offer's, or one an amendment adds), its fields
/// named under `at`.
pub fn check_stage_text(at: &str, title: &str, deliverables: &[String], policy: &Policy) -> Result<(), ApiError> {
    validate::line(&format!("{at}.title"), title, policy.offer_title_max)?;
    if deliverables.is_empty() || deliverables.len() > MAX_DELIVERABLES {
        return Err(ApiError::invalid(
            Code::InvalidDeliverables,
            format!("{at}.deliverables"),
            format!("every stage names 1 to {MAX_DELIVERABLES} deliverables"),
        ));
    }
    for (j, d) in deliverables.iter().enumerate() {
        validate::text(&format!("{at}.deliverables[{j}]"), d, policy.offer_condition_max)?;
    }
    Ok(())
}

impl Offer {
    /// What the seller earns if every stage is accepted: each release (a stage's amount,
    /// or the whole price where the stages have none) less its fee.
    pub fn seller_net(&self) -> i64 {
        let amounts: Vec<i64> = self.terms.stages.iter().filter_map(|s| s.amount).collect();
        let releases = if amounts.is_empty() { vec![self.terms.price.amount] } else { amounts };
        releases.iter().map(|gross| self.fee.net(*gross).unwrap_or(0)).sum()
    }

    pub fn view(&self, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        let allowed =
            viewer.map(|actor| lifecycle::allowed(OFFER, self.state, actor, &self.facts(now))).unwrap_or_default();
        json!({
            "offer_id": self.offer_id,
            "seller_id": self.seller_id,
            "buyer_id": self.buyer_id,
            "source": self.source,
            "terms": self.terms,
            "terms_hash": self.terms_hash,
            "state": self.state,
            "order_id": self.order_id,
            "decline_reason": self.decline_reason,
            "fee": self.fee,
            "seller_net": { "amount": self.seller_net(), "currency": self.terms.price.currency },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "allowed_actions": allowed,
        })
    }
}

crate::tracked::tracked!(Offer, crate::lifecycle::OfferState, "OFFER", "offer", offer_id, {
    const SEALED: &'static [&'static str] = &["terms", "terms_hash"];
    fn deadline(&self) -> Option<DateTime<Utc>> {
        Some(self.terms.expires_at)
    }
    fn timer_at(&self, timer: crate::lifecycle::Timer) -> Option<DateTime<Utc>> {
        crate::tracked::expiry_only(self, timer)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Level;

    fn offer() -> NewOffer {
        NewOffer {
            buyer_id: "buyer".into(),
            source: OfferSource::MessageId(ulid::Ulid::new().to_string()),
            gig_id: ulid::Ulid::new().to_string(),
            title: "لوگو".into(),
            description: "طراحی لوگو در دو مرحله".into(),
            price: Money { amount: 10_000_000, currency: "IRR".into() },
            delivery_days: 10,
            stages: vec![
                Stage {
                    title: "طرح اولیه".into(),
                    deliverables: vec!["سه طرح".into()],
                    amount: Some(4_000_000),
                    days: Some(4),
                },
                Stage {
                    title: "نهایی".into(),
                    deliverables: vec!["فایل‌های نهایی".into()],
                    amount: Some(6_000_000),
                    days: Some(6),
                },
            ],
            revisions_included: 2,
            expires_at: None,
            special_conditions: vec!["پس از ۱۰ آذر پذیرفته نمی‌شود".into()],
        }
    }

    /// The largest terms the validation allows, every character `fill`: each text field
    /// at its own limit as far as the total budget lets it.
    fn largest(policy: &Policy, fill: &str) -> NewOffer {
        let text = |n: usize| fill.chars().cycle().take(n).collect::<String>();
        let mut offer = offer();
        offer.title = text(policy.offer_title_max);
        offer.description = text(policy.offer_description_max);
        offer.special_conditions = vec![text(policy.offer_condition_max); MAX_CONDITIONS];
        let used = policy.offer_title_max * (1 + MAX_STAGES)
            + policy.offer_description_max
            + policy.offer_condition_max * MAX_CONDITIONS;
        let per_stage = (policy.offer_text_total_max - used) / MAX_STAGES;
        offer.stages = (0..MAX_STAGES)
            .map(|_| Stage {
                title: text(policy.offer_title_max),
                deliverables: vec![text(per_stage)],
                amount: Some(1_000_000),
                days: Some(1),
            })
            .collect();
        offer.price.amount = 10_000_000;
        offer.delivery_days = 10;
        offer
    }

    #[test]
    fn the_largest_terms_fit_an_item_twice() {
        let policy = Policy::default();
        let now = Utc::now();
        // Four bytes a character (emoji) is UTF-8's worst case.
        let largest = largest(&policy, "😀");
        assert_eq!(largest.text_chars(), policy.offer_text_total_max);
        let terms = largest.terms(&policy, now).expect("the largest terms are valid");
        let bytes = serde_json::to_vec(&terms).unwrap().len();
        // The accept's idempotency record keeps the order and the offer, each with the
        // terms; 32 KiB covers every other field of both and the record's own (ids,
        // hashes, policy, payment, allowed actions), with room to grow.
        assert!(2 * bytes + 32 * 1024 < 400 * 1024, "two copies of {bytes} bytes do not fit an item");
        let mut over = largest;
        over.description.pop();
        over.stages[0].deliverables[0].push_str("😀😀");
        assert_eq!(code(over.terms(&policy, now)), "terms_too_long");
    }

    #[test]
    fn a_level_cap_in_another_currency_refuses_the_price() {
        let terms = offer().terms(&Policy::default(), Utc::now()).unwrap();
        let usd_cap =
            LevelLimits { max_price: Some(Money { amount: 1, currency: "USD".into() }), max_delivery_days: 30 };
        assert_eq!(code(terms.check_level(&usd_cap)), "unsupported_currency");
        let no_cap = LevelLimits { max_price: None, max_delivery_days: 30 };
        assert!(terms.check_level(&no_cap).is_ok());
    }

    fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
        match r {
            Err(ApiError::Invalid { code, .. }) | Err(ApiError::Malformed { code, .. }) => code.as_str(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn good_terms_default_to_a_seven_day_expiry() {
        let now = Utc::now();
        let terms = offer().terms(&Policy::default(), now).unwrap();
        assert_eq!(terms.expires_at, now + Duration::days(7));
    }

    /// Each shape rule of the terms, with its code and the field it names (the one
    /// catalogue; the end-to-end test keeps only what the HTTP parser decides).
    #[test]
    fn every_shape_rule_has_its_code_and_field() {
        let p = Policy::default();
        let now = Utc::now();
        let with = |f: &dyn Fn(&mut NewOffer)| {
            let mut o = offer();
            f(&mut o);
            match o.terms(&p, now) {
                Err(ApiError::Invalid { code, field, .. }) | Err(ApiError::Malformed { code, field, .. }) => {
                    (code.as_str(), field.unwrap_or_default())
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        };
        let is = |code: &'static str, field: &str| (code, field.to_owned());
        assert_eq!(with(&|o| o.price.amount = 0), is("invalid_price", "price.amount"));
        assert_eq!(with(&|o| o.price.amount = -5), is("invalid_price", "price.amount"));
        assert_eq!(with(&|o| o.price.currency = "XYZ".into()), is("unsupported_currency", "price.currency"));
        assert_eq!(with(&|o| o.delivery_days = 0), is("invalid_delivery_days", "delivery_days"));
        assert_eq!(with(&|o| o.expires_at = Some(now - Duration::seconds(1))), is("expiry_in_past", "expires_at"));
        let too_far = now + Duration::days(30) + Duration::seconds(1);
        assert_eq!(with(&|o| o.expires_at = Some(too_far)), is("expiry_too_far", "expires_at"));
        assert_eq!(with(&|o| o.stages.clear()), is("invalid_stage_count", "stages"));
        assert_eq!(with(&|o| o.stages = vec![o.stages[0].clone(); 11]), is("invalid_stage_count", "stages"));
        assert_eq!(with(&|o| o.stages[0].amount = Some(1)), is("stage_amounts_mismatch", "stages"));
        assert_eq!(with(&|o| o.stages[0].amount = None), is("stage_amounts_incomplete", "stages"));
        assert_eq!(with(&|o| o.stages[1].days = Some(7)), is("stage_days_mismatch", "stages"));
        assert_eq!(with(&|o| o.stages[1].days = None), is("stage_days_incomplete", "stages"));
        assert_eq!(with(&|o| o.stages[0].deliverables.clear()), is("invalid_deliverables", "stages[0].deliverables"));
        assert_eq!(with(&|o| o.stages[0].title = String::new()), is("empty", "stages[0].title"));
        assert_eq!(with(&|o| o.title = "ن".repeat(121)), is("too_long", "title"));
        assert_eq!(with(&|o| o.description = " ".into()), is("empty", "description"));
        assert_eq!(with(&|o| o.description = "ن".repeat(10_001)), is("too_long", "description"));
        assert_eq!(with(&|o| o.revisions_included = 101), is("too_many_revisions", "revisions_included"));
        assert_eq!(with(&|o| o.special_conditions = vec![String::new()]), is("empty", "special_conditions[0]"));
        let many = vec!["c".into(); 21];
        assert_eq!(with(&|o| o.special_conditions = many.clone()), is("too_many_conditions", "special_conditions"));
        assert_eq!(with(&|o| o.gig_id = "gig".into()), is("invalid_id", "gig_id"));
        assert_eq!(with(&|o| o.buyer_id = "a#b".into()), is("invalid_id", "buyer_id"));
        // Stages without amounts or days are fine: the price and time are the order's.
        assert!(offer_without_splits().terms(&p, now).is_ok());
    }

    fn offer_without_splits() -> NewOffer {
        let mut o = offer();
        for s in &mut o.stages {
            s.amount = None;
            s.days = None;
        }
        o
    }

    #[test]
    fn level_limits_cap_price_and_time() {
        let p = Policy::default();
        let mut o = offer();
        o.price.amount = 50_000_001;
        o.stages = offer_without_splits().stages;
        let terms = o.terms(&p, Utc::now()).unwrap();
        let limited = |t: &Terms, level| match t.check_level(&p.level_limits(level)) {
            Err(ApiError::Invalid { code, .. }) => code.as_str(),
            _ => "ok",
        };
        assert_eq!(limited(&terms, Level::New), "price_above_level_limit");
        assert_eq!(limited(&terms, Level::LevelOne), "ok");
        let mut slow = terms.clone();
        slow.delivery_days = 181;
        assert_eq!(limited(&slow, Level::TopRated), "delivery_above_level_limit");
        slow.price.amount = i64::MAX;
        slow.delivery_days = 180;
        assert_eq!(limited(&slow, Level::TopRated), "ok", "top rated has no price cap");
    }

    #[test]
    fn the_hash_covers_every_term() {
        let terms = offer().terms(&Policy::default(), Utc::now()).unwrap();
        let h = terms.hash();
        assert!(h.starts_with("sha256:") && h.len() == 71);
        let mut changed = terms.clone();
        changed.special_conditions[0].push('!');
        assert_ne!(changed.hash(), h);
        let mut changed = terms.clone();
        changed.stages[1].deliverables[0] = "فایل نهایی".into();
        assert_ne!(changed.hash(), h);
        assert_eq!(terms.clone().hash(), h);
    }
}
