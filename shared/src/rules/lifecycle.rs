//! The lifecycles of requests, offers, orders, payments, refunds and uploads, each as one
//! transition table: state × action × actor → guard → next state, the timeline event,
//! who is told, and which timer starts. Notes (facts that move no state) are declared
//! here too, so every timeline event name is in this file. Pure data; flows ask it and
//! never encode a transition themselves. The same table answers "what may this caller
//! do now?" (`allowed`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who acts. `System` is the sweeper (timers) and, later, the payment webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Buyer,
    Seller,
    Support,
    System,
}

/// A condition on facts outside the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// `now` is before the deadline (an offer can be accepted).
    BeforeDeadline,
    /// `now` is at or past the deadline (the timer may expire it).
    PastDeadline,
    /// Revisions used are fewer than included.
    RevisionsLeft,
    /// Stages follow the current one.
    StagesLeft,
    /// The current stage is the last.
    LastStage,
    /// Past the deadline, and stages follow the current one.
    PastDeadlineStagesLeft,
    /// Past the deadline, on the last stage.
    PastDeadlineLastStage,
    /// A right that opens at a time (a late order's cancellation by its buyer) is open.
    RightOpen,
    /// No cancellation request is open.
    NoRequestOpen,
    /// A cancellation request is open, made by the other party than the one acting.
    RequestOpenByOther,
    /// A cancellation request is open and its response window has passed.
    RequestUnanswered,
    /// The review window is open, the actor has not reviewed, nor has the other party:
    /// their review stays hidden (double-blind).
    FirstReview,
    /// The review window is open, the actor has not reviewed, and the other party has:
    /// this review publishes both.
    LastReview,
    /// The buyer's review is published and has no reply yet.
    ReplyOpen,
    /// The review window has closed and what was written is not published yet.
    ReviewsUnpublished,
}

/// Which reviews an order has (orders only; none for everything else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReviewFacts {
    pub by_buyer: bool,
    pub by_seller: bool,
    pub published: bool,
    pub replied: bool,
}

impl ReviewFacts {
    /// Whether `actor` has written theirs.
    pub fn written_by(&self, actor: Actor) -> bool {
        match actor {
            Actor::Buyer => self.by_buyer,
            Actor::Seller => self.by_seller,
            Actor::Support | Actor::System => false,
        }
    }

    /// Whether the party opposite `actor` has written theirs.
    fn written_by_other(&self, actor: Actor) -> bool {
        match actor {
            Actor::Buyer => self.by_seller,
            Actor::Seller => self.by_buyer,
            Actor::Support | Actor::System => false,
        }
    }
}

/// What a guard looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub now: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub revisions_used: u32,
    pub revisions_included: u32,
    /// Stages after the current one (orders; 0 for everything else).
    pub stages_left: u32,
    /// When a right opens (a late order's cancellation by its buyer), if one is coming.
    pub right_opens_at: Option<DateTime<Utc>>,
    /// An open cancellation request: who made it, and until when the other may answer.
    pub request: Option<(Actor, DateTime<Utc>)>,
    pub reviews: ReviewFacts,
}

impl Facts {
    pub fn at(now: DateTime<Utc>) -> Self {
        Facts {
            now,
            deadline: None,
            revisions_used: 0,
            revisions_included: 0,
            stages_left: 0,
            right_opens_at: None,
            request: None,
            reviews: ReviewFacts::default(),
        }
    }

    fn holds(&self, guard: Guard, actor: Actor) -> bool {
        let past_deadline = self.deadline.is_some_and(|d| self.now >= d);
        match guard {
            Guard::BeforeDeadline => self.deadline.is_none_or(|d| self.now < d),
            Guard::PastDeadline => past_deadline,
            Guard::RevisionsLeft => self.revisions_used < self.revisions_included,
            Guard::StagesLeft => self.stages_left > 0,
            Guard::LastStage => self.stages_left == 0,
            Guard::PastDeadlineStagesLeft => past_deadline && self.stages_left > 0,
            Guard::PastDeadlineLastStage => past_deadline && self.stages_left == 0,
            Guard::RightOpen => self.right_opens_at.is_some_and(|at| self.now >= at),
            Guard::NoRequestOpen => self.request.is_none(),
            Guard::RequestOpenByOther => self.request.is_some_and(|(by, _)| by != actor),
            Guard::RequestUnanswered => self.request.is_some_and(|(_, until)| self.now >= until),
            Guard::FirstReview => {
                !past_deadline && !self.reviews.written_by(actor) && !self.reviews.written_by_other(actor)
            }
            Guard::LastReview => {
                !past_deadline && !self.reviews.written_by(actor) && self.reviews.written_by_other(actor)
            }
            Guard::ReplyOpen => self.reviews.published && self.reviews.by_buyer && !self.reviews.replied,
            Guard::ReviewsUnpublished => past_deadline && !self.reviews.published,
        }
    }
}

/// A timer a transition starts; it dies when the state moves on (its action is then
/// refused and the timer dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Fire at the entity's deadline: an offer or a request expires, an unpaid order's
    /// payment window lapses.
    ExpireAtDeadline,
    /// An order in progress is flagged late at its due time.
    LateAtDue,
    /// The buyer is told they may cancel a late order, a grace period after its due time.
    LateCancellationOpens,
    /// A delivered stage the buyer left unanswered is accepted for them.
    AutoComplete,
    /// A cancellation request the other party left unanswered is accepted for them.
    CancellationTimeout,
    /// A completed order's review window closes: what was written is published.
    ReviewWindowCloses,
}

impl Timer {
    const ALL: [Timer; 6] = [
        Timer::ExpireAtDeadline,
        Timer::LateAtDue,
        Timer::LateCancellationOpens,
        Timer::AutoComplete,
        Timer::CancellationTimeout,
        Timer::ReviewWindowCloses,
    ];

    /// What follows the entity's subject in the timer's (none for its deadline).
    fn suffix(self) -> Option<&'static str> {
        match self {
            Timer::ExpireAtDeadline => None,
            Timer::LateAtDue => Some("late"),
            Timer::LateCancellationOpens => Some("late_cancellation"),
            Timer::AutoComplete => Some("auto_complete"),
            Timer::CancellationTimeout => Some("cancellation"),
            Timer::ReviewWindowCloses => Some("reviews"),
        }
    }

    /// The timer's subject: the entity's, with a suffix for each timer beyond its
    /// deadline, so the sweeper knows what fired.
    pub fn subject(self, entity_subject: &str) -> String {
        match self.suffix() {
            None => entity_subject.to_owned(),
            Some(suffix) => format!("{entity_subject}/{suffix}"),
        }
    }

    /// The timer a subject's suffix names, if any.
    pub fn named(suffix: Option<&str>) -> Option<Timer> {
        Timer::ALL.into_iter().find(|t| t.suffix() == suffix)
    }
}

#[derive(Debug)]
pub struct Transition<S: 'static, A: 'static> {
    pub from: S,
    pub action: A,
    pub by: &'static [Actor],
    pub guard: Option<Guard>,
    pub to: S,
    /// The timeline event's name.
    pub event: &'static str,
    /// Who is told (a follow-up).
    pub notify: &'static [Actor],
    pub timers: &'static [Timer],
}

impl<S, A> Transition<S, A> {
    /// The row as a note on another entity's timeline (a payment's move, noted on its
    /// order's).
    pub fn note(&self) -> Note {
        Note { event: self.event, notify: self.notify }
    }
}

/// How an entity begins: its first state and event, who is told, which timers start.
#[derive(Debug)]
pub struct Start<S: 'static> {
    pub state: S,
    pub event: &'static str,
    pub notify: &'static [Actor],
    pub timers: &'static [Timer],
}

impl<S> Start<S> {
    /// The start as a note on another entity's timeline (a refund's, noted on its order's).
    pub fn note(&self) -> Note {
        Note { event: self.event, notify: self.notify }
    }
}

/// Why a transition was refused; each maps to a problem code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such action from this state, for anyone.
    NotNow,
    /// The action exists from this state, but not for this actor.
    NotYours,
    /// The action's guard fails.
    Guard(Guard),
}

/// The transition `actor` may take with `action` from `from`.
pub fn step<S: Copy + PartialEq, A: Copy + PartialEq>(
    table: &'static [Transition<S, A>],
    from: S,
    action: A,
    actor: Actor,
    facts: &Facts,
) -> Result<&'static Transition<S, A>, Refusal> {
    let candidates: Vec<_> = table.iter().filter(|t| t.from == from && t.action == action).collect();
    if candidates.is_empty() {
        return Err(Refusal::NotNow);
    }
    let mine: Vec<_> = candidates.into_iter().filter(|t| t.by.contains(&actor)).collect();
    if mine.is_empty() {
        return Err(Refusal::NotYours);
    }
    let mut failed = None;
    for t in mine {
        match t.guard {
            Some(g) if !facts.holds(g, actor) => failed = Some(g),
            _ => return Ok(t),
        }
    }
    Err(Refusal::Guard(failed.expect("a candidate failed its guard")))
}

/// Every action `actor` may take now, in table order.
pub fn allowed<S: Copy + PartialEq, A: Copy + PartialEq>(
    table: &'static [Transition<S, A>],
    from: S,
    actor: Actor,
    facts: &Facts,
) -> Vec<A> {
    let mut actions = Vec::new();
    for t in table.iter().filter(|t| t.from == from && t.by.contains(&actor)) {
        if t.guard.is_none_or(|g| facts.holds(g, actor)) && !actions.contains(&t.action) {
            actions.push(t.action);
        }
    }
    actions
}

// ---- requests --------------------------------------------------------------------------

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

use Actor::*;

pub static REQUEST: &[Transition<RequestState, RequestAction>] = {
    use RequestAction as A;
    use RequestState as S;
    &[
        Transition {
            from: S::Pending,
            action: A::Answer,
            by: &[Seller],
            guard: None,
            to: S::Answered,
            event: "request_answered",
            notify: &[],
            timers: &[],
        },
        Transition {
            from: S::Pending,
            action: A::Decline,
            by: &[Seller],
            guard: None,
            to: S::Declined,
            event: "request_declined",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Pending,
            action: A::Withdraw,
            by: &[Buyer],
            guard: None,
            to: S::Withdrawn,
            event: "request_withdrawn",
            notify: &[Seller],
            timers: &[],
        },
        Transition {
            from: S::Pending,
            action: A::Expire,
            by: &[System],
            guard: Some(Guard::PastDeadline),
            to: S::Expired,
            event: "request_expired",
            notify: &[Buyer, Seller],
            timers: &[],
        },
    ]
};

/// How a request begins: pending, the seller told, its answer window running.
pub const REQUEST_START: Start<RequestState> = Start {
    state: RequestState::Pending,
    event: "request_sent",
    notify: &[Seller],
    timers: &[Timer::ExpireAtDeadline],
};

// ---- offers ----------------------------------------------------------------------------

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

pub static OFFER: &[Transition<OfferState, OfferAction>] = {
    use OfferAction as A;
    use OfferState as S;
    &[
        Transition {
            from: S::Sent,
            action: A::Accept,
            by: &[Buyer],
            guard: Some(Guard::BeforeDeadline),
            to: S::Accepted,
            event: "offer_accepted",
            notify: &[Seller],
            timers: &[],
        },
        Transition {
            from: S::Sent,
            action: A::Decline,
            by: &[Buyer],
            guard: None,
            to: S::Declined,
            event: "offer_declined",
            notify: &[Seller],
            timers: &[],
        },
        Transition {
            from: S::Sent,
            action: A::Withdraw,
            by: &[Seller],
            guard: None,
            to: S::Withdrawn,
            event: "offer_withdrawn",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Sent,
            action: A::Expire,
            by: &[System],
            guard: Some(Guard::PastDeadline),
            to: S::Expired,
            event: "offer_expired",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Accepted,
            action: A::Reopen,
            by: &[System],
            guard: Some(Guard::BeforeDeadline),
            to: S::Sent,
            event: "offer_reopened",
            notify: &[Buyer, Seller],
            timers: &[Timer::ExpireAtDeadline],
        },
        Transition {
            from: S::Accepted,
            action: A::Reopen,
            by: &[System],
            guard: Some(Guard::PastDeadline),
            to: S::Expired,
            event: "offer_expired",
            notify: &[Buyer, Seller],
            timers: &[],
        },
    ]
};

/// How an offer begins: sent, the buyer told, its expiry running.
pub const OFFER_START: Start<OfferState> =
    Start { state: OfferState::Sent, event: "offer_sent", notify: &[Buyer], timers: &[Timer::ExpireAtDeadline] };

// ---- orders ----------------------------------------------------------------------------

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
    /// Either party opens a dispute on a paid order not yet completed or cancelled.
    OpenDispute,
    /// Support resolves the dispute for the seller: the order is complete.
    ReleaseDisputed,
    /// Support resolves it for the buyer: cancelled, all that was paid refunded.
    RefundDisputed,
    /// Support splits it: part of the payment refunded, the order complete.
    PartlyRefundDisputed,
}

pub static ORDER: &[Transition<OrderState, OrderAction>] = {
    use OrderAction as A;
    use OrderState as S;
    &[
        Transition {
            from: S::AwaitingPayment,
            action: A::Pay,
            by: &[System],
            guard: None,
            to: S::InProgress,
            event: "order_paid",
            notify: &[Seller, Buyer],
            timers: &[Timer::LateAtDue, Timer::LateCancellationOpens],
        },
        Transition {
            from: S::AwaitingPayment,
            action: A::LapsePayment,
            by: &[System],
            guard: Some(Guard::PastDeadline),
            to: S::Cancelled,
            event: "payment_window_lapsed",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::AwaitingPayment,
            action: A::Cancel,
            by: &[Buyer, Seller],
            guard: None,
            to: S::Cancelled,
            event: "order_cancelled",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        // A late order whose current stage is undelivered, past the grace period: the
        // buyer alone cancels it, with a full refund.
        Transition {
            from: S::InProgress,
            action: A::Cancel,
            by: &[Buyer],
            guard: Some(Guard::RightOpen),
            to: S::Cancelled,
            event: "order_cancelled_late",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::InProgress,
            action: A::Deliver,
            by: &[Seller],
            guard: None,
            to: S::Delivered,
            event: "order_delivered",
            notify: &[Buyer],
            timers: &[Timer::AutoComplete],
        },
        Transition {
            from: S::Delivered,
            action: A::RequestRevision,
            by: &[Buyer],
            guard: Some(Guard::RevisionsLeft),
            to: S::InProgress,
            event: "revision_requested",
            notify: &[Seller],
            timers: &[],
        },
        // A stage is accepted: the next one is in progress, or the order is complete.
        Transition {
            from: S::Delivered,
            action: A::AcceptDelivery,
            by: &[Buyer],
            guard: Some(Guard::StagesLeft),
            to: S::InProgress,
            event: "stage_accepted",
            notify: &[Seller],
            timers: &[],
        },
        Transition {
            from: S::Delivered,
            action: A::AcceptDelivery,
            by: &[Buyer],
            guard: Some(Guard::LastStage),
            to: S::Completed,
            event: "order_completed",
            notify: &[Seller],
            timers: &[Timer::ReviewWindowCloses],
        },
        // The buyer's silence past the auto-complete window accepts the stage.
        Transition {
            from: S::Delivered,
            action: A::AutoComplete,
            by: &[System],
            guard: Some(Guard::PastDeadlineStagesLeft),
            to: S::InProgress,
            event: "stage_auto_accepted",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Delivered,
            action: A::AutoComplete,
            by: &[System],
            guard: Some(Guard::PastDeadlineLastStage),
            to: S::Completed,
            event: "order_auto_completed",
            notify: &[Buyer, Seller],
            timers: &[Timer::ReviewWindowCloses],
        },
        // Cancellation by agreement: one request open at a time, answered by the other
        // party or by their silence past the response window.
        Transition {
            from: S::InProgress,
            action: A::RequestCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::NoRequestOpen),
            to: S::InProgress,
            event: "cancellation_requested",
            notify: &[Buyer, Seller],
            timers: &[Timer::CancellationTimeout],
        },
        Transition {
            from: S::InProgress,
            action: A::AcceptCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::RequestOpenByOther),
            to: S::Cancelled,
            event: "cancellation_accepted",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::InProgress,
            action: A::DeclineCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::RequestOpenByOther),
            to: S::InProgress,
            event: "cancellation_declined",
            notify: &[Buyer, Seller],
            timers: &[Timer::AutoComplete],
        },
        Transition {
            from: S::InProgress,
            action: A::CancellationTimeout,
            by: &[System],
            guard: Some(Guard::RequestUnanswered),
            to: S::Cancelled,
            event: "cancellation_accepted_by_silence",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Delivered,
            action: A::RequestCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::NoRequestOpen),
            to: S::Delivered,
            event: "cancellation_requested",
            notify: &[Buyer, Seller],
            timers: &[Timer::CancellationTimeout],
        },
        Transition {
            from: S::Delivered,
            action: A::AcceptCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::RequestOpenByOther),
            to: S::Cancelled,
            event: "cancellation_accepted",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Delivered,
            action: A::DeclineCancellation,
            by: &[Buyer, Seller],
            guard: Some(Guard::RequestOpenByOther),
            to: S::Delivered,
            event: "cancellation_declined",
            notify: &[Buyer, Seller],
            timers: &[Timer::AutoComplete],
        },
        Transition {
            from: S::Delivered,
            action: A::CancellationTimeout,
            by: &[System],
            guard: Some(Guard::RequestUnanswered),
            to: S::Cancelled,
            event: "cancellation_accepted_by_silence",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        // A dispute freezes a paid order until support decides: from `disputed` only
        // support moves it, so no timer and no party action applies meanwhile.
        Transition {
            from: S::InProgress,
            action: A::OpenDispute,
            by: &[Buyer, Seller],
            guard: None,
            to: S::Disputed,
            event: "dispute_opened",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Delivered,
            action: A::OpenDispute,
            by: &[Buyer, Seller],
            guard: None,
            to: S::Disputed,
            event: "dispute_opened",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Disputed,
            action: A::ReleaseDisputed,
            by: &[Support],
            guard: None,
            to: S::Completed,
            event: "dispute_released",
            notify: &[Buyer, Seller],
            timers: &[Timer::ReviewWindowCloses],
        },
        Transition {
            from: S::Disputed,
            action: A::RefundDisputed,
            by: &[Support],
            guard: None,
            to: S::Cancelled,
            event: "dispute_refunded",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Disputed,
            action: A::PartlyRefundDisputed,
            by: &[Support],
            guard: None,
            to: S::Completed,
            event: "dispute_partly_refunded",
            notify: &[Buyer, Seller],
            timers: &[Timer::ReviewWindowCloses],
        },
        // Reviews, double-blind: the first is hidden (the other party is told one was
        // written, not what it says); the second publishes both; the window's end
        // publishes what there is.
        Transition {
            from: S::Completed,
            action: A::Review,
            by: &[Buyer],
            guard: Some(Guard::FirstReview),
            to: S::Completed,
            event: "review_written",
            notify: &[Seller],
            timers: &[],
        },
        Transition {
            from: S::Completed,
            action: A::Review,
            by: &[Seller],
            guard: Some(Guard::FirstReview),
            to: S::Completed,
            event: "review_written",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Completed,
            action: A::Review,
            by: &[Buyer, Seller],
            guard: Some(Guard::LastReview),
            to: S::Completed,
            event: "reviews_published",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Completed,
            action: A::Reply,
            by: &[Seller],
            guard: Some(Guard::ReplyOpen),
            to: S::Completed,
            event: "review_replied",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Completed,
            action: A::CloseReviews,
            by: &[System],
            guard: Some(Guard::ReviewsUnpublished),
            to: S::Completed,
            event: "review_window_closed",
            notify: &[Buyer, Seller],
            timers: &[],
        },
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

// ---- disputes --------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    Open,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DisputeAction {
    /// A party adds a statement (text and files) while it is open.
    AddStatement,
    /// Support records its decision (the order moves in the same transaction).
    Resolve,
    /// Support asks for the dispute's export packet (open or resolved).
    RequestExport,
    /// The builder finished a packet.
    RecordExport,
    /// The builder gave up on a packet after its retries.
    FailExport,
    /// Support is handed a download link to a built packet.
    HandOutExportLink,
}

pub static DISPUTE: &[Transition<DisputeState, DisputeAction>] = {
    use DisputeAction as A;
    use DisputeState as S;
    &[
        Transition {
            from: S::Open,
            action: A::AddStatement,
            by: &[Buyer, Seller],
            guard: None,
            to: S::Open,
            event: "statement_added",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Open,
            action: A::Resolve,
            by: &[Support],
            guard: None,
            to: S::Resolved,
            event: "dispute_resolved",
            notify: &[],
            timers: &[],
        },
        // The export packet's story, in either state: who asked, what was built or why
        // not, and every download link handed out.
        export_row(S::Open, A::RequestExport, &[Support], "export_requested"),
        export_row(S::Resolved, A::RequestExport, &[Support], "export_requested"),
        export_row(S::Open, A::RecordExport, &[System], "export_built"),
        export_row(S::Resolved, A::RecordExport, &[System], "export_built"),
        export_row(S::Open, A::FailExport, &[System], "export_failed"),
        export_row(S::Resolved, A::FailExport, &[System], "export_failed"),
        export_row(S::Open, A::HandOutExportLink, &[Support], "export_link_issued"),
        export_row(S::Resolved, A::HandOutExportLink, &[Support], "export_link_issued"),
    ]
};

/// A row that records an export's step on the dispute's timeline without moving it.
const fn export_row(
    state: DisputeState,
    action: DisputeAction,
    by: &'static [Actor],
    event: &'static str,
) -> Transition<DisputeState, DisputeAction> {
    Transition { from: state, action, by, guard: None, to: state, event, notify: &[], timers: &[] }
}

/// How a dispute begins: open, on its order's timeline too (which tells the parties).
pub const DISPUTE_START: Start<DisputeState> =
    Start { state: DisputeState::Open, event: "dispute_opened", notify: &[], timers: &[] };

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Written to the outbox; the follow-up asks the provider.
    Requested,
    /// The provider accepted it.
    Sent,
    /// The provider's `charge.refunded` covers it.
    Confirmed,
    /// The provider refused it for good; support must look.
    Failed,
    /// The provider has no refund API for this deployment (Zarinpal without a refund
    /// token): support pays it back by hand to the card the receipt names.
    Manual,
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
pub static PAYMENT: &[Transition<PaymentStatus, PaymentAction>] = {
    use PaymentAction as A;
    use PaymentStatus as S;
    &[
        Transition {
            from: S::Open,
            action: A::Succeed,
            by: &[System],
            guard: None,
            to: S::Succeeded,
            event: "order_paid",
            notify: &[],
            timers: &[],
        },
        Transition {
            from: S::Open,
            action: A::Fail,
            by: &[System],
            guard: None,
            to: S::Open,
            event: "payment_failed",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Open,
            action: A::Hold,
            by: &[System],
            guard: None,
            to: S::Held,
            event: "payment_held",
            notify: &[Buyer],
            timers: &[],
        },
        // Cancelled at the provider while its success was on the way.
        Transition {
            from: S::Canceled,
            action: A::Hold,
            by: &[System],
            guard: None,
            to: S::Held,
            event: "payment_held",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Open,
            action: A::Cancel,
            by: &[System],
            guard: None,
            to: S::Canceled,
            event: "payment_canceled",
            notify: &[],
            timers: &[],
        },
        Transition {
            from: S::Held,
            action: A::ReturnHeld,
            by: &[Support],
            guard: None,
            to: S::Refunded,
            event: "held_payment_refunded",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Held,
            action: A::ApplyHeld,
            by: &[Support],
            guard: None,
            to: S::Succeeded,
            event: "order_paid",
            notify: &[],
            timers: &[],
        },
    ]
};

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
pub static REFUND: &[Transition<RefundStatus, RefundAction>] = {
    use RefundAction as A;
    use RefundStatus as S;
    &[
        Transition {
            from: S::Requested,
            action: A::Send,
            by: &[System],
            guard: None,
            to: S::Sent,
            event: "refund_sent",
            notify: &[],
            timers: &[],
        },
        Transition {
            from: S::Requested,
            action: A::Refuse,
            by: &[System],
            guard: None,
            to: S::Requested,
            event: "refund_refused",
            notify: &[],
            timers: &[],
        },
        Transition {
            from: S::Requested,
            action: A::GiveUp,
            by: &[System],
            guard: None,
            to: S::Failed,
            event: "refund_failed",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Requested,
            action: A::Confirm,
            by: &[System],
            guard: None,
            to: S::Confirmed,
            event: "refund_confirmed",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Requested,
            action: A::PayByHand,
            by: &[System],
            guard: None,
            to: S::Manual,
            event: "refund_manual",
            notify: &[Buyer],
            timers: &[],
        },
        Transition {
            from: S::Sent,
            action: A::Confirm,
            by: &[System],
            guard: None,
            to: S::Confirmed,
            event: "refund_confirmed",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Manual,
            action: A::PaidByHand,
            by: &[Support],
            guard: None,
            to: S::Confirmed,
            event: "refund_paid_by_hand",
            notify: &[Buyer, Seller],
            timers: &[],
        },
        Transition {
            from: S::Failed,
            action: A::PaidByHand,
            by: &[Support],
            guard: None,
            to: S::Confirmed,
            event: "refund_paid_by_hand",
            notify: &[Buyer, Seller],
            timers: &[],
        },
    ]
};

/// A fact recorded on an entity's timeline that moves no state: its event name and who
/// is told. Every note an entity's timeline can hold is one of these constants.
#[derive(Debug)]
pub struct Note {
    pub event: &'static str,
    pub notify: &'static [Actor],
}

/// An order in progress passed its due time undelivered: its `late` flag is raised.
pub const ORDER_LATE: Note = Note { event: "order_late", notify: &[Buyer, Seller] };

/// The grace period after a late order's due time is over: its buyer may cancel it.
pub const LATE_CANCELLATION_AVAILABLE: Note = Note { event: "late_cancellation_available", notify: &[Buyer] };

/// The provider's running total of refunds moved: the refunds it covers are confirmed
/// (the `Confirm` rows of [`REFUND`]), or none, when only the total moved.
pub const REFUNDS_CONFIRMED: Note = Note { event: "refund_confirmed", notify: &[Buyer, Seller] };

// ---- uploads -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Declared and presigned; the object is not yet checked (or not yet uploaded).
    Pending,
    Ready,
    Rejected,
}

/// What the checker decides on a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadAction {
    /// Its real size and type are within what was declared and allowed.
    Accept,
    Reject,
}

/// An upload is decided once, by the checker (`System`); a decided upload never moves.
/// Uploads keep no timeline; the events name the decision in logs.
pub static UPLOAD: &[Transition<UploadStatus, UploadAction>] = &[
    Transition {
        from: UploadStatus::Pending,
        action: UploadAction::Accept,
        by: &[System],
        guard: None,
        to: UploadStatus::Ready,
        event: "upload_ready",
        notify: &[],
        timers: &[],
    },
    Transition {
        from: UploadStatus::Pending,
        action: UploadAction::Reject,
        by: &[System],
        guard: None,
        to: UploadStatus::Rejected,
        event: "upload_rejected",
        notify: &[],
        timers: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn facts(deadline_in: i64) -> Facts {
        let now = Utc::now();
        Facts {
            now,
            deadline: Some(now + Duration::seconds(deadline_in)),
            revisions_used: 0,
            revisions_included: 1,
            stages_left: 0,
            right_opens_at: None,
            request: None,
            reviews: ReviewFacts::default(),
        }
    }

    #[test]
    fn a_timer_is_named_by_its_subject() {
        for timer in Timer::ALL {
            let subject = timer.subject("order/01X");
            let suffix = subject.strip_prefix("order/01X").and_then(|s| s.strip_prefix('/'));
            assert_eq!(Timer::named(suffix), Some(timer), "{subject}");
        }
        assert_eq!(Timer::named(Some("soon")), None);
    }

    #[test]
    fn a_decided_upload_never_moves() {
        let now = Facts::at(Utc::now());
        for decided in [UploadStatus::Ready, UploadStatus::Rejected] {
            for action in [UploadAction::Accept, UploadAction::Reject] {
                assert_eq!(step(UPLOAD, decided, action, System, &now).err(), Some(Refusal::NotNow));
            }
        }
        assert_eq!(
            step(UPLOAD, UploadStatus::Pending, UploadAction::Accept, Buyer, &now).err(),
            Some(Refusal::NotYours)
        );
        assert_eq!(
            step(UPLOAD, UploadStatus::Pending, UploadAction::Reject, System, &now).unwrap().to,
            UploadStatus::Rejected
        );
    }

    #[test]
    fn decided_money_never_moves_again() {
        use PaymentAction as P;
        use RefundAction as R;
        let now = Facts::at(Utc::now());
        let payment_actions = [P::Succeed, P::Fail, P::Hold, P::Cancel, P::ReturnHeld, P::ApplyHeld];
        for decided in [PaymentStatus::Succeeded, PaymentStatus::Refunded] {
            for action in payment_actions {
                for actor in [Buyer, Seller, Support, System] {
                    assert!(step(PAYMENT, decided, action, actor, &now).is_err(), "{decided:?} {action:?} {actor:?}");
                }
            }
        }
        for done in [RefundStatus::Confirmed, RefundStatus::Failed, RefundStatus::Manual] {
            for action in [R::Send, R::Refuse, R::GiveUp, R::Confirm, R::PayByHand, R::PaidByHand] {
                assert!(step(REFUND, done, action, System, &now).is_err(), "{done:?} {action:?}");
            }
        }
        // What the provider could not refund, support pays back by hand, once; nobody else.
        for parked in [RefundStatus::Failed, RefundStatus::Manual] {
            assert_eq!(step(REFUND, parked, R::PaidByHand, Support, &now).unwrap().to, RefundStatus::Confirmed);
            for actor in [Buyer, Seller, System] {
                assert!(step(REFUND, parked, R::PaidByHand, actor, &now).is_err(), "{parked:?} {actor:?}");
            }
        }
        for moving in [RefundStatus::Requested, RefundStatus::Sent, RefundStatus::Confirmed] {
            assert!(step(REFUND, moving, R::PaidByHand, Support, &now).is_err(), "{moving:?}");
        }
        // Only support decides a held payment; the provider's events never do.
        assert_eq!(step(PAYMENT, PaymentStatus::Held, P::ApplyHeld, System, &now).err(), Some(Refusal::NotYours));
        assert_eq!(
            step(PAYMENT, PaymentStatus::Held, P::ReturnHeld, Support, &now).unwrap().to,
            PaymentStatus::Refunded
        );
        // A refused refund stays requested, to be asked again.
        assert_eq!(step(REFUND, RefundStatus::Requested, R::Refuse, System, &now).unwrap().to, RefundStatus::Requested);
    }

    #[test]
    fn an_offer_is_accepted_by_its_buyer_before_its_deadline_only() {
        let live = facts(60);
        assert_eq!(step(OFFER, OfferState::Sent, OfferAction::Accept, Buyer, &live).unwrap().to, OfferState::Accepted);
        assert_eq!(step(OFFER, OfferState::Sent, OfferAction::Accept, Seller, &live).unwrap_err(), Refusal::NotYours);
        assert_eq!(
            step(OFFER, OfferState::Sent, OfferAction::Accept, Buyer, &facts(-1)).unwrap_err(),
            Refusal::Guard(Guard::BeforeDeadline)
        );
        assert_eq!(step(OFFER, OfferState::Withdrawn, OfferAction::Accept, Buyer, &live).unwrap_err(), Refusal::NotNow);
    }

    #[test]
    fn the_timer_expires_only_past_the_deadline() {
        assert!(step(OFFER, OfferState::Sent, OfferAction::Expire, System, &facts(60)).is_err());
        assert_eq!(
            step(OFFER, OfferState::Sent, OfferAction::Expire, System, &facts(0)).unwrap().to,
            OfferState::Expired
        );
        assert_eq!(
            step(REQUEST, RequestState::Pending, RequestAction::Expire, System, &facts(-5)).unwrap().to,
            RequestState::Expired
        );
        // A timer that fires after the state moved on is refused, and so dies.
        assert_eq!(
            step(OFFER, OfferState::Accepted, OfferAction::Expire, System, &facts(-5)).unwrap_err(),
            Refusal::NotNow
        );
    }

    #[test]
    fn a_lapsed_payment_reopens_the_offer_unless_it_expired_meanwhile() {
        assert_eq!(
            step(OFFER, OfferState::Accepted, OfferAction::Reopen, System, &facts(60)).unwrap().to,
            OfferState::Sent
        );
        assert_eq!(
            step(OFFER, OfferState::Accepted, OfferAction::Reopen, System, &facts(-1)).unwrap().to,
            OfferState::Expired
        );
    }

    #[test]
    fn allowed_actions_follow_the_table() {
        assert_eq!(
            allowed(OFFER, OfferState::Sent, Buyer, &facts(60)),
            vec![OfferAction::Accept, OfferAction::Decline]
        );
        assert_eq!(allowed(OFFER, OfferState::Sent, Buyer, &facts(-1)), vec![OfferAction::Decline]);
        assert_eq!(allowed(OFFER, OfferState::Sent, Seller, &facts(60)), vec![OfferAction::Withdraw]);
        assert!(allowed(OFFER, OfferState::Accepted, Buyer, &facts(60)).is_empty());
        assert_eq!(
            allowed(REQUEST, RequestState::Pending, Seller, &facts(60)),
            vec![RequestAction::Answer, RequestAction::Decline]
        );
        assert_eq!(allowed(ORDER, OrderState::AwaitingPayment, Buyer, &facts(60)), vec![OrderAction::Cancel]);
        let mut no_revisions = facts(60);
        no_revisions.revisions_included = 0;
        assert_eq!(
            allowed(ORDER, OrderState::Delivered, Buyer, &no_revisions),
            vec![OrderAction::AcceptDelivery, OrderAction::RequestCancellation, OrderAction::OpenDispute]
        );
        // An open cancellation request is answered by the other party only, and no
        // second one is opened meanwhile.
        let mut asked = facts(60);
        asked.request = Some((Seller, asked.now + Duration::hours(48)));
        assert_eq!(
            allowed(ORDER, OrderState::InProgress, Buyer, &asked),
            vec![OrderAction::AcceptCancellation, OrderAction::DeclineCancellation, OrderAction::OpenDispute]
        );
        assert!(
            allowed(ORDER, OrderState::InProgress, Seller, &asked).iter().all(|a| [
                OrderAction::Deliver,
                OrderAction::OpenDispute
            ]
            .contains(a))
        );
        assert_eq!(allowed(ORDER, OrderState::InProgress, System, &asked), vec![]);
        asked.now += Duration::hours(48);
        assert_eq!(allowed(ORDER, OrderState::InProgress, System, &asked), vec![OrderAction::CancellationTimeout]);
    }

    #[test]
    fn work_cannot_start_before_payment() {
        for action in
            [OrderAction::Deliver, OrderAction::RequestRevision, OrderAction::AcceptDelivery, OrderAction::AutoComplete]
        {
            for actor in [Buyer, Seller, Support, System] {
                assert!(
                    step(ORDER, OrderState::AwaitingPayment, action, actor, &facts(60)).is_err(),
                    "{action:?} by {actor:?}"
                );
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for s in [OfferState::Declined, OfferState::Withdrawn, OfferState::Expired] {
            assert!(OFFER.iter().all(|t| t.from != s));
        }
        for s in [RequestState::Answered, RequestState::Declined, RequestState::Withdrawn, RequestState::Expired] {
            assert!(REQUEST.iter().all(|t| t.from != s));
        }
        assert!(ORDER.iter().all(|t| t.from != OrderState::Cancelled));
        // A completed order stays completed: only its reviews move on.
        assert!(ORDER.iter().filter(|t| t.from == OrderState::Completed).all(|t| t.to == OrderState::Completed));
    }

    #[test]
    fn reviews_are_double_blind_once_each_within_the_window() {
        use OrderAction::{CloseReviews, Reply, Review};
        let open = facts(60);
        let event = |actor, f: &Facts| step(ORDER, OrderState::Completed, Review, actor, f).map(|t| t.event);
        // The first review (either side's) is hidden; the other party is told.
        assert_eq!(event(Buyer, &open), Ok("review_written"));
        assert_eq!(event(Seller, &open), Ok("review_written"));
        let row = step(ORDER, OrderState::Completed, Review, Buyer, &open).unwrap();
        assert_eq!(row.notify, &[Seller]);
        // The second publishes both.
        let mut buyer_wrote = open;
        buyer_wrote.reviews.by_buyer = true;
        assert_eq!(event(Seller, &buyer_wrote), Ok("reviews_published"));
        assert!(event(Buyer, &buyer_wrote).is_err(), "once each");
        assert_eq!(
            allowed(ORDER, OrderState::Completed, Buyer, &buyer_wrote),
            vec![],
            "nothing left for the buyer until the seller writes"
        );
        assert_eq!(allowed(ORDER, OrderState::Completed, Seller, &buyer_wrote), vec![Review]);
        // The reply: the seller's, once, only once the buyer's review is published.
        assert!(step(ORDER, OrderState::Completed, Reply, Seller, &buyer_wrote).is_err());
        let mut published = buyer_wrote;
        published.reviews.by_seller = true;
        published.reviews.published = true;
        assert_eq!(allowed(ORDER, OrderState::Completed, Seller, &published), vec![Reply]);
        assert_eq!(step(ORDER, OrderState::Completed, Reply, Buyer, &published).err(), Some(Refusal::NotYours));
        let mut replied = published;
        replied.reviews.replied = true;
        assert!(allowed(ORDER, OrderState::Completed, Seller, &replied).is_empty());
        // Past the window no one reviews; the timer publishes what there is, once.
        let closed = Facts { reviews: buyer_wrote.reviews, ..facts(-1) };
        assert!(event(Seller, &closed).is_err());
        assert_eq!(
            step(ORDER, OrderState::Completed, CloseReviews, System, &closed).map(|t| t.event),
            Ok("review_window_closed")
        );
        assert!(step(ORDER, OrderState::Completed, CloseReviews, System, &facts(-1)).is_ok(), "even with none");
        assert!(step(ORDER, OrderState::Completed, CloseReviews, System, &open).is_err(), "not before its end");
        let closed_published = Facts { reviews: published.reviews, ..facts(-1) };
        assert!(step(ORDER, OrderState::Completed, CloseReviews, System, &closed_published).is_err());
        // Reviews only on a completed order.
        for state in [OrderState::InProgress, OrderState::Delivered, OrderState::Cancelled] {
            assert_eq!(step(ORDER, state, Review, Buyer, &open).err(), Some(Refusal::NotNow), "{state:?}");
        }
    }

    const OFFER_ACTIONS: [OfferAction; 5] =
        [OfferAction::Accept, OfferAction::Decline, OfferAction::Withdraw, OfferAction::Expire, OfferAction::Reopen];
    const ACTORS: [Actor; 4] = [Buyer, Seller, Support, System];

    proptest! {
        /// Any sequence of attempts by anyone, at any time, only ever moves along a row of
        /// the table taken by an actor that row names, with its guard holding.
        #[test]
        fn random_attempts_only_follow_the_table(
            attempts in proptest::collection::vec((0usize..5, 0usize..4, -100i64..100), 0..40)
        ) {
            let mut state = OfferState::Sent;
            for (a, who, deadline_in) in attempts {
                let (action, actor, f) = (OFFER_ACTIONS[a], ACTORS[who], facts(deadline_in));
                match step(OFFER, state, action, actor, &f) {
                    Ok(t) => {
                        prop_assert!(t.from == state && t.action == action && t.by.contains(&actor));
                        prop_assert!(t.guard.is_none_or(|g| f.holds(g, actor)));
                        state = t.to;
                    }
                    Err(_) => {
                        let permitted = OFFER.iter().any(|t| t.from == state && t.action == action && t.by.contains(&actor) && t.guard.is_none_or(|g| f.holds(g, actor)));
                        prop_assert!(!permitted, "{action:?} by {actor:?} from {state:?} was refused but the table allows it");
                    }
                }
            }
        }

        /// Support never moves an offer or request (support acts through disputes).
        #[test]
        fn support_cannot_decide_offers(a in 0usize..5, deadline_in in -100i64..100) {
            for state in [OfferState::Sent, OfferState::Accepted] {
                prop_assert!(step(OFFER, state, OFFER_ACTIONS[a], Support, &facts(deadline_in)).is_err());
            }
        }
    }
}
