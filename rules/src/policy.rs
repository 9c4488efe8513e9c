//! Policy defaults from product.md, in one place. Later issues copy the policy in force
//! onto each order so a change never alters a running one.

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// A seller's level, set by support; it bounds what their offers may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    New,
    LevelOne,
    LevelTwo,
    TopRated,
}

/// Upload limits per kind: what may be declared and what the checker enforces.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    pub attachment_max_bytes: u64,
    pub voice_note_max_bytes: u64,
    pub voice_note_max_seconds: u32,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub files: FilePolicy,
    /// Text limits, in characters.
    pub gig_title_max: usize,
    pub message_text_max: usize,
    pub file_name_max: usize,
    pub message_attachments_max: usize,
    pub offer_title_max: usize,
    pub offer_description_max: usize,
    /// A special condition, a deliverable, a request's description, a decline reason.
    pub offer_condition_max: usize,
    /// All the text of one offer's terms together (title, description, stage titles,
    /// deliverables, conditions), in characters: the bound that keeps the offer, the
    /// order that copies it, and the accept's idempotency record (which holds both) within
    /// DynamoDB's 400 KB item limit (`offer::tests::the_largest_terms_fit_an_item_twice`).
    pub offer_text_total_max: usize,
    /// A review's text, and the seller's reply to one.
    pub review_text_max: usize,
    /// The marketplace's currency (ISO 4217); level limits are in it.
    pub currency: String,
    /// How long a seller has to answer a request.
    pub request_answer_window: chrono::Duration,
    /// How long an accepted offer's order waits for payment.
    pub payment_window: chrono::Duration,
    /// The platform's fee on each release, fixed onto an order when it is placed.
    pub fee: crate::ledger::FeePolicy,
    /// The platform's fee on a buyer's tip (none by default), fixed onto an order when it
    /// is placed.
    pub tip_fee: crate::ledger::FeePolicy,
    /// How long released money is pending before it is available to withdraw.
    pub clearance: chrono::Duration,
    /// How long a delivered stage waits for the buyer before it is accepted for them.
    pub auto_complete: chrono::Duration,
    /// How long the other party has to answer a cancellation request.
    pub cancellation_response: chrono::Duration,
    /// How long after the due time a late order's buyer waits before cancelling alone.
    pub late_cancellation_grace: chrono::Duration,
    /// How long after completion the parties may review.
    pub review_window: chrono::Duration,
    /// How long the other party has to answer a dispute.
    pub dispute_response: chrono::Duration,
    /// How long after completion an order may still be disputed.
    pub dispute_after_completion: chrono::Duration,
    /// How long the other party has to answer a proposed amendment.
    pub amendment_response: chrono::Duration,
    /// Each level's caps on an offer, in `currency` (`LEVEL_CAPS`), by `Level` in order.
    pub level_caps: [LevelCap; 4],
}

/// A level's caps: the highest price (none: no cap) and the longest delivery time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelCap {
    pub max_price: Option<i64>,
    pub max_delivery_days: u32,
}

impl Level {
    /// Every level, in the order of `Policy::level_caps`.
    pub const ALL: [Level; 4] = [Level::New, Level::LevelOne, Level::LevelTwo, Level::TopRated];
}

/// `LEVEL_CAPS`: `level=price/days` for each level, space-separated, in any order, a price
/// of `-` for no cap (`new=50000000/30 level_one=200000000/60 level_two=1000000000/90
/// top_rated=-/180`, the defaults). Every level is named once; prices are at least 1 and
/// days 1 to 365.
pub fn parse_level_caps(text: &str) -> Result<[LevelCap; 4], String> {
    let mut caps: [Option<LevelCap>; 4] = [None; 4];
    for pair in text.split_whitespace() {
        let bad = || format!("{pair:?} is not level=price/days");
        let (name, cap) = pair.split_once('=').ok_or_else(bad)?;
        let (price, days) = cap.split_once('/').ok_or_else(bad)?;
        let level: Level = serde_json::from_value(serde_json::Value::String(name.into()))
            .map_err(|_| format!("{name:?} is no level (new, level_one, level_two, top_rated)"))?;
        let max_price = match price {
            "-" => None,
            p => Some(p.parse::<i64>().ok().filter(|p| *p >= 1).ok_or_else(bad)?),
        };
        let max_delivery_days = days.parse::<u32>().ok().filter(|d| (1..=365).contains(d)).ok_or_else(bad)?;
        let i = Level::ALL.iter().position(|l| *l == level).unwrap_or_default();
        if caps[i].replace(LevelCap { max_price, max_delivery_days }).is_some() {
            return Err(format!("{name} is named twice"));
        }
    }
    let mut all = [LevelCap { max_price: None, max_delivery_days: 0 }; 4];
    for (i, cap) in caps.into_iter().enumerate() {
        all[i] = cap.ok_or_else(|| format!("no caps for {}", serde_json::json!(Level::ALL[i])))?;
    }
    Ok(all)
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            files: FilePolicy {
                attachment_max_bytes: 50 * 1024 * 1024,
                voice_note_max_bytes: 10 * 1024 * 1024,
                voice_note_max_seconds: 5 * 60,
            },
            gig_title_max: 120,
            message_text_max: 5_000,
            file_name_max: 255,
            message_attachments_max: 10,
            offer_title_max: 120,
            offer_description_max: 10_000,
            offer_condition_max: 1_000,
            offer_text_total_max: 40_000,
            review_text_max: 2_000,
            currency: "IRR".into(),
            request_answer_window: chrono::Duration::days(14),
            payment_window: chrono::Duration::minutes(60),
            fee: crate::ledger::FeePolicy::default(),
            tip_fee: crate::ledger::FeePolicy::none(),
            clearance: chrono::Duration::days(14),
            auto_complete: chrono::Duration::days(3),
            cancellation_response: chrono::Duration::hours(48),
            late_cancellation_grace: chrono::Duration::hours(24),
            review_window: chrono::Duration::days(14),
            dispute_response: chrono::Duration::hours(72),
            dispute_after_completion: chrono::Duration::days(3),
            amendment_response: chrono::Duration::hours(48),
            level_caps: parse_level_caps(DEFAULT_LEVEL_CAPS).expect("the default caps parse"),
        }
    }
}

/// What a seller's level allows an offer to ask: a price cap (none for top rated) and a
/// delivery-time cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelLimits {
    pub max_price: Option<Money>,
    pub max_delivery_days: u32,
}

/// The caps of product.md, in Rials.
pub const DEFAULT_LEVEL_CAPS: &str = "new=50000000/30 level_one=200000000/60 level_two=1000000000/90 top_rated=-/180";

impl Policy {
    /// What `level` allows an offer to ask, in the marketplace's currency.
    pub fn level_limits(&self, level: Level) -> LevelLimits {
        let i = Level::ALL.iter().position(|l| *l == level).unwrap_or_default();
        let cap = self.level_caps[i];
        LevelLimits {
            max_price: cap.max_price.map(|amount| Money { amount, currency: self.currency.clone() }),
            max_delivery_days: cap.max_delivery_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_caps_are_read_for_every_level_once_and_refused_otherwise() {
        let defaults = Policy::default();
        let irr = |amount| Some(Money { amount, currency: "IRR".into() });
        assert_eq!(
            defaults.level_limits(Level::New),
            LevelLimits { max_price: irr(50_000_000), max_delivery_days: 30 }
        );
        assert_eq!(defaults.level_limits(Level::TopRated), LevelLimits { max_price: None, max_delivery_days: 180 });
        let caps = parse_level_caps("top_rated=-/365 level_two=9/3 level_one=8/2 new=7/1").unwrap();
        let policy = Policy { level_caps: caps, currency: "USD".into(), ..Policy::default() };
        let usd = Some(Money { amount: 8, currency: "USD".into() });
        assert_eq!(policy.level_limits(Level::LevelOne), LevelLimits { max_price: usd, max_delivery_days: 2 });
        for bad in [
            "new=7/1 level_one=8/2 level_two=9/3",
            "new=7/1 new=7/1 level_one=8/2 level_two=9/3 top_rated=-/9",
            "newbie=7/1 level_one=8/2 level_two=9/3 top_rated=-/9",
            "new=0/1 level_one=8/2 level_two=9/3 top_rated=-/9",
            "new=7/0 level_one=8/2 level_two=9/3 top_rated=-/9",
            "new=7 level_one=8/2 level_two=9/3 top_rated=-/9",
        ] {
            assert!(parse_level_caps(bad).is_err(), "{bad}");
        }
    }
}
