//! Payments end to end: localstripe is the Stripe API, and its own signed webhooks move
//! orders. Where localstripe cannot produce an event (`charge.refunded`, a success for
//! an intent after its order was cancelled, duplicates and reordering), the test signs
//! the event with Stripe's own Python library and delivers it as Stripe would.

use std::time::Duration;

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use serde_json::Value;

fn intent_of(order: &Value) -> String {
    order["payment"]["payment_intent_id"].as_str().expect("the order has its payment").to_owned()
}

async fn order(api: &Api, deal: &Deal, order_id: &str) -> Value {
    api.get(&format!("/v1/orders/{order_id}"), &token(&deal.buyer)).await.ok(200).clone()
}

/// Waits until the order's status is `status`.
async fn order_in(api: &Api, deal: &Deal, order_id: &str, status: &str) -> Value {
    eventually(WAIT, async || {
        let o = order(api, deal, order_id).await;
        (o["status"] == status).then_some(o)
    })
    .await
    .unwrap_or_else(|| panic!("order {order_id} never reached {status}"))
}

async fn timeline_events(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.seller)).await;
    assert_eq!(t.ok(200)["verified"], true);
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

fn succeeded(intent_id: &str, order_id: &str, amount: i64, currency: &str) -> Value {
    json!({ "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency, "status": "succeeded", "metadata": { "peyman_order_id": order_id } })
}

fn failed(intent_id: &str) -> Value {
    json!({ "id": intent_id, "object": "payment_intent", "status": "requires_payment_method",
            "last_payment_error": { "code": "card_declined", "message": "Your card was declined." } })
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// A `payment_intent.succeeded` under a fresh event id.
fn success_event(intent_id: &str, order_id: &str, amount: i64, currency: &str) -> String {
    stripe_event(
        &format!("evt_{}", ulid::Ulid::new()),
        "payment_intent.succeeded",
        succeeded(intent_id, order_id, amount, currency),
    )
}

/// Delivers `body` as Stripe would, signed now.
async fn deliver(api: &Api, stripe: &Stripe, body: &str) -> Res {
    api.webhook(body, Some(&stripe.sign(body, now()))).await
}

#[tokio::test]
async fn paying_in_localstripe_starts_the_order_through_its_own_webhook() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    assert!(placed["payment"]["client_secret"].as_str().unwrap().starts_with(&intent_id));
    assert_eq!(placed["payment"]["amount"], json!({ "amount": 12_000_000, "currency": "IRR" }));
    // The intent at the provider is for exactly the order's price, naming the order.
    let at_stripe = stripe.intent(&intent_id).await;
    assert_eq!((at_stripe["amount"].as_i64(), at_stripe["currency"].as_str()), (Some(12_000_000), Some("irr")));
    assert_eq!(at_stripe["metadata"]["peyman_order_id"], order_id);
    assert_eq!(at_stripe["metadata"]["peyman_deployment"], Aws::connect().await.table.as_str());
    // Only the buyer sees the client secret.
    let as_seller = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.seller)).await;
    assert_eq!(as_seller.ok(200)["payment"]["client_secret"], Value::Null);

    assert_eq!(stripe.pay(&intent_id, "pm_card_visa").await, 200);
    let paid = order_in(&api, &deal, order_id, "in_progress").await;
    let paid_at: DateTime<Utc> = paid["paid_at"].as_str().unwrap().parse().unwrap();
    let due_at: DateTime<Utc> = paid["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due_at - paid_at, chrono::Duration::days(7), "due time = paid time + delivery days");
    assert_eq!(paid["payment"]["status"], "succeeded");
    assert_eq!(paid["payment"]["client_secret"], Value::Null, "nothing left to pay");
    assert_eq!(paid["payments"].as_array().unwrap().len(), 1);
    assert_eq!(timeline_events(&api, &deal, order_id).await, ["order_placed", "order_paid"]);
    for (role, who) in [("buyer", &deal.buyer), ("seller", &deal.seller)] {
        let list = api.get(&format!("/v1/orders?role={role}"), &token(who)).await;
        let item = &list.ok(200)["items"][0];
        assert_eq!((item["status"].as_str(), item["due_at"].as_str()), (Some("in_progress"), paid["due_at"].as_str()));
    }
    // The work's timers started: late at the due time, late cancellation after the grace.
    let aws = Aws::connect().await;
    aws.timer(&format!("order/{order_id}/late")).await;
    aws.timer(&format!("order/{order_id}/late_cancellation")).await;
}

/// Opens an intent at localstripe as another product on the same account would (or as
/// we would, with `metadata` naming this deployment) and pays it with a test card.
async fn paid_intent_of_our_account(stripe: &Stripe, metadata: &[(&str, &str)]) -> String {
    let mut form = vec![("amount", "4500"), ("currency", "usd"), ("payment_method_types[]", "card")];
    form.extend_from_slice(metadata);
    let (status, intent) = stripe.call(reqwest::Method::POST, "/v1/payment_intents", &form).await;
    assert_eq!(status, 200, "{intent}");
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(&intent_id, "pm_card_visa").await, 200);
    intent_id
}

async fn refunds_at_localstripe(stripe: &Stripe, intent_id: &str) -> usize {
    let path = format!("/v1/refunds?payment_intent={intent_id}");
    let (status, refunds) = stripe.call(reqwest::Method::GET, &path, &[]).await;
    assert_eq!(status, 200, "{refunds}");
    refunds["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_payment_we_did_not_open_on_the_same_account_is_left_alone() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    // The marketplace's regular checkout, with metadata of its own (an `order_id` too).
    let foreign =
        paid_intent_of_our_account(&stripe, &[("metadata[order_id]", "gig-order-77"), ("metadata[shop]", "gigs")])
            .await;
    // Then one of ours: localstripe sends each webhook a second after its event, in
    // order, so once ours has started the foreign intent's events have been delivered.
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    stripe.pay(&intent_of(&placed), "pm_card_visa").await;
    order_in(&api, &deal, placed["order_id"].as_str().unwrap(), "in_progress").await;
    tokio::time::sleep(Duration::from_secs(2)).await; // a refund, had one been asked, would be at localstripe by now
    assert_eq!(refunds_at_localstripe(&stripe, &foreign).await, 0, "never refunded");
    assert_eq!(stripe.intent(&foreign).await["status"], "succeeded");
    assert!(aws.partition(&format!("PAYMENT#{foreign}")).await.is_empty(), "no record of it");

    // The same events delivered by hand: each is 200 `ignored` and writes nothing.
    let object = stripe.intent(&foreign).await;
    for (kind, object) in [
        ("payment_intent.succeeded", object.clone()),
        ("payment_intent.payment_failed", failed(&foreign)),
        (
            "charge.refunded",
            json!({ "id": "ch_f", "object": "charge", "payment_intent": foreign, "amount_refunded": 4500 }),
        ),
    ] {
        let event_id = format!("evt_{}", ulid::Ulid::new());
        let body = stripe_event(&event_id, kind, object);
        let r = deliver(&api, &stripe, &body).await;
        assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("ignored")), "{kind}: {}", r.text);
        assert!(aws.partition(&format!("WEBHOOK#stripe#{event_id}")).await.is_empty(), "{kind}: no receipt");
    }
    assert!(aws.partition(&format!("PAYMENT#{foreign}")).await.is_empty());
    assert_eq!(refunds_at_localstripe(&stripe, &foreign).await, 0);
}

#[tokio::test]
async fn a_paid_intent_marked_ours_without_its_order_is_held_and_refunded() {
    // The crash between opening the intent and committing its order: the intent carries
    // our mark and names an order that was never stored.
    let (stripe, aws) = (Stripe::default(), Aws::connect().await);
    let order_id = ulid::Ulid::new().to_string();
    let intent_id = paid_intent_of_our_account(
        &stripe,
        &[("metadata[peyman_deployment]", aws.table.as_str()), ("metadata[peyman_order_id]", order_id.as_str())],
    )
    .await;
    let refunded =
        eventually(WAIT, async || (refunds_at_localstripe(&stripe, &intent_id).await == 1).then_some(())).await;
    assert!(refunded.is_some(), "the money went back through a follow-up");
    let payment = &aws.partition(&format!("PAYMENT#{intent_id}")).await;
    let record = payment.iter().find(|i| i["SK"].as_s().unwrap() == "PAYMENT").expect("recorded");
    assert_eq!(record["status"].as_s().unwrap(), "held");
    assert_eq!(record["held_reason"].as_s().unwrap(), "unknown_payment");
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_awaiting_payment_with_the_failure() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    assert_eq!(stripe.pay(&intent_of(&placed), "pm_card_chargeCustomerFail").await, 402);
    let failed = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (!o["payment"]["failures"].as_array().unwrap().is_empty()).then_some(o)
    })
    .await
    .expect("localstripe's payment_intent.payment_failed is recorded");
    assert_eq!(failed["status"], "awaiting_payment");
    assert_eq!(failed["payment"]["status"], "open");
    assert_eq!(failed["payment"]["failures"][0]["code"], "card_declined");
    assert!(failed["payment"]["client_secret"].is_string(), "the buyer may still pay");
    assert_eq!(timeline_events(&api, &deal, order_id).await, ["order_placed", "payment_failed"]);
}

#[tokio::test]
async fn only_a_valid_stripe_signature_is_read() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    let body = success_event(&intent_id, order_id, 12_000_000, "irr");
    let t = now();
    let secret = stripe.webhook_secret.clone();
    let one_byte_changed = body.replacen("12000000", "12000001", 1);
    let reserialized = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let signed = Stripe::sign_all(&[(&body, &secret, t), (&body, "whsec_wrong", t), (&body, &secret, t - 301)]);
    let (good, wrong_secret, too_old) = (&signed[0], &signed[1], &signed[2]);
    let rejected: Vec<(&str, &str, Option<String>)> = vec![
        ("no header", &body, None),
        ("malformed header", &body, Some("garbage".into())),
        ("no timestamp", &body, Some(good.split(',').nth(1).unwrap().to_owned())),
        ("wrong secret", &body, Some(wrong_secret.clone())),
        ("one byte changed", &one_byte_changed, Some(good.clone())),
        ("re-serialized JSON", &reserialized, Some(good.clone())),
        ("301 s old", &body, Some(too_old.clone())),
    ];
    for (case, body, header) in rejected {
        let r = api.webhook(body, header.as_deref()).await;
        assert_eq!(r.status, 400, "{case}: {}", r.text);
        r.problem(400, "invalid_signature");
        assert_eq!(order(&api, &deal, order_id).await["status"], "awaiting_payment", "{case} had an effect");
    }
    // From the future: a minute beyond the tolerance, as the server may read its clock
    // seconds after the signing on a loaded machine (a second's margin once let a run with
    // the builds beside it through; the exact ±300/301 s boundary is the unit test's).
    let ahead = stripe.sign(&body, now() + 360);
    api.webhook(&body, Some(&ahead)).await.problem(400, "invalid_signature");
    assert_eq!(order(&api, &deal, order_id).await["status"], "awaiting_payment");
    // A bad v1 beside a good one (a rolled secret) is accepted.
    let v1 = good.split(",v1=").nth(1).unwrap();
    let both = format!("t={t},v1={},v1={v1}", "0".repeat(64));
    let r = api.webhook(&body, Some(&both)).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("order_started")), "{}", r.text);
    order_in(&api, &deal, order_id, "in_progress").await;
    // An event type we do not use is acknowledged, and another provider is not served.
    let other = stripe_event("evt_other", "customer.created", json!({ "id": "cus_1" }));
    let r = api.webhook(&other, Some(&stripe.sign(&other, now()))).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("ignored")));
    let r = api.send("POST", "/v1/webhooks/payments/zarinpal", None, Some(&other), &[]).await;
    r.problem(404, "not_found");
}

/// A small deterministic shuffle (no rand dependency), seeded per run.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[tokio::test]
async fn twenty_events_each_delivered_five_times_in_any_order_apply_once() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let mut orders = Vec::new();
    for _ in 0..10 {
        let deal = Deal::new(&api).await;
        let placed = deal.placed_order(&api).await;
        orders.push((deal, placed["order_id"].as_str().unwrap().to_owned(), intent_of(&placed)));
    }
    // Per order: a failed attempt and the success, as two events (20 in all).
    let mut events = Vec::new();
    for (_, order_id, intent_id) in &orders {
        events.push(stripe_event(
            &format!("evt_f{}", ulid::Ulid::new()),
            "payment_intent.payment_failed",
            failed(intent_id),
        ));
        events.push(stripe_event(
            &format!("evt_s{}", ulid::Ulid::new()),
            "payment_intent.succeeded",
            succeeded(intent_id, order_id, 12_000_000, "irr"),
        ));
    }
    let t = now();
    let requests: Vec<(&str, &str, i64)> =
        events.iter().map(|e| (e.as_str(), stripe.webhook_secret.as_str(), t)).collect();
    let headers = Stripe::sign_all(&requests);
    let mut deliveries: Vec<(usize, usize)> = (0..events.len()).flat_map(|e| (0..5).map(move |n| (e, n))).collect();
    let seed = ulid::Ulid::new().random() as u64 | 1;
    shuffle(&mut deliveries, seed);
    // Ten at a time in parallel, the batches one after another.
    for batch in deliveries.chunks(10) {
        let mut sent = tokio::task::JoinSet::new();
        for &(e, _) in batch {
            let (api, body, header) = (api.clone(), events[e].clone(), headers[e].clone());
            sent.spawn(async move { api.webhook(&body, Some(&header)).await });
        }
        while let Some(r) = sent.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status, 200, "seed {seed}: {}", r.text);
        }
    }
    let aws = Aws::connect().await;
    for (deal, order_id, intent_id) in &orders {
        let o = order_in(&api, deal, order_id, "in_progress").await;
        assert_eq!(o["payments"].as_array().unwrap().len(), 1, "seed {seed}: one payment per intent");
        assert_eq!(o["payment"]["status"], "succeeded");
        let events = timeline_events(&api, deal, order_id).await;
        assert_eq!(events.iter().filter(|e| *e == "order_paid").count(), 1, "seed {seed}: {events:?}");
        assert!(events.iter().filter(|e| *e == "payment_failed").count() <= 1, "seed {seed}: {events:?}");
        // A failure delivered after the success never moved the order back.
        assert_eq!(events.last().unwrap(), "order_paid", "seed {seed}: {events:?}");
        assert_eq!(aws.partition(&format!("PAYMENT#{intent_id}")).await.len(), 1);
    }
}

#[tokio::test]
async fn a_different_amount_or_currency_is_held_and_the_order_does_not_start() {
    let (api, stripe) = (Api::default(), Stripe::default());
    for (amount, currency) in [(11_999_999, "irr"), (12_000_000, "usd")] {
        let deal = Deal::new(&api).await;
        let placed = deal.placed_order(&api).await;
        let order_id = placed["order_id"].as_str().unwrap();
        let body = success_event(&intent_of(&placed), order_id, amount, currency);
        let r = deliver(&api, &stripe, &body).await;
        assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("held")), "{}", r.text);
        let o = order(&api, &deal, order_id).await;
        assert_eq!(o["status"], "awaiting_payment");
        assert_eq!(
            (o["payment"]["status"].as_str(), o["payment"]["held_reason"].as_str()),
            (Some("held"), Some("amount_mismatch"))
        );
        // What arrived is recorded beside what was asked: support decides on it.
        assert_eq!(o["payment"]["received"], json!({ "amount": amount, "currency": currency.to_uppercase() }));
        assert_eq!(o["payment"]["amount"], json!({ "amount": 12_000_000, "currency": "IRR" }));
        assert_eq!(timeline_events(&api, &deal, order_id).await, ["order_placed", "payment_held"]);
    }
}

#[tokio::test]
async fn an_unpaid_order_lapses_and_its_offer_is_sent_again() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let offer_id = placed["offer_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    // The window is 60 minutes: fire this order's own timer as the sweep would then.
    let timer = aws.timer(&format!("order/{order_id}")).await;
    assert!(
        !peyman::flows::timers::fire(&app, &timer, Utc::now() + chrono::Duration::minutes(59)).await.unwrap(),
        "not early"
    );
    assert_eq!(order(&api, &deal, order_id).await["status"], "awaiting_payment");
    assert!(peyman::flows::timers::fire(&app, &timer, Utc::now() + chrono::Duration::minutes(61)).await.unwrap());
    let lapsed = order(&api, &deal, order_id).await;
    assert_eq!(
        (lapsed["status"].as_str(), lapsed["allowed_actions"].as_array().map(Vec::len)),
        (Some("cancelled"), Some(0))
    );
    assert_eq!(timeline_events(&api, &deal, order_id).await[..2], ["order_placed", "payment_window_lapsed"]);
    let offer = api.get(&format!("/v1/offers/{offer_id}"), &token(&deal.buyer)).await;
    assert_eq!(offer.ok(200)["state"], "sent");
    assert_eq!(offer.body["allowed_actions"], json!(["accept", "decline"]));
    // Its PaymentIntent is cancelled at the provider by a follow-up.
    let cancelled =
        eventually(WAIT, async || (stripe.intent(&intent_id).await["status"] == "canceled").then_some(())).await;
    assert!(cancelled.is_some(), "the intent was cancelled at localstripe");
    let payment = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (o["payment"]["status"] == "canceled").then_some(o)
    })
    .await;
    assert!(payment.is_some());
    // The cancellation at the provider is itself on the order's timeline.
    assert_eq!(
        timeline_events(&api, &deal, order_id).await,
        ["order_placed", "payment_window_lapsed", "payment_canceled"]
    );
    // The buyer can accept the reopened offer: a new order with a new intent.
    let again = api.post(&format!("/v1/offers/{offer_id}/accept"), &token(&deal.buyer), json!({})).await;
    assert_ne!(again.ok(201)["order"]["order_id"], order_id);
}

#[tokio::test]
async fn a_payment_after_the_order_was_cancelled_is_held_and_refunded() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    // The buyer pays at the last moment: localstripe takes the money and sends its
    // webhook a second later; meanwhile the window lapses and the order is cancelled.
    assert_eq!(stripe.pay(&intent_id, "pm_card_visa").await, 200);
    let timer = aws.timer(&format!("order/{order_id}")).await;
    assert!(peyman::flows::timers::fire(&app, &timer, Utc::now() + chrono::Duration::minutes(61)).await.unwrap());
    let held = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (o["payment"]["status"] == "held").then_some(o)
    })
    .await
    .expect("localstripe's success arrives for the cancelled order");
    assert_eq!(held["status"], "cancelled", "a late payment never revives the order");
    assert_eq!(held["payment"]["held_reason"], "order_not_payable");
    // The refund goes to localstripe by a follow-up.
    let sent = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (o["refunds"][0]["status"] == "sent").then_some(o)
    })
    .await
    .expect("the refund reached the provider");
    assert_eq!(sent["refunds"][0]["amount"], json!({ "amount": 12_000_000, "currency": "IRR" }));
    let (status, refunds) =
        stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent_id}"), &[]).await;
    assert_eq!((status, refunds["data"].as_array().map(Vec::len)), (200, Some(1)), "{refunds}");
    // localstripe sends no charge.refunded; Stripe would. Its confirmation closes it.
    let body = charge_refunded(&intent_id, 12_000_000);
    let r = deliver(&api, &stripe, &body).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (200, Some("refund_confirmed")), "{}", r.text);
    let o = order(&api, &deal, order_id).await;
    assert_eq!(
        (o["refunds"][0]["status"].as_str(), o["payment"]["refund_confirmed"].as_i64()),
        (Some("confirmed"), Some(12_000_000))
    );
    assert_eq!(
        timeline_events(&api, &deal, order_id).await,
        ["order_placed", "payment_window_lapsed", "payment_held", "refund_sent", "refund_confirmed"]
    );
}

#[tokio::test]
async fn refunds_are_partial_or_full_once_each_and_confirmed_by_the_provider() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let app = Aws::connect().await.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    stripe.pay(&intent_id, "pm_card_visa").await;
    order_in(&api, &deal, order_id, "in_progress").await;

    let first =
        peyman::flows::payments::refund(&app, order_id, "partial-1", 2_000_000, "stage one dropped", Utc::now())
            .await
            .unwrap();
    let again =
        peyman::flows::payments::refund(&app, order_id, "partial-1", 2_000_000, "stage one dropped", Utc::now())
            .await
            .unwrap();
    // The second call finds the first refund (which may have reached the provider since).
    assert_eq!((&first.refund_id, first.created_at), (&again.refund_id, again.created_at), "one refund per id");
    let too_much = peyman::flows::payments::refund(&app, order_id, "rest", 10_000_001, "everything", Utc::now())
        .await
        .unwrap_err();
    assert_eq!(too_much.code(), "refund_exceeds_payment");
    let sent = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (o["refunds"][0]["status"] == "sent").then_some(o)
    })
    .await
    .expect("the refund reached localstripe");
    assert_eq!(sent["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(sent["payment"]["refund_requested"], 2_000_000);
    let (_, refunds) = stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent_id}"), &[]).await;
    assert_eq!(refunds["data"][0]["amount"], 2_000_000);
    // The rest, in full.
    peyman::flows::payments::refund(&app, order_id, "rest", 10_000_000, "cancelled by agreement", Utc::now())
        .await
        .unwrap();
    eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        o["refunds"].as_array().unwrap().iter().all(|r| r["status"] == "sent").then_some(())
    })
    .await
    .expect("the rest reached localstripe too");
    // The provider's running total confirms the first, then both; a stale total changes nothing.
    for (total, outcome) in
        [(2_000_000, "refund_confirmed"), (12_000_000, "refund_confirmed"), (2_000_000, "already_decided")]
    {
        let body = charge_refunded(&intent_id, total);
        let r = deliver(&api, &stripe, &body).await;
        assert_eq!(r.body["outcome"].as_str(), Some(outcome), "{}", r.text);
    }
    let o = order(&api, &deal, order_id).await;
    let statuses: Vec<_> = o["refunds"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["confirmed", "confirmed"]);
    assert_eq!(o["status"], "in_progress", "refunding alone moves no order");
    // Every step is an event; a sending (the follow-up's) may land before or after the
    // next request, so the sends are counted apart.
    let events = eventually(WAIT, async || {
        let events = timeline_events(&api, &deal, order_id).await;
        (events.iter().filter(|e| *e == "refund_sent").count() == 2).then_some(events)
    })
    .await
    .expect("both refunds reached the provider");
    let others: Vec<_> = events.iter().filter(|e| *e != "refund_sent").collect();
    assert_eq!(
        others,
        ["order_placed", "order_paid", "refund_requested", "refund_requested", "refund_confirmed", "refund_confirmed"]
    );
}

#[tokio::test]
async fn a_refund_reported_before_the_success_holds_the_payment() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    let refunded = charge_refunded(&intent_id, 12_000_000);
    let success = success_event(&intent_id, order_id, 12_000_000, "irr");
    for body in [&refunded, &success] {
        assert_eq!(deliver(&api, &stripe, body).await.status, 200);
    }
    let o = order(&api, &deal, order_id).await;
    assert_eq!(o["status"], "awaiting_payment", "money already refunded starts no work");
    assert_eq!(o["payment"]["held_reason"], "refunded_before_success");
}

#[tokio::test]
async fn accepting_while_the_provider_is_down_is_503_and_changes_nothing() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let mut config = peyman_local::local_config(&aws.template).await.unwrap();
    config.stripe.api_base = "http://127.0.0.1:9".into(); // nothing listens there
    let app = peyman::flows::App::new(config).await;
    let deal = Deal::new(&api).await;
    let offer_id = deal.send_offer(&api, deal.offer()).await;
    let request = accept_event(&offer_id, &deal.buyer);
    let response = offer_decisions::handle(&app, request).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let offer = api.get(&format!("/v1/offers/{offer_id}"), &token(&deal.buyer)).await;
    assert_eq!(offer.ok(200)["state"], "sent", "no order without a way to pay it");
    let orders = api.get("/v1/orders?role=buyer", &token(&deal.buyer)).await;
    assert_eq!(orders.ok(200)["items"], json!([]));
}

#[tokio::test]
async fn with_the_payment_window_shortened_the_scheduled_sweep_lapses_the_order() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let mut config = peyman_local::local_config(&aws.template).await.unwrap();
    config.policy.payment_window = chrono::Duration::seconds(2);
    let app = peyman::flows::App::new(config).await;
    let deal = Deal::new(&api).await;
    let offer_id = deal.send_offer(&api, deal.offer()).await;
    let response = offer_decisions::handle(&app, accept_event(&offer_id, &deal.buyer)).await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("{other:?}"),
    };
    let order_id = body["order"]["order_id"].as_str().unwrap().to_owned();
    assert_eq!(body["order"]["policy"]["payment_window_seconds"], 2, "the order keeps the policy in force");
    // The stack's own sweeper (every second here) finds the timer due and lapses it.
    order_in(&api, &deal, &order_id, "cancelled").await;
    assert_eq!(timeline_events(&api, &deal, &order_id).await[..2], ["order_placed", "payment_window_lapsed"]);
    let offer = api.get(&format!("/v1/offers/{offer_id}"), &token(&deal.buyer)).await;
    assert_eq!(offer.ok(200)["state"], "sent");
    assert_eq!(offer.body["order_id"], Value::Null);
}

#[tokio::test]
async fn a_paid_order_past_its_due_time_turns_late_then_its_buyer_may_cancel() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    stripe.pay(&intent_of(&placed), "pm_card_visa").await;
    let paid = order_in(&api, &deal, order_id, "in_progress").await;
    let due_at: DateTime<Utc> = paid["due_at"].as_str().unwrap().parse().unwrap();
    let minute = chrono::Duration::minutes(1);

    // The due time is 7 days after payment: fire the order's own timers as the sweep would.
    let late = aws.timer(&format!("order/{order_id}/late")).await;
    assert!(!peyman::flows::timers::fire(&app, &late, due_at - minute).await.unwrap(), "not before the due time");
    assert_eq!(order(&api, &deal, order_id).await["late"], false);
    let opens = aws.timer(&format!("order/{order_id}/late_cancellation")).await;
    assert!(
        !peyman::flows::timers::fire(&app, &opens, due_at + minute).await.unwrap(),
        "not before it is late and the grace is over"
    );
    assert!(peyman::flows::timers::fire(&app, &late, due_at + minute).await.unwrap());
    let flagged = order(&api, &deal, order_id).await;
    assert_eq!((flagged["late"].as_bool(), flagged["status"].as_str()), (Some(true), Some("in_progress")));
    assert!(
        !peyman::flows::timers::fire(&app, &opens, due_at + chrono::Duration::hours(24) - minute).await.unwrap(),
        "grace"
    );
    assert!(peyman::flows::timers::fire(&app, &opens, due_at + chrono::Duration::hours(24) + minute).await.unwrap());
    assert_eq!(
        timeline_events(&api, &deal, order_id).await,
        ["order_placed", "order_paid", "order_late", "late_cancellation_available"]
    );
    // Each timer fires once: it is gone from the table.
    let timers = aws.timers().await;
    assert!(!timers.iter().any(|t| t["subject"].as_s().is_ok_and(|s| s.starts_with(&format!("order/{order_id}/")))));
}

#[tokio::test]
async fn an_accept_whose_commit_answer_was_lost_keeps_the_intent_of_the_order_that_committed() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let (order_id, intent_id) = (placed["order_id"].as_str().unwrap(), intent_of(&placed));
    // The commit went through but its answer was lost (a 500 after DynamoDB committed):
    // the order is read again, found, and its intent is not cancelled.
    let lost = peyman_rules::error::ApiError::internal("the connection reset after the commit");
    peyman::flows::accept::settle_failed_commit(&app, order_id, &intent_id, lost).await.expect("the accept succeeded");
    assert_eq!(stripe.intent(&intent_id).await["status"], "requires_payment_method", "still payable");
    assert_eq!(stripe.pay(&intent_id, "pm_card_visa").await, 200);
    order_in(&api, &deal, order_id, "in_progress").await;

    // Nothing committed: an ambiguous failure finds no order and cancels the intent; a
    // lost race cancels it too and says the offer changed.
    for (error, code) in [
        (peyman_rules::error::ApiError::internal("timeout"), "internal"),
        (peyman_rules::error::ApiError::conflict(peyman_rules::error::Code::ConcurrentChange, "lost"), "offer_changed"),
    ] {
        let (status, intent) =
            stripe.call(reqwest::Method::POST, "/v1/payment_intents", &[("amount", "100"), ("currency", "usd")]).await;
        assert_eq!(status, 200);
        let unused = intent["id"].as_str().unwrap();
        let never_stored = ulid::Ulid::new().to_string();
        let e = peyman::flows::accept::settle_failed_commit(&app, &never_stored, unused, error).await.unwrap_err();
        assert_eq!(e.code(), code);
        assert_eq!(stripe.intent(unused).await["status"], "canceled");
    }
}

#[tokio::test]
async fn a_refund_the_provider_keeps_refusing_is_retried_then_failed_and_listed_for_support() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent_id = intent_of(&placed);
    // A success we are told of but localstripe never took (nothing was paid there), so
    // every refund of it is refused by the provider.
    let body = success_event(&intent_id, order_id, 13_000_000, "irr");
    let r = deliver(&api, &stripe, &body).await;
    assert_eq!(r.body["outcome"], "held", "{}", r.text);
    peyman::flows::payments::refund(&app, order_id, "back", 13_000_000, "support: refund the held payment", Utc::now())
        .await
        .unwrap();
    // The follow-up is refused; the sweeper retries (at once, three attempts in the
    // tests' stack), then the refund is failed, with the provider's reason.
    let failed = eventually(WAIT, async || {
        let o = order(&api, &deal, order_id).await;
        (o["refunds"][0]["status"] == "failed").then_some(o)
    })
    .await
    .expect("the refund ends failed, not requested for ever");
    let refund = &failed["refunds"][0];
    assert_eq!(refund["attempts"], 3);
    assert!(refund["failure"].as_str().unwrap().starts_with("4"), "{refund}");
    assert_eq!(
        timeline_events(&api, &deal, order_id).await,
        ["order_placed", "payment_held", "refund_requested", "refund_refused", "refund_refused", "refund_failed"]
    );
    // Listed for support, and its timer is gone.
    let listed = aws.queue(peyman::adapters::dynamo::keys::FAILED_REFUNDS).await;
    assert!(listed.iter().any(|i| i["intent_id"].as_s().unwrap() == &intent_id), "in REFUNDS#FAILED");
    let subject = peyman_rules::payment::refund_timer(&intent_id, "back");
    assert!(!aws.timers().await.iter().any(|t| t["subject"].as_s().unwrap() == &subject));
}

/// The local Stripe keeps Stripe's promise on `Idempotency-Key` (localstripe alone does
/// not; `infra/local/localstripe_server.py` adds it): the same refund asked twice with one
/// key, even at once, is made once, and both answers name it.
#[tokio::test]
async fn the_local_stripe_makes_a_request_once_per_idempotency_key() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let intent_id = placed["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(&intent_id, "pm_card_visa").await, 200);
    let base = std::env::var("STRIPE_API_BASE").unwrap();
    let refund = |key: String| {
        let (base, intent_id) = (base.clone(), intent_id.clone());
        async move {
            let form = [("payment_intent", intent_id.as_str()), ("amount", "1000000")];
            let r = reqwest::Client::new()
                .post(format!("{base}/v1/refunds"))
                .basic_auth("sk_test_local", Some(""))
                .header("Idempotency-Key", key)
                .form(&form)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        }
    };
    let key = format!("once-{intent_id}");
    let (a, b) = tokio::join!(refund(key.clone()), refund(key.clone()));
    assert_eq!(a, b, "one refund for one key");
    assert_eq!(refund(key).await, a, "and again later");
    assert_ne!(refund(format!("other-{intent_id}")).await, a, "another key is another request");
    let (_, refunds) = stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent_id}"), &[]).await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 2, "{refunds}");
}
