//! A custom-project request: the buyer asks, the seller answers with an offer or declines,
//! the buyer withdraws, or the answer window lapses.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::Guard::*;
use super::{Start, Timer, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Answered,
    Declined,
    Withdrawn,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RequestAction {
    /// The seller sent an offer for it.
    Answer,
    Decline,
    Withdraw,
    Expire,
}

#[rustfmt::skip]
pub static REQUEST: &[Transition<RequestState, RequestAction>] = {
    use RequestState::*;
    use RequestAction::*;
    &[
        //  from     action    by         guard               to         event                notify            timers
        row(Pending, Answer,   &[Seller], None,               Answered,  "request_answered",  &[],              &[]),
        row(Pending, Decline,  &[Seller], None,               Declined,  "request_declined",  &[Buyer],         &[]),
        row(Pending, Withdraw, &[Buyer],  None,               Withdrawn, "request_withdrawn", &[Seller],        &[]),
        row(Pending, Expire,   &[System], Some(PastDeadline), Expired,   "request_expired",   &[Buyer, Seller], &[]),
    ]
};

/// How a request begins: pending, the seller told, its answer window running.
pub const REQUEST_START: Start<RequestState> = Start {
    state: RequestState::Pending,
    event: "request_sent",
    notify: &[Seller],
    timers: &[Timer::ExpireAtDeadline],
};
