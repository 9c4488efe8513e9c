//! An offer, the sealed contract: the buyer accepts or declines it, the seller withdraws it,
//! it expires; a lapsed payment window opens it again. Acceptance and withdrawal race:
//! exactly one wins.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::Guard::*;
use super::{Start, Timer, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OfferState {
    Sent,
    Accepted,
    Declined,
    Withdrawn,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OfferAction {
    Accept,
    Decline,
    Withdraw,
    Expire,
    /// The order's payment window lapsed: the offer is open again (payments issue).
    Reopen,
}

#[rustfmt::skip]
pub static OFFER: &[Transition<OfferState, OfferAction>] = {
    use OfferState::*;
    use OfferAction::*;
    &[
        //  from      action    by         guard                 to         event              notify            timers
        row(Sent,     Accept,   &[Buyer],  Some(BeforeDeadline), Accepted,  "offer_accepted",  &[Seller],        &[]),
        row(Sent,     Decline,  &[Buyer],  None,                 Declined,  "offer_declined",  &[Seller],        &[]),
        row(Sent,     Withdraw, &[Seller], None,                 Withdrawn, "offer_withdrawn", &[Buyer],         &[]),
        row(Sent,     Expire,   &[System], Some(PastDeadline),   Expired,   "offer_expired",   &[Buyer, Seller], &[]),
        row(Accepted, Reopen,   &[System], Some(BeforeDeadline), Sent,      "offer_reopened",  &[Buyer, Seller], &[Timer::ExpireAtDeadline]),
        row(Accepted, Reopen,   &[System], Some(PastDeadline),   Expired,   "offer_expired",   &[Buyer, Seller], &[]),
    ]
};

/// How an offer begins: sent, the buyer told, its expiry running.
pub const OFFER_START: Start<OfferState> =
    Start { state: OfferState::Sent, event: "offer_sent", notify: &[Buyer], timers: &[Timer::ExpireAtDeadline] };
