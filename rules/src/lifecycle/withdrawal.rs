//! A withdrawal of a seller's available earnings to their bank account: asked for by the
//! seller, put in a bank transfer batch by support, and decided once, paid (with the
//! bank's reference) or returned (with the reason, the money back to available).

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::{Start, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalState {
    /// In support's queue, waiting for a batch.
    Requested,
    /// In a bank transfer batch support downloaded; no later batch lists it again.
    Batched,
    /// The bank paid it (its reference recorded).
    Paid,
    /// Support returned it (its reason recorded); the money is available again.
    Returned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum WithdrawalAction {
    /// Support puts it in a bank transfer batch.
    Batch,
    /// Support records the bank's payment, with its reference.
    MarkPaid,
    /// Support returns it (the bank refused the account, the name does not match it).
    Return,
}

/// How a withdrawal begins: the seller asks, and the amount leaves their available balance.
pub static WITHDRAWAL_START: Start<WithdrawalState> =
    Start { state: WithdrawalState::Requested, event: "withdrawal_requested", notify: &[], timers: &[] };

#[rustfmt::skip]
pub static WITHDRAWAL: &[Transition<WithdrawalState, WithdrawalAction>] = {
    use WithdrawalState::*;
    use WithdrawalAction::*;
    &[
        //  from       action    by           guard to        event                  notify     timers
        row(Requested, Batch,    &[Support],  None, Batched,  "withdrawal_batched",  &[],       &[]),
        // Decided once: paid or returned, from the queue or from a batch.
        row(Requested, MarkPaid, &[Support],  None, Paid,     "withdrawal_paid",     &[Seller], &[]),
        row(Batched,   MarkPaid, &[Support],  None, Paid,     "withdrawal_paid",     &[Seller], &[]),
        row(Requested, Return,   &[Support],  None, Returned, "withdrawal_returned", &[Seller], &[]),
        row(Batched,   Return,   &[Support],  None, Returned, "withdrawal_returned", &[Seller], &[]),
    ]
};
