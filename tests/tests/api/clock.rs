//! The policy windows run out on their own, through the stack's own sweeper: on the clock
//! stack (`Api::clock`, `stack.sh`), a deployment whose auto-complete, cancellation
//! response, review, dispute response and amendment answer windows are 4 seconds and
//! whose windows for a dispute after completion and for a payment are 20, paid through
//! localstripe. Nothing
//! here brings a timer forward or fires one in-process: each test waits for what
//! production's sweeper would do days later.

use peyman_e2e::*;
use serde_json::Value;

fn path(order_id: &str, rest: &str) -> String {
    format!("/v1/orders/{order_id}/{rest}")
}

/// How long a test waits for the sweeper (it runs every second; the windows are 4 s).
const CLOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A paid order in one stage (12,000,000 IRR) on the clock stack.
async fn paid_order(api: &Api, stripe: &Stripe, deal: &Deal) -> String {
    let mut offer = deal.offer();
    offer["stages"] = json!([{ "title": "همه", "deliverables": ["فایل AI"], "amount": 12_000_000, "days": 7 }]);
    let offer_id = deal.send_offer(api, offer).await;
    let accepted = api.post(&format!("/v1/offers/{offer_id}/accept"), &token(&deal.buyer), json!({})).await;
    let order = &accepted.ok(201)["order"];
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(order["payment"]["payment_intent_id"].as_str().unwrap(), "pm_card_visa").await, 200);
    until(api, deal, &order_id, |o| o["status"] == "in_progress").await;
    order_id
}

/// Waits until the order, as its buyer reads it, is as `wanted` says; returns it.
async fn until(api: &Api, deal: &Deal, order_id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    eventually(CLOCK_WAIT, async || {
        let order = deal.order(api, order_id).await;
        wanted(&order).then_some(order)
    })
    .await
    .unwrap_or_else(|| panic!("order {order_id} never got there"))
}

async fn events(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&path(order_id, "timeline"), &token(&deal.seller)).await;
    assert_eq!(t.ok(200)["verified"], true, "the chain verifies");
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_sweeper_auto_completes_a_silent_buyer_s_delivery_and_closes_the_review_window() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = paid_order(&api, &stripe, &deal).await;
    let delivered =
        api.post(&path(&order_id, "deliveries"), &token(&deal.seller), json!({ "message": "فایل نهایی" })).await;
    assert_eq!(delivered.ok(201)["order"]["policy"]["auto_complete_seconds"], 4, "the window copied onto the order");
    let done = until(&api, &deal, &order_id, |o| o["status"] == "completed").await;
    assert_eq!(done["money"]["released"], 12_000_000, "auto-completion releases escrow");
    // The review window (4 s) closes with nothing written: no review can be written after.
    until(&api, &deal, &order_id, |o| !o["reviews"]["published_at"].is_null()).await;
    let late = api.post(&path(&order_id, "review"), &token(&deal.buyer), json!({ "rating": 5, "text": "دیر" })).await;
    late.problem(409, "review_window_closed");
    let names = events(&api, &deal, &order_id).await;
    assert_eq!(names[names.len() - 3..], ["order_delivered", "order_auto_completed", "review_window_closed"]);
}

#[tokio::test]
async fn the_sweeper_accepts_a_cancellation_request_left_unanswered_and_refunds_at_localstripe() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = paid_order(&api, &stripe, &deal).await;
    let asked = api
        .post(&path(&order_id, "cancellation-requests"), &token(&deal.buyer), json!({ "reason": "دیگر لازم ندارم" }))
        .await;
    assert!(asked.ok(201)["cancellation_request"]["respond_by"].is_string());
    let cancelled = until(&api, &deal, &order_id, |o| o["status"] == "cancelled").await;
    assert_eq!(cancelled["money"]["refunded"], 12_000_000, "{cancelled}");
    // Its refund's own events may follow on the timeline.
    let names = events(&api, &deal, &order_id).await;
    let silence = names.iter().position(|e| e == "cancellation_accepted_by_silence").expect("cancelled by silence");
    assert_eq!(names[silence - 1], "cancellation_requested", "{names:?}");
    stripe.refunded(cancelled["payment"]["payment_intent_id"].as_str().unwrap(), 12_000_000).await;
}

#[tokio::test]
async fn a_dispute_the_other_party_leaves_unanswered_is_marked_for_support_and_an_answered_one_is_not() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let support = support_token(&user("agent"));
    let body = json!({ "reason": "not_delivered", "description": "هنوز چیزی نرسیده" });
    let silent = paid_order(&api, &stripe, &deal).await;
    let answered = paid_order(&api, &stripe, &deal).await;
    let mut disputes = Vec::new();
    for order_id in [&silent, &answered] {
        let opened = api.post(&path(order_id, "disputes"), &token(&deal.buyer), body.clone()).await;
        disputes.push(path(order_id, &format!("disputes/{}", opened.ok(201)["dispute_id"].as_str().unwrap())));
    }
    api.post(&format!("{}/statements", disputes[1]), &token(&deal.seller), json!({ "text": "فردا تحویل می‌دهم" }))
        .await
        .ok(201);
    let marked = eventually(CLOCK_WAIT, async || {
        let read = api.get(&disputes[0], &token(&deal.buyer)).await;
        (read.body["unanswered"] == true).then(|| read.body.clone())
    })
    .await
    .expect("the sweeper marks it when the response window ends");
    assert!(marked["unanswered_at"].is_string());
    let names: Vec<_> = marked["history"]["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect();
    assert_eq!(names, [json!("dispute_opened"), json!("dispute_unanswered")]);
    let dispute_id = marked["dispute_id"].as_str().unwrap();
    assert!(notified(&api, &deal.buyer, "dispute_unanswered", &format!("dispute/{dispute_id}")).await);
    let queue = api.get("/v1/support/disputes?status=open&limit=100", &support).await;
    let listed = queue.ok(200)["items"].as_array().unwrap().iter().find(|d| d["dispute_id"] == dispute_id).cloned();
    assert_eq!(listed.map(|d| d["unanswered"].clone()), Some(json!(true)), "support's queue shows it");
    // The one the seller answered stays unmarked past its window.
    let other = api.get(&disputes[1], &token(&deal.buyer)).await;
    assert_eq!((other.ok(200)["unanswered"].as_bool(), other.body["answered_at"].is_string()), (Some(false), true));
}

#[tokio::test]
async fn a_dispute_opened_after_auto_completion_takes_the_release_back_for_support_s_refund() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = paid_order(&api, &stripe, &deal).await;
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "فایل نهایی" })).await.ok(201);
    // Disputed once the review window (4 s) has closed, so the sweeper's close does not
    // race the opening (the loser would be told `concurrent_change`).
    let done =
        until(&api, &deal, &order_id, |o| o["status"] == "completed" && !o["reviews"]["published_at"].is_null()).await;
    assert!(done["allowed_actions"].as_array().unwrap().contains(&json!("open_dispute")), "{done}");
    let earnings = api.get("/v1/me/earnings", &seller).await;
    assert_eq!(earnings.ok(200)["balances"][0]["pending"], 10_800_000, "released, less the fee, pending clearance");

    // Within the window after completion the buyer disputes it: the release goes back into
    // escrow, out of the seller's pending earnings.
    let body = json!({ "reason": "not_as_agreed", "description": "فایل لایه‌باز تحویل نشد" });
    let opened = api.post(&path(&order_id, "disputes"), &buyer, body.clone()).await;
    let order = &opened.ok(201)["order"];
    assert_eq!(order["status"], "disputed");
    assert_eq!(
        (order["money"]["in_escrow"].as_i64(), order["money"]["released"].as_i64()),
        (Some(12_000_000), Some(0))
    );
    let earnings = api.get("/v1/me/earnings", &seller).await;
    assert_eq!(earnings.ok(200)["balances"][0]["pending"], 0);

    // Support refunds it all: cancelled, refunded at localstripe.
    let resolution = format!("/v1/support/disputes/{}/resolution", opened.body["dispute_id"].as_str().unwrap());
    let resolved = api
        .post(&resolution, &support_token(&user("agent")), json!({ "decision": "refund", "note": "تحویل ناقص" }))
        .await;
    assert_eq!(resolved.ok(200)["order"]["status"], "cancelled");
    stripe.refunded(done["payment"]["payment_intent_id"].as_str().unwrap(), 12_000_000).await;
    // The refund's own events (`refund_*`) may follow.
    let names: Vec<_> =
        events(&api, &deal, &order_id).await.into_iter().filter(|e| !e.starts_with("refund_")).collect();
    assert_eq!(
        names[names.len() - 4..],
        ["order_auto_completed", "review_window_closed", "dispute_opened", "dispute_refunded"]
    );
    let ledger = api
        .get(
            &format!("/v1/support/disputes/{}", opened.body["dispute_id"].as_str().unwrap()),
            &support_token(&user("agent")),
        )
        .await;
    let kinds: Vec<_> =
        ledger.ok(200)["ledger"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["payment_received", "stage_released", "release_reversed", "refund_requested"]);

    // Past the window (20 s after completion), no dispute is opened.
    let late = paid_order(&api, &stripe, &deal).await;
    api.post(&path(&late, "deliveries"), &seller, json!({ "message": "فایل نهایی" })).await.ok(201);
    let completed = until(&api, &deal, &late, |o| o["status"] == "completed").await;
    let completed_at: chrono::DateTime<chrono::Utc> = completed["completed_at"].as_str().unwrap().parse().unwrap();
    let wait = completed_at + chrono::Duration::seconds(20) - chrono::Utc::now();
    tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
    until(&api, &deal, &late, |o| !o["allowed_actions"].as_array().unwrap().contains(&json!("open_dispute"))).await;
    api.post(&path(&late, "disputes"), &buyer, body).await.problem(409, "dispute_window_closed");
}

#[tokio::test]
async fn an_amendment_left_unanswered_expires_through_the_sweeper() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = paid_order(&api, &stripe, &deal).await;
    let proposed =
        api.post(&path(&order_id, "amendments"), &token(&deal.seller), json!({ "extra_revisions": 1 })).await;
    let amendment_id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    until(&api, &deal, &order_id, |o| o["amendment"].is_null()).await;
    let listed = api.get(&path(&order_id, "amendments"), &token(&deal.buyer)).await;
    assert_eq!(listed.ok(200)["items"][0]["status"], "expired");
    assert_eq!(events(&api, &deal, &order_id).await.last().map(String::as_str), Some("amendment_expired"));
    let late =
        api.post(&path(&order_id, &format!("amendments/{amendment_id}/accept")), &token(&deal.buyer), json!({})).await;
    late.problem(409, "no_amendment_to_answer");
    assert_eq!(deal.order(&api, &order_id).await["revisions_used"], 0);
}

#[tokio::test]
async fn an_accepted_paid_stage_left_unpaid_expires_and_its_intent_is_cancelled() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let order_id = paid_order(&api, &stripe, &deal).await;
    let stage = json!({ "title": "بنر", "deliverables": ["بنر"], "amount": { "amount": 2_000_000, "currency": "IRR" }, "days": 1 });
    let proposed = api.post(&path(&order_id, "amendments"), &token(&deal.seller), json!({ "add_stage": stage })).await;
    let amendment_id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    let accept = path(&order_id, &format!("amendments/{amendment_id}/accept"));
    let accepted = api.post(&accept, &token(&deal.buyer), json!({})).await;
    let intent = accepted.ok(200)["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted.body["order"]["policy"]["payment_window_seconds"], 20);
    // Past its answer window (4 s) it still waits: accepted, it has the payment window.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let waiting = deal.order(&api, &order_id).await;
    assert_eq!(waiting["amendment"]["payment_intent_id"], intent.as_str(), "still awaiting its payment");
    // Unpaid at the payment window's end, it expires and its intent is cancelled at localstripe.
    until(&api, &deal, &order_id, |o| o["amendment"].is_null()).await;
    let listed = api.get(&path(&order_id, "amendments"), &token(&deal.buyer)).await;
    assert_eq!(listed.ok(200)["items"][0]["status"], "expired");
    let cancelled =
        eventually(CLOCK_WAIT, async || (stripe.intent(&intent).await["status"] == "canceled").then_some(()));
    assert!(cancelled.await.is_some(), "the unpaid intent is cancelled at the provider");
    let order = deal.order(&api, &order_id).await;
    assert_eq!((order["stages"].as_i64(), order["money"]["paid"].as_i64()), (Some(1), Some(12_000_000)));
}

#[tokio::test]
async fn a_dispute_after_completion_withdrawn_releases_again_and_one_settled_splits_what_came_back() {
    let (api, stripe) = (Api::clock(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let body = json!({ "reason": "not_as_agreed", "description": "فایل لایه‌باز تحویل نشد" });
    let pending = async || api.get("/v1/me/earnings", &seller).await.ok(200)["balances"][0]["pending"].clone();
    // An order auto-completed, disputed by its buyer as soon as its review window (4 s)
    // closed (so the sweeper's close does not race the opening), within the 20 s after
    // completion; returns the dispute's path.
    let disputed = async || {
        let order_id = paid_order(&api, &stripe, &deal).await;
        api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "فایل نهایی" })).await.ok(201);
        until(&api, &deal, &order_id, |o| o["status"] == "completed" && !o["reviews"]["published_at"].is_null()).await;
        let opened = api.post(&path(&order_id, "disputes"), &buyer, body.clone()).await;
        (order_id.clone(), path(&order_id, &format!("disputes/{}", opened.ok(201)["dispute_id"].as_str().unwrap())))
    };

    // Withdrawn: the order is complete again and its money goes back to the seller.
    let (_, dispute) = disputed().await;
    assert_eq!(pending().await, 0, "taken back while disputed");
    let withdrawn = api.post(&format!("{dispute}/withdrawal"), &buyer, json!({})).await;
    let order = &withdrawn.ok(200)["order"];
    assert_eq!((order["status"].as_str(), order["money"]["released"].as_i64()), (Some("completed"), Some(12_000_000)));
    assert_eq!(pending().await, 10_800_000, "released again, less the fee");

    // Settled: the parties split what came back into escrow.
    let (order_id, dispute) = disputed().await;
    assert_eq!(pending().await, 10_800_000, "the second order's release taken back");
    let split = json!({
        "refund_to_buyer": { "amount": 2_000_000, "currency": "IRR" },
        "release_to_seller": { "amount": 10_000_000, "currency": "IRR" },
    });
    api.post(&format!("{dispute}/settlement"), &seller, split).await.ok(200);
    let settled = api.post(&format!("{dispute}/settlement/accept"), &buyer, json!({})).await;
    let money = &settled.ok(200)["order"]["money"];
    assert_eq!((money["refunded"].as_i64(), money["released"].as_i64()), (Some(2_000_000), Some(10_000_000)));
    assert_eq!(pending().await, 10_800_000 + 9_000_000, "the settled release, less its fee");
    let intent = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    stripe.refunded(&intent, 2_000_000).await;
}
