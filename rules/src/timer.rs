//! What a fired timer is for and what it may do, decided without I/O: its subject names
//! the entity and the timer (`offer/{id}`, `request/{id}`, `order/{id}` with a suffix per
//! timer beyond its deadline, `refund/{intent}/{refund}`), and the entity's table says
//! whether its action fires now, waits for a later sweep, or is dropped because the
//! entity moved on. The sweeper (`flows::timers`) loads, asks, commits.

use crate::lifecycle::{self, Actor, Facts, Refusal, Timer, Transition};

/// What a timer's subject names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// An offer's expiry.
    Offer(&'a str),
    /// A request's answer window.
    Request(&'a str),
    /// One of an order's timers.
    Order(&'a str, Timer),
    /// A dispute's response window.
    Dispute(&'a str),
    /// A refund's next call to the provider.
    Refund { intent_id: &'a str, refund_id: &'a str },
    /// The clearance of what an order's event `seq` released to its seller.
    Clearance { order_id: &'a str, seq: u64 },
    /// Nothing we know (a timer of an older release, a stray item): dropped.
    Unknown,
}

/// The subject of the clearance timer of what an order's event `seq` released.
pub fn clearance_timer(order_id: &str, seq: u64) -> String {
    format!("clearance/{order_id}/{seq}")
}

/// What `subject` names.
pub fn target(subject: &str) -> Target<'_> {
    let mut parts = subject.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("offer"), Some(id), None) => Target::Offer(id),
        (Some("request"), Some(id), None) => Target::Request(id),
        (Some("order"), Some(id), suffix) => match Timer::named(suffix) {
            Some(Timer::ResponseDue) | None => Target::Unknown,
            Some(timer) => Target::Order(id, timer),
        },
        (Some("dispute"), Some(id), Some("response")) => Target::Dispute(id),
        (Some("refund"), Some(intent_id), Some(refund_id)) => Target::Refund { intent_id, refund_id },
        (Some("clearance"), Some(order_id), Some(seq)) => match seq.parse() {
            Ok(seq) => Target::Clearance { order_id, seq },
            Err(_) => Target::Unknown,
        },
        _ => Target::Unknown,
    }
}

/// What a fired timer does to its entity now.
#[derive(Debug)]
pub enum Verdict<S: 'static, A: 'static> {
    /// The action's row, taken by the system.
    Fire(&'static Transition<S, A>),
    /// Not due yet (a clock ahead of the deadline): the timer stays for a later sweep.
    Keep,
    /// The entity moved on (accepted, declined, paid…): the timer goes.
    Drop,
}

/// What a timer's `action` does to an entity in `state` with `facts`.
pub fn verdict<S: Copy + PartialEq, A: Copy + PartialEq>(
    table: &'static [Transition<S, A>],
    state: S,
    action: A,
    facts: &Facts,
) -> Verdict<S, A> {
    match lifecycle::step(table, state, action, Actor::System, facts) {
        Ok(row) => Verdict::Fire(row),
        Err(Refusal::Guard(_)) => Verdict::Keep,
        Err(Refusal::NotNow | Refusal::NotYours) => Verdict::Drop,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::lifecycle::{OFFER, OfferAction, OfferState};
    use crate::payment::refund_timer;

    #[test]
    fn a_subject_names_what_its_timer_is_for() {
        assert_eq!(target("offer/01A"), Target::Offer("01A"));
        assert_eq!(target("request/01R"), Target::Request("01R"));
        for timer in [Timer::ExpireAtDeadline, Timer::AutoComplete, Timer::ReviewWindowCloses, Timer::LateAtDue] {
            assert_eq!(target(&timer.subject("order/01O")), Target::Order("01O", timer), "{timer:?}");
        }
        let refund = refund_timer("pi_1", "cancellation");
        assert_eq!(target(&refund), Target::Refund { intent_id: "pi_1", refund_id: "cancellation" });
        assert_eq!(target(&clearance_timer("01O", 7)), Target::Clearance { order_id: "01O", seq: 7 });
        assert_eq!(target(&Timer::ResponseDue.subject("dispute/01D")), Target::Dispute("01D"));
        for stray in [
            "dispute/01D",
            "dispute/01D/late",
            "order/01O/soon",
            "offer/01A/late",
            "gig/01G",
            "refund/pi_1",
            "",
            "test/run/1",
            "clearance/01O/x",
        ] {
            assert_eq!(target(stray), Target::Unknown, "{stray}");
        }
    }

    #[test]
    fn a_timer_fires_when_due_waits_when_early_and_goes_when_its_entity_moved_on() {
        let now = Utc::now();
        let facts = |deadline: chrono::DateTime<Utc>| Facts { deadline: Some(deadline), ..Facts::at(now) };
        let due = verdict(OFFER, OfferState::Sent, OfferAction::Expire, &facts(now - Duration::seconds(1)));
        assert!(matches!(due, Verdict::Fire(row) if row.to == OfferState::Expired));
        let early = verdict(OFFER, OfferState::Sent, OfferAction::Expire, &facts(now + Duration::minutes(1)));
        assert!(matches!(early, Verdict::Keep), "{early:?}");
        let moved_on = verdict(OFFER, OfferState::Accepted, OfferAction::Expire, &facts(now - Duration::seconds(1)));
        assert!(matches!(moved_on, Verdict::Drop), "{moved_on:?}");
    }
}
