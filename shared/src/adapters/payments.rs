//! The payment provider a deployment is configured with (`PAYMENT_PROVIDER`): Stripe,
//! whose signed webhooks tell us a payment succeeded, or Zarinpal, whose payer returns
//! through our callback and whose payment counts only once we verify it. The flows open,
//! cancel and refund through this one seam; only the confirmation differs
//! (`flows::payments::receive_webhook` for Stripe, `flows::zarinpal` for Zarinpal).

use crate::adapters::config::Config;
use crate::adapters::stripe::{self, Stripe};
use crate::adapters::zarinpal::{self, Zarinpal};
use crate::rules::error::ApiError;
use crate::rules::money::Money;
use crate::rules::payment::{Answer, Intent};

#[derive(Debug, Clone)]
pub enum Payments {
    Stripe(Stripe),
    Zarinpal(Zarinpal),
}

impl Payments {
    pub fn new(config: &Config) -> Payments {
        match &config.zarinpal {
            Some(zarinpal) => Payments::Zarinpal(Zarinpal::new(zarinpal.clone())),
            None => Payments::Stripe(Stripe::new(config.stripe.clone())),
        }
    }

    /// The name payment records and routes know the provider by.
    pub fn provider(&self) -> &'static str {
        match self {
            Payments::Stripe(_) => stripe::PROVIDER,
            Payments::Zarinpal(_) => zarinpal::PROVIDER,
        }
    }

    /// Opens a payment for exactly `price`, naming `order_id`. Stripe's idempotency key
    /// makes a retried call return the same intent; Zarinpal has none, and an authority a
    /// retry leaves unused is never paid (its page's link never left us).
    pub async fn open(&self, price: &Money, order_id: &str, idempotency_key: &str) -> Result<Intent, ApiError> {
        match self {
            Payments::Stripe(stripe) => stripe.create_intent(price, order_id, idempotency_key).await,
            Payments::Zarinpal(zarinpal) => {
                if !price.currency.eq_ignore_ascii_case(zarinpal::CURRENCY) {
                    return Err(ApiError::conflict(
                        "currency_not_supported",
                        "this marketplace's gateway takes prices in IRR (Rials) only",
                    ));
                }
                let authority = zarinpal.request(price.amount, &format!("Peyman order {order_id}"), order_id).await?;
                let pay_url = Some(zarinpal.start_pay_url(&authority));
                Ok(Intent { id: authority, client_secret: None, pay_url })
            }
        }
    }

    /// Cancels an unpaid payment. A Zarinpal authority cannot be cancelled: it is left
    /// to lapse, and money paid to it that we never verify goes back to the payer.
    pub async fn cancel(&self, intent_id: &str) -> Result<Answer<()>, ApiError> {
        match self {
            Payments::Stripe(stripe) => stripe.cancel_intent(intent_id).await,
            Payments::Zarinpal(_) => Ok(Answer::Refused(
                "a Zarinpal authority cannot be cancelled; it lapses at the gateway, and a payment to it that \
                 is verified later is held and refunded"
                    .into(),
            )),
        }
    }

    /// Refunds `amount` through the provider's API, once per idempotency key: `None`
    /// when this deployment's provider has no refund API for us, and support pays the
    /// refund back by hand.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        refund_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<Answer<(String, String)>>, ApiError> {
        match self {
            Payments::Stripe(stripe) => stripe.refund(intent_id, amount, refund_id, idempotency_key).await.map(Some),
            Payments::Zarinpal(_) => Ok(None),
        }
    }
}
