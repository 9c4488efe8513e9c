//! The flows called directly, against the local stack, with time as an input: each takes
//! its `now` from its caller (the handler, the sweeper, the queue consumer) and never
//! from the clock, so the same call at another time decides otherwise. The times here
//! are hours and days away from the wall clock on purpose.

use chrono::{DateTime, Duration, DurationRound, Utc};
use peyman::flows::{accept, offers, payments, timers};
use peyman_e2e::*;
use peyman_rules::caller::Caller;
use peyman_rules::money::Money;
use peyman_rules::offer::NewOffer;
use peyman_rules::payment::{PaymentEvent, Received, ReceivedEvent};

fn caller(user_id: &str) -> Caller {
    Caller { user_id: user_id.to_owned(), is_support: false }
}

/// A time well away from the wall clock, to whole seconds.
fn at(hours_from_now: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::hours(hours_from_now)).duration_trunc(Duration::seconds(1)).unwrap()
}

#[tokio::test]
async fn an_offer_and_its_order_take_their_times_from_now() {
    let (api, aws) = (Api::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (seller, buyer) = (caller(&deal.seller), caller(&deal.buyer));

    // Ahead of the wall clock: a window already past would race the stack's own sweeper
    // (every second here), which could fire the timer before this test reads it.
    let placed_at = at(30);
    let new: NewOffer = serde_json::from_value(deal.offer()).unwrap();
    let offer = offers::place(&app, &seller, new, placed_at).await.unwrap();
    assert_eq!(offer.created_at, placed_at);
    assert_eq!(offer.terms.expires_at, placed_at + Duration::days(7), "the default expiry counts from `now`");

    // The same accept decides by the time it is given: past the offer's expiry it is
    // refused, before it the order is placed with its payment window from then.
    let too_late = placed_at + Duration::days(7) + Duration::seconds(1);
    let refused = accept::accept(&app, &buyer, &offer.offer_id, too_late).await.unwrap_err();
    assert_eq!(refused.code(), "expired");
    let accepted_at = placed_at + Duration::hours(2);
    let accepted = accept::accept(&app, &buyer, &offer.offer_id, accepted_at).await.unwrap();
    assert_eq!(accepted.order.created_at, accepted_at);
    assert_eq!(accepted.order.payment_due_at, accepted_at + Duration::minutes(60));
    assert_eq!(accepted.payment.created_at, accepted_at);

    // The payment window lapses by the sweep's time, not the clock's: the order's timer
    // is due at `payment_due_at`, hours away from the wall clock.
    let timer = aws.timer(&format!("order/{}", accepted.order.order_id)).await;
    let before = accepted.order.payment_due_at - Duration::seconds(1);
    assert!(!timers::fire(&app, &timer, before).await.unwrap(), "not before its window closes");
    assert!(timers::fire(&app, &timer, accepted.order.payment_due_at).await.unwrap());
    let order = app.store.tracked::<peyman_rules::order::Order>(&accepted.order.order_id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(order.state).unwrap(), "cancelled");
    assert_eq!(order.updated_at, accepted.order.payment_due_at);
}

#[tokio::test]
async fn a_payment_starts_the_work_when_it_is_received_and_refunds_count_from_then() {
    let (api, aws) = (Api::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = placed["payment"]["payment_intent_id"].as_str().unwrap();

    let paid_at = at(5);
    let event = ReceivedEvent {
        id: format!("evt_flow_{}", ulid::Ulid::new()),
        event: PaymentEvent::Succeeded {
            intent_id: intent_id.to_owned(),
            our_order_id: Some(order_id.to_owned()),
            received: Money { amount: 12_000_000, currency: "IRR".into() },
            receipt: None,
        },
    };
    assert_eq!(payments::receive(&app, "stripe", &event, paid_at).await.unwrap(), Received::OrderStarted);
    assert_eq!(payments::receive(&app, "stripe", &event, paid_at).await.unwrap(), Received::Duplicate);
    let order = app.store.tracked::<peyman_rules::order::Order>(order_id).await.unwrap().unwrap();
    assert_eq!(order.paid_at, Some(paid_at));
    assert_eq!(order.due_at, Some(paid_at + Duration::days(7)), "delivery days count from the payment");
    let payment = app.store.payment(intent_id).await.unwrap().unwrap();
    assert_eq!(payment.succeeded_at, Some(paid_at));

    let refunded_at = paid_at + Duration::days(1);
    let refund = payments::refund(&app, order_id, "flow-1", 1_000, "a stage dropped", refunded_at).await.unwrap();
    assert_eq!(refund.created_at, refunded_at);
    assert_eq!(refund.check_at, Some(refunded_at + app.config.refund_check_after), "its check timer counts from `now`");
}
