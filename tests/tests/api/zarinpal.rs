//! Paying through Zarinpal, end to end, on the deployment `stack.sh` starts with
//! `PAYMENT_PROVIDER=zarinpal` (its own gateway, table and queues) against our stand-in:
//! accept → StartPay → pay → callback → verify → `in_progress`; a cancel at the gateway
//! records the failure; forged, repeated and concurrent callbacks start nothing twice; a
//! payer who never comes back is verified by the sweeper; money for an order that can no
//! longer use it is held and refunded once through the refund service, and a refund call
//! whose answer was lost is never made again but listed for support to check by hand.

use std::time::Duration;

use peyman::adapters::zarinpal::{Zarinpal, ZarinpalConfig};
use peyman_e2e::*;
use serde_json::Value;

/// The payer's browser arriving at `location` (the callback, as the gateway sent it).
async fn come_back(api: &Api, location: &str) -> Res {
    let base = std::env::var("PEYMAN_ZARINPAL_API").unwrap();
    let path = location.strip_prefix(&base).unwrap_or_else(|| panic!("{location} is not our callback"));
    api.send("GET", path, None, None, &[]).await
}

/// Where the callback sent the payer on to: the return page's query.
#[track_caller]
fn landed(res: &Res) -> String {
    assert_eq!(res.status, 303, "{}", res.text);
    let location = res.header("location").unwrap();
    assert!(location.starts_with(&format!("{}/payment-returned?", std::env::var("PEYMAN_ZARINPAL_API").unwrap())));
    location.split_once('?').unwrap().1.to_owned()
}

async fn events(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.seller)).await;
    assert_eq!(t.ok(200)["verified"], true);
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

/// Every amount our verify calls for `authority` carried, as the stand-in saw them.
async fn verified_amounts(authority: &str) -> Vec<i64> {
    let base = std::env::var("ZARINPAL_API_BASE").unwrap();
    let calls: Value =
        reqwest::get(format!("{base}/_stand-in/verify-calls/{authority}")).await.unwrap().json().await.unwrap();
    calls["amounts"].as_array().unwrap().iter().map(|a| a.as_i64().unwrap()).collect()
}

/// An order placed on the Zarinpal deployment: its id, authority and pay page.
async fn placed(api: &Api, deal: &Deal) -> (String, String, String) {
    let order = deal.placed_order(api).await;
    let payment = &order["payment"];
    assert_eq!(payment["provider"], "zarinpal");
    let authority = payment["payment_intent_id"].as_str().unwrap().to_owned();
    let pay_url = payment["pay_url"].as_str().expect("the buyer gets the gateway's page").to_owned();
    (order["order_id"].as_str().unwrap().to_owned(), authority, pay_url)
}

#[tokio::test]
async fn the_buyer_pays_on_the_gateway_page_and_the_callback_starts_the_order_once() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, authority, pay_url) = placed(&api, &deal).await;
    let base = std::env::var("ZARINPAL_API_BASE").unwrap();
    assert_eq!(pay_url, format!("{base}/pg/StartPay/{authority}"));
    let order = deal.order(&api, &order_id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment"]["client_secret"], Value::Null);
    // Only the buyer sees where to pay.
    let seen = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.seller)).await;
    assert_eq!(seen.ok(200)["payment"]["pay_url"], Value::Null);

    let location = at_start_pay(&pay_url, "pay").await;
    let ours = std::env::var("PEYMAN_ZARINPAL_API").unwrap();
    assert_eq!(location, format!("{ours}/v1/payments/zarinpal/callback?Authority={authority}&Status=OK"));
    let back = come_back(&api, &location).await;
    assert_eq!(landed(&back), format!("payment=paid&order_id={order_id}"));
    let order = deal.order(&api, &order_id).await;
    assert_eq!(order["status"], "in_progress");
    let receipt = &order["payment"]["receipt"];
    assert!(receipt["card_pan"].as_str().unwrap().contains('*'), "the buyer sees the masked card: {receipt}");
    assert!(!receipt["reference_id"].as_str().unwrap().is_empty());
    let seen = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.seller)).await;
    assert_eq!(seen.ok(200)["payment"]["receipt"], Value::Null, "the seller never sees the buyer's card");

    // The browser's back button, a reload: the same success, nothing applied twice.
    let again = come_back(&api, &location).await;
    assert_eq!(landed(&again), format!("payment=paid&order_id={order_id}"));
    let events = events(&api, &deal, &order_id).await;
    assert_eq!(events.iter().filter(|e| *e == "order_paid").count(), 1, "{events:?}");
    // Every verify carried the amount we stored, never one of the query's.
    let amounts = verified_amounts(&authority).await;
    assert!(!amounts.is_empty() && amounts.iter().all(|a| *a == 12_000_000), "{amounts:?}");
}

#[tokio::test]
async fn a_payer_who_cancels_at_the_gateway_leaves_the_order_awaiting_payment_with_the_failure() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, authority, pay_url) = placed(&api, &deal).await;
    let location = at_start_pay(&pay_url, "cancel").await;
    assert!(location.ends_with(&format!("Authority={authority}&Status=NOK")), "{location}");
    let back = come_back(&api, &location).await;
    assert_eq!(landed(&back), format!("payment=failed&order_id={order_id}"));
    let order = deal.order(&api, &order_id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment"]["status"], "open");
    assert_eq!(order["payment"]["failures"][0]["code"], "NOK");
    assert!(events(&api, &deal, &order_id).await.contains(&"payment_failed".to_owned()));
    // NOK is never verified: the gateway was not asked.
    assert!(verified_amounts(&authority).await.is_empty());
}

#[tokio::test]
async fn forged_callbacks_start_nothing_record_one_failure_and_leave_what_is_not_ours_alone() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, authority, _) = placed(&api, &deal).await;
    let callback =
        |authority: &str, status: &str| format!("/v1/payments/zarinpal/callback?Authority={authority}&Status={status}");

    // OK for an authority nobody paid: the gateway refuses to verify it. Anyone holding
    // the link may call it again and again, OK or NOK: the failure is recorded once.
    for status in ["OK", "NOK", "OK", "NOK", "OK"] {
        let forged = api.send("GET", &callback(&authority, status), None, None, &[]).await;
        assert_eq!(landed(&forged), format!("payment=failed&order_id={order_id}"));
    }
    let order = deal.order(&api, &order_id).await;
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["payment"]["failures"].as_array().unwrap().len(), 1, "{}", order["payment"]);
    let failed = events(&api, &deal, &order_id).await.into_iter().filter(|e| e == "payment_failed").count();
    assert_eq!(failed, 1, "one failure on the timeline for one authority");
    // An authority the gateway never issued.
    let unknown = api.send("GET", &callback(&format!("A{:0>35}", 42), "OK"), None, None, &[]).await;
    assert_eq!(landed(&unknown), "payment=failed");

    // A paid authority of another product on the same merchant: not ours, so never
    // verified (not by the callback, not by the sweeper): the gateway returns it.
    let merchant = std::env::var("ZARINPAL_MERCHANT_ID").unwrap();
    let ours = std::env::var("PEYMAN_ZARINPAL_API").unwrap();
    let other = Zarinpal::new(ZarinpalConfig {
        api_base: std::env::var("ZARINPAL_API_BASE").unwrap(),
        merchant_id: merchant,
        callback_url: format!("{ours}/v1/payments/zarinpal/callback"),
        return_url: String::new(),
        reconcile_after: Duration::ZERO,
        refunds: None,
    });
    let theirs = other.request(3_000_000, "another product", "their-order").await.unwrap();
    let location = at_start_pay(&other.start_pay_url(&theirs), "pay").await;
    assert_eq!(landed(&come_back(&api, &location).await), "payment=failed");
    tokio::time::sleep(Duration::from_secs(12)).await; // past RECONCILE_AFTER_SECONDS
    assert!(verified_amounts(&theirs).await.is_empty(), "another product's payment was verified");
    assert!(other.unverified().await.unwrap().iter().any(|(a, _)| *a == theirs));

    // Bad queries are refused, with the field.
    let bad = api.send("GET", "/v1/payments/zarinpal/callback?Status=OK", None, None, &[]).await;
    assert_eq!(bad.problem(422, "authority_required")["field"], "Authority");
    let bad = api.send("GET", &callback("A1", "OK"), None, None, &[]).await;
    assert_eq!(bad.problem(422, "invalid_authority")["field"], "Authority");
    let bad = api.send("GET", &callback(&authority, "PAID"), None, None, &[]).await;
    assert_eq!(bad.problem(422, "invalid_status")["field"], "Status");
    assert_eq!(deal.order(&api, &order_id).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn twenty_concurrent_callbacks_for_one_paid_authority_start_the_order_once() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, authority, pay_url) = placed(&api, &deal).await;
    let location = at_start_pay(&pay_url, "pay").await;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (api, location) = (api.clone(), location.clone());
            tokio::spawn(async move { come_back(&api, &location).await })
        })
        .collect();
    for call in calls {
        assert_eq!(landed(&call.await.unwrap()), format!("payment=paid&order_id={order_id}"));
    }
    let events = events(&api, &deal, &order_id).await;
    assert_eq!(events.iter().filter(|e| *e == "order_paid").count(), 1, "{events:?}");
    let amounts = verified_amounts(&authority).await;
    assert!(!amounts.is_empty() && amounts.iter().all(|a| *a == 12_000_000), "{amounts:?}");
}

#[tokio::test]
async fn a_payer_who_never_comes_back_is_verified_by_the_sweeper() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, authority, pay_url) = placed(&api, &deal).await;
    at_start_pay(&pay_url, "pay").await; // and the tab is closed
    let order = eventually(WAIT, async || {
        let order = deal.order(&api, &order_id).await;
        (order["status"] == "in_progress").then_some(order)
    })
    .await
    .expect("the sweeper's reconciliation starts the order");
    assert!(order["payment"]["receipt"]["card_pan"].is_string());
    assert_eq!(verified_amounts(&authority).await, vec![12_000_000], "verified once, for the stored amount");
    // The payer returns late: the same success.
    let ours = std::env::var("PEYMAN_ZARINPAL_API").unwrap();
    let back = come_back(&api, &format!("{ours}/v1/payments/zarinpal/callback?Authority={authority}&Status=OK")).await;
    assert_eq!(landed(&back), format!("payment=paid&order_id={order_id}"));
    assert_eq!(events(&api, &deal, &order_id).await.iter().filter(|e| *e == "order_paid").count(), 1);
}

/// Every `AddRefund` the stand-in's refund service took for a transaction, (amount,
/// method), and how many calls named it, refused ones too.
async fn refunds_taken(session_id: &str) -> (Vec<(i64, String)>, i64) {
    let base = std::env::var("ZARINPAL_API_BASE").unwrap();
    let body: Value =
        reqwest::get(format!("{base}/_stand-in/refunds/{session_id}")).await.unwrap().json().await.unwrap();
    let refunds = body["refunds"].as_array().unwrap().iter();
    let taken = refunds.map(|r| (r["amount"].as_i64().unwrap(), r["method"].as_str().unwrap().to_owned())).collect();
    (taken, body["calls"].as_i64().unwrap())
}

/// An order priced at `price` (two stages), placed and then cancelled by the buyer, who
/// pays its authority anyway: the money arrives for an order that cannot use it.
async fn paid_after_cancelling(api: &Api, deal: &Deal, price: i64) -> (String, String) {
    let mut offer = deal.offer();
    offer["price"]["amount"] = json!(price);
    offer["stages"][1]["amount"] = json!(price - 5_000_000);
    let id = deal.send_offer(api, offer).await;
    let order =
        api.post(&format!("/v1/offers/{id}/accept"), &token(&deal.buyer), json!({})).await.ok(201)["order"].clone();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    let authority = order["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let cancelled = api.post(&format!("/v1/orders/{order_id}/cancel"), &token(&deal.buyer), json!({})).await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    // A Zarinpal authority cannot be cancelled: the buyer can still pay it.
    let location = at_start_pay(order["payment"]["pay_url"].as_str().unwrap(), "pay").await;
    assert_eq!(landed(&come_back(api, &location).await), format!("payment=failed&order_id={order_id}"));
    let order = deal.order(api, &order_id).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(
        (&order["payment"]["status"], &order["payment"]["held_reason"]),
        (&json!("held"), &json!("order_not_payable"))
    );
    (order_id, authority)
}

#[tokio::test]
async fn money_for_a_cancelled_order_is_held_and_refunded_once_through_the_refund_service() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    let (order_id, _) = paid_after_cancelling(&api, &deal, 12_000_000).await;
    let refund = eventually(WAIT, async || {
        let order = deal.order(&api, &order_id).await;
        let refund = order["refunds"][0].clone();
        (refund["status"] == "confirmed").then_some(order)
    })
    .await
    .expect("the refund service's answer confirms the refund");
    assert_eq!(refund["refunds"][0]["amount"], json!({ "amount": 12_000_000, "currency": "IRR" }));
    assert_eq!(refund["payment"]["refund_confirmed"], 12_000_000);
    // Asked once, for the transaction the verify call named, as an instant card refund.
    let session = refund["payment"]["receipt"]["reference_id"].as_str().unwrap();
    assert_eq!(refunds_taken(session).await, (vec![(12_000_000, "CARD".to_owned())], 1));
    assert_eq!(refund["refunds"][0]["provider_refund_id"], session);
    let events = events(&api, &deal, &order_id).await;
    assert!(events.contains(&"refund_confirmed".to_owned()), "{events:?}");
    assert!(!events.contains(&"refund_manual".to_owned()), "{events:?}");
}

#[tokio::test]
async fn a_refund_whose_answer_is_lost_is_never_asked_again_and_support_pays_it_back_by_hand() {
    let api = Api::zarinpal();
    let deal = Deal::new(&api).await;
    // A price no other test uses: the stand-in refunds it and then drops the connection.
    let price = 11_000_000 + (ulid::Ulid::new().random() % 900_000) as i64;
    let base = std::env::var("ZARINPAL_API_BASE").unwrap();
    let dropping = reqwest::Client::new().post(format!("{base}/_stand-in/refunds/drop?amount={price}")).send().await;
    assert_eq!(dropping.unwrap().status(), 200);
    let (order_id, authority) = paid_after_cancelling(&api, &deal, price).await;

    let support = support_token(&user("support"));
    let refund = eventually(WAIT, async || {
        let page = api.get("/v1/support/refunds?status=manual&limit=100", &support).await;
        page.ok(200)["items"].as_array().unwrap().iter().find(|r| r["payment_intent_id"] == authority.as_str()).cloned()
    })
    .await
    .expect("the refund is listed for support");
    assert_eq!(refund["status"], "manual");
    assert_eq!(refund["amount"], json!({ "amount": price, "currency": "IRR" }));
    assert!(refund["failure"].as_str().unwrap().contains("never answered"), "{refund}");
    assert!(refund["pay_back_to"]["card_pan"].as_str().unwrap().contains('*'));
    let reference = refund["pay_back_to"]["reference_id"].as_str().unwrap();
    assert_eq!(deal.order(&api, &order_id).await["payment"]["receipt"]["reference_id"], reference);
    // The call went out once and was never repeated, though its answer never came.
    assert_eq!(refunds_taken(reference).await, (vec![(price, "CARD".to_owned())], 1));
    // The parties see the refund and that support pays it; not the card.
    let seen = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.seller)).await;
    assert_eq!(seen.ok(200)["refunds"][0]["status"], "manual");
    assert_eq!(seen.body["refunds"][0]["pay_back_to"], Value::Null);
    assert!(events(&api, &deal, &order_id).await.contains(&"refund_manual".to_owned()));
    // Only support reads the queue.
    api.get("/v1/support/refunds?status=manual", &token(&deal.buyer)).await.problem(403, "support_only");

    // Support checks the gateway's panel, pays it back by bank transfer and says so, once.
    let supporter = user("support");
    let support = support_token(&supporter);
    let paid = format!("/v1/support/refunds/{authority}/held/paid-by-hand");
    let reference = "پایا ۱۴۰۵۰۹۱۲‌-۷۷۳۱";
    api.post(&paid, &token(&deal.buyer), json!({ "transfer_reference": reference })).await.problem(403, "support_only");
    for (body, code) in [
        (json!({ "transfer_reference": " " }), "empty"),
        (json!({ "transfer_reference": "x".repeat(101) }), "too_long"),
        (json!({ "transfer_reference": "a\nb" }), "control_character"),
        (json!({ "transfer_reference": "x", "amount": 1 }), "unknown_field"),
    ] {
        api.post(&paid, &support, body).await.problem(422, code);
    }
    let elsewhere = format!("/v1/support/refunds/{authority}/nosuchrefund/paid-by-hand");
    api.post(&elsewhere, &support, json!({ "transfer_reference": reference })).await.problem(404, "not_found");
    assert_eq!(deal.order(&api, &order_id).await["refunds"][0]["status"], "manual", "bad input changed nothing");

    let done = api.post(&paid, &support, json!({ "transfer_reference": reference })).await;
    let refund = &done.ok(200)["refund"];
    assert_eq!(refund["status"], "confirmed");
    assert_eq!(refund["paid_by_hand"]["transfer_reference"], reference, "Persian digits and ZWNJ kept");
    assert_eq!(refund["paid_by_hand"]["by"], supporter.as_str());
    api.post(&paid, &support, json!({ "transfer_reference": reference })).await.problem(409, "not_payable_by_hand");
    let order = deal.order(&api, &order_id).await;
    assert_eq!(
        (&order["refunds"][0]["status"], &order["payment"]["refund_confirmed"]),
        (&json!("confirmed"), &json!(price))
    );
    let queue = api.get("/v1/support/refunds?status=manual&limit=100", &support).await;
    assert!(!queue.ok(200)["items"].as_array().unwrap().iter().any(|r| r["payment_intent_id"] == authority.as_str()));
    let timeline = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.buyer)).await;
    let by_hand = timeline.ok(200)["events"].as_array().unwrap().iter().find(|e| e["event"] == "refund_paid_by_hand");
    let by_hand = by_hand.expect("the timeline says support paid it back");
    assert_eq!((&by_hand["actor"], &by_hand["actor_id"]), (&json!("support"), &json!(supporter)));
    assert_eq!(by_hand["data"]["transfer_reference"], reference);
}

#[tokio::test]
async fn each_deployment_answers_only_its_own_provider() {
    // The Stripe deployment has no Zarinpal callback; the Zarinpal one takes no Stripe events.
    let authority = format!("A{:0>35}", 7);
    let stripe_side = Api::default()
        .send("GET", &format!("/v1/payments/zarinpal/callback?Authority={authority}&Status=OK"), None, None, &[])
        .await;
    stripe_side.problem(404, "not_found");
    let zarinpal_side = Api::zarinpal()
        .send("POST", "/v1/webhooks/payments/stripe", None, Some("{}"), &[("stripe-signature", "t=1,v1=00")])
        .await;
    zarinpal_side.problem(404, "not_found");
}
