//! Who may do what on an order after payment, route by route: for each of the order's
//! work and review routes, in a state where the action is possible, every caller who may
//! not act is refused with its code and changes nothing (a stranger learns nothing of the
//! order: 404; support reads but never acts for a party: 403; the other party: 403), and
//! the caller who may acts. Anonymous callers are refused on every route (`authz.rs`).
//! Then the races the issue names: deliver against accepting a cancellation, acceptance
//! against auto-complete.

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use serde_json::Value;

struct Callers {
    buyer: String,
    seller: String,
    stranger: String,
    support: String,
}

impl Callers {
    fn of(deal: &Deal) -> Callers {
        Callers {
            buyer: token(&deal.buyer),
            seller: token(&deal.seller),
            stranger: token(&user("stranger")),
            support: support_token(&user("support")),
        }
    }
}

fn path(order_id: &str, action: &str) -> String {
    format!("/v1/orders/{order_id}/{action}")
}

/// Each of `refused` (a token, the status and code it gets) is refused on `POST path`
/// with `body`, and the order is exactly as it was.
async fn refused(api: &Api, deal: &Deal, order_id: &str, path: &str, body: &Value, refused: &[(&str, u16, &str)]) {
    let before = deal.order(api, order_id).await;
    for (who, status, code) in refused {
        api.post(path, who, body.clone()).await.problem(*status, code);
    }
    let after = deal.order(api, order_id).await;
    assert_eq!(
        (after["updated_at"].clone(), after["status"].clone()),
        (before["updated_at"].clone(), before["status"].clone()),
        "{path}: nothing changed"
    );
}

/// Each of `readers` reads `path` (200); the stranger gets 404.
async fn readable(api: &Api, path: &str, readers: &[&str], stranger: &str) {
    for who in readers {
        api.get(path, who).await.ok(200);
    }
    api.get(path, stranger).await.problem(404, "not_found");
}

#[tokio::test]
async fn every_order_route_answers_each_kind_of_caller() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let c = Callers::of(&deal);
    let empty = json!({});

    // An unpaid order: either party cancels it; support and strangers cannot.
    let unpaid = deal.placed_order(&api).await["order_id"].as_str().unwrap().to_owned();
    let cancel = path(&unpaid, "cancel");
    refused(
        &api,
        &deal,
        &unpaid,
        &cancel,
        &empty,
        &[(&c.support, 403, "not_allowed_for_role"), (&c.stranger, 404, "not_found")],
    )
    .await;
    api.post(&cancel, &c.seller, empty.clone()).await.ok(200);

    let order_id = deal.paid_order(&api, &stripe).await;
    // A cancellation request: either party opens it; the other answers it.
    let ask = path(&order_id, "cancellation-requests");
    let reason = json!({ "reason": "برنامه تغییر کرد" });
    refused(
        &api,
        &deal,
        &order_id,
        &ask,
        &reason,
        &[(&c.support, 403, "not_allowed_for_role"), (&c.stranger, 404, "not_found")],
    )
    .await;
    let asked = api.post(&ask, &c.buyer, reason.clone()).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    for answer in ["accept", "decline"] {
        let answer_path = path(&order_id, &format!("cancellation-requests/{request_id}/{answer}"));
        refused(
            &api,
            &deal,
            &order_id,
            &answer_path,
            &empty,
            &[
                (&c.buyer, 403, "not_allowed_for_role"),
                (&c.support, 403, "not_allowed_for_role"),
                (&c.stranger, 404, "not_found"),
            ],
        )
        .await;
    }
    api.post(&path(&order_id, &format!("cancellation-requests/{request_id}/decline")), &c.seller, empty.clone())
        .await
        .ok(200);

    // Deliveries: the seller's.
    let deliver = path(&order_id, "deliveries");
    let delivery = json!({ "message": "تحویل مرحله اول" });
    let not_seller = [
        (c.buyer.as_str(), 403, "not_allowed_for_role"),
        (&c.support, 403, "not_allowed_for_role"),
        (&c.stranger, 404, "not_found"),
    ];
    refused(&api, &deal, &order_id, &deliver, &delivery, &not_seller).await;
    api.post(&deliver, &c.seller, delivery.clone()).await.ok(201);
    readable(&api, &deliver, &[&c.buyer, &c.seller, &c.support], &c.stranger).await;

    // A revision and an acceptance: the buyer's.
    let revise = path(&order_id, "revision-requests");
    let why = json!({ "reason": "لطفاً رنگ را عوض کنید" });
    let not_buyer = [
        (c.seller.as_str(), 403, "not_allowed_for_role"),
        (&c.support, 403, "not_allowed_for_role"),
        (&c.stranger, 404, "not_found"),
    ];
    refused(&api, &deal, &order_id, &revise, &why, &not_buyer).await;
    api.post(&revise, &c.buyer, why).await.ok(200);
    api.post(&deliver, &c.seller, delivery.clone()).await.ok(201);
    let accept = path(&order_id, "acceptance");
    refused(&api, &deal, &order_id, &accept, &empty, &not_buyer).await;
    api.post(&accept, &c.buyer, empty.clone()).await.ok(200);
    api.post(&deliver, &c.seller, json!({ "stage": 2, "message": "نهایی" })).await.ok(201);
    api.post(&accept, &c.buyer, empty.clone()).await.ok(200);

    // Reviews: each party's; the reply the seller's.
    let review = path(&order_id, "review");
    let stars = json!({ "rating": 5, "text": "عالی" });
    refused(
        &api,
        &deal,
        &order_id,
        &review,
        &stars,
        &[(&c.support, 403, "not_allowed_for_role"), (&c.stranger, 404, "not_found")],
    )
    .await;
    api.post(&review, &c.buyer, stars.clone()).await.ok(201);
    api.post(&review, &c.seller, stars.clone()).await.ok(201);
    let reply = path(&order_id, "review/reply");
    let thanks = json!({ "text": "ممنون" });
    refused(&api, &deal, &order_id, &reply, &thanks, &not_seller).await;
    api.post(&reply, &c.seller, thanks).await.ok(201);
    readable(&api, &path(&order_id, "reviews"), &[&c.buyer, &c.seller, &c.support], &c.stranger).await;
    // A gig's published reviews are for anyone signed in.
    api.get(&format!("/v1/gigs/{}/reviews", deal.gig_id), &c.stranger).await.ok(200);
}

async fn timeline(api: &Api, deal: &Deal, order_id: &str) -> Vec<String> {
    let t = api.get(&path(order_id, "timeline"), &token(&deal.buyer)).await;
    assert_eq!(t.ok(200)["verified"], true, "the chain verifies");
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_delivery_racing_the_acceptance_of_a_cancellation_never_leaves_both_half_done() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let c = Callers::of(&deal);
    for _ in 0..3 {
        let order_id = deal.paid_order(&api, &stripe).await;
        let asked =
            api.post(&path(&order_id, "cancellation-requests"), &c.buyer, json!({ "reason": "دیگر لازم نیست" })).await;
        let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
        let (deliver_path, accept_path) =
            (path(&order_id, "deliveries"), path(&order_id, &format!("cancellation-requests/{request_id}/accept")));
        let (deliver, cancel) = tokio::join!(
            api.post(&deliver_path, &c.seller, json!({ "message": "تحویل" })),
            api.post(&accept_path, &c.seller, json!({})),
        );
        assert!([201, 409].contains(&deliver.status), "{}", deliver.text);
        assert!([200, 409].contains(&cancel.status), "{}", cancel.text);
        assert!(deliver.status == 201 || cancel.status == 200, "one of them wins");
        // Whatever the order, the story is one chain: no delivery after the cancellation,
        // exactly one refund when cancelled.
        let events = timeline(&api, &deal, &order_id).await;
        let cancelled_at = events.iter().position(|e| e == "cancellation_accepted");
        let delivered_at = events.iter().position(|e| e == "order_delivered");
        assert_eq!(cancelled_at.is_some(), cancel.status == 200, "{events:?}");
        assert_eq!(delivered_at.is_some(), deliver.status == 201, "{events:?}");
        if let (Some(cancelled), Some(delivered)) = (cancelled_at, delivered_at) {
            assert!(delivered < cancelled, "nothing is delivered to a cancelled order: {events:?}");
        }
        let order = deal.order(&api, &order_id).await;
        let expected = if cancel.status == 200 { "cancelled" } else { "delivered" };
        assert_eq!(order["status"], expected);
        if cancel.status == 200 {
            assert_eq!(order["payment"]["refund_requested"], 12_000_000, "refunded once, in full");
        }
    }
}

#[tokio::test]
async fn the_buyer_s_acceptance_racing_auto_complete_accepts_the_stage_once() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let c = Callers::of(&deal);
    for _ in 0..3 {
        let order_id = deal.paid_order(&api, &stripe).await;
        let delivered = api.post(&path(&order_id, "deliveries"), &c.seller, json!({ "message": "تحویل" })).await;
        let due: DateTime<Utc> = delivered.ok(201)["order"]["auto_complete_at"].as_str().unwrap().parse().unwrap();
        let timer = aws.timer(&format!("order/{order_id}/auto_complete")).await;
        let accept_path = path(&order_id, "acceptance");
        let (accepted, fired) =
            tokio::join!(api.post(&accept_path, &c.buyer, json!({})), peyman::flows::timers::fire(&app, &timer, due),);
        let fired = match fired {
            Ok(changed) => changed,
            Err(peyman_rules::error::ApiError::Conflict {
                code: peyman_rules::error::Code::ConcurrentChange, ..
            }) => false,
            Err(e) => panic!("{e}"),
        };
        assert!([200, 409].contains(&accepted.status), "{}", accepted.text);
        assert!((accepted.status == 200) != fired, "exactly one accepts the stage: {} / {fired}", accepted.text);
        let events = timeline(&api, &deal, &order_id).await;
        let accepts = events.iter().filter(|e| *e == "stage_accepted" || *e == "stage_auto_accepted").count();
        assert_eq!(accepts, 1, "{events:?}");
        let order = deal.order(&api, &order_id).await;
        assert_eq!((order["status"].as_str(), order["stage"].as_i64()), (Some("in_progress"), Some(2)));
        // A later sweep finds nothing left to do for that delivery.
        assert!(!peyman::flows::timers::fire(&app, &timer, due).await.unwrap_or(false));
    }
}
