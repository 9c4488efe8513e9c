//! A refund: requested in the transaction that decides it, sent to the provider, confirmed
//! by its word, or failed and paid back by hand by support.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::{Note, Start, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Written with its follow-up, which asks the provider.
    Requested,
    /// The provider accepted it.
    Sent,
    /// The provider's `charge.refunded` covers it.
    Confirmed,
    /// The provider refused it, or it failed at the bank, too often; support must look.
    Failed,
    /// The provider has no refund API for this deployment (Zarinpal without a refund
    /// token): support pays it back by hand to the card the receipt names.
    Manual,
}

/// What moves a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAction {
    /// The provider accepted it.
    Send,
    /// The provider refused it; it is asked again later.
    Refuse,
    /// The provider refused it too often; support must look.
    GiveUp,
    /// The provider's running total covers it.
    Confirm,
    /// The provider took it, then reported it failed (`refund.failed`: the card was
    /// closed, the bank returned it): it is asked again later.
    Bounce,
    /// The provider cannot refund it through its API: it is listed for support to pay
    /// back by hand.
    PayByHand,
    /// Support paid back by hand one the provider could not or would not refund.
    PaidByHand,
}

/// How a refund begins.
pub static REFUND_START: Start<RefundStatus> =
    Start { state: RefundStatus::Requested, event: "refund_requested", notify: &[Buyer, Seller], timers: &[] };

/// A refund's lifecycle, driven by the provider's answers (`System`).
#[rustfmt::skip]
pub static REFUND: &[Transition<RefundStatus, RefundAction>] = {
    use RefundStatus::*;
    use RefundAction::*;
    &[
        //  from       action      by          guard to         event                  notify            timers
        row(Requested, Send,       &[System],  None, Sent,      "refund_sent",         &[],              &[]),
        row(Requested, Refuse,     &[System],  None, Requested, "refund_refused",      &[],              &[]),
        row(Requested, GiveUp,     &[System],  None, Failed,    "refund_failed",       &[Buyer],         &[]),
        row(Requested, Confirm,    &[System],  None, Confirmed, "refund_confirmed",    &[Buyer, Seller], &[]),
        row(Requested, PayByHand,  &[System],  None, Manual,    "refund_manual",       &[Buyer],         &[]),
        row(Sent,      Confirm,    &[System],  None, Confirmed, "refund_confirmed",    &[Buyer, Seller], &[]),
        // Taken, then failed at the bank (Stripe may have confirmed it first): asked
        // again with a new idempotency key, and failed for support after the retries.
        row(Sent,      Bounce,     &[System],  None, Requested, "refund_bounced",      &[],              &[]),
        row(Confirmed, Bounce,     &[System],  None, Requested, "refund_bounced",      &[],              &[]),
        row(Sent,      GiveUp,     &[System],  None, Failed,    "refund_failed",       &[Buyer],         &[]),
        row(Confirmed, GiveUp,     &[System],  None, Failed,    "refund_failed",       &[Buyer],         &[]),
        row(Manual,    PaidByHand, &[Support], None, Confirmed, "refund_paid_by_hand", &[Buyer, Seller], &[]),
        row(Failed,    PaidByHand, &[Support], None, Confirmed, "refund_paid_by_hand", &[Buyer, Seller], &[]),
    ]
};

/// The provider's running total of refunds moved: the refunds it covers are confirmed
/// (the `Confirm` rows of [`REFUND`]), or none, when only the total moved.
pub const REFUNDS_CONFIRMED: Note = Note { event: "refund_confirmed", notify: &[Buyer, Seller] };
