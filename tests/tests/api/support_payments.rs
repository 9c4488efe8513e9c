//! Support's money queues: held payments, decided once (`refund` or `apply`) with the
//! support user on the order's timeline, and refunds the provider kept refusing.

use peyman_e2e::*;
use serde_json::Value;

/// An order whose payment arrived as `amount` IRR (the price is 12,000,000), held.
async fn held(api: &Api, stripe: &Stripe, amount: i64) -> (Deal, String, String) {
    let deal = Deal::new(api).await;
    let placed = deal.placed_order(api).await;
    let order_id = placed["order_id"].as_str().unwrap().to_owned();
    let intent_id = placed["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let object = json!({ "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
                         "currency": "irr", "status": "succeeded" });
    let body = stripe_event(&format!("evt_{}", ulid::Ulid::new()), "payment_intent.succeeded", object);
    let r = api.webhook(&body, Some(&stripe.sign(&body, chrono::Utc::now().timestamp()))).await;
    assert_eq!(r.body["outcome"], "held", "{}", r.text);
    (deal, order_id, intent_id)
}

async fn timeline(api: &Api, deal: &Deal, order_id: &str) -> Vec<Value> {
    let t = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.buyer)).await;
    assert_eq!(t.ok(200)["verified"], true);
    t.body["events"].as_array().unwrap().clone()
}

/// Walks the held queue page by page (two at a time) until `intent_id` shows; every
/// page is newest first and no payment shows twice.
async fn find_in_queue(api: &Api, support: &str, intent_id: &str) -> Option<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..500 {
        let path = match &cursor {
            None => "/v1/support/payments?status=held&limit=2".to_owned(),
            Some(c) => format!("/v1/support/payments?status=held&limit=2&cursor={c}"),
        };
        let page = api.get(&path, support).await;
        for item in page.ok(200)["items"].as_array().unwrap() {
            let id = item["payment_intent_id"].as_str().unwrap().to_owned();
            assert!(seen.insert(id.clone()), "{id} shows twice");
            assert_eq!(item["status"], "held");
            if id == intent_id {
                return Some(item.clone());
            }
        }
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        cursor.as_ref()?;
    }
    None
}

#[tokio::test]
async fn an_overpayment_is_applied_by_support_and_the_excess_goes_back() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let (agent, support) = {
        let agent = user("agent");
        let t = support_token(&agent);
        (agent, t)
    };
    let (deal, order_id, intent_id) = held(&api, &stripe, 13_000_000).await;
    // Only support sees the queue; the payment is in it with its order.
    api.get("/v1/support/payments?status=held", &token(&deal.buyer)).await.problem(403, "support_only");
    let listed = find_in_queue(&api, &support, &intent_id).await.expect("the held payment is listed");
    assert_eq!(
        (listed["order_id"].as_str(), listed["held_reason"].as_str()),
        (Some(order_id.as_str()), Some("amount_mismatch"))
    );
    assert_eq!(listed["received"], json!({ "amount": 13_000_000, "currency": "IRR" }));

    let path = format!("/v1/support/payments/{intent_id}/decision");
    api.post(&path, &token(&deal.buyer), json!({ "decision": "apply" })).await.problem(403, "support_only");
    api.post(&path, &support, json!({ "decision": "keep" })).await.problem(422, "invalid_value");
    let decided = api.post(&path, &support, json!({ "decision": "apply" })).await;
    let body = decided.ok(200);
    assert_eq!(
        (body["payment"]["status"].as_str(), body["payment"]["decided_by"].as_str()),
        (Some("succeeded"), Some(agent.as_str()))
    );
    assert_eq!(body["refund"]["amount"], json!({ "amount": 1_000_000, "currency": "IRR" }), "the excess goes back");
    // The order started, the decision is on its timeline with the support user.
    let order = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.seller)).await;
    assert_eq!(order.ok(200)["status"], "in_progress");
    let events = timeline(&api, &deal, &order_id).await;
    let paid = events.iter().find(|e| e["event"] == "order_paid").expect("order_paid");
    assert_eq!(
        (paid["event"].as_str(), paid["actor"].as_str(), paid["actor_id"].as_str()),
        (Some("order_paid"), Some("support"), Some(agent.as_str()))
    );
    assert_eq!(paid["data"]["decision"], "apply");
    // Decided once: a second decision is refused, and it left the queue.
    api.post(&path, &support, json!({ "decision": "refund" })).await.problem(409, "not_held");
    assert!(find_in_queue(&api, &support, &intent_id).await.is_none());
}

#[tokio::test]
async fn an_underpayment_cannot_start_the_order_and_support_not_a_party_refunds_it() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let agent = user("agent");
    let support = support_token(&agent);
    let (deal, order_id, intent_id) = held(&api, &stripe, 11_999_999).await;
    let path = format!("/v1/support/payments/{intent_id}/decision");
    // Support staff who are the buyer or the seller may not decide it (separation of duties).
    for party in [&deal.buyer, &deal.seller] {
        api.post(&path, &support_token(party), json!({ "decision": "refund" }))
            .await
            .problem(403, "conflict_of_interest");
    }
    api.post(&path, &support, json!({ "decision": "apply" })).await.problem(409, "amount_short");
    let decided = api.post(&path, &support, json!({ "decision": "refund" })).await;
    let body = decided.ok(200);
    assert_eq!(body["payment"]["status"], "refunded");
    assert_eq!(body["refund"]["amount"], json!({ "amount": 11_999_999, "currency": "IRR" }), "all that arrived");
    let order = api.get(&format!("/v1/orders/{order_id}"), &token(&deal.buyer)).await;
    assert_eq!(order.ok(200)["status"], "awaiting_payment", "refunding moves no order");
    let events = timeline(&api, &deal, &order_id).await;
    let names: Vec<_> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names[..3], ["order_placed", "payment_held", "held_payment_refunded"]);
    assert_eq!((events[2]["actor"].as_str(), events[2]["actor_id"].as_str()), (Some("support"), Some(agent.as_str())));
    // localstripe never took this money, so it refuses the refund: after the retries it
    // is in support's queue of failed refunds.
    let failed = eventually(WAIT, async || {
        let page = api.get("/v1/support/refunds?status=failed&limit=100", &support).await;
        page.ok(200)["items"].as_array().unwrap().iter().find(|r| r["payment_intent_id"] == intent_id.as_str()).cloned()
    })
    .await
    .expect("the refused refund is listed for support");
    assert_eq!((failed["refund_id"].as_str(), failed["attempts"].as_u64()), (Some("support"), Some(3)));
    // Support pays it back by hand instead: it leaves the failed queue, confirmed.
    let by_hand = format!("/v1/support/refunds/{intent_id}/support/paid-by-hand");
    let reference = json!({ "transfer_reference": "SEPA 2026-12-03/87" });
    api.post(&by_hand, &support_token(&deal.seller), reference).await.problem(403, "conflict_of_interest");
    let paid = api.post(&by_hand, &support, json!({ "transfer_reference": "SEPA 2026-12-03/88" })).await;
    assert_eq!(
        (&paid.ok(200)["refund"]["status"], &paid.body["refund"]["paid_by_hand"]["by"]),
        (&json!("confirmed"), &json!(agent))
    );
    let page = api.get("/v1/support/refunds?status=failed&limit=100", &support).await;
    assert!(!page.ok(200)["items"].as_array().unwrap().iter().any(|r| r["payment_intent_id"] == intent_id.as_str()));
    let events = timeline(&api, &deal, &order_id).await;
    assert_eq!(events.last().unwrap()["event"], "refund_paid_by_hand");
    api.get("/v1/support/refunds", &token(&deal.buyer)).await.problem(403, "support_only");
    api.get("/v1/support/payments?status=open", &support).await.problem(400, "invalid_status");
    api.get("/v1/support/payments?cursor=bm9wZQ", &support).await.problem(400, "invalid_cursor");
}
