//! The lifecycles of requests, offers, orders, disputes, payments, refunds, withdrawals
//! and uploads, each as one transition table in a file of its own: state × action × actor
//! → guard → next state, the timeline event, who is told, and which timer starts. Notes
//! (facts that move no state) are declared beside them, so every timeline event name is
//! in this folder.
//! This file is the engine: the table's types, `step` (may this actor take this action
//! now?) and `allowed` (what may this caller do now?). Flows ask it and never encode a
//! transition themselves. `diagram` draws a table; `docs/lifecycles.md` is every table
//! drawn, and a test keeps it so.

use chrono::{DateTime, Utc};
use std::fmt::Debug;

use serde::{Deserialize, Serialize};

mod dispute;
mod offer;
mod order;
mod payment;
mod refund;
mod request;
mod upload;
mod withdrawal;

pub use dispute::*;
pub use offer::*;
pub use order::*;
pub use payment::*;
pub use refund::*;
pub use request::*;
pub use upload::*;
pub use withdrawal::*;

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
    /// A request (a dispute's settlement) is open, made by the one acting.
    RequestOpenByActor,
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
    /// The actor is the party who opened it (a dispute is withdrawn by its opener alone).
    Opener,
    /// A disputed order whose dispute is withdrawn goes back to the work in progress.
    ResumesInProgress,
    /// A disputed order whose dispute is withdrawn goes back to its delivered stage.
    ResumesDelivered,
    /// A disputed order whose dispute is withdrawn is complete again (it was disputed
    /// after completion).
    ResumesCompleted,
    /// A completed order is still within the window after completion in which it may be
    /// disputed.
    DisputeWindowOpen,
    /// No amendment is proposed on the order.
    NoAmendmentOpen,
    /// An amendment is proposed, by the other party than the one acting, and its answer
    /// window is open (it may be declined).
    AmendmentOpenByOther,
    /// As `AmendmentOpenByOther`, and it adds no money: accepting it makes it take effect.
    FreeAmendmentOpenByOther,
    /// As `AmendmentOpenByOther`, and it adds money (a paid stage): accepting it waits for
    /// the buyer's payment of the difference.
    PaidAmendmentOpenByOther,
    /// An amendment is proposed by the one acting, and not yet accepted.
    AmendmentOpenByActor,
    /// An amendment is open (proposed, or accepted and awaiting its payment) and its
    /// window has passed.
    AmendmentExpired,
    /// An accepted amendment awaits its payment.
    AmendmentAwaitingPayment,
    /// The completed order has no tip yet.
    NoTip,
    /// The buyer's tip awaits its payment.
    TipAwaitingPayment,
}

/// The open amendment of an order, as its guards see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmendmentFacts {
    /// Who proposed it.
    pub by: Actor,
    /// Until when it may be answered (or, accepted, paid).
    pub until: DateTime<Utc>,
    /// It adds money: it takes effect only once the difference is paid.
    pub adds_money: bool,
    /// It was accepted and waits for that payment.
    pub accepted: bool,
}

/// An order's tip, as its guards see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipFacts {
    AwaitingPayment,
    Paid,
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
    /// The party who opened it (disputes).
    pub opener: Option<Actor>,
    /// The state a disputed order goes back to if its dispute is withdrawn (orders).
    pub resumes: Option<OrderState>,
    /// Until when a completed order may be disputed (orders).
    pub disputable_until: Option<DateTime<Utc>>,
    /// An open amendment (orders).
    pub amendment: Option<AmendmentFacts>,
    /// The buyer's tip, once offered (orders).
    pub tip: Option<TipFacts>,
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
            opener: None,
            resumes: None,
            disputable_until: None,
            amendment: None,
            tip: None,
        }
    }

    /// The open amendment `actor` may answer: the other party's, proposed and not yet
    /// accepted, its window open.
    fn answerable_by(&self, actor: Actor) -> Option<AmendmentFacts> {
        self.amendment.filter(|a| a.by != actor && !a.accepted && self.now < a.until)
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
            Guard::RequestOpenByActor => self.request.is_some_and(|(by, _)| by == actor),
            Guard::RequestUnanswered => self.request.is_some_and(|(_, until)| self.now >= until),
            Guard::FirstReview => {
                !past_deadline && !self.reviews.written_by(actor) && !self.reviews.written_by_other(actor)
            }
            Guard::LastReview => {
                !past_deadline && !self.reviews.written_by(actor) && self.reviews.written_by_other(actor)
            }
            Guard::ReplyOpen => self.reviews.published && self.reviews.by_buyer && !self.reviews.replied,
            Guard::ReviewsUnpublished => past_deadline && !self.reviews.published,
            Guard::Opener => self.opener == Some(actor),
            Guard::ResumesInProgress => self.resumes == Some(OrderState::InProgress),
            Guard::ResumesDelivered => self.resumes == Some(OrderState::Delivered),
            Guard::ResumesCompleted => self.resumes == Some(OrderState::Completed),
            Guard::DisputeWindowOpen => self.disputable_until.is_some_and(|until| self.now < until),
            Guard::NoAmendmentOpen => self.amendment.is_none(),
            Guard::AmendmentOpenByOther => self.answerable_by(actor).is_some(),
            Guard::FreeAmendmentOpenByOther => self.answerable_by(actor).is_some_and(|a| !a.adds_money),
            Guard::PaidAmendmentOpenByOther => self.answerable_by(actor).is_some_and(|a| a.adds_money),
            Guard::AmendmentOpenByActor => self.amendment.is_some_and(|a| a.by == actor && !a.accepted),
            Guard::AmendmentExpired => self.amendment.is_some_and(|a| self.now >= a.until),
            Guard::AmendmentAwaitingPayment => self.amendment.is_some_and(|a| a.accepted),
            Guard::NoTip => self.tip.is_none(),
            Guard::TipAwaitingPayment => self.tip == Some(TipFacts::AwaitingPayment),
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
    /// A dispute's response window closes: if the other party has not answered, support
    /// is told and the dispute is marked unanswered.
    ResponseDue,
    /// A proposed amendment's answer window closes: unanswered, it expires.
    AmendmentExpires,
}

impl Timer {
    const ALL: [Timer; 8] = [
        Timer::ExpireAtDeadline,
        Timer::LateAtDue,
        Timer::LateCancellationOpens,
        Timer::AutoComplete,
        Timer::CancellationTimeout,
        Timer::ReviewWindowCloses,
        Timer::ResponseDue,
        Timer::AmendmentExpires,
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
            Timer::ResponseDue => Some("response"),
            Timer::AmendmentExpires => Some("amendment"),
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

/// One row of a table, its columns in the order the tables read.
#[allow(clippy::too_many_arguments)]
const fn row<S, A>(
    from: S,
    action: A,
    by: &'static [Actor],
    guard: Option<Guard>,
    to: S,
    event: &'static str,
    notify: &'static [Actor],
    timers: &'static [Timer],
) -> Transition<S, A> {
    Transition { from, action, by, guard, to, event, notify, timers }
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

/// A fact recorded on an entity's timeline that moves no state: its event name and who
/// is told. Every note an entity's timeline can hold is one of these constants.
#[derive(Debug)]
pub struct Note {
    pub event: &'static str,
    pub notify: &'static [Actor],
}

/// A name as the documents write it: `AwaitingPayment` → `awaiting_payment`.
pub(crate) fn snake(name: impl Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{name:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn names<T: Debug>(items: &[T]) -> String {
    items.iter().map(snake).collect::<Vec<_>>().join(", ")
}

/// A table drawn for people: a Mermaid state diagram (from `start`, every row an edge
/// labelled with its action, who takes it and its guard; states no row leaves end), and
/// the rows as a Markdown table.
pub fn diagram<S: Copy + PartialEq + Debug, A: Debug>(table: &[Transition<S, A>], start: (S, &str)) -> String {
    let mut states = vec![start.0];
    for t in table {
        for s in [t.from, t.to] {
            if !states.contains(&s) {
                states.push(s);
            }
        }
    }
    let mut out = String::from("```mermaid\nstateDiagram-v2\n");
    out += &format!("    [*] --> {}: {}\n", snake(start.0), start.1);
    for t in table {
        let guard = t.guard.map(|g| format!(" if {}", snake(g))).unwrap_or_default();
        out += &format!("    {} --> {}: {} ({}){guard}\n", snake(t.from), snake(t.to), snake(&t.action), names(t.by));
    }
    for s in states.iter().filter(|s| table.iter().all(|t| t.from != **s)) {
        out += &format!("    {} --> [*]\n", snake(*s));
    }
    out += "```\n\n| from | action | by | guard | to | event | told | timers |\n|---|---|---|---|---|---|---|---|\n";
    for t in table {
        out += &format!(
            "| {} | {} | {} | {} | {} | `{}` | {} | {} |\n",
            snake(t.from),
            snake(&t.action),
            names(t.by),
            t.guard.map(snake).unwrap_or_default(),
            snake(t.to),
            t.event,
            names(t.notify),
            names(t.timers),
        );
    }
    out
}

/// `docs/lifecycles.md`: every table drawn, in the order a custom project lives them.
pub fn document() -> String {
    let sections = [
        ("Requests", "A buyer's request to a seller.", diagram(REQUEST, (REQUEST_START.state, REQUEST_START.event))),
        (
            "Offers",
            "The sealed contract a seller sends a buyer.",
            diagram(OFFER, (OFFER_START.state, OFFER_START.event)),
        ),
        (
            "Orders",
            "What accepting an offer places; work starts once it is paid.",
            diagram(ORDER, (ORDER_START.state, ORDER_START.event)),
        ),
        (
            "Disputes",
            "A case for support, decided only from the contract.",
            diagram(DISPUTE, (DISPUTE_START.state, DISPUTE_START.event)),
        ),
        (
            "Payments",
            "One per payment the provider opened for an order; the events are the order's timeline's.",
            diagram(PAYMENT, (PaymentStatus::Open, "opened")),
        ),
        (
            "Refunds",
            "Requested in the transaction that decides them, answered by the provider.",
            diagram(REFUND, (REFUND_START.state, REFUND_START.event)),
        ),
        (
            "Withdrawals",
            "A seller's available earnings on their way to their bank account, decided once by support.",
            diagram(WITHDRAWAL, (WITHDRAWAL_START.state, WITHDRAWAL_START.event)),
        ),
        (
            "Uploads",
            "Decided once by the checker, from the stored object's real content.",
            diagram(UPLOAD, (UploadStatus::Pending, "declared")),
        ),
    ];
    let mut out = String::from(
        "# Lifecycles\n\n\
         Generated from the transition tables in `rules/src/lifecycle/` by `lifecycle::document`:\n\
         `cargo test -p peyman-rules` fails when this file differs from them, and `make docs`\n\
         writes it again. Each edge is a row: the action, who may take it, and the guard that\n\
         must hold. The timeline event each row records, who is told and which timers start are\n\
         in the table under each diagram. Notes that move no state (`order_late`,\n\
         `late_cancellation_available`, `refund_confirmed` for a provider's running total) are\n\
         declared beside the tables.\n",
    );
    for (title, about, drawn) in sections {
        out += &format!("\n## {title}\n\n{about}\n\n{drawn}");
    }
    out
}

#[cfg(test)]
mod tests;
