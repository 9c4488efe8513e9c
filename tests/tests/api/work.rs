//! The order's work after payment, end to end on the local stack with localstripe:
//! deliveries per stage, revisions within the limit, acceptance and auto-complete through
//! the sweeper's code, both reviews under the gig, cancellation; who may do what, and
//! races.

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use serde_json::Value;

async fn order(api: &Api, deal: &Deal, order_id: &str) -> Value {
    deal.order(api, order_id).await
}

/// A file of `owner`'s declared but never sent: the check has not passed it.
async fn pending_file(api: &Api, owner: &str) -> String {
    let declared = json!({ "kind": "attachment", "file_name": "x.png", "content_type": "image/png", "size_bytes": 10 });
    api.post("/v1/uploads", &token(owner), declared).await.ok(201)["upload_id"].as_str().unwrap().to_owned()
}

fn path(order_id: &str, action: &str) -> String {
    format!("/v1/orders/{order_id}/{action}")
}

async fn events(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&path(order_id, "timeline"), &token(&deal.seller)).await;
    assert_eq!(t.ok(200)["verified"], true, "the chain verifies");
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

/// The data of the first `event` on the order's timeline.
async fn event_data(api: &Api, deal: &Deal, order_id: &str, event: &str) -> Value {
    let t = api.get(&path(order_id, "timeline"), &token(&deal.buyer)).await;
    let events = t.ok(200)["events"].as_array().unwrap();
    events.iter().find(|e| e["event"] == event).map(|e| e["data"].clone()).expect(event)
}

#[tokio::test]
async fn two_stages_delivered_revised_accepted_auto_completed_and_reviewed() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let file = ready_file(&api, &deal.seller).await;

    // Stage 1: delivered with a message and a file, which the buyer may now download.
    let body = json!({ "stage": 1, "message": "سه طرح اولیه 🎨", "attachment_upload_ids": [file] });
    let delivered = api.post(&path(&order_id, "deliveries"), &seller, body).await;
    assert_eq!(delivered.ok(201)["stage"], 1);
    assert_eq!(delivered.body["order"]["status"], "delivered");
    assert!(delivered.body["order"]["auto_complete_at"].is_string());
    let listed = api.get(&path(&order_id, "deliveries"), &buyer).await;
    let first = &listed.ok(200)["items"][0];
    assert_eq!(first["files"][0]["upload_id"], file.as_str());
    assert!(first["files"][0]["download_url"].is_string(), "the buyer gets a link");
    assert_eq!(api.get(&format!("/v1/uploads/{file}"), &buyer).await.ok(200)["status"], "ready");

    // The timeline records the delivery with its file's checked content hash.
    use sha2::Digest;
    let png_sha256 = hex::encode(sha2::Sha256::digest(PNG));
    assert_eq!(api.get(&format!("/v1/uploads/{file}"), &seller).await.ok(200)["sha256"], png_sha256.as_str());
    let data = event_data(&api, &deal, &order_id, "order_delivered").await;
    assert_eq!(data["delivery_id"], delivered.body["delivery_id"]);
    assert_eq!((data["stage"].as_i64(), data["message"].as_str()), (Some(1), Some("سه طرح اولیه 🎨")));
    assert_eq!(
        data["files"],
        json!([{ "upload_id": file, "file_name": "فایل نمونه.bin", "size_bytes": PNG.len(), "sha256": png_sha256 }])
    );

    // A revision sends it back in progress and counts; the auto-complete clock stops.
    let revised = api.post(&path(&order_id, "revision-requests"), &buyer, json!({ "reason": "رنگ‌ها گرم‌تر" })).await;
    let data = event_data(&api, &deal, &order_id, "revision_requested").await;
    assert_eq!((data["reason"].as_str(), data["revisions_used"].as_i64()), (Some("رنگ‌ها گرم‌تر"), Some(1)));
    assert_eq!(
        (revised.ok(200)["status"].as_str(), revised.body["revisions_used"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    assert!(revised.body["auto_complete_at"].is_null());
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "نسخه دوم" })).await.ok(201);
    let accepted = api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await;
    assert_eq!((accepted.ok(200)["status"].as_str(), accepted.body["stage"].as_i64()), (Some("in_progress"), Some(2)));

    // Stage 2: delivered, and the buyer says nothing: the sweeper's code accepts it when
    // the auto-complete timer fires, not before.
    let delivered =
        api.post(&path(&order_id, "deliveries"), &seller, json!({ "stage": 2, "message": "فایل نهایی" })).await;
    let due: DateTime<Utc> = delivered.ok(201)["order"]["auto_complete_at"].as_str().unwrap().parse().unwrap();
    let timer = aws.timer(&format!("order/{order_id}/auto_complete")).await;
    assert!(!peyman::flows::timers::fire(&app, &timer, due - chrono::Duration::seconds(1)).await.unwrap());
    assert!(peyman::flows::timers::fire(&app, &timer, due).await.unwrap());
    let done = order(&api, &deal, &order_id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["completed_at"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()), Some(due));
    assert_eq!(done["allowed_actions"], json!(["open_dispute", "review", "tip"]), "reviewed next, or still disputed");
    for role in ["buyer", "seller"] {
        let who = if role == "buyer" { &buyer } else { &seller };
        let list = api.get(&format!("/v1/orders?role={role}&status=completed"), who).await;
        assert!(list.ok(200)["items"].as_array().unwrap().iter().any(|o| o["order_id"] == order_id.as_str()));
    }
    assert_eq!(
        events(&api, &deal, &order_id).await[2..],
        [
            "order_delivered",
            "revision_requested",
            "order_delivered",
            "stage_accepted",
            "order_delivered",
            "order_auto_completed"
        ]
    );
    // The first delivery's timer, left from before the revision, changes nothing.
    let deliveries = api.get(&path(&order_id, "deliveries"), &seller).await;
    assert_eq!(deliveries.ok(200)["items"].as_array().unwrap().len(), 3);

    // Both review; the buyer's lands under the gig, which shows the rating.
    let review = |rating: i64, text: &str| json!({ "rating": rating, "text": text });
    api.post(&path(&order_id, "review"), &buyer, review(4, "خوب بود 👍")).await.ok(201);
    api.post(&path(&order_id, "review"), &seller, review(5, "خریدار دقیق")).await.ok(201);
    let gig = api.get(&format!("/v1/gigs/{}", deal.gig_id), &buyer).await;
    assert_eq!((gig.ok(200)["rating"]["count"].as_i64(), gig.body["rating"]["average"].as_f64()), (Some(1), Some(4.0)));
    let listed = api.get(&format!("/v1/gigs/{}/reviews", deal.gig_id), &seller).await;
    assert_eq!(listed.ok(200)["items"][0]["text"], "خوب بود 👍");
    assert_eq!(events(&api, &deal, &order_id).await[8..], ["review_written", "reviews_published"]);
}

#[tokio::test]
async fn exactly_the_included_revisions_succeed_even_when_twenty_race_for_the_last() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let deliver =
        async || api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "نسخه" })).await.ok(201).clone();
    // The offer includes two revisions: the first is asked alone...
    deliver().await;
    api.post(&path(&order_id, "revision-requests"), &buyer, json!({ "reason": "یک" })).await.ok(200);
    // ...and twenty race for the second: one wins, the others lost the race.
    deliver().await;
    let racing: Vec<_> = (0..20)
        .map(|i| {
            let (api, buyer, order_id) = (api.clone(), buyer.clone(), order_id.clone());
            tokio::spawn(async move {
                api.post(&path(&order_id, "revision-requests"), &buyer, json!({ "reason": format!("دو {i}") })).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in racing {
        answers.push(task.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|r| r.status == 200).count(), 1, "exactly one takes the last revision");
    assert!(answers.iter().all(|r| r.status == 200 || r.status == 409));
    // Past the limit the answer has its own code.
    deliver().await;
    let refused = api.post(&path(&order_id, "revision-requests"), &buyer, json!({ "reason": "سه" })).await;
    refused.problem(409, "revision_limit_reached");
    let o = order(&api, &deal, &order_id).await;
    assert_eq!((o["revisions_used"].as_i64(), o["status"].as_str()), (Some(2), Some("delivered")));
    assert!(!o["allowed_actions"].as_array().unwrap().contains(&json!("request_revision")));
}

#[tokio::test]
async fn only_a_paid_order_is_delivered_and_only_by_its_seller() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller, stranger) = (token(&deal.buyer), token(&deal.seller), token(&user("stranger")));
    let unpaid = deal.placed_order(&api).await["order_id"].as_str().unwrap().to_owned();
    let note = json!({ "message": "زودتر" });
    api.post(&path(&unpaid, "deliveries"), &seller, note.clone()).await.problem(409, "invalid_state");

    let order_id = deal.paid_order(&api, &stripe).await;
    api.post(&path(&order_id, "deliveries"), &buyer, note.clone()).await.problem(403, "not_allowed_for_role");
    api.post(&path(&order_id, "deliveries"), &stranger, note.clone()).await.problem(404, "not_found");
    api.get(&path(&order_id, "deliveries"), &stranger).await.problem(404, "not_found");
    api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.problem(409, "invalid_state");
    // Bad deliveries, each with its own code; nothing is stored.
    let bad = [
        (json!({}), 422, "empty_delivery"),
        (json!({ "message": "x", "stage": 3 }), 422, "stage_out_of_range"),
        (json!({ "message": "x", "stage": 2 }), 422, "not_the_current_stage"),
        (json!({ "message": "x", "colour": 1 }), 422, "unknown_field"),
        (json!({ "attachment_upload_ids": [ready_file(&api, &deal.buyer).await] }), 422, "upload_not_found"),
        (json!({ "attachment_upload_ids": [pending_file(&api, &deal.seller).await] }), 422, "upload_not_ready"),
    ];
    for (body, status, code) in bad {
        api.post(&path(&order_id, "deliveries"), &seller, body).await.problem(status, code);
    }
    let listed = api.get(&path(&order_id, "deliveries"), &buyer).await;
    assert_eq!(listed.ok(200)["items"], json!([]));
    assert_eq!(order(&api, &deal, &order_id).await["status"], "in_progress");

    let delivered = api.post(&path(&order_id, "deliveries"), &seller, note).await;
    let waiting = json!(["request_cancellation", "propose_amendment", "open_dispute"]);
    assert_eq!(delivered.ok(201)["order"]["allowed_actions"], waiting, "the seller waits for the buyer");
    let seen = order(&api, &deal, &order_id).await;
    assert_eq!(
        seen["allowed_actions"],
        json!(["request_revision", "accept_delivery", "request_cancellation", "propose_amendment", "open_dispute"])
    );
    api.post(&path(&order_id, "acceptance"), &seller, json!({})).await.problem(403, "not_allowed_for_role");
    // Bad revision requests, each with its own code; the count does not move.
    let bad = [
        (json!({}), "missing_field"),
        (json!({ "reason": " " }), "empty"),
        (json!({ "reason": "ب".repeat(1_001) }), "too_long"),
        (json!({ "reason": "x", "urgent": true }), "unknown_field"),
        (json!({ "reason": "x", "attachment_upload_ids": [ready_file(&api, &deal.seller).await] }), "upload_not_found"),
        (
            json!({ "reason": "x", "attachment_upload_ids": [pending_file(&api, &deal.buyer).await] }),
            "upload_not_ready",
        ),
    ];
    for (body, code) in bad {
        api.post(&path(&order_id, "revision-requests"), &buyer, body).await.problem(422, code);
    }
    let o = order(&api, &deal, &order_id).await;
    assert_eq!((o["revisions_used"].as_i64(), o["status"].as_str()), (Some(0), Some("delivered")));
}

#[tokio::test]
async fn either_party_cancels_an_unpaid_order_and_its_payment_is_cancelled_at_the_provider() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap();
    let intent = placed["payment"]["payment_intent_id"].as_str().unwrap();
    api.post(&path(order_id, "cancel"), &token(&user("stranger")), json!({})).await.problem(404, "not_found");
    let cancelled = api.post(&path(order_id, "cancel"), &token(&deal.buyer), json!({})).await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    api.post(&path(order_id, "cancel"), &token(&deal.seller), json!({})).await.problem(409, "invalid_state");
    eventually(WAIT, async || (stripe.intent(intent).await["status"] == "canceled").then_some(()))
        .await
        .expect("the intent is cancelled by a follow-up");
    assert!(events(&api, &deal, order_id).await.contains(&"order_cancelled".to_owned()));

    // A paid order is not the seller's to cancel alone.
    let paid = deal.paid_order(&api, &stripe).await;
    api.post(&path(&paid, "cancel"), &token(&deal.seller), json!({})).await.problem(403, "not_allowed_for_role");
}

#[tokio::test]
async fn a_late_order_is_cancelled_by_its_buyer_after_the_grace_period_with_a_full_refund() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let seen = order(&api, &deal, &order_id).await;
    let due: DateTime<Utc> = seen["due_at"].as_str().unwrap().parse().unwrap();
    let intent = seen["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let buyer = peyman_rules::caller::Caller { user_id: deal.buyer.clone(), is_support: false };

    // Not late yet: the buyer cannot cancel alone, and the seller never can.
    api.post(&path(&order_id, "cancel"), &token(&deal.buyer), json!({}))
        .await
        .problem(409, "late_cancellation_not_open");
    api.post(&path(&order_id, "cancel"), &token(&deal.seller), json!({})).await.problem(403, "not_allowed_for_role");
    // The late timer flags it at its due time; within the grace period it is still refused.
    let late = aws.timer(&format!("order/{order_id}/late")).await;
    assert!(peyman::flows::timers::fire(&app, &late, due).await.unwrap());
    let within = due + chrono::Duration::hours(23);
    let refused = peyman::flows::work::cancel(&app, &buyer, &order_id, within).await.unwrap_err();
    assert_eq!(refused.code(), "late_cancellation_not_open");
    // After it: cancelled, and all that was paid goes back through the provider.
    let after = due + chrono::Duration::hours(24) + chrono::Duration::minutes(1);
    let cancelled = peyman::flows::work::cancel(&app, &buyer, &order_id, after).await.unwrap();
    assert_eq!(serde_json::to_value(cancelled.state).unwrap(), "cancelled");
    eventually(WAIT, async || {
        let path = format!("/v1/refunds?payment_intent={intent}");
        let (status, refunds) = stripe.call(reqwest::Method::GET, &path, &[]).await;
        assert_eq!(status, 200, "{refunds}");
        (refunds["data"].as_array().unwrap().len() == 1).then_some(())
    })
    .await
    .expect("the refund reaches localstripe");
    let o = order(&api, &deal, &order_id).await;
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["refunds"][0]["amount"]["amount"], 12_000_000, "everything that was paid");
    let events = events(&api, &deal, &order_id).await;
    assert!(events.contains(&"order_cancelled_late".to_owned()), "{events:?}");
    let list = api.get("/v1/orders?role=seller&status=cancelled", &token(&deal.seller)).await;
    assert!(list.ok(200)["items"].as_array().unwrap().iter().any(|o| o["order_id"] == order_id.as_str()));
}

async fn refunds_at(stripe: &Stripe, intent: &str) -> usize {
    let (status, refunds) =
        stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
    assert_eq!(status, 200, "{refunds}");
    refunds["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_paid_order_is_cancelled_by_agreement_declined_or_by_silence() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let requests = |order_id: &str| path(order_id, "cancellation-requests");

    // Declined: the work goes on, and a new request may follow.
    let order_id = deal.paid_order(&api, &stripe).await;
    let asked = api.post(&requests(&order_id), &buyer, json!({ "reason": "دیگر لازم ندارم" })).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    assert_eq!(asked.body["cancellation_request"]["by"], "buyer");
    api.post(&requests(&order_id), &seller, json!({ "reason": "من هم" }))
        .await
        .problem(409, "cancellation_request_open");
    let answer = |verb: &str, id: &str| format!("{}/{id}/{verb}", requests(&order_id));
    api.post(&answer("accept", &request_id), &buyer, json!({})).await.problem(403, "not_allowed_for_role");
    api.post(&answer("accept", &ulid::Ulid::new().to_string()), &seller, json!({})).await.problem(404, "not_found");
    api.post(&answer("accept", &request_id), &token(&user("stranger")), json!({})).await.problem(404, "not_found");
    let declined = api.post(&answer("decline", &request_id), &seller, json!({})).await;
    assert_eq!(
        (declined.ok(200)["status"].as_str(), declined.body["cancellation_request"].is_null()),
        (Some("in_progress"), true)
    );

    // Accepted: cancelled, and all that was paid goes back through the provider.
    let asked = api.post(&requests(&order_id), &seller, json!({ "reason": "نمی‌توانم ادامه دهم" })).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    let seen = order(&api, &deal, &order_id).await;
    assert!(seen["allowed_actions"].as_array().unwrap().contains(&json!("accept_cancellation")), "{seen}");
    let accepted = api.post(&answer("accept", &request_id), &buyer, json!({})).await;
    assert_eq!(accepted.ok(200)["status"], "cancelled");
    let intent = seen["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    eventually(WAIT, async || (refunds_at(&stripe, &intent).await == 1).then_some(())).await.expect("refunded");
    let steps: Vec<_> =
        events(&api, &deal, &order_id).await.into_iter().filter(|e| e.starts_with("cancellation")).collect();
    assert_eq!(
        steps,
        ["cancellation_requested", "cancellation_declined", "cancellation_requested", "cancellation_accepted"]
    );

    // Silence: a delivered order whose buyer asks and whose seller never answers is
    // cancelled when the response window's timer fires (the sweeper's code), not before.
    let order_id = deal.paid_order(&api, &stripe).await;
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "تحویل" })).await.ok(201);
    let asked = api.post(&requests(&order_id), &buyer, json!({ "reason": "کیفیت" })).await;
    assert!(asked.ok(201)["auto_complete_at"].is_null(), "no silence completes it while the request is open");
    let respond_by: DateTime<Utc> = asked.body["cancellation_request"]["respond_by"].as_str().unwrap().parse().unwrap();
    let timer = aws.timer(&format!("order/{order_id}/cancellation")).await;
    let fire = |at| peyman::flows::timers::fire(&app, &timer, at);
    assert!(!fire(respond_by - chrono::Duration::seconds(1)).await.unwrap());
    assert!(fire(respond_by).await.unwrap());
    let o = order(&api, &deal, &order_id).await;
    assert_eq!(o["status"], "cancelled");
    assert!(events(&api, &deal, &order_id).await.contains(&"cancellation_accepted_by_silence".to_owned()));
    let intent = o["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    eventually(WAIT, async || (refunds_at(&stripe, &intent).await == 1).then_some(())).await.expect("refunded");
}
