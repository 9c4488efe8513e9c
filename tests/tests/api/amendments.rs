//! Amendments of a running order, end to end on the local stack with localstripe: an
//! extension accepted (a new due date, the late flag computed from it, the late timer
//! re-armed), a lower price for an unstarted stage (its difference refunded at
//! localstripe, the order then completed at the new price), each sealed and chained to the
//! contract; refusals with their own codes that store nothing; an acceptance racing the
//! delivery acceptance that completes the order (one winner); a paid stage that takes
//! effect when its payment succeeds at localstripe and is then delivered, and the buyer's
//! tip; a cancellation of an order paid twice, refunded from the newest payment first.
//! Expiry by the sweeper (an unanswered amendment, an unpaid accepted one) is on the clock
//! stack (`clock.rs`).

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use peyman_rules::caller::Caller;
use serde_json::Value;

fn path(order_id: &str, rest: &str) -> String {
    format!("/v1/orders/{order_id}/{rest}")
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("a time: {value}")).parse().unwrap()
}

fn irr(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "IRR" })
}

async fn events(api: &Api, who: &str, order_id: &str) -> Vec<String> {
    let t = api.get(&path(order_id, "timeline"), &token(who)).await;
    assert_eq!(t.ok(200)["verified"], true, "the chain verifies");
    t.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_extension_accepted_moves_the_due_date_and_the_late_flag_follows_it() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = deal.paid_order(&api, &stripe).await;
    let placed = deal.order(&api, &order_id).await;
    let due = time(&placed["due_at"]);

    // Refusals first: each with its code, none stores anything.
    let amendments = path(&order_id, "amendments");
    let bad = [
        (json!({}), "empty_amendment", Value::Null),
        (json!({ "note": "x" }), "empty_amendment", Value::Null),
        (json!({ "extra_days": { "days": 0 } }), "invalid_extension", json!("extra_days.days")),
        (json!({ "extra_revisions": 0 }), "invalid_extension", json!("extra_revisions")),
        (json!({ "extra_days": { "days": 2, "stage": 3 } }), "stage_out_of_range", json!("extra_days.stage")),
        (json!({ "lower_price": { "stage": 1, "by": irr(1) } }), "stage_started", json!("lower_price.stage")),
        (json!({ "extra_days": { "days": 2 }, "price": irr(1) }), "unknown_field", json!("price")),
    ];
    for (body, code, field) in bad {
        let refused = api.post(&amendments, &seller, body.clone()).await;
        assert_eq!(refused.problem(422, code)["field"], field, "{body}");
    }
    api.post(&amendments, &token(&user("stranger")), json!({ "extra_revisions": 1 })).await.problem(404, "not_found");
    assert_eq!(events(&api, &deal.buyer, &order_id).await, ["order_placed", "order_paid"], "nothing stored");

    // The seller asks for two more days; one proposal is open at a time.
    let proposed =
        api.post(&amendments, &seller, json!({ "extra_days": { "days": 2 }, "note": "دو روز بیشتر لازم دارم" })).await;
    let amendment = proposed.ok(201).clone();
    let amendment_id = amendment["amendment_id"].as_str().unwrap().to_owned();
    assert_eq!((amendment["status"].as_str(), amendment["number"].as_i64()), (Some("proposed"), Some(1)));
    assert_eq!(
        (amendment["previous_hash"].clone(), amendment["hash_verified"].clone()),
        (placed["terms_hash"].clone(), json!(true))
    );
    assert_eq!(amendment["terms"]["delivery_days"], 9, "the whole terms after it are sealed");
    assert_eq!(
        amendment["order"]["allowed_actions"],
        json!(["deliver", "request_cancellation", "withdraw_amendment", "open_dispute"])
    );
    api.post(&amendments, &buyer, json!({ "extra_revisions": 1 })).await.problem(409, "amendment_open");
    let answer = |verb: &str| path(&order_id, &format!("amendments/{amendment_id}/{verb}"));
    api.post(&answer("accept"), &seller, json!({})).await.problem(409, "no_amendment_to_answer");
    api.post(&answer("withdraw"), &buyer, json!({})).await.problem(409, "no_amendment_to_answer");
    let read = deal.order(&api, &order_id).await;
    assert_eq!(read["amendment"]["amendment_id"], amendment_id.as_str());
    assert_eq!(
        (read["due_at"].clone(), read["amended"].clone()),
        (placed["due_at"].clone(), Value::Null),
        "nothing moves on a proposal"
    );
    assert_eq!(
        read["allowed_actions"],
        json!(["request_cancellation", "accept_amendment", "decline_amendment", "open_dispute"])
    );

    // Its author withdraws it.
    let withdrawn = api.post(&answer("withdraw"), &seller, json!({})).await;
    assert_eq!(
        (withdrawn.ok(200)["status"].as_str(), withdrawn.body["order"]["amendment"].is_null()),
        (Some("withdrawn"), true)
    );

    // The order turns late at its due time (the sweeper's code, at that time); the seller
    // asks for two more days then, and the buyer accepts: due two days later, no longer
    // late.
    let late_timer = aws.timer(&format!("order/{order_id}/late")).await;
    let after_due = due + chrono::Duration::hours(1);
    assert!(peyman::flows::timers::fire(&app, &late_timer, after_due).await.unwrap());
    assert_eq!(deal.order(&api, &order_id).await["late"], true);
    let as_party = |user: &str| Caller { user_id: user.to_owned(), is_support: false };
    let two_days: peyman_rules::amendment::NewAmendment =
        serde_json::from_value(json!({ "extra_days": { "days": 2 }, "note": "دو روز بیشتر لازم دارم" })).unwrap();
    let (_, amendment) =
        peyman::flows::amendments::propose(&app, &as_party(&deal.seller), &order_id, two_days, after_due)
            .await
            .unwrap();
    let accept = peyman::flows::amendments::Answer::Accept;
    let answered_at = after_due + chrono::Duration::minutes(5);
    let peyman::flows::amendments::Answered { order, amendment: accepted, .. } = peyman::flows::amendments::answer(
        &app,
        &as_party(&deal.buyer),
        &order_id,
        &amendment.amendment_id,
        accept,
        answered_at,
    )
    .await
    .unwrap();
    let new_due = due + chrono::Duration::days(2);
    assert_eq!((order.due_at, order.late, accepted.number), (Some(new_due), false, 1));
    let answer = |verb: &str| path(&order_id, &format!("amendments/{}/{verb}", amendment.amendment_id));
    let amendment = serde_json::to_value(&amendment).unwrap();
    let read = deal.order(&api, &order_id).await;
    assert_eq!((time(&read["due_at"]), read["late"].as_bool()), (new_due, Some(false)));
    assert_eq!(
        (read["amended"]["count"].as_i64(), read["amended"]["hash"].clone()),
        (Some(1), amendment["hash"].clone())
    );
    assert_eq!(read["terms"]["delivery_days"], 7, "the contract as accepted is never edited");
    api.post(&answer("decline"), &buyer, json!({})).await.problem(409, "no_amendment_to_answer");

    // The late timer is armed again at the new due time; the flag comes from it.
    let late_timer = aws.timer(&format!("order/{order_id}/late")).await;
    assert_eq!(late_timer.due_at, Some(new_due));
    assert!(!peyman::flows::timers::fire(&app, &late_timer, new_due - chrono::Duration::seconds(1)).await.unwrap());
    assert!(peyman::flows::timers::fire(&app, &late_timer, new_due).await.unwrap());
    assert_eq!(deal.order(&api, &order_id).await["late"], true);
    assert_eq!(
        events(&api, &deal.seller, &order_id).await[2..],
        [
            "amendment_proposed",
            "amendment_withdrawn",
            "order_late",
            "amendment_proposed",
            "order_amended",
            "order_late"
        ]
    );
    let t = api.get(&path(&order_id, "timeline"), &seller).await;
    let amended =
        t.ok(200)["events"].as_array().unwrap().iter().find(|e| e["event"] == "order_amended").unwrap().clone();
    assert_eq!(
        (amended["data"]["hash"].clone(), amended["actor"].as_str()),
        (amendment["hash"].clone(), Some("buyer"))
    );
}

#[tokio::test]
async fn a_lower_price_for_an_unstarted_stage_refunds_its_difference_and_the_order_completes_at_it() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = deal.paid_order(&api, &stripe).await;
    let amendments = path(&order_id, "amendments");
    let cheaper = json!({ "lower_price": { "stage": 2, "by": irr(2_000_000) }, "note": "بخشی از مرحله‌ی دوم لازم نیست" });

    // Declined once, proposed again and accepted.
    let first =
        api.post(&amendments, &buyer, cheaper.clone()).await.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    let declined = api.post(&path(&order_id, &format!("amendments/{first}/decline")), &seller, json!({})).await;
    assert_eq!(
        (declined.ok(200)["status"].as_str(), declined.body["order"]["amendment"].is_null()),
        (Some("declined"), true)
    );
    let second = api.post(&amendments, &buyer, cheaper).await.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    let accepted = api.post(&path(&order_id, &format!("amendments/{second}/accept")), &seller, json!({ "x": 1 })).await;
    accepted.problem(422, "unknown_field");
    let accepted = api.post(&path(&order_id, &format!("amendments/{second}/accept")), &seller, json!({})).await;
    assert_eq!(accepted.ok(200)["status"], "accepted");
    let money = &accepted.body["order"]["money"];
    assert_eq!((money["refunded"].as_i64(), money["in_escrow"].as_i64()), (Some(2_000_000), Some(10_000_000)));
    assert_eq!(accepted.body["order"]["amended"]["price"], irr(10_000_000));
    let intent = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    stripe.refunded(&intent, 2_000_000).await;

    // Both listed, each sealed; only the accepted one is in the chain.
    let listed = api.get(&amendments, &seller).await;
    let items = listed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.iter().map(|a| a["status"].as_str().unwrap()).collect::<Vec<_>>(), ["declined", "accepted"]);
    assert!(items.iter().all(|a| a["hash_verified"] == true));
    assert_eq!(items[1]["terms"]["stages"][1]["amount"], 5_000_000);

    // The work completes at the new price: stage 1 releases its 5,000,000, stage 2 the rest.
    for stage in 1..=2 {
        api.post(&path(&order_id, "deliveries"), &seller, json!({ "stage": stage, "message": "تحویل" })).await.ok(201);
        api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
    }
    let done = deal.order(&api, &order_id).await;
    assert_eq!(
        (done["status"].as_str(), done["money"]["released"].as_i64(), done["money"]["in_escrow"].as_i64()),
        (Some("completed"), Some(10_000_000), Some(0))
    );
    api.post(&amendments, &buyer, json!({ "extra_revisions": 1 })).await.problem(409, "order_completed");
}

#[tokio::test]
async fn an_amendment_is_never_accepted_on_an_order_the_delivery_s_acceptance_completed() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    for round in 0..3 {
        let order_id = deal.paid_order(&api, &stripe).await;
        for stage in 1..=2 {
            api.post(&path(&order_id, "deliveries"), &seller, json!({ "stage": stage, "message": "تحویل" }))
                .await
                .ok(201);
            if stage == 1 {
                api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
            }
        }
        let proposed = api.post(&path(&order_id, "amendments"), &seller, json!({ "extra_revisions": 1 })).await;
        let amendment_id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
        let accept_amendment = path(&order_id, &format!("amendments/{amendment_id}/accept"));
        let accept_delivery = path(&order_id, "acceptance");
        let (amended, completed) =
            tokio::join!(api.post(&accept_amendment, &buyer, json!({})), api.post(&accept_delivery, &buyer, json!({})));
        // Both may apply one after the other (the amendment first); never the amendment on
        // an order already complete: each loser is a 409, and the order is as its winners
        // left it.
        for answer in [&amended, &completed] {
            assert!(answer.status == 200 || answer.status == 409, "round {round}: {}", answer.text);
        }
        assert!(amended.status == 200 || completed.status == 200, "round {round}: one wins");
        let o = deal.order(&api, &order_id).await;
        let names = events(&api, &deal.buyer, &order_id).await;
        if amended.status == 200 {
            assert_eq!(o["amended"]["revisions_included"], 3, "round {round}");
            let expected = if completed.status == 200 { "completed" } else { "delivered" };
            assert_eq!(o["status"], expected, "round {round}");
            assert!(!names.iter().skip_while(|e| *e != "order_completed").any(|e| e == "order_amended"), "{names:?}");
        } else {
            // The loser is told what won: the order completed, the proposal lapsed with it.
            let code = amended.body["code"].as_str().unwrap_or_default();
            assert!(["order_completed", "no_amendment_to_answer"].contains(&code), "round {round}: {}", amended.text);
            if code == "no_amendment_to_answer" {
                assert!(amended.body["detail"].as_str().unwrap_or_default().contains("lapsed"), "{}", amended.text);
            }
            assert_eq!((o["status"].as_str(), o["amended"].is_null()), (Some("completed"), true), "round {round}");
            let listed = api.get(&path(&order_id, "amendments"), &buyer).await;
            assert_eq!(listed.ok(200)["items"][0]["status"], "lapsed", "the order moved on before an answer");
        }
    }
}

/// The payment of `order_id` for `kind` (`amendment`, `tip`) as `who` reads the order.
async fn payment_for(api: &Api, who: &str, order_id: &str, kind: &str) -> Value {
    let order = api.get(&format!("/v1/orders/{order_id}"), &token(who)).await;
    let payments = order.ok(200)["payments"].as_array().unwrap().clone();
    payments.into_iter().find(|p| p["purpose"]["kind"] == kind).unwrap_or_else(|| panic!("a {kind} payment"))
}

#[tokio::test]
async fn a_paid_stage_takes_effect_when_its_payment_succeeds_and_is_delivered_and_the_buyer_tips() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = deal.paid_order(&api, &stripe).await;
    let due = time(&deal.order(&api, &order_id).await["due_at"]);
    let (amendments, tip) = (path(&order_id, "amendments"), path(&order_id, "tip"));
    api.post(&tip, &buyer, json!({ "amount": irr(500_000) })).await.problem(409, "order_not_completed");

    // Refusals first: each with its code and field, none stores anything.
    let stage =
        json!({ "title": "نسخهٔ موبایل", "deliverables": ["۳ صفحه‌ی Figma 📱"], "amount": irr(3_000_000), "days": 2 });
    let with = |field: &str, value: Value| {
        let mut s = stage.clone();
        s[field] = value;
        json!({ "add_stage": s })
    };
    let bad = [
        (with("amount", irr(0)), "invalid_amount", "add_stage.amount.amount"),
        (with("amount", json!({ "amount": 1, "currency": "USD" })), "currency_mismatch", "add_stage.amount.currency"),
        (with("days", json!(0)), "invalid_extension", "add_stage.days"),
        (with("deliverables", json!([])), "invalid_deliverables", "add_stage.deliverables"),
        (with("price", json!(1)), "unknown_field", "add_stage.price"),
        (json!({ "add_stage": stage, "lower_price": { "stage": 2, "by": irr(1) } }), "mixed_amendment", "add_stage"),
    ];
    for (body, code, field) in bad {
        assert_eq!(api.post(&amendments, &seller, body.clone()).await.problem(422, code)["field"], field, "{body}");
    }
    assert_eq!(events(&api, &deal.buyer, &order_id).await, ["order_placed", "order_paid"], "nothing stored");

    // The seller proposes a third stage; the buyer accepts it and is asked to pay for it.
    let note = "صفحه‌های موبایل را هم می‌خواهید؟";
    let proposed = api.post(&amendments, &seller, json!({ "add_stage": stage, "note": note })).await;
    let id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    assert_eq!((proposed.body["payment"].clone(), proposed.body["note"].as_str()), (irr(3_000_000), Some(note)));
    assert_eq!(proposed.body["terms"]["stages"][2]["deliverables"][0], "۳ صفحه‌ی Figma 📱");
    let accept = path(&order_id, &format!("amendments/{id}/accept"));
    api.post(&accept, &seller, json!({})).await.problem(409, "no_amendment_to_answer");
    let accepted = api.post(&accept, &buyer, json!({})).await;
    assert_eq!(accepted.ok(200)["status"], "awaiting_payment");
    let payment = accepted.body["payment"].clone();
    assert_eq!((payment["purpose"]["kind"].as_str(), payment["amount"].clone()), (Some("amendment"), irr(3_000_000)));
    assert!(payment["client_secret"].is_string(), "the buyer pays it: {payment}");
    let order = &accepted.body["order"];
    assert_eq!((order["stages"].as_i64(), order["money"]["paid"].as_i64()), (Some(2), Some(12_000_000)), "not yet");
    assert_eq!(order["amendment"]["payment_intent_id"], payment["payment_intent_id"]);
    // Awaiting its payment it is answered no more, and no other is proposed.
    api.post(&accept, &buyer, json!({})).await.problem(409, "no_amendment_to_answer");
    let decline = path(&order_id, &format!("amendments/{id}/decline"));
    api.post(&decline, &buyer, json!({})).await.problem(409, "no_amendment_to_answer");
    api.post(&amendments, &buyer, json!({ "extra_revisions": 1 })).await.problem(409, "amendment_open");
    assert!(
        payment_for(&api, &deal.seller, &order_id, "amendment").await["client_secret"].is_null(),
        "not the seller's"
    );

    // Paid at localstripe: the webhook applies it.
    let intent = payment["payment_intent_id"].as_str().unwrap();
    assert_eq!(stripe.pay(intent, "pm_card_visa").await, 200);
    let amended = eventually(WAIT, async || {
        let order = deal.order(&api, &order_id).await;
        (order["stages"] == 3).then_some(order)
    })
    .await
    .expect("the payment applies the amendment");
    assert_eq!(amended["amended"]["price"], irr(15_000_000));
    assert_eq!(
        (amended["money"]["paid"].as_i64(), amended["money"]["in_escrow"].as_i64()),
        (Some(15_000_000), Some(15_000_000))
    );
    assert_eq!(time(&amended["due_at"]), due + chrono::Duration::days(2));
    assert!(amended["amendment"].is_null());
    let listed = api.get(&amendments, &seller).await;
    assert_eq!(listed.ok(200)["items"][0]["status"], "accepted");
    let timeline = events(&api, &deal.seller, &order_id).await;
    assert_eq!(timeline[2..], ["amendment_proposed", "amendment_accepted", "order_amended"]);

    // The three stages are delivered and accepted: the third releases its own amount.
    for stage in 1..=3 {
        api.post(&path(&order_id, "deliveries"), &seller, json!({ "stage": stage, "message": "تحویل" })).await.ok(201);
        api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
    }
    let done = deal.order(&api, &order_id).await;
    assert_eq!(
        (done["status"].as_str(), done["money"]["released"].as_i64(), done["money"]["in_escrow"].as_i64()),
        (Some("completed"), Some(15_000_000), Some(0))
    );

    // The buyer tips, once; the tip is released to the seller at once, with no fee.
    let bad = [
        (irr(0), "invalid_amount"),
        (irr(15_000_001), "invalid_amount"),
        (json!({ "amount": 1, "currency": "USD" }), "currency_mismatch"),
    ];
    for (amount, code) in bad {
        api.post(&tip, &buyer, json!({ "amount": amount })).await.problem(422, code);
    }
    api.post(&tip, &seller, json!({ "amount": irr(500_000) })).await.problem(403, "not_allowed_for_role");
    let tipped = api.post(&tip, &buyer, json!({ "amount": irr(500_000) })).await;
    assert_eq!(
        (tipped.ok(201)["tip"]["amount"].clone(), tipped.body["tip"]["paid_at"].is_null()),
        (irr(500_000), true)
    );
    let tip_intent = tipped.body["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(tipped.body["payment"]["purpose"]["kind"], "tip");
    api.post(&tip, &buyer, json!({ "amount": irr(1) })).await.problem(409, "tip_already_given");
    assert_eq!(stripe.pay(&tip_intent, "pm_card_visa").await, 200);
    let tipped = eventually(WAIT, async || {
        let order = deal.order(&api, &order_id).await;
        (!order["tip"]["paid_at"].is_null()).then_some(order)
    })
    .await
    .expect("the payment releases the tip");
    assert_eq!(
        (tipped["money"]["paid"].as_i64(), tipped["money"]["released"].as_i64()),
        (Some(15_500_000), Some(15_500_000))
    );
    // 4,500,000 + 6,300,000 + 2,700,000 (each less its 10 % fee) and the whole tip.
    let earnings = api.get("/v1/me/earnings", &seller).await;
    assert_eq!(earnings.ok(200)["balances"][0]["pending"], 14_000_000);
    let timeline = events(&api, &deal.buyer, &order_id).await;
    assert_eq!(timeline[timeline.len() - 2..], ["tip_offered", "tip_paid"]);
    assert!(notified(&api, &deal.seller, "tip_paid", &format!("order/{order_id}")).await);
}

#[tokio::test]
async fn a_cancellation_after_a_paid_stage_refunds_the_newest_payment_first() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = deal.paid_order(&api, &stripe).await;
    let own = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    // The buyer asks for a third stage, the seller accepts, the buyer pays for it.
    let stage = json!({ "title": "بنر", "deliverables": ["بنر ۱۲۰×۶۰"], "amount": irr(3_000_000), "days": 1 });
    let proposed = api.post(&path(&order_id, "amendments"), &buyer, json!({ "add_stage": stage })).await;
    let id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
    let accepted = api.post(&path(&order_id, &format!("amendments/{id}/accept")), &seller, json!({})).await;
    assert!(accepted.ok(200)["payment"]["client_secret"].is_null(), "the seller accepted; the buyer pays");
    let more = payment_for(&api, &deal.buyer, &order_id, "amendment").await;
    assert!(more["client_secret"].is_string());
    let more = more["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(&more, "pm_card_visa").await, 200);
    eventually(WAIT, async || (deal.order(&api, &order_id).await["stages"] == 3).then_some(()))
        .await
        .expect("the payment applies the amendment");
    // Stage 1 is accepted (5,000,000 released); the rest is refunded by agreement.
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "stage": 1, "message": "تحویل" })).await.ok(201);
    api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
    let asked =
        api.post(&path(&order_id, "cancellation-requests"), &buyer, json!({ "reason": "دیگر لازم ندارم" })).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    let answered =
        api.post(&path(&order_id, &format!("cancellation-requests/{request_id}/accept")), &seller, json!({})).await;
    let money = &answered.ok(200)["money"];
    assert_eq!((money["refunded"].as_i64(), money["in_escrow"].as_i64()), (Some(10_000_000), Some(0)));
    // 10,000,000: all 3,000,000 of the stage's payment, 7,000,000 of the order's own.
    stripe.refunded(&more, 3_000_000).await;
    stripe.refunded(&own, 7_000_000).await;
    let refunds = api.get(&format!("/v1/orders/{order_id}"), &buyer).await.ok(200)["refunds"].clone();
    assert_eq!(refunds.as_array().map(Vec::len), Some(2), "{refunds}");
}
