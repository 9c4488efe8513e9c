//! A payment: opened for the buyer, decided once by the provider's word (succeeded, or held
//! for support when it cannot start its order), cancelled when the window lapses.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::{Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Opened for the buyer to pay.
    Open,
    /// Paid; the order started.
    Succeeded,
    /// Paid, but it could not start an order: support reviews it, and it is refunded
    /// where no order can use it.
    Held,
    /// The payment window lapsed and the intent was cancelled at the provider.
    Canceled,
    /// Held, then support decided to send it back in full.
    Refunded,
}

/// What moves a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentAction {
    /// The provider took exactly the order's price for an order awaiting it.
    Succeed,
    /// An attempt to pay failed; the buyer may try again.
    Fail,
    /// The money arrived but cannot start its order as it is.
    Hold,
    /// The payment window lapsed and the intent was cancelled at the provider.
    Cancel,
    /// Support sends a held payment back.
    ReturnHeld,
    /// Support starts the order with a held payment.
    ApplyHeld,
}

/// A payment's lifecycle. A decided payment (succeeded, refunded) never moves again, so
/// a late or repeated provider event cannot undo it. The events are the names the
/// order's timeline records them under.
#[rustfmt::skip]
pub static PAYMENT: &[Transition<PaymentStatus, PaymentAction>] = {
    use PaymentStatus::*;
    use PaymentAction::*;
    &[
        //  from      action      by          guard to         event                    notify    timers
        row(Open,     Succeed,    &[System],  None, Succeeded, "order_paid",            &[],      &[]),
        row(Open,     Fail,       &[System],  None, Open,      "payment_failed",        &[Buyer], &[]),
        row(Open,     Hold,       &[System],  None, Held,      "payment_held",          &[Buyer], &[]),
        // Cancelled at the provider while its success was on the way.
        row(Canceled, Hold,       &[System],  None, Held,      "payment_held",          &[Buyer], &[]),
        row(Open,     Cancel,     &[System],  None, Canceled,  "payment_canceled",      &[],      &[]),
        row(Held,     ReturnHeld, &[Support], None, Refunded,  "held_payment_refunded", &[Buyer], &[]),
        row(Held,     ApplyHeld,  &[Support], None, Succeeded, "order_paid",            &[],      &[]),
    ]
};
