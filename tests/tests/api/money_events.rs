//! The money events Stripe sends after the payment: a refund that fails at the bank after
//! Stripe took it (`refund.failed`), and a chargeback (`charge.dispute.created`, then
//! `…closed`). localstripe sends neither, so each is signed with Stripe's own Python
//! library and delivered as Stripe would; the refunds it asks again are real requests to
//! localstripe.

use chrono::Utc;
use peyman_e2e::*;
use serde_json::Value;

fn event(kind: &str, object: Value) -> String {
    stripe_event(&format!("evt_{}", ulid::Ulid::new()), kind, object)
}

async fn deliver(api: &Api, stripe: &Stripe, body: &str) -> Res {
    api.webhook(body, Some(&stripe.sign(body, Utc::now().timestamp()))).await
}

async fn timeline_events(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.seller)).await;
    assert_eq!(t.ok(200)["verified"], true);
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

fn refund_failed(intent_id: &str, provider_refund_id: &str, refund_id: &str) -> String {
    event(
        "refund.failed",
        json!({ "id": provider_refund_id, "object": "refund", "payment_intent": intent_id, "status": "failed",
                "failure_reason": "expired_or_canceled_card", "metadata": { "refund_id": refund_id } }),
    )
}

fn dispute_object(dispute_id: &str, intent_id: &str, amount: i64, status: &str) -> Value {
    json!({ "id": dispute_id, "object": "dispute", "payment_intent": intent_id, "charge": "ch_x", "amount": amount,
            "currency": "irr", "reason": "fraudulent", "status": status })
}

/// The refund `refund_id` once its provider id differs from `before` (the follow-up or
/// the sweeper asked localstripe again).
async fn sent_again(api: &Api, deal: &Deal, order_id: &str, before: &str) -> Value {
    eventually(WAIT, async || {
        let o = deal.order(api, order_id).await;
        let r = o["refunds"][0].clone();
        (r["status"] == "sent" && r["provider_refund_id"] != before).then_some(r)
    })
    .await
    .expect("the refund is asked of the provider again")
}

#[tokio::test]
async fn a_refund_that_fails_at_the_bank_is_asked_again_under_a_new_key_then_failed_for_support() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let intent_id = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    peyman::flows::payments::refund(&app, &order_id, "part", 1_000_000, "stage dropped", Utc::now()).await.unwrap();
    let first = sent_again(&api, &deal, &order_id, "").await;
    let first_id = first["provider_refund_id"].as_str().unwrap().to_owned();
    // Stripe's running total confirms it first; then the bank returns it.
    let r = deliver(&api, &stripe, &charge_refunded(&intent_id, 1_000_000)).await;
    assert_eq!(r.body["outcome"], "refund_confirmed", "{}", r.text);

    // Not ours: another refund id, or one of ours under a provider id we never recorded.
    for body in [refund_failed(&intent_id, &first_id, "someone-elses"), refund_failed(&intent_id, "re_other", "part")] {
        let r = deliver(&api, &stripe, &body).await;
        assert!(matches!(r.body["outcome"].as_str(), Some("ignored" | "already_decided")), "{}", r.text);
    }
    let failed = refund_failed(&intent_id, &first_id, "part");
    let r = deliver(&api, &stripe, &failed).await;
    assert_eq!(r.body["outcome"], "refund_retrying", "{}", r.text);
    assert_eq!(deliver(&api, &stripe, &failed).await.body["outcome"], "duplicate");
    let o = deal.order(&api, &order_id).await;
    assert_eq!(o["payment"]["refund_confirmed"], 0, "the confirmed total drops by the failed refund");
    // Asked again at localstripe: a new refund there (a new idempotency key), not the first one replayed.
    let second = sent_again(&api, &deal, &order_id, &first_id).await;
    let second_id = second["provider_refund_id"].as_str().unwrap().to_owned();
    let (_, at_stripe) =
        stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent_id}"), &[]).await;
    assert_eq!(at_stripe["data"].as_array().unwrap().len(), 2, "{at_stripe}");

    // It keeps failing: asked a third time, then failed for support (three attempts in the tests' stack).
    let r = deliver(&api, &stripe, &refund_failed(&intent_id, &second_id, "part")).await;
    assert_eq!(r.body["outcome"], "refund_retrying", "{}", r.text);
    let third = sent_again(&api, &deal, &order_id, &second_id).await;
    let r =
        deliver(&api, &stripe, &refund_failed(&intent_id, third["provider_refund_id"].as_str().unwrap(), "part")).await;
    assert_eq!(r.body["outcome"], "refund_failed", "{}", r.text);
    let o = deal.order(&api, &order_id).await;
    assert_eq!((o["refunds"][0]["status"].as_str(), o["refunds"][0]["attempts"].as_i64()), (Some("failed"), Some(3)));
    let support = support_token(&user("agent"));
    let queue = api.get("/v1/support/refunds?status=failed&limit=100", &support).await;
    assert!(
        queue.ok(200)["items"].as_array().unwrap().iter().any(|r| r["payment_intent_id"] == intent_id.as_str()),
        "listed for support: {}",
        queue.text
    );
    let events = timeline_events(&api, &deal, &order_id).await;
    let of_refund: Vec<_> = events.iter().filter(|e| e.starts_with("refund_")).map(String::as_str).collect();
    assert_eq!(
        of_refund,
        [
            "refund_requested",
            "refund_sent",
            "refund_confirmed",
            "refund_bounced",
            "refund_sent",
            "refund_bounced",
            "refund_sent",
            "refund_failed"
        ]
    );
}

#[tokio::test]
async fn a_chargeback_freezes_the_order_in_a_dispute_that_waits_for_the_bank() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let order = deal.order(&api, &order_id).await;
    let intent_id = order["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let price = order["terms"]["price"]["amount"].as_i64().unwrap();
    let support = support_token(&user("agent"));
    let dispute_id = format!("dp_{}", ulid::Ulid::new());

    // Its end before its opening is refused, so Stripe delivers it again later.
    let early = event("charge.dispute.closed", dispute_object(&dispute_id, &intent_id, 4_000_000, "lost"));
    deliver(&api, &stripe, &early).await.problem(503, "dependency_unavailable");
    // Someone else's payment on the account: left alone.
    let foreign = event("charge.dispute.created", dispute_object("dp_x", "pi_not_ours", 1, "needs_response"));
    assert_eq!(deliver(&api, &stripe, &foreign).await.body["outcome"], "ignored");

    let opened = event("charge.dispute.created", dispute_object(&dispute_id, &intent_id, 4_000_000, "needs_response"));
    let r = deliver(&api, &stripe, &opened).await;
    assert_eq!(r.body["outcome"], "chargeback_dispute_opened", "{}", r.text);
    assert_eq!(deliver(&api, &stripe, &opened).await.body["outcome"], "duplicate");
    let o = deal.order(&api, &order_id).await;
    assert_eq!(o["status"], "disputed", "the order freezes");
    assert_eq!(o["payment"]["chargeback"]["provider_dispute_id"], dispute_id.as_str());
    let ours = o["dispute_id"].as_str().unwrap().to_owned();
    let d = api.get(&format!("/v1/orders/{order_id}/disputes/{ours}"), &token(&deal.buyer)).await;
    let dispute = d.ok(200);
    assert_eq!((dispute["reason"].as_str(), dispute["opened_by"].as_str()), (Some("chargeback"), Some("system")));
    // Support is told: in its dispute queue, and its chargeback queue.
    let queue = api.get("/v1/support/payments?status=chargeback&limit=100", &support).await;
    assert!(queue.ok(200)["items"].as_array().unwrap().iter().any(|p| p["payment_intent_id"] == intent_id.as_str()));
    // While the bank decides, support may not.
    let refund = json!({ "decision": "refund", "note": "بانک" });
    let resolution = format!("/v1/support/disputes/{ours}/resolution");
    api.post(&resolution, &support, refund.clone()).await.problem(409, "chargeback_open");
    // A party may not open a chargeback itself.
    let body = json!({ "reason": "chargeback", "description": "x" });
    api.post(&format!("/v1/orders/{order_id}/disputes"), &token(&deal.buyer), body)
        .await
        .problem(422, "reason_not_allowed");

    // The bank decides for the buyer: that part is theirs for good; support refunds only the rest.
    let r = deliver(&api, &stripe, &early).await;
    assert_eq!(r.body["outcome"], "chargeback_closed", "{}", r.text);
    let queue = api.get("/v1/support/payments?status=chargeback&limit=100", &support).await;
    assert!(!queue.ok(200)["items"].as_array().unwrap().iter().any(|p| p["payment_intent_id"] == intent_id.as_str()));
    let resolved = api.post(&resolution, &support, refund).await;
    assert_eq!(resolved.ok(200)["resolution"]["refund_amount"]["amount"], price - 4_000_000, "{}", resolved.text);
    let order_events = timeline_events(&api, &deal, &order_id).await;
    assert_eq!(
        order_events.iter().filter(|e| e.contains("dispute") || e.contains("chargeback")).collect::<Vec<_>>(),
        ["dispute_opened", "chargeback_closed", "dispute_refunded"]
    );
    let d = api.get(&format!("/v1/orders/{order_id}/disputes/{ours}"), &token(&deal.seller)).await;
    let dispute_events: Vec<_> =
        d.ok(200)["history"]["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect();
    assert_eq!(dispute_events, ["dispute_opened", "chargeback_closed", "dispute_resolved"]);
}

#[tokio::test]
async fn a_chargeback_joins_an_open_dispute_and_one_on_a_completed_order_goes_on_its_timeline() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    // Disputed by the buyer first: the chargeback joins that dispute.
    let order_id = deal.paid_order(&api, &stripe).await;
    let intent_id = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let body = json!({ "reason": "not_delivered", "description": "هیچ" });
    let opened = api.post(&format!("/v1/orders/{order_id}/disputes"), &token(&deal.buyer), body).await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    let chargeback = event("charge.dispute.created", dispute_object("dp_join", &intent_id, 100, "needs_response"));
    assert_eq!(deliver(&api, &stripe, &chargeback).await.body["outcome"], "chargeback_joined");
    let d = api.get(&format!("/v1/orders/{order_id}/disputes/{dispute_id}"), &token(&deal.buyer)).await;
    assert_eq!(d.ok(200)["chargeback"]["provider_dispute_id"], "dp_join");
    // The provider took it back at once: out of escrow, on the ledger.
    let money = |order: Value| (order["money"]["in_escrow"].as_i64(), order["money"]["refunded"].as_i64());
    assert_eq!(money(deal.order(&api, &order_id).await), (Some(12_000_000 - 100), Some(100)));
    let support = support_token(&user("agent"));
    let release = json!({ "decision": "release", "note": "x" });
    let resolution = format!("/v1/support/disputes/{dispute_id}/resolution");
    api.post(&resolution, &support, release.clone()).await.problem(409, "chargeback_open");
    let won = event("charge.dispute.closed", dispute_object("dp_join", &intent_id, 100, "won"));
    assert_eq!(deliver(&api, &stripe, &won).await.body["outcome"], "chargeback_closed");
    assert_eq!(money(deal.order(&api, &order_id).await), (Some(12_000_000), Some(0)), "won: it came back");
    let released = api.post(&resolution, &support, release).await;
    assert_eq!(released.ok(200)["order"]["money"]["released"], 12_000_000, "{}", released.text);

    // On a completed order nothing can freeze: the timeline tells both parties, and
    // support's chargeback queue lists it.
    let completed = deal.completed_order(&api, &stripe).await;
    let intent_id = deal.order(&api, &completed).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let late = event("charge.dispute.created", dispute_object("dp_late", &intent_id, 100, "needs_response"));
    assert_eq!(deliver(&api, &stripe, &late).await.body["outcome"], "chargeback_recorded");
    assert_eq!(deal.order(&api, &completed).await["status"], "completed");
    assert!(timeline_events(&api, &deal, &completed).await.contains(&"chargeback_opened".to_owned()));
    let queue = api.get("/v1/support/payments?status=chargeback&limit=100", &support).await;
    assert!(queue.ok(200)["items"].as_array().unwrap().iter().any(|p| p["payment_intent_id"] == intent_id.as_str()));
}
