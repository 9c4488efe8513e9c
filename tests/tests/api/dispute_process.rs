//! A dispute's process between the parties, on the local stack with localstripe: support's
//! questions and the parties' answers, a settlement proposed, declined, withdrawn, proposed again and
//! accepted (decided as support's decision would be, its refund sent to localstripe), a
//! settlement racing support's resolution (one winner), and a withdrawal that resumes the
//! order with its clocks where they stopped. Refusals have their own codes and store
//! nothing. The response window's end is the clock stack's (`clock.rs`).

use chrono::{DateTime, Utc};
use peyman_e2e::*;
use serde_json::Value;

fn path(order_id: &str, rest: &str) -> String {
    format!("/v1/orders/{order_id}/{rest}")
}

fn irr(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "IRR" })
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("a time: {value}")).parse().unwrap()
}

/// A paid order of `deal` (12,000,000 IRR in two stages) disputed by `opener` ("buyer" or
/// "seller"), its first stage delivered first when `delivered`. Returns the order id, the
/// dispute's path and the opened dispute.
async fn disputed(api: &Api, stripe: &Stripe, deal: &Deal, opener: &str, delivered: bool) -> (String, String, Value) {
    let order_id = deal.paid_order(api, stripe).await;
    if delivered {
        api.post(&path(&order_id, "deliveries"), &token(&deal.seller), json!({ "message": "طرح‌ها" })).await.ok(201);
    }
    let who = if opener == "buyer" { &deal.buyer } else { &deal.seller };
    let body = json!({ "reason": "other", "description": "درباره‌ی بند ۲ توافق نداریم" });
    let opened = api.post(&path(&order_id, "disputes"), &token(who), body).await.ok(201).clone();
    let dispute_path = path(&order_id, &format!("disputes/{}", opened["dispute_id"].as_str().unwrap()));
    (order_id, dispute_path, opened)
}

async fn dispute_events(api: &Api, who: &str, dispute: &Value) -> Vec<String> {
    let read = api
        .get(
            &path(
                dispute["order_id"].as_str().unwrap(),
                &format!("disputes/{}", dispute["dispute_id"].as_str().unwrap()),
            ),
            &token(who),
        )
        .await;
    assert_eq!(read.ok(200)["history"]["verified"], true, "the dispute's chain verifies");
    read.body["history"]["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_settlement_the_parties_agree_decides_the_dispute_and_its_refund_reaches_localstripe() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller, support) = (token(&deal.buyer), token(&deal.seller), support_token(&user("agent")));
    let (order_id, dispute_path, opened) = disputed(&api, &stripe, &deal, "buyer", true).await;
    assert!(opened["respond_by"].is_string() && opened["unanswered"] == false, "{opened}");
    let read = api.get(&dispute_path, &buyer).await;
    assert_eq!(read.ok(200)["allowed_actions"], json!(["add_statement", "propose_settlement", "withdraw"]));
    let read = api.get(&dispute_path, &seller).await;
    assert_eq!(read.ok(200)["allowed_actions"], json!(["add_statement", "propose_settlement"]));

    // Proposals that do not hold, each with its code; none stores anything.
    let settle = format!("{dispute_path}/settlement");
    let split =
        |refund: i64, release: i64| json!({ "refund_to_buyer": irr(refund), "release_to_seller": irr(release) });
    let bad = [
        (split(4_000_000, 7_000_000), 422, "settlement_does_not_add_up", "refund_to_buyer"),
        (split(-1, 12_000_001), 422, "invalid_amount", "refund_to_buyer.amount"),
        (
            json!({ "refund_to_buyer": { "amount": 0, "currency": "USD" }, "release_to_seller": irr(12_000_000) }),
            422,
            "currency_mismatch",
            "refund_to_buyer.currency",
        ),
        (
            json!({ "refund_to_buyer": irr(0), "release_to_seller": irr(12_000_000), "bonus": 1 }),
            422,
            "unknown_field",
            "bonus",
        ),
        (json!({ "refund_to_buyer": irr(0) }), 422, "missing_field", "release_to_seller"),
    ];
    for (body, status, code, field) in bad {
        let refused = api.post(&settle, &seller, body.clone()).await;
        assert_eq!(refused.problem(status, code)["field"], field, "{body}");
    }
    api.post(&format!("{settle}/accept"), &buyer, json!({})).await.problem(409, "no_settlement_to_answer");
    api.post(&settle, &token(&user("stranger")), split(0, 12_000_000)).await.problem(404, "not_found");
    api.post(&settle, &support, split(0, 12_000_000)).await.problem(403, "not_allowed_for_role");
    assert_eq!(dispute_events(&api, &deal.buyer, &opened).await, ["dispute_opened"], "nothing stored");

    // Proposed by the seller, declined by the buyer.
    let proposed = api.post(&settle, &seller, split(4_000_000, 8_000_000)).await;
    assert_eq!(proposed.ok(200)["settlement"]["by"], "seller");
    api.post(&settle, &buyer, split(6_000_000, 6_000_000)).await.problem(409, "settlement_open");
    api.post(&format!("{settle}/accept"), &seller, json!({})).await.problem(409, "no_settlement_to_answer");
    let declined = api.post(&format!("{settle}/decline"), &buyer, json!({})).await;
    assert_eq!((declined.ok(200)["status"].as_str(), declined.body["settlement"].is_null()), (Some("open"), true));

    // Proposed and taken back by its author (only its author): the next may be proposed.
    api.post(&settle, &seller, split(3_000_000, 9_000_000)).await.ok(200);
    let withdraw = format!("{settle}/withdraw");
    api.post(&withdraw, &buyer, json!({})).await.problem(409, "no_settlement_to_answer");
    let withdrawn = api.post(&withdraw, &seller, json!({})).await;
    assert_eq!((withdrawn.ok(200)["status"].as_str(), withdrawn.body["settlement"].is_null()), (Some("open"), true));
    api.post(&withdraw, &seller, json!({})).await.problem(409, "no_settlement_to_answer");

    // Proposed again and accepted: a partial refund of its refund part, the rest released.
    let note = "نیمی از کار انجام شد 🤝";
    let body = json!({ "refund_to_buyer": irr(5_000_000), "release_to_seller": irr(7_000_000), "note": note });
    api.post(&settle, &seller, body).await.ok(200);
    let settled = api.post(&format!("{settle}/accept"), &buyer, json!({})).await;
    let resolution = &settled.ok(200)["resolution"];
    assert_eq!(settled.body["status"], "resolved");
    assert_eq!(
        (resolution["decision"].as_str(), resolution["refund_amount"]["amount"].as_i64(), resolution["note"].as_str()),
        (Some("partial_refund"), Some(5_000_000), Some(note))
    );
    assert_eq!(
        (resolution["decided_by"].as_str(), resolution["settlement"]["by"].as_str()),
        (Some(deal.buyer.as_str()), Some("seller"))
    );
    let order = &settled.body["order"];
    assert_eq!(order["status"], "completed");
    assert_eq!(
        (order["money"]["refunded"].as_i64(), order["money"]["released"].as_i64()),
        (Some(5_000_000), Some(7_000_000))
    );
    let intent = deal.order(&api, &order_id).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    stripe.refunded(&intent, 5_000_000).await;

    // Final: support cannot decide it again, nor can the parties.
    let decision = json!({ "decision": "release", "note": "n" });
    let again = api
        .post(
            &format!("/v1/support/disputes/{}/resolution", opened["dispute_id"].as_str().unwrap()),
            &support,
            decision,
        )
        .await;
    assert!(again.problem(409, "dispute_resolved")["detail"].as_str().unwrap().contains(&deal.buyer), "{}", again.text);
    api.post(&settle, &seller, split(0, 0)).await.problem(409, "dispute_resolved");
    assert_eq!(
        dispute_events(&api, &deal.seller, &opened).await,
        [
            "dispute_opened",
            "settlement_proposed",
            "settlement_declined",
            "settlement_proposed",
            "settlement_withdrawn",
            "settlement_proposed",
            "dispute_settled"
        ]
    );
    let timeline = api.get(&path(&order_id, "timeline"), &seller).await;
    assert_eq!(timeline.ok(200)["verified"], true);
    let events = timeline.body["events"].as_array().unwrap();
    let applied = events.iter().find(|e| e["event"] == "dispute_partly_refunded").expect("the settlement applied");
    assert_eq!((applied["actor"].as_str(), applied["actor_id"].as_str()), (Some("system"), Some(deal.buyer.as_str())));
}

#[tokio::test]
async fn a_settlement_accepted_while_support_resolves_has_one_winner() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller, support) = (token(&deal.buyer), token(&deal.seller), support_token(&user("agent")));
    for round in 0..3 {
        let (order_id, dispute_path, opened) = disputed(&api, &stripe, &deal, "buyer", false).await;
        let body = json!({ "refund_to_buyer": irr(12_000_000), "release_to_seller": irr(0) });
        api.post(&format!("{dispute_path}/settlement"), &seller, body).await.ok(200);
        let resolution = format!("/v1/support/disputes/{}/resolution", opened["dispute_id"].as_str().unwrap());
        let decision = json!({ "decision": "release", "note": "تحویل کامل بود" });
        let accept = format!("{dispute_path}/settlement/accept");
        let (settled, resolved) =
            tokio::join!(api.post(&accept, &buyer, json!({})), api.post(&resolution, &support, decision),);
        let winners = [settled.status, resolved.status].iter().filter(|s| **s == 200).count();
        assert_eq!(winners, 1, "round {round}: {} / {}", settled.text, resolved.text);
        let lost = if settled.status == 200 { &resolved } else { &settled };
        lost.problem(409, "dispute_resolved");
        let o = deal.order(&api, &order_id).await;
        let expected = if settled.status == 200 { ("cancelled", 12_000_000, 0) } else { ("completed", 0, 12_000_000) };
        assert_eq!(
            (
                o["status"].as_str().unwrap(),
                o["money"]["refunded"].as_i64().unwrap(),
                o["money"]["released"].as_i64().unwrap()
            ),
            expected,
            "round {round}: the winner's decision, once"
        );
    }
}

#[tokio::test]
async fn support_asks_a_party_who_answers_and_both_see_the_question_and_the_answer() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let agent = user("agent");
    let support = support_token(&agent);
    let (_, dispute_path, opened) = disputed(&api, &stripe, &deal, "buyer", true).await;
    let questions = format!("/v1/support/disputes/{}/questions", opened["dispute_id"].as_str().unwrap());
    let text = "فایل‌های لایه‌باز طبق بند ۲ کجاست؟";

    // Refused: a party asking, a question to nobody, unknown fields.
    api.post(&questions, &buyer, json!({ "to": "seller", "text": text })).await.problem(403, "support_only");
    let refused = api.post(&questions, &support, json!({ "to": "support", "text": text })).await;
    assert_eq!(refused.problem(422, "invalid_value")["field"], "to");
    api.post(&questions, &support, json!({ "to": "seller", "text": " " })).await.problem(422, "empty");
    api.post(&questions, &support, json!({ "to": "seller", "text": text, "urgent": true }))
        .await
        .problem(422, "unknown_field");

    let asked = api.post(&questions, &support, json!({ "to": "seller", "text": text })).await;
    let question_id = asked.ok(201)["statement_id"].as_str().unwrap().to_owned();
    assert_eq!(
        (asked.body["by"].as_str(), asked.body["to"].as_str(), asked.body["author_id"].as_str()),
        (Some("support"), Some("seller"), Some(agent.as_str()))
    );
    assert!(
        notified(&api, &deal.seller, "question_asked", &format!("dispute/{}", opened["dispute_id"].as_str().unwrap()))
            .await
    );

    // Only the party asked answers it, naming it.
    let statements = format!("{dispute_path}/statements");
    let answer = |id: &str| json!({ "text": "در پیوست پیام قبلی فرستادم", "answers": id });
    api.post(&statements, &buyer, answer(&question_id)).await.problem(422, "not_your_question");
    api.post(&statements, &seller, answer(&ulid::Ulid::new().to_string())).await.problem(422, "unknown_question");
    let answered = api.post(&statements, &seller, answer(&question_id)).await;
    assert_eq!(answered.ok(201)["answers"], question_id.as_str());

    // Both parties read the question and the answer; the seller's statement answered the
    // dispute, whose response window stops.
    for who in [&buyer, &seller] {
        let read = api.get(&dispute_path, who).await;
        let listed = read.ok(200)["statements"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert_eq!((listed[0]["to"].as_str(), listed[0]["text"].as_str()), (Some("seller"), Some(text)));
        assert_eq!(listed[1]["answers"], question_id.as_str());
        assert!(read.body["answered_at"].is_string());
    }
    assert_eq!(
        dispute_events(&api, &deal.buyer, &opened).await,
        ["dispute_opened", "question_asked", "statement_added"]
    );
}

#[tokio::test]
async fn the_opener_withdraws_a_dispute_and_the_order_resumes_with_its_clocks_where_they_stopped() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));

    // Delivered: what was left of the auto-complete window runs again from the withdrawal.
    let order_id = deal.paid_order(&api, &stripe).await;
    let delivered = api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "طرح‌ها" })).await;
    let auto_complete_at = time(&delivered.ok(201)["order"]["auto_complete_at"]);
    let body = json!({ "reason": "not_as_agreed", "description": "مطابق بند ۲ نیست" });
    let opened = api.post(&path(&order_id, "disputes"), &buyer, body.clone()).await.ok(201).clone();
    let opened_at = time(&opened["created_at"]);
    let dispute_path = path(&order_id, &format!("disputes/{}", opened["dispute_id"].as_str().unwrap()));
    api.post(&format!("{dispute_path}/withdrawal"), &seller, json!({})).await.problem(403, "not_the_opener");
    api.post(&format!("{dispute_path}/withdrawal"), &buyer, json!({ "why": 1 })).await.problem(422, "unknown_field");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let withdrawn = api.post(&format!("{dispute_path}/withdrawal"), &buyer, json!({})).await;
    assert_eq!(withdrawn.ok(200)["status"], "withdrawn");
    let withdrawn_at = time(&withdrawn.body["updated_at"]);
    let order = &withdrawn.body["order"];
    assert_eq!((order["status"].as_str(), order["dispute_id"].is_null()), (Some("delivered"), true));
    let resumed = time(&order["auto_complete_at"]);
    assert_eq!(resumed, withdrawn_at + (auto_complete_at - opened_at), "the window's rest, from the withdrawal");
    let timer = aws.timer(&format!("order/{order_id}/auto_complete")).await;
    assert_eq!(timer.due_at, Some(resumed), "the auto-complete timer is armed again");
    assert_eq!(
        withdrawn.body["order"]["allowed_actions"],
        json!(["request_revision", "accept_delivery", "request_cancellation", "propose_amendment", "open_dispute"])
    );
    api.post(&format!("{dispute_path}/statements"), &seller, json!({ "text": "x" }))
        .await
        .problem(409, "dispute_resolved");
    // A withdrawn dispute leaves the order disputable again.
    api.post(
        &path(&order_id, "disputes"),
        &seller,
        json!({ "reason": "buyer_unresponsive", "description": "پاسخ نمی‌دهد" }),
    )
    .await
    .ok(201);

    // In progress: due as much later as it was frozen.
    let (order_id, dispute_path, opened) = disputed(&api, &stripe, &deal, "seller", false).await;
    let due_before = time(&deal.order(&api, &order_id).await["due_at"]);
    let withdrawn = api.post(&format!("{dispute_path}/withdrawal"), &seller, json!({})).await;
    let paused = time(&withdrawn.ok(200)["updated_at"]) - time(&opened["created_at"]);
    let order = &withdrawn.body["order"];
    assert_eq!((order["status"].as_str(), time(&order["due_at"])), (Some("in_progress"), due_before + paused));
    assert_eq!(aws.timer(&format!("order/{order_id}/late")).await.due_at, Some(due_before + paused));
    let timeline = api.get(&path(&order_id, "timeline"), &buyer).await;
    let last = timeline.ok(200)["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["event"].as_str(), last["to_state"].as_str()), (Some("dispute_withdrawn"), Some("in_progress")));
    assert_eq!(dispute_events(&api, &deal.buyer, &opened).await, ["dispute_opened", "dispute_withdrawn"]);
    let queue = api.get("/v1/support/disputes?status=withdrawn&limit=100", &support_token(&user("agent"))).await;
    assert!(queue.ok(200)["items"].as_array().unwrap().iter().any(|d| d["dispute_id"] == opened["dispute_id"]));
}
