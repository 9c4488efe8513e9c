//! Payments through Zarinpal count only once we verify them. The gateway sends no
//! webhook: it sends the payer's browser back to our callback with `Authority` and
//! `Status`, which anyone can forge. So the callback trusts nothing of its query but the
//! authority, and only as a key: it finds our payment by it, and on `OK` asks the gateway
//! to verify it for the amount *we* stored. A payer who never comes back (closed the
//! tab) is found by the sweeper, which asks the gateway for paid authorities not yet
//! verified and verifies ours ([`reconcile`]).
//!
//! A verification becomes the provider-neutral success event `flows::payments::receive`
//! applies, under an event id made from the authority: 100 (verified now) and 101
//! (verified before) are the same event, so concurrent and repeated callbacks, and the
//! sweeper racing them, start the order once. A payment whose order can no longer use it
//! (its window lapsed) is held and refunded as for Stripe.

use chrono::{DateTime, Utc};

use crate::adapters::payments::Payments;
use crate::adapters::zarinpal::{PROVIDER, Verification, Zarinpal};
use crate::flows::App;
use crate::flows::payments::receive;
use peyman_rules::error::ApiError;
use peyman_rules::payment::{Payment, PaymentEvent, PaymentStatus, Receipt, Received, ReceivedEvent};

/// Where the callback sends the payer: our payment's order, if the authority is ours,
/// and whether it is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub order_id: Option<String>,
    pub paid: bool,
}

impl Returned {
    /// The frontend page the payer lands on: `PAYMENT_RETURN_URL` with `payment` and,
    /// where known, `order_id`.
    pub fn page(&self, return_url: &str) -> String {
        let separator = if return_url.contains('?') { '&' } else { '?' };
        let outcome = if self.paid { "paid" } else { "failed" };
        // Order ids are ULIDs: nothing in them needs escaping.
        match &self.order_id {
            Some(order_id) => format!("{return_url}{separator}payment={outcome}&order_id={order_id}"),
            None => format!("{return_url}{separator}payment={outcome}"),
        }
    }
}

/// This deployment's Zarinpal, or 404 where it pays through another provider.
fn gateway(app: &App) -> Result<&Zarinpal, ApiError> {
    match &app.payments {
        Payments::Zarinpal(zarinpal) => Ok(zarinpal),
        Payments::Stripe(_) => Err(ApiError::NotFound { what: "payment provider" }),
    }
}

/// The payer's browser came back from the gateway. `status_ok` is what the query claims;
/// only the gateway's verification counts. Returns the frontend page the payer goes on to.
pub async fn callback(app: &App, authority: &str, status_ok: bool, now: DateTime<Utc>) -> Result<String, ApiError> {
    let zarinpal = gateway(app)?;
    let returned = returned(app, zarinpal, authority, status_ok, now).await?;
    Ok(returned.page(&zarinpal.config().return_url))
}

async fn returned(
    app: &App,
    zarinpal: &Zarinpal,
    authority: &str,
    status_ok: bool,
    now: DateTime<Utc>,
) -> Result<Returned, ApiError> {
    let Some(payment) = app.store.payment(authority).await?.filter(|p| p.provider == PROVIDER) else {
        tracing::info!(authority, "a callback for an authority we did not open; left alone");
        return Ok(Returned { order_id: None, paid: false });
    };
    let order_id = Some(payment.order_id.clone()).filter(|id| !id.is_empty());
    if status_ok {
        verify(app, zarinpal, &payment, now).await?;
    } else if payment.failures.is_empty() {
        let event = PaymentEvent::Failed {
            intent_id: payment.intent_id.clone(),
            code: Some("NOK".into()),
            message: Some("the payer cancelled, or the payment failed, at the gateway".into()),
        };
        receive(app, PROVIDER, &ReceivedEvent { id: failure_event_id(authority), event }, now).await?;
    }
    // Paid: it started its order, now or before (a repeat, or the sweeper was first). A
    // held payment is not: its money goes back.
    let paid = app.store.payment(authority).await?.is_some_and(|p| p.status == PaymentStatus::Succeeded);
    Ok(Returned { order_id, paid })
}

/// The one failure an authority may record. The callback needs no login, so anyone who
/// holds the link can call it as often as they like: an authority is one attempt at the
/// gateway, and its failure (a `NOK` return, or a verification the gateway refused) goes
/// on the order's timeline once, under this event id (and not at all once the payment
/// holds a failure, for returns after the event's receipt has expired).
fn failure_event_id(authority: &str) -> String {
    format!("failed-{authority}")
}

/// Verifies `payment` for the amount we stored and applies what the gateway said.
async fn verify(app: &App, zarinpal: &Zarinpal, payment: &Payment, now: DateTime<Utc>) -> Result<Received, ApiError> {
    let authority = payment.intent_id.as_str();
    let (id, event) = match zarinpal.verify(authority, payment.amount.amount).await? {
        Verification::Verified { ref_id, card_pan } | Verification::AlreadyVerified { ref_id, card_pan } => (
            format!("verified-{authority}"),
            PaymentEvent::Succeeded {
                intent_id: authority.to_owned(),
                our_order_id: Some(payment.order_id.clone()).filter(|id| !id.is_empty()),
                // The gateway verifies only for the amount we asked it to.
                received: payment.amount.clone(),
                receipt: Some(Receipt { reference_id: ref_id.to_string(), card_pan }),
            },
        ),
        // Recorded once per authority, whatever the gateway's code: see failure_event_id.
        Verification::Refused { .. } if !payment.failures.is_empty() => return Ok(Received::Duplicate),
        Verification::Refused { code, message } => (
            failure_event_id(authority),
            PaymentEvent::Failed {
                intent_id: authority.to_owned(),
                code: Some(code.to_string()),
                message: Some(message),
            },
        ),
    };
    receive(app, PROVIDER, &ReceivedEvent { id, event }, now).await
}

/// What a reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    /// Our paid authorities verified and applied.
    pub verified: usize,
    /// Paid authorities that are not ours (another product on the merchant), or ours
    /// but still inside their payer's time to return.
    pub left: usize,
}

/// The sweeper's part: every paid authority the gateway lists as unverified that is
/// ours and older than `RECONCILE_AFTER_SECONDS` is verified as its callback would have.
/// Nothing for a deployment that pays through Stripe. One authority that fails is logged
/// and left for the next sweep.
pub async fn reconcile(app: &App, now: DateTime<Utc>) -> Result<Reconciled, ApiError> {
    let Payments::Zarinpal(zarinpal) = &app.payments else {
        return Ok(Reconciled::default());
    };
    let wait = chrono::Duration::from_std(zarinpal.config().reconcile_after).unwrap_or_default();
    let mut done = Reconciled::default();
    for (authority, _amount) in zarinpal.unverified().await? {
        let ours =
            app.store.payment(&authority).await?.filter(|p| p.provider == PROVIDER && p.created_at + wait <= now);
        let Some(payment) = ours else {
            done.left += 1;
            continue;
        };
        match verify(app, zarinpal, &payment, now).await {
            Ok(outcome) => {
                tracing::info!(authority, ?outcome, "a paid authority nobody returned for was verified");
                done.verified += 1;
            }
            Err(e) => tracing::warn!(authority, error = %e, "reconciliation failed; the next sweep tries again"),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payer_lands_on_the_frontend_page_with_the_outcome() {
        let paid = Returned { order_id: Some("01ORDER".into()), paid: true };
        assert_eq!(
            paid.page("https://shop.example/pay/done"),
            "https://shop.example/pay/done?payment=paid&order_id=01ORDER"
        );
        let unknown = Returned { order_id: None, paid: false };
        assert_eq!(
            unknown.page("https://shop.example/done?lang=fa"),
            "https://shop.example/done?lang=fa&payment=failed"
        );
    }
}
