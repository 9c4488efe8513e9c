//! Disputes on the local stack with localstripe: opened by a party with files (a voice
//! note included), the order frozen while it is open (no timer and no party moves it),
//! statements from both, support's queue and case page, and resolutions with their
//! refunds sent to and confirmed by the provider. Refusals have their own codes and store
//! nothing; concurrent resolutions have one winner; who may call what.

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use serde_json::Value;

fn path(order_id: &str, rest: &str) -> String {
    format!("/v1/orders/{order_id}/{rest}")
}

async fn verified(api: &Api, who: &str, path: &str) -> Vec<String> {
    let t = api.get(path, &token(who)).await;
    assert_eq!(t.ok(200)["verified"], true, "{path}: the chain verifies");
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

async fn refunds_at(stripe: &Stripe, intent: &str) -> Vec<Value> {
    let (status, refunds) =
        stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
    assert_eq!(status, 200, "{refunds}");
    refunds["data"].as_array().unwrap().clone()
}

/// An order of the deal, paid and its first stage delivered; its dispute opened by the
/// buyer with a voice note and a file. Returns the order id and the dispute.
async fn disputed(api: &Api, stripe: &Stripe, deal: &Deal) -> (String, Value) {
    let order_id = deal.paid_order(api, stripe).await;
    api.post(&path(&order_id, "deliveries"), &token(&deal.seller), json!({ "message": "طرح‌ها" })).await.ok(201);
    let (voice, file) = (ready_voice_note(api, &deal.buyer).await, ready_file(api, &deal.buyer).await);
    let body = json!({
        "reason": "not_as_agreed",
        "description": "طرح‌ها با بند ۲ قرارداد نمی‌خواند 😕",
        "attachment_upload_ids": [file],
        "voice_note_upload_id": voice,
    });
    let opened = api.post(&path(&order_id, "disputes"), &token(&deal.buyer), body).await;
    (order_id, opened.ok(201).clone())
}

#[tokio::test]
async fn a_dispute_freezes_the_order_and_support_resolves_it_with_a_partial_refund() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let agent = user("agent");
    let (buyer, seller, support) = (token(&deal.buyer), token(&deal.seller), support_token(&agent));
    let (order_id, opened) = disputed(&api, &stripe, &deal).await;
    let dispute_id = opened["dispute_id"].as_str().unwrap().to_owned();
    assert_eq!((opened["status"].as_str(), opened["opened_by"].as_str()), (Some("open"), Some("buyer")));
    assert_eq!(
        (opened["order"]["status"].as_str(), opened["order"]["dispute_id"].as_str()),
        (Some("disputed"), Some(dispute_id.as_str()))
    );
    assert!(opened["order"]["auto_complete_at"].is_null(), "no clock runs on a frozen order");

    // Frozen: nothing either party may do, and no timer moves it.
    for who in [&buyer, &seller] {
        let o = api.get(&format!("/v1/orders/{order_id}"), who).await;
        assert_eq!(o.ok(200)["allowed_actions"], json!([]));
    }
    api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.problem(409, "invalid_state");
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "x" })).await.problem(409, "invalid_state");
    api.post(&path(&order_id, "cancellation-requests"), &seller, json!({ "reason": "x" }))
        .await
        .problem(409, "invalid_state");
    let far = Utc::now() + chrono::Duration::days(60);
    for suffix in ["auto_complete", "late", "late_cancellation"] {
        let timer = aws.timer(&format!("order/{order_id}/{suffix}")).await;
        assert!(!peyman::flows::timers::fire(&app, &timer, far).await.unwrap(), "{suffix} changes nothing");
    }
    assert_eq!(deal.order(&api, &order_id).await["status"], "disputed");

    // The seller sees it, its files are theirs to read, and both add statements.
    let dispute_path = path(&order_id, &format!("disputes/{dispute_id}"));
    let seen = api.get(&dispute_path, &seller).await;
    assert_eq!(seen.ok(200)["description"], "طرح‌ها با بند ۲ قرارداد نمی‌خواند 😕");
    let voice = seen.body["voice_note_upload_id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&format!("/v1/uploads/{voice}"), &seller).await.ok(200)["status"], "ready");
    let evidence = ready_file(&api, &deal.seller).await;
    let statement = json!({ "text": "بند ۲ سه طرح می‌خواهد و سه طرح تحویل شد.", "attachment_upload_ids": [evidence] });
    api.post(&format!("{dispute_path}/statements"), &seller, statement).await.ok(201);
    api.post(&format!("{dispute_path}/statements"), &buyer, json!({ "text": "کیفیت طرح‌ها پایین است." })).await.ok(201);
    let seen = api.get(&dispute_path, &buyer).await;
    assert_eq!(seen.ok(200)["statements"].as_array().unwrap().len(), 2);
    assert_eq!(seen.body["history"]["verified"], true);

    // Support's queue lists it among the open ones, oldest first; the case page has it all.
    let open = api.get("/v1/support/disputes?status=open&limit=100", &support).await;
    let ids: Vec<&str> =
        open.ok(200)["items"].as_array().unwrap().iter().map(|d| d["dispute_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&dispute_id.as_str()));
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "oldest first (ULIDs in time order)");
    let case = api.get(&format!("/v1/support/disputes/{dispute_id}"), &support).await;
    let case = case.ok(200);
    assert_eq!(case["contract"]["terms_hash_verified"], true);
    assert_eq!(case["contract"]["terms"]["title"], "لوگوی فروشگاه");
    for timeline in ["offer", "order", "dispute"] {
        assert_eq!(case["timelines"][timeline]["verified"], true, "{timeline}");
    }
    assert_eq!(case["deliveries"].as_array().unwrap().len(), 1);
    assert!(!case["messages"]["items"].as_array().unwrap().is_empty(), "the conversation before the order");
    assert_eq!(case["payments"][0]["status"], "succeeded");
    assert_eq!(case["ledger"][0]["kind"], "payment_received", "the order's ledger, for support to decide from");
    assert_eq!(case["statements"].as_array().unwrap().len(), 2);

    // The resolution: a partial refund, sent to localstripe and confirmed; the order is
    // complete and final, and the dispute takes nothing more.
    let decision = json!({
        "decision": "partial_refund",
        "amount": { "amount": 4_000_000, "currency": "IRR" },
        "note": "مرحله اول تحویل شد؛ مبلغ مرحله دوم بازگردانده می‌شود.",
    });
    let resolved = api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support, decision.clone()).await;
    assert_eq!(resolved.ok(200)["status"], "resolved");
    assert_eq!(resolved.body["resolution"]["decided_by"], agent.as_str());
    assert_eq!(resolved.body["order"]["status"], "completed");
    let intent = case["payments"][0]["payment_intent_id"].as_str().unwrap().to_owned();
    let refunds = eventually(WAIT, async || {
        let refunds = refunds_at(&stripe, &intent).await;
        (!refunds.is_empty()).then_some(refunds)
    })
    .await
    .expect("the refund reaches the provider");
    assert_eq!((refunds.len(), refunds[0]["amount"].as_i64()), (1, Some(4_000_000)));
    // localstripe sends no charge.refunded; Stripe would. Its confirmation closes it.
    let body = charge_refunded(&intent, 4_000_000);
    let r = api.webhook(&body, Some(&stripe.sign(&body, Utc::now().timestamp()))).await;
    assert_eq!(r.ok(200)["outcome"], "refund_confirmed");
    let o = api.get(&format!("/v1/orders/{order_id}"), &buyer).await;
    assert_eq!(o.ok(200)["payment"]["refund_confirmed"], 4_000_000);
    api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support, decision)
        .await
        .problem(409, "dispute_resolved");
    api.post(&format!("{dispute_path}/statements"), &buyer, json!({ "text": "x" }))
        .await
        .problem(409, "dispute_resolved");
    let o = deal.order(&api, &order_id).await;
    // Final: reviewed next, and never disputed again.
    assert_eq!((o["status"].as_str(), o["allowed_actions"].clone()), (Some("completed"), json!(["review", "tip"])));
    let resolved = api.get("/v1/support/disputes?status=resolved&limit=100", &support).await;
    assert!(resolved.ok(200)["items"].as_array().unwrap().iter().any(|d| d["dispute_id"] == dispute_id.as_str()));
    let order_events = verified(&api, &deal.buyer, &path(&order_id, "timeline")).await;
    let at = |name: &str| order_events.iter().position(|e| e == name);
    assert!(
        at("dispute_opened") < at("dispute_partly_refunded") && at("order_delivered") < at("dispute_opened"),
        "{order_events:?}"
    );
    let dispute_events = api.get(&dispute_path, &seller).await.ok(200)["history"]["events"].clone();
    let names: Vec<&str> = dispute_events.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["dispute_opened", "statement_added", "statement_added", "dispute_resolved"]);
    assert_eq!(dispute_events[3]["actor"], "support");
}

#[tokio::test]
async fn a_full_refund_cancels_the_order_and_concurrent_resolutions_have_one_winner() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let support = support_token(&user("agent"));
    let (order_id, opened) = disputed(&api, &stripe, &deal).await;
    let dispute_id = opened["dispute_id"].as_str().unwrap().to_owned();
    let racing: Vec<_> = (0..10)
        .map(|i| {
            let (api, support, dispute_id) = (api.clone(), support.clone(), dispute_id.clone());
            let decision = if i % 2 == 0 { "refund" } else { "release" };
            tokio::spawn(async move {
                let body = json!({ "decision": decision, "note": "تصمیم" });
                api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support, body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in racing {
        answers.push(task.await.unwrap());
    }
    let won: Vec<_> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "one resolution wins");
    assert!(answers.iter().all(|r| r.status == 200 || r.status == 409));
    let o = deal.order(&api, &order_id).await;
    let expected = if won[0].body["resolution"]["decision"] == "refund" { "cancelled" } else { "completed" };
    assert_eq!(o["status"], expected);
    let refunded = if expected == "cancelled" { 12_000_000 } else { 0 };
    assert_eq!(o["payment"]["refund_requested"], refunded, "refunded in full or not at all, once");
    let events = verified(&api, &deal.buyer, &path(&order_id, "timeline")).await;
    assert_eq!(events.iter().filter(|e| e.starts_with("dispute_") && *e != "dispute_opened").count(), 1);
}

#[tokio::test]
async fn identical_partial_refunds_sent_at_once_have_one_winner_and_every_loser_answers_409_with_it() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let support = support_token(&user("agent"));
    let (order_id, opened) = disputed(&api, &stripe, &deal).await;
    let dispute_id = opened["dispute_id"].as_str().unwrap().to_owned();
    // As support would, clicking again: the same partial refund, six times at once. A
    // loser that read the dispute before the winner's commit and the payment after it
    // must not answer 422 refund_exceeds_payment: it lost a race, and says what won.
    let body =
        json!({ "decision": "partial_refund", "amount": { "amount": 8_000_000, "currency": "IRR" }, "note": "دو سوم" });
    let racing: Vec<_> = (0..6)
        .map(|_| {
            let (api, support, body) = (api.clone(), support.clone(), body.clone());
            let resolution = format!("/v1/support/disputes/{dispute_id}/resolution");
            tokio::spawn(async move { api.post(&resolution, &support, body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in racing {
        answers.push(task.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|r| r.status == 200).count(), 1, "one resolution wins");
    for lost in answers.iter().filter(|r| r.status != 200) {
        let problem = lost.problem(409, "dispute_resolved");
        assert!(problem["detail"].as_str().unwrap().contains("partial_refund (8000000 IRR refunded)"), "{}", lost.text);
    }
    let money = deal.order(&api, &order_id).await["money"].clone();
    assert_eq!((money["refunded"].as_i64(), money["released"].as_i64()), (Some(8_000_000), Some(4_000_000)), "once");
}

#[tokio::test]
async fn disputes_refused_are_named_and_store_nothing() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller, support) = (token(&deal.buyer), token(&deal.seller), support_token(&user("agent")));
    let good = json!({ "reason": "not_delivered", "description": "هنوز چیزی نرسیده" });
    // Orders that cannot be disputed, each with its code.
    let unpaid = deal.placed_order(&api).await["order_id"].as_str().unwrap().to_owned();
    api.post(&path(&unpaid, "disputes"), &buyer, good.clone()).await.problem(409, "order_not_paid");
    api.post(&path(&unpaid, "cancel"), &buyer, json!({})).await.ok(200);
    api.post(&path(&unpaid, "disputes"), &buyer, good.clone()).await.problem(409, "order_cancelled");
    // A completed order past its window: `clock::a_dispute_opened_after_auto_completion_…`.

    let order_id = deal.paid_order(&api, &stripe).await;
    let before = deal.order(&api, &order_id).await;
    let bad = [
        (json!({ "reason": "i_dont_like_it", "description": "x" }), 422, "invalid_value", "reason"),
        (json!({ "description": "x" }), 422, "missing_field", "reason"),
        (json!({ "reason": "other", "description": " " }), 422, "empty", "description"),
        (json!({ "reason": "other", "description": "ب".repeat(5_001) }), 422, "too_long", "description"),
        (json!({ "reason": "other", "description": "x", "severity": 9 }), 422, "unknown_field", "severity"),
        (
            json!({ "reason": "other", "description": "x", "attachment_upload_ids": ["nope"] }),
            400,
            "invalid_id",
            "attachment_upload_ids[0]",
        ),
    ];
    for (body, status, code, field) in bad {
        let r = api.post(&path(&order_id, "disputes"), &buyer, body.clone()).await;
        assert_eq!(r.problem(status, code)["field"], field, "{body}");
    }
    let theirs = ready_file(&api, &deal.seller).await;
    let body = json!({ "reason": "other", "description": "x", "attachment_upload_ids": [theirs] });
    api.post(&path(&order_id, "disputes"), &buyer, body).await.problem(422, "upload_not_found");
    api.post(&path(&order_id, "disputes"), &support, good.clone()).await.problem(403, "not_allowed_for_role");
    api.post(&path(&order_id, "disputes"), &token(&user("stranger")), good.clone()).await.problem(404, "not_found");
    assert_eq!(deal.order(&api, &order_id).await["updated_at"], before["updated_at"], "nothing stored");

    // One open dispute per order.
    let opened = api
        .post(
            &path(&order_id, "disputes"),
            &seller,
            json!({ "reason": "buyer_unresponsive", "description": "پاسخی نمی‌دهد" }),
        )
        .await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    api.post(&path(&order_id, "disputes"), &buyer, good.clone()).await.problem(409, "dispute_already_open");

    // Resolutions refused, each with its code, the dispute still open after.
    let resolve = format!("/v1/support/disputes/{dispute_id}/resolution");
    let irr = |amount: i64| json!({ "amount": amount, "currency": "IRR" });
    let bad = [
        (json!({ "decision": "partial_refund", "note": "n" }), 422, "amount_required"),
        (json!({ "decision": "partial_refund", "amount": irr(0), "note": "n" }), 422, "refund_amount_out_of_range"),
        (
            json!({ "decision": "partial_refund", "amount": irr(12_000_001), "note": "n" }),
            422,
            "refund_exceeds_payment",
        ),
        (
            json!({ "decision": "partial_refund", "amount": { "amount": 5, "currency": "USD" }, "note": "n" }),
            422,
            "currency_mismatch",
        ),
        (json!({ "decision": "release", "amount": irr(5), "note": "n" }), 422, "amount_not_allowed"),
        (json!({ "decision": "split", "note": "n" }), 422, "invalid_value"),
        (json!({ "decision": "release", "note": "" }), 422, "empty"),
    ];
    for (body, status, code) in bad {
        api.post(&resolve, &support, body.clone()).await.problem(status, code);
    }
    for party in [&buyer, &seller] {
        api.post(&resolve, party, json!({ "decision": "release", "note": "n" })).await.problem(403, "support_only");
    }
    let unknown = format!("/v1/support/disputes/{}/resolution", ulid::Ulid::new());
    api.post(&unknown, &support, json!({ "decision": "release", "note": "n" })).await.problem(404, "not_found");
    api.get("/v1/support/disputes?status=closed", &support).await.problem(400, "invalid_status");
    api.get("/v1/support/disputes?cursor=bm9wZQ", &support).await.problem(400, "invalid_cursor");
    let o = deal.order(&api, &order_id).await;
    assert_eq!(o["status"], "disputed");
    assert_eq!(o["payment"]["refund_requested"], 0);
    // A dispute of another order is not found under this one.
    let other = deal.paid_order(&api, &stripe).await;
    let elsewhere = path(&other, &format!("disputes/{dispute_id}"));
    api.get(&elsewhere, &buyer).await.problem(404, "not_found");
}

#[tokio::test]
async fn who_may_open_read_state_and_resolve_and_no_party_decides() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let (stranger, support) = (token(&user("stranger")), support_token(&user("agent")));
    let (order_id, opened) = disputed(&api, &stripe, &deal).await;
    let dispute_id = opened["dispute_id"].as_str().unwrap();
    let dispute_path = path(&order_id, &format!("disputes/{dispute_id}"));
    // Reading: the parties and support; a stranger learns nothing.
    for who in [&buyer, &seller, &support] {
        api.get(&dispute_path, who).await.ok(200);
    }
    api.get(&dispute_path, &stranger).await.problem(404, "not_found");
    // Statements: the parties only.
    let said = json!({ "text": "x" });
    api.post(&format!("{dispute_path}/statements"), &support, said.clone()).await.problem(403, "not_allowed_for_role");
    api.post(&format!("{dispute_path}/statements"), &stranger, said.clone()).await.problem(404, "not_found");
    // Support's routes: support only.
    for who in [&buyer, &seller, &stranger] {
        api.get("/v1/support/disputes", who).await.problem(403, "support_only");
        api.get(&format!("/v1/support/disputes/{dispute_id}"), who).await.problem(403, "support_only");
        let decision = json!({ "decision": "release", "note": "n" });
        api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), who, decision)
            .await
            .problem(403, "support_only");
    }
    api.get(&format!("/v1/support/disputes/{dispute_id}"), &support).await.ok(200);
    // Support staff who are a party may read the case, never decide it: the dispute stays open.
    for party in [&deal.buyer, &deal.seller] {
        let decision = json!({ "decision": "refund", "note": "n" });
        api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support_token(party), decision)
            .await
            .problem(403, "conflict_of_interest");
    }
    assert_eq!(api.get(&dispute_path, &buyer).await.ok(200)["status"], "open");
    let _: DateTime<Utc> = opened["created_at"].as_str().unwrap().parse().unwrap();
}
