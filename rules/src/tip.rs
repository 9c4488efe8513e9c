//! The buyer's tip: once, after completion, an amount of their choosing up to the order's
//! price, paid like the order and released to the seller at once less the tip fee
//! (`TIP_FEE_BASIS_POINTS`, none by default). It is not a change of the contract: nothing
//! of the terms moves.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::{ApiError, Code};
use crate::lifecycle::Refusal;
use crate::money::Money;
use crate::order::{Order, Tip};
use crate::tracked::refusal;

/// `POST /v1/orders/{order_id}/tip`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTip {
    pub amount: Money,
}

impl NewTip {
    /// Whether it fits `order`: at least 1 and at most the order's price in force, in its
    /// currency.
    pub fn check(&self, order: &Order) -> Result<(), ApiError> {
        let price = order.price();
        if self.amount.currency != price.currency {
            return Err(ApiError::invalid(Code::CurrencyMismatch, "amount.currency", "in the order's currency"));
        }
        if !(1..=price.amount).contains(&self.amount.amount) {
            return Err(ApiError::invalid(
                Code::InvalidAmount,
                "amount.amount",
                format!("from 1 to the order's price ({})", price.amount),
            ));
        }
        Ok(())
    }

    pub fn into_tip(self, intent_id: &str, now: DateTime<Utc>) -> Tip {
        Tip { amount: self.amount, payment_intent_id: intent_id.to_owned(), created_at: now, paid_at: None }
    }
}

/// The problem for an order that cannot take a tip now, said precisely.
pub fn refused(order: &Order, why: Refusal) -> ApiError {
    use crate::lifecycle::Guard;
    match why {
        Refusal::NotNow => ApiError::conflict(
            Code::OrderNotCompleted,
            format!("only a completed order is tipped; this one is {}", crate::lifecycle::snake(order.state)),
        ),
        Refusal::Guard(Guard::NoTip) => {
            ApiError::conflict(Code::TipAlreadyGiven, "this order has its tip already (one per order)")
        }
        other => refusal::<Order>(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::example;

    #[test]
    fn a_tip_is_in_the_order_s_currency_and_at_most_its_price() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = example(now);
        let price = order.price().clone();
        let tip = |amount: i64, currency: &str| NewTip { amount: Money { amount, currency: currency.into() } };
        assert!(tip(1, &price.currency).check(&order).is_ok());
        assert!(tip(price.amount, &price.currency).check(&order).is_ok());
        for (t, code) in [
            (tip(0, &price.currency), "invalid_amount"),
            (tip(price.amount + 1, &price.currency), "invalid_amount"),
            (tip(1, "USD"), "currency_mismatch"),
        ] {
            assert_eq!(t.check(&order).unwrap_err().code(), code);
        }
    }
}
