//! The payment provider a deployment is configured with (`PAYMENT_PROVIDER`): Stripe,
//! whose signed webhooks tell us a payment succeeded, or Zarinpal, whose payer returns
//! through our callback and whose payment counts only once we verify it. The flows open,
//! cancel and refund through this one seam; only the confirmation differs
//! (`flows::payments::receive_webhook` for Stripe, `flows::zarinpal` for Zarinpal).

use crate::adapters::config::Config;
use crate::adapters::stripe::{self, Stripe};
use crate::adapters::zarinpal::{self, Zarinpal};
use peyman_rules::error::ApiError;
use peyman_rules::money::Money;
use peyman_rules::payment::{Answer, Intent, Payment, RefundAnswer};

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
            // Offers are priced in the policy's currency (IRR) only, so the price is in the
            // currency Zarinpal is asked for.
            Payments::Zarinpal(zarinpal) => {
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

    /// Whether asking twice for one refund (the same idempotency key) refunds once.
    /// Stripe's keys make it so; Zarinpal's refund service has none, so the flow claims
    /// each call before it makes it (`Refund::call`).
    pub fn refunds_are_idempotent(&self) -> bool {
        matches!(self, Payments::Stripe(_))
    }

    /// Why this deployment cannot refund `amount` of `payment` through the provider's
    /// API, so support pays it back by hand; `None` when it can.
    pub fn refund_by_hand(&self, payment: &Payment, amount: i64) -> Option<String> {
        match self {
            Payments::Stripe(_) => None,
            Payments::Zarinpal(zarinpal) => {
                zarinpal::refund_route(zarinpal.config().refunds.as_ref(), amount, payment.receipt.as_ref()).err()
            }
        }
    }

    /// Refunds `amount` of `payment` through the provider's API, once per idempotency
    /// key where the provider has keys: `ByHand` when this deployment cannot refund it
    /// through an API, and support pays it back by hand.
    pub async fn refund(
        &self,
        payment: &Payment,
        amount: i64,
        refund_id: &str,
        idempotency_key: &str,
    ) -> Result<RefundAnswer, ApiError> {
        let sent = |answer: Answer<(String, String)>, settled| match answer {
            Answer::Done((provider_refund_id, status)) => RefundAnswer::Sent { provider_refund_id, status, settled },
            Answer::Refused(why) => RefundAnswer::Refused(why),
        };
        match self {
            Payments::Stripe(stripe) => {
                // `charge.refunded` confirms it later.
                Ok(sent(stripe.refund(&payment.intent_id, amount, refund_id, idempotency_key).await?, false))
            }
            Payments::Zarinpal(zarinpal) => {
                let refunds = zarinpal.config().refunds.as_ref();
                let (service, receipt) = match zarinpal::refund_route(refunds, amount, payment.receipt.as_ref()) {
                    Ok(route) => route,
                    Err(why) => return Ok(RefundAnswer::ByHand(why)),
                };
                let description = format!("Peyman refund {refund_id} of order {}", payment.order_id);
                // An instant card refund needs no later confirmation.
                Ok(sent(zarinpal.add_refund(service, &receipt.reference_id, amount, &description).await?, true))
            }
        }
    }
}
