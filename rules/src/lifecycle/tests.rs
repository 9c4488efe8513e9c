//! The tables' rules, checked row by row through the engine.

use super::*;
use Actor::*;
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
        reviews: ReviewFacts::default(),
        ..Facts::at(now)
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
    assert_eq!(step(UPLOAD, UploadStatus::Pending, UploadAction::Accept, Buyer, &now).err(), Some(Refusal::NotYours));
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
    for done in [RefundStatus::Failed, RefundStatus::Manual] {
        for action in [R::Send, R::Refuse, R::GiveUp, R::Confirm, R::PayByHand, R::PaidByHand, R::Bounce] {
            assert!(step(REFUND, done, action, System, &now).is_err(), "{done:?} {action:?}");
        }
    }
    // A confirmed refund moves only on the provider's word that it failed at the bank
    // afterwards: asked again, or failed for support.
    for action in [R::Send, R::Refuse, R::Confirm, R::PayByHand, R::PaidByHand] {
        assert!(step(REFUND, RefundStatus::Confirmed, action, System, &now).is_err(), "confirmed {action:?}");
    }
    for (action, to) in [(R::Bounce, RefundStatus::Requested), (R::GiveUp, RefundStatus::Failed)] {
        for taken in [RefundStatus::Sent, RefundStatus::Confirmed] {
            assert_eq!(step(REFUND, taken, action, System, &now).unwrap().to, to, "{taken:?} {action:?}");
        }
        assert!(step(REFUND, RefundStatus::Requested, R::Bounce, System, &now).is_err(), "not taken yet");
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
    assert_eq!(step(PAYMENT, PaymentStatus::Held, P::ReturnHeld, Support, &now).unwrap().to, PaymentStatus::Refunded);
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
    assert_eq!(step(OFFER, OfferState::Sent, OfferAction::Expire, System, &facts(0)).unwrap().to, OfferState::Expired);
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
    assert_eq!(allowed(OFFER, OfferState::Sent, Buyer, &facts(60)), vec![OfferAction::Accept, OfferAction::Decline]);
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
        vec![
            OrderAction::AcceptDelivery,
            OrderAction::RequestCancellation,
            OrderAction::ProposeAmendment,
            OrderAction::OpenDispute
        ]
    );
    // An open cancellation request is answered by the other party only, and no
    // second one is opened meanwhile.
    let mut asked = facts(60);
    asked.request = Some((Seller, asked.now + Duration::hours(48)));
    assert_eq!(
        allowed(ORDER, OrderState::InProgress, Buyer, &asked),
        vec![
            OrderAction::AcceptCancellation,
            OrderAction::DeclineCancellation,
            OrderAction::ProposeAmendment,
            OrderAction::OpenDispute
        ]
    );
    assert!(
        allowed(ORDER, OrderState::InProgress, Seller, &asked).iter().all(|a| [
            OrderAction::Deliver,
            OrderAction::ProposeAmendment,
            OrderAction::OpenDispute
        ]
        .contains(a))
    );
    // An open amendment is answered by the other party while its window runs, withdrawn
    // by its author, and expired by the system once it has passed; no second one meanwhile.
    let mut amended = facts(60);
    amended.amendment = Some(AmendmentFacts {
        by: Seller,
        until: amended.now + Duration::hours(48),
        adds_money: false,
        accepted: false,
    });
    assert_eq!(
        allowed(ORDER, OrderState::Delivered, Buyer, &amended),
        vec![
            OrderAction::RequestRevision,
            OrderAction::AcceptDelivery,
            OrderAction::RequestCancellation,
            OrderAction::AcceptAmendment,
            OrderAction::DeclineAmendment,
            OrderAction::OpenDispute
        ]
    );
    assert_eq!(
        allowed(ORDER, OrderState::Delivered, Seller, &amended),
        vec![OrderAction::RequestCancellation, OrderAction::WithdrawAmendment, OrderAction::OpenDispute]
    );
    assert_eq!(allowed(ORDER, OrderState::Delivered, System, &amended), vec![OrderAction::OpenDispute]);
    amended.now += Duration::hours(48);
    assert!(
        !allowed(ORDER, OrderState::Delivered, Buyer, &amended).contains(&OrderAction::AcceptAmendment),
        "too late"
    );
    // (Its auto-complete window has passed too, in these facts.)
    assert_eq!(
        allowed(ORDER, OrderState::Delivered, System, &amended),
        vec![OrderAction::AutoComplete, OrderAction::ExpireAmendment, OrderAction::OpenDispute]
    );
    // One that adds money: accepting it waits for the buyer's payment; meanwhile nobody
    // answers or withdraws it, the provider's success applies it, and its window expires it.
    let mut paid = facts(60);
    paid.amendment =
        Some(AmendmentFacts { by: Seller, until: paid.now + Duration::hours(48), adds_money: true, accepted: false });
    let accept =
        |f: &Facts| step(ORDER, OrderState::InProgress, OrderAction::AcceptAmendment, Buyer, f).map(|t| t.event);
    assert_eq!(accept(&paid), Ok("amendment_accepted"));
    paid.amendment = paid.amendment.map(|a| AmendmentFacts { accepted: true, ..a });
    for (actor, action) in [
        (Buyer, OrderAction::AcceptAmendment),
        (Buyer, OrderAction::DeclineAmendment),
        (Seller, OrderAction::WithdrawAmendment),
    ] {
        assert!(!allowed(ORDER, OrderState::InProgress, actor, &paid).contains(&action), "{action:?} once accepted");
    }
    assert_eq!(
        step(ORDER, OrderState::Delivered, OrderAction::PayAmendment, System, &paid).map(|t| t.event),
        Ok("order_amended")
    );
    assert!(step(ORDER, OrderState::Delivered, OrderAction::PayAmendment, System, &amended).is_err(), "not accepted");
    paid.now += Duration::hours(48);
    assert!(allowed(ORDER, OrderState::InProgress, System, &paid).contains(&OrderAction::ExpireAmendment));
    for state in [OrderState::AwaitingPayment, OrderState::Disputed, OrderState::Completed, OrderState::Cancelled] {
        for actor in [Buyer, Seller] {
            assert!(!allowed(ORDER, state, actor, &facts(60)).contains(&OrderAction::ProposeAmendment), "{state:?}");
        }
    }
    // The provider's word of a chargeback opens a dispute at any time.
    assert_eq!(allowed(ORDER, OrderState::InProgress, System, &asked), vec![OrderAction::OpenDispute]);
    asked.now += Duration::hours(48);
    assert_eq!(
        allowed(ORDER, OrderState::InProgress, System, &asked),
        vec![OrderAction::CancellationTimeout, OrderAction::OpenDispute]
    );
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
    // A completed order stays completed: only its reviews move on, and a dispute within the
    // window after completion (a party's, never the system's).
    for t in ORDER.iter().filter(|t| t.from == OrderState::Completed && t.to != OrderState::Completed) {
        assert_eq!(
            (t.action, t.to, t.guard),
            (OrderAction::OpenDispute, OrderState::Disputed, Some(Guard::DisputeWindowOpen))
        );
        assert!(!t.by.contains(&Actor::System));
    }
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
        vec![OrderAction::Tip],
        "nothing left for the buyer until the seller writes but a tip"
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

#[test]
fn a_diagram_draws_every_row_and_the_ends() {
    let drawn = diagram(OFFER, (OFFER_START.state, OFFER_START.event));
    assert!(drawn.starts_with("```mermaid\nstateDiagram-v2\n    [*] --> sent: offer_sent\n"), "{drawn}");
    assert!(drawn.contains("    sent --> accepted: accept (buyer) if before_deadline\n"), "{drawn}");
    assert!(drawn.contains("    accepted --> sent: reopen (system) if before_deadline\n"), "{drawn}");
    for end in ["declined", "withdrawn", "expired"] {
        assert!(drawn.contains(&format!("    {end} --> [*]\n")), "{end} ends: {drawn}");
    }
    assert!(!drawn.contains("accepted --> [*]"), "a state a row leaves does not end");
    let rows = drawn.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| from")).count();
    assert_eq!(rows, OFFER.len());
}

/// `docs/lifecycles.md` is the tables drawn, so the diagrams people read are the code.
/// `make docs` writes it again (`UPDATE_DOCS=1`).
#[test]
fn the_lifecycle_document_is_the_tables_drawn() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lifecycles.md");
    let drawn = document();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &drawn).expect("docs/lifecycles.md is written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == drawn, "docs/lifecycles.md differs from the tables in rules/src/lifecycle/: run `make docs`");
}
