//! An order: placed awaiting payment, paid, worked stage by stage (delivered, revised,
//! accepted), cancelled alone or by agreement, disputed and resolved, reviewed. Work starts
//! only once the provider confirmed the payment.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::Guard::*;
use super::{Note, Start, Timer, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    AwaitingPayment,
    InProgress,
    Delivered,
    /// A dispute is open: frozen until support resolves it (no timer, no party moves it).
    Disputed,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// The provider confirmed payment (payments issue: the webhook acts as `System`).
    Pay,
    /// The payment window lapsed unpaid.
    LapsePayment,
    /// Either party cancels an unpaid order; the buyer alone a late one, once the grace
    /// period after its due time has passed.
    Cancel,
    Deliver,
    RequestRevision,
    AcceptDelivery,
    AutoComplete,
    /// Either party asks the other to cancel a paid order (one request open at a time).
    RequestCancellation,
    /// The other party accepts the open request: the order is cancelled and refunded.
    AcceptCancellation,
    /// The other party declines it: the work goes on.
    DeclineCancellation,
    /// The response window passed in silence: the request is accepted.
    CancellationTimeout,
    /// A party reviews the other on a completed order (the buyer's review lands under
    /// the gig), once, within the review window.
    Review,
    /// The seller answers the buyer's published review, once.
    Reply,
    /// The review window closed: what was written is published.
    CloseReviews,
    /// Either party opens a dispute on a paid order not yet cancelled, a completed one
    /// within the window after completion; so does the provider's word of a chargeback
    /// (`System`).
    OpenDispute,
    /// Support (or the parties' settlement, applied by `System`) resolves the dispute for
    /// the seller: the order is complete.
    ReleaseDisputed,
    /// Support resolves it for the buyer: cancelled, all that was paid refunded.
    RefundDisputed,
    /// Support splits it: part of the payment refunded, the order complete.
    PartlyRefundDisputed,
    /// Its opener withdrew the dispute: the order resumes in the state it was disputed in.
    ResumeDisputed,
    /// Either party proposes an amendment of the running work (one open at a time).
    ProposeAmendment,
    /// The other party accepts it: it takes effect.
    AcceptAmendment,
    /// The other party declines it.
    DeclineAmendment,
    /// Its author withdraws it.
    WithdrawAmendment,
    /// Its answer window passed in silence (or, accepted, its payment window unpaid).
    ExpireAmendment,
    /// The provider confirmed the payment an accepted amendment waits for: it takes effect.
    PayAmendment,
    /// The buyer tips a completed order (once): a payment is opened for it.
    Tip,
    /// The provider confirmed the tip's payment: it is released to the seller.
    PayTip,
}

#[rustfmt::skip]
pub static ORDER: &[Transition<OrderState, OrderAction>] = {
    use OrderState::*;
    use OrderAction::*;
    &[
        //  from             action                by                guard                         to          event                               notify            timers
        row(AwaitingPayment, Pay,                  &[System],        None,                         InProgress, "order_paid",                       &[Seller, Buyer], &[Timer::LateAtDue, Timer::LateCancellationOpens]),
        row(AwaitingPayment, LapsePayment,         &[System],        Some(PastDeadline),           Cancelled,  "payment_window_lapsed",            &[Buyer, Seller], &[]),
        row(AwaitingPayment, Cancel,               &[Buyer, Seller], None,                         Cancelled,  "order_cancelled",                  &[Buyer, Seller], &[]),
        // A late order whose current stage is undelivered, past the grace period: the
        // buyer alone cancels it, with a full refund.
        row(InProgress,      Cancel,               &[Buyer],         Some(RightOpen),              Cancelled,  "order_cancelled_late",             &[Buyer, Seller], &[]),
        row(InProgress,      Deliver,              &[Seller],        None,                         Delivered,  "order_delivered",                  &[Buyer],         &[Timer::AutoComplete]),
        row(Delivered,       RequestRevision,      &[Buyer],         Some(RevisionsLeft),          InProgress, "revision_requested",               &[Seller],        &[]),
        // A stage is accepted: the next one is in progress, or the order is complete.
        row(Delivered,       AcceptDelivery,       &[Buyer],         Some(StagesLeft),             InProgress, "stage_accepted",                   &[Seller],        &[]),
        row(Delivered,       AcceptDelivery,       &[Buyer],         Some(LastStage),              Completed,  "order_completed",                  &[Seller],        &[Timer::ReviewWindowCloses]),
        // The buyer's silence past the auto-complete window accepts the stage.
        row(Delivered,       AutoComplete,         &[System],        Some(PastDeadlineStagesLeft), InProgress, "stage_auto_accepted",              &[Buyer, Seller], &[]),
        row(Delivered,       AutoComplete,         &[System],        Some(PastDeadlineLastStage),  Completed,  "order_auto_completed",             &[Buyer, Seller], &[Timer::ReviewWindowCloses]),
        // Cancellation by agreement: one request open at a time, answered by the other
        // party or by their silence past the response window.
        row(InProgress,      RequestCancellation,  &[Buyer, Seller], Some(NoRequestOpen),          InProgress, "cancellation_requested",           &[Buyer, Seller], &[Timer::CancellationTimeout]),
        row(InProgress,      AcceptCancellation,   &[Buyer, Seller], Some(RequestOpenByOther),     Cancelled,  "cancellation_accepted",            &[Buyer, Seller], &[]),
        row(InProgress,      DeclineCancellation,  &[Buyer, Seller], Some(RequestOpenByOther),     InProgress, "cancellation_declined",            &[Buyer, Seller], &[Timer::AutoComplete]),
        row(InProgress,      CancellationTimeout,  &[System],        Some(RequestUnanswered),      Cancelled,  "cancellation_accepted_by_silence", &[Buyer, Seller], &[]),
        row(Delivered,       RequestCancellation,  &[Buyer, Seller], Some(NoRequestOpen),          Delivered,  "cancellation_requested",           &[Buyer, Seller], &[Timer::CancellationTimeout]),
        row(Delivered,       AcceptCancellation,   &[Buyer, Seller], Some(RequestOpenByOther),     Cancelled,  "cancellation_accepted",            &[Buyer, Seller], &[]),
        row(Delivered,       DeclineCancellation,  &[Buyer, Seller], Some(RequestOpenByOther),     Delivered,  "cancellation_declined",            &[Buyer, Seller], &[Timer::AutoComplete]),
        row(Delivered,       CancellationTimeout,  &[System],        Some(RequestUnanswered),      Cancelled,  "cancellation_accepted_by_silence", &[Buyer, Seller], &[]),
        // Amendments of the running work: one open at a time, answered by the other party
        // (accepted: it takes effect, the due time re-armed), withdrawn by its author, or
        // expired by silence. Never during a dispute or after completion.
        row(InProgress,      ProposeAmendment,     &[Buyer, Seller], Some(NoAmendmentOpen),      InProgress, "amendment_proposed",               &[Buyer, Seller], &[Timer::AmendmentExpires]),
        row(InProgress,      AcceptAmendment,      &[Buyer, Seller], Some(FreeAmendmentOpenByOther), InProgress, "order_amended",                &[Buyer, Seller], &[Timer::LateAtDue, Timer::LateCancellationOpens]),
        row(InProgress,      AcceptAmendment,      &[Buyer, Seller], Some(PaidAmendmentOpenByOther), InProgress, "amendment_accepted",           &[Buyer, Seller], &[Timer::AmendmentExpires]),
        row(InProgress,      PayAmendment,         &[System],        Some(AmendmentAwaitingPayment), InProgress, "order_amended",                &[Buyer, Seller], &[Timer::LateAtDue, Timer::LateCancellationOpens]),
        row(InProgress,      DeclineAmendment,     &[Buyer, Seller], Some(AmendmentOpenByOther), InProgress, "amendment_declined",               &[Buyer, Seller], &[]),
        row(InProgress,      WithdrawAmendment,    &[Buyer, Seller], Some(AmendmentOpenByActor), InProgress, "amendment_withdrawn",              &[Buyer, Seller], &[]),
        row(InProgress,      ExpireAmendment,      &[System],        Some(AmendmentExpired),     InProgress, "amendment_expired",                &[Buyer, Seller], &[]),
        row(Delivered,       ProposeAmendment,     &[Buyer, Seller], Some(NoAmendmentOpen),      Delivered,  "amendment_proposed",               &[Buyer, Seller], &[Timer::AmendmentExpires]),
        row(Delivered,       AcceptAmendment,      &[Buyer, Seller], Some(FreeAmendmentOpenByOther), Delivered,  "order_amended",                &[Buyer, Seller], &[]),
        row(Delivered,       AcceptAmendment,      &[Buyer, Seller], Some(PaidAmendmentOpenByOther), Delivered,  "amendment_accepted",           &[Buyer, Seller], &[Timer::AmendmentExpires]),
        row(Delivered,       PayAmendment,         &[System],        Some(AmendmentAwaitingPayment), Delivered,  "order_amended",                &[Buyer, Seller], &[]),
        row(Delivered,       DeclineAmendment,     &[Buyer, Seller], Some(AmendmentOpenByOther), Delivered,  "amendment_declined",               &[Buyer, Seller], &[]),
        row(Delivered,       WithdrawAmendment,    &[Buyer, Seller], Some(AmendmentOpenByActor), Delivered,  "amendment_withdrawn",              &[Buyer, Seller], &[]),
        row(Delivered,       ExpireAmendment,      &[System],        Some(AmendmentExpired),     Delivered,  "amendment_expired",                &[Buyer, Seller], &[]),
        // A dispute freezes a paid order until support decides: from `disputed` only
        // support moves it, so no timer and no party action applies meanwhile.
        row(InProgress,      OpenDispute,          &[Buyer, Seller, System], None,                 Disputed,   "dispute_opened",                   &[Buyer, Seller], &[]),
        row(Delivered,       OpenDispute,          &[Buyer, Seller, System], None,                 Disputed,   "dispute_opened",                   &[Buyer, Seller], &[]),
        // Within a window after completion (an auto-completion too) the buyer or seller
        // may still dispute it, while what was released is pending clearance.
        row(Completed,       OpenDispute,          &[Buyer, Seller], Some(DisputeWindowOpen),      Disputed,   "dispute_opened",                   &[Buyer, Seller], &[]),
        // Support's decision, or the parties' settlement applied (`System`).
        row(Disputed,        ReleaseDisputed,      &[Support, System], None,                       Completed,  "dispute_released",                 &[Buyer, Seller], &[Timer::ReviewWindowCloses]),
        row(Disputed,        RefundDisputed,       &[Support, System], None,                       Cancelled,  "dispute_refunded",                 &[Buyer, Seller], &[]),
        row(Disputed,        PartlyRefundDisputed, &[Support, System], None,                       Completed,  "dispute_partly_refunded",          &[Buyer, Seller], &[Timer::ReviewWindowCloses]),
        // Its opener withdrew the dispute: the order goes back where it was, its clocks
        // running again from where they stopped.
        row(Disputed,        ResumeDisputed,       &[System],        Some(ResumesInProgress),      InProgress, "dispute_withdrawn",                &[Buyer, Seller], &[Timer::LateAtDue, Timer::LateCancellationOpens]),
        row(Disputed,        ResumeDisputed,       &[System],        Some(ResumesDelivered),       Delivered,  "dispute_withdrawn",                &[Buyer, Seller], &[Timer::AutoComplete]),
        row(Disputed,        ResumeDisputed,       &[System],        Some(ResumesCompleted),       Completed,  "dispute_withdrawn",                &[Buyer, Seller], &[Timer::ReviewWindowCloses]),
        // Reviews, double-blind: the first is hidden (the other party is told one was
        // written, not what it says); the second publishes both; the window's end
        // publishes what there is.
        row(Completed,       Review,               &[Buyer],         Some(FirstReview),            Completed,  "review_written",                   &[Seller],        &[]),
        row(Completed,       Review,               &[Seller],        Some(FirstReview),            Completed,  "review_written",                   &[Buyer],         &[]),
        row(Completed,       Review,               &[Buyer, Seller], Some(LastReview),             Completed,  "reviews_published",                &[Buyer, Seller], &[]),
        row(Completed,       Reply,                &[Seller],        Some(ReplyOpen),              Completed,  "review_replied",                   &[Buyer],         &[]),
        // The buyer's tip, once: paid like the order, released to the seller at once.
        row(Completed,       Tip,                  &[Buyer],         Some(NoTip),                  Completed,  "tip_offered",                      &[],              &[]),
        row(Completed,       PayTip,               &[System],        Some(TipAwaitingPayment),     Completed,  "tip_paid",                         &[Seller],        &[]),
        row(Completed,       CloseReviews,         &[System],        Some(ReviewsUnpublished),     Completed,  "review_window_closed",             &[Buyer, Seller], &[]),
    ]
};

/// How an order begins when its offer is accepted: awaiting payment, its payment window
/// running. Work (delivery, timers of the work) starts only after `Pay`.
pub const ORDER_START: Start<OrderState> = Start {
    state: OrderState::AwaitingPayment,
    event: "order_placed",
    notify: &[Seller],
    timers: &[Timer::ExpireAtDeadline],
};

/// An order in progress passed its due time undelivered: its `late` flag is raised.
pub const ORDER_LATE: Note = Note { event: "order_late", notify: &[Buyer, Seller] };

/// The buyer's bank disputes the order's payment (a chargeback) where no dispute can
/// be opened or joined (the order is complete or cancelled): on its timeline, and in
/// support's chargeback queue through the payment.
pub const CHARGEBACK_OPENED: Note = Note { event: "chargeback_opened", notify: &[Buyer, Seller] };

/// The bank decided the chargeback on the order's payment.
pub const CHARGEBACK_CLOSED: Note = Note { event: "chargeback_closed", notify: &[Buyer, Seller] };

/// The grace period after a late order's due time is over: its buyer may cancel it.
pub const LATE_CANCELLATION_AVAILABLE: Note = Note { event: "late_cancellation_available", notify: &[Buyer] };
