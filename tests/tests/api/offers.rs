//! Offers end to end: the walk from a message to a placed order, every rule of the
//! source page with its own code, immutability, and who may do what.

use peyman_e2e::*;
use serde_json::Value;

#[tokio::test]
async fn from_a_message_to_an_order_in_both_lists() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let (bt, st) = (token(&deal.buyer), token(&deal.seller));
    let created = api.post("/v1/offers", &st, deal.offer()).await;
    let offer = created.ok(201).clone();
    assert_eq!(offer["state"], "sent");
    assert_eq!(offer["allowed_actions"], json!(["withdraw"]));
    let hash = offer["terms_hash"].as_str().unwrap().to_owned();
    assert!(hash.starts_with("sha256:"));
    let id = offer["offer_id"].as_str().unwrap();

    // The buyer finds it among received offers, may accept or decline.
    let received = api.get("/v1/offers?role=buyer", &bt).await;
    assert_eq!(received.ok(200)["items"][0]["offer_id"], id);
    assert_eq!(received.body["items"][0]["allowed_actions"], json!(["accept", "decline"]));

    let accepted = api.post(&format!("/v1/offers/{id}/accept"), &bt, json!({})).await;
    let order = accepted.ok(201)["order"].clone();
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["terms_hash"], hash);
    assert_eq!(order["terms_hash_verified"], true);
    assert_eq!(order["terms"], offer["terms"], "the order keeps the terms exactly as sent");
    assert_eq!(order["policy"]["payment_window_seconds"], 3600);
    assert_eq!(order["payment"]["status"], "open", "accepting opens the payment");
    assert_eq!(order["payment"]["amount"], offer["terms"]["price"]);
    let order_id = order["order_id"].as_str().unwrap();

    for (t, role) in [(&bt, "buyer"), (&st, "seller")] {
        let list = api.get(&format!("/v1/orders?role={role}"), t).await;
        let first = &list.ok(200)["items"][0];
        assert_eq!((first["order_id"].as_str(), first["terms_hash"].as_str()), (Some(order_id), Some(hash.as_str())));
        let timeline = api.get(&format!("/v1/orders/{order_id}/timeline"), t).await;
        assert_eq!(timeline.ok(200)["verified"], true);
        assert_eq!(timeline.body["events"][0]["event"], "order_placed");
    }
    let filtered = api.get("/v1/orders?role=buyer&status=in_progress", &bt).await;
    assert_eq!(filtered.ok(200)["items"], json!([]), "work has not started: not paid");

    let history = api.get(&format!("/v1/offers/{id}"), &st).await;
    let events: Vec<_> =
        history.ok(200)["history"]["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect();
    assert_eq!(events, [json!("offer_sent"), json!("offer_accepted")]);
    assert_eq!(history.body["history"]["verified"], true);
    assert_eq!(history.body["state"], "accepted");
}

#[tokio::test]
async fn every_rule_of_the_source_page_has_its_own_code() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let st = token(&deal.seller);
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut body = deal.offer();
        f(&mut body);
        body
    };
    // The buyer is not the seller.
    let r = api.post("/v1/offers", &st, with(&|b| b["buyer_id"] = json!(deal.seller))).await;
    r.problem(422, "self_offer");
    // An active gig of the seller's own.
    api.post("/v1/offers", &st, with(&|b| b["gig_id"] = json!(ulid::Ulid::new().to_string())))
        .await
        .problem(422, "gig_not_found");
    let other = Deal::new(&api).await;
    api.post("/v1/offers", &st, with(&|b| b["gig_id"] = json!(other.gig_id))).await.problem(422, "gig_not_yours");
    api.patch(&format!("/v1/gigs/{}", deal.gig_id), &st, json!({ "status": "paused" })).await.ok(200);
    api.post("/v1/offers", &st, deal.offer()).await.problem(422, "gig_not_active");
    api.patch(&format!("/v1/gigs/{}", deal.gig_id), &st, json!({ "status": "active" })).await.ok(200);
    // Within the level's limits (new: 50,000,000 IRR, 30 days).
    let pricey = with(&|b| {
        b["price"]["amount"] = json!(50_000_001);
        b["stages"][1]["amount"] = json!(45_000_001);
    });
    api.post("/v1/offers", &st, pricey.clone()).await.problem(422, "price_above_level_limit");
    let slow = with(&|b| {
        b["delivery_days"] = json!(31);
        b["stages"][1]["days"] = json!(28);
    });
    api.post("/v1/offers", &st, slow).await.problem(422, "delivery_above_level_limit");
    // A higher level lifts the cap.
    api.put(
        &format!("/v1/support/sellers/{}/level", deal.seller),
        &support_token(&user("agent")),
        json!({ "level": "level_one" }),
    )
    .await
    .ok(200);
    api.post("/v1/offers", &st, pricey).await.ok(201);
    // Prior communication.
    let stranger = user("stranger");
    let r = api.post("/v1/offers", &st, with(&|b| b["buyer_id"] = json!(stranger))).await;
    assert_eq!(r.problem(422, "no_prior_communication")["field"], "buyer_id");
    // A seller writing first to someone is not the buyer reaching out: neither the
    // conversation nor the seller's own message is a basis for an offer.
    let cold = user("cold");
    let pitch =
        api.post(&format!("/v1/conversations/{cold}/messages"), &st, json!({ "text": "یک پیشنهاد ویژه دارم" })).await;
    let pitch_id = pitch.ok(201)["message_id"].as_str().unwrap().to_owned();
    let to_cold = |source: Value| {
        with(&|b| {
            b["buyer_id"] = json!(cold);
            b["source"] = source.clone();
        })
    };
    let r = api.post("/v1/offers", &st, to_cold(json!({ "message_id": pitch_id }))).await;
    assert_eq!(r.problem(422, "buyer_has_not_reached_out")["field"], "buyer_id");
    // Once the buyer answers, the seller's own message is still not the source; the buyer's is.
    let reply =
        api.post(&format!("/v1/conversations/{}/messages", deal.seller), &token(&cold), json!({ "text": "بله" })).await;
    let reply_id = reply.ok(201)["message_id"].as_str().unwrap().to_owned();
    let r = api.post("/v1/offers", &st, to_cold(json!({ "message_id": pitch_id }))).await;
    assert_eq!(r.problem(422, "source_not_from_buyer")["field"], "source.message_id");
    api.post("/v1/offers", &st, to_cold(json!({ "message_id": reply_id }))).await.ok(201);
    // The source is theirs.
    let r = api
        .post("/v1/offers", &st, with(&|b| b["source"] = json!({ "message_id": ulid::Ulid::new().to_string() })))
        .await;
    assert_eq!(r.problem(422, "source_not_found")["field"], "source.message_id");
    let r = api
        .post("/v1/offers", &st, with(&|b| b["source"] = json!({ "order_id": ulid::Ulid::new().to_string() })))
        .await;
    assert_eq!(r.problem(422, "source_not_found")["field"], "source.order_id");
    let r = api
        .post("/v1/offers", &st, with(&|b| b["source"] = json!({ "request_id": ulid::Ulid::new().to_string() })))
        .await;
    assert_eq!(r.problem(422, "source_not_found")["field"], "source.request_id");
    // Custom projects enabled (checked after the buyer rule, before the gig).
    api.put("/v1/me/seller-settings", &st, json!({ "custom_projects_enabled": false })).await.ok(200);
    api.post("/v1/offers", &st, deal.offer()).await.problem(403, "custom_projects_disabled");
}

#[tokio::test]
async fn an_offer_can_come_from_an_earlier_order() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let first = deal.send_offer(&api, deal.offer()).await;
    let order = api.post(&format!("/v1/offers/{first}/accept"), &token(&deal.buyer), json!({})).await;
    let order_id = order.ok(201)["order"]["order_id"].as_str().unwrap().to_owned();
    let mut body = deal.offer();
    body["source"] = json!({ "order_id": order_id });
    let follow_on = api.post("/v1/offers", &token(&deal.seller), body).await;
    assert_eq!(follow_on.ok(201)["source"], json!({ "order_id": order_id }));
}

#[tokio::test]
async fn bad_terms_are_refused_field_by_field_and_nothing_is_stored() {
    // What the HTTP parser decides (types, unknown and missing fields, the source's shape),
    // and one rule of the terms to show it answers with its field through the route; every
    // rule of the terms has its code and field in rules/src/offer.rs
    // (every_shape_rule_has_its_code_and_field).
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let st = token(&deal.seller);
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(Change, u16, &str, &str)> = vec![
        (Box::new(|b| b["price"]["amount"] = json!(1.5)), 422, "invalid_type", "price.amount"),
        (Box::new(|b| b["delivery_days"] = json!(-3)), 422, "invalid_type", "delivery_days"),
        (Box::new(|b| b["expires_at"] = json!("tomorrow")), 422, "invalid_type", "expires_at"),
        (Box::new(|b| b["source"] = json!({ "message_id": "x", "order_id": "y" })), 422, "invalid_value", "source"),
        (Box::new(|b| b["source"] = json!({ "email_id": "x" })), 422, "invalid_value", "source"),
        (Box::new(|b| b["terms_hash"] = json!("sha256:00")), 422, "unknown_field", "terms_hash"),
        (Box::new(|b| b["seller_id"] = json!("someone")), 422, "unknown_field", "seller_id"),
        (
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("stages");
            }),
            422,
            "missing_field",
            "stages",
        ),
        (
            Box::new(|b| b["stages"][0]["deliverables"] = json!([])),
            422,
            "invalid_deliverables",
            "stages[0].deliverables",
        ),
        (Box::new(|b| b["gig_id"] = json!("not-an-id")), 400, "invalid_id", "gig_id"),
    ];
    for (change, status, code, field) in &cases {
        let mut body = deal.offer();
        change(&mut body);
        let r = api.post("/v1/offers", &st, body.clone()).await;
        assert_eq!(r.problem(*status, code)["field"], *field, "{body}");
    }
    assert_eq!(api.get("/v1/offers?role=seller", &st).await.ok(200)["items"], json!([]), "nothing stored");
}

#[tokio::test]
async fn persian_terms_and_their_hash_survive_byte_for_byte() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let body = deal.offer();
    let created = api.post("/v1/offers", &token(&deal.seller), body.clone()).await;
    let terms = &created.ok(201)["terms"];
    for field in ["title", "description"] {
        assert_eq!(terms[field].as_str().unwrap().as_bytes(), body[field].as_str().unwrap().as_bytes());
    }
    assert_eq!(terms["special_conditions"], body["special_conditions"]);
    assert_eq!(terms["stages"][1]["deliverables"], body["stages"][1]["deliverables"]);
    // The hash is the SHA-256 of the canonical terms, recomputable by anyone.
    let parsed: peyman_rules::offer::Terms = serde_json::from_value(terms.clone()).unwrap();
    assert_eq!(created.body["terms_hash"], json!(parsed.hash()));
}

#[tokio::test]
async fn who_may_read_and_decide() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let id = deal.send_offer(&api, deal.offer()).await;
    let (bt, st, xt) = (token(&deal.buyer), token(&deal.seller), token(&user("stranger")));
    let support = support_token(&user("agent"));
    api.get(&format!("/v1/offers/{id}"), &xt).await.problem(404, "not_found");
    assert_eq!(api.get(&format!("/v1/offers/{id}"), &support).await.ok(200)["allowed_actions"], json!([]));
    api.post(&format!("/v1/offers/{id}/accept"), &st, json!({})).await.problem(403, "not_allowed_for_role");
    api.post(&format!("/v1/offers/{id}/accept"), &support, json!({})).await.problem(403, "not_allowed_for_role");
    api.post(&format!("/v1/offers/{id}/accept"), &xt, json!({})).await.problem(404, "not_found");
    api.post(&format!("/v1/offers/{id}/withdraw"), &bt, json!({})).await.problem(403, "not_allowed_for_role");
    api.post(&format!("/v1/offers/{id}/decline"), &st, json!({ "reason": "x" }))
        .await
        .problem(403, "not_allowed_for_role");
    assert!(api.get("/v1/offers?role=buyer", &xt).await.ok(200)["items"].as_array().unwrap().is_empty());
    api.get("/v1/offers?role=admin", &bt).await.problem(400, "invalid_role");
    api.get("/v1/offers?role=buyer&status=lost", &bt).await.problem(400, "invalid_status");
    // Still untouched.
    assert_eq!(api.get(&format!("/v1/offers/{id}"), &bt).await.ok(200)["state"], "sent");
    // The stranger cannot see the order either.
    let order = api.post(&format!("/v1/offers/{id}/accept"), &bt, json!({})).await.ok(201)["order"]["order_id"].clone();
    let order = order.as_str().unwrap();
    api.get(&format!("/v1/orders/{order}"), &xt).await.problem(404, "not_found");
    api.get(&format!("/v1/orders/{order}/timeline"), &xt).await.problem(404, "not_found");
    api.get(&format!("/v1/orders/{order}"), &support).await.ok(200);
}

#[tokio::test]
async fn a_decided_offer_is_final_and_a_withdrawn_one_cannot_be_accepted() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let (bt, st) = (token(&deal.buyer), token(&deal.seller));
    let id = deal.send_offer(&api, deal.offer()).await;
    api.post(&format!("/v1/offers/{id}/decline"), &bt, json!({})).await.problem(422, "missing_field");
    api.post(&format!("/v1/offers/{id}/decline"), &bt, json!({ "reason": " " })).await.problem(422, "empty");
    let declined = api.post(&format!("/v1/offers/{id}/decline"), &bt, json!({ "reason": "قیمت بالاست" })).await;
    assert_eq!(
        (declined.ok(200)["state"].as_str(), declined.body["decline_reason"].as_str()),
        (Some("declined"), Some("قیمت بالاست"))
    );
    api.post(&format!("/v1/offers/{id}/accept"), &bt, json!({})).await.problem(409, "invalid_state");

    let id = deal.send_offer(&api, deal.offer()).await;
    api.post(&format!("/v1/offers/{id}/withdraw"), &st, json!({})).await.ok(200);
    api.post(&format!("/v1/offers/{id}/accept"), &bt, json!({})).await.problem(409, "invalid_state");
    api.post(&format!("/v1/offers/{id}/withdraw"), &st, json!({})).await.problem(409, "invalid_state");
    assert_eq!(api.get("/v1/orders?role=buyer", &bt).await.ok(200)["items"], json!([]));
}

#[tokio::test]
async fn an_offer_expires_through_the_sweeper_and_cannot_be_accepted_after() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let bt = token(&deal.buyer);
    let mut body = deal.offer();
    body["expires_at"] = json!(chrono::Utc::now() + chrono::Duration::seconds(2));
    let id = deal.send_offer(&api, body).await;
    let expired = eventually(WAIT, async || {
        let r = api.get(&format!("/v1/offers/{id}"), &bt).await;
        (r.body["state"] == "expired").then_some(r.body)
    })
    .await
    .expect("the sweeper expired the offer");
    assert_eq!(expired["history"]["events"][1]["actor"], "system");
    assert_eq!(expired["history"]["verified"], true);
    api.post(&format!("/v1/offers/{id}/accept"), &bt, json!({})).await.problem(409, "invalid_state");
}

#[tokio::test]
async fn past_its_expiry_an_offer_cannot_be_accepted_even_before_the_sweep() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let mut body = deal.offer();
    body["expires_at"] = json!(chrono::Utc::now() + chrono::Duration::milliseconds(300));
    let id = deal.send_offer(&api, body).await;
    // Handlers and the sweeper read one table: the accept guard needs now < expires_at.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await; // letting time pass, not synchronising
    let r = api.post(&format!("/v1/offers/{id}/accept"), &token(&deal.buyer), json!({})).await;
    assert!(r.body["code"] == "expired" || r.body["code"] == "invalid_state", "{}", r.text);
    assert_eq!(r.status, 409);
}

#[tokio::test]
async fn offer_and_order_lists_page_by_cursor_without_gaps_or_repeats() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(deal.send_offer(&api, deal.offer()).await);
    }
    for id in &sent[..3] {
        api.post(&format!("/v1/offers/{id}/accept"), &token(&deal.buyer), json!({})).await.ok(201);
    }
    let collect = async |path: &str, t: &str, id_field: &str| {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}&limit=2&cursor={c}"),
                None => format!("{path}&limit=2"),
            };
            let page = api.get(&page_path, t).await;
            let body = page.ok(200);
            assert!(body["items"].as_array().unwrap().len() <= 2);
            ids.extend(body["items"].as_array().unwrap().iter().map(|o| o[id_field].as_str().unwrap().to_owned()));
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return ids,
            }
        }
    };
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(collect("/v1/offers?role=seller", &token(&deal.seller), "offer_id").await, newest_first);
    assert_eq!(collect("/v1/offers?role=buyer", &token(&deal.buyer), "offer_id").await, newest_first);
    let accepted = collect("/v1/offers?role=buyer&status=accepted", &token(&deal.buyer), "offer_id").await;
    assert_eq!(accepted.len(), 3);
    let orders = collect("/v1/orders?role=seller", &token(&deal.seller), "order_id").await;
    assert_eq!(orders.len(), 3);
    assert_eq!(orders.iter().collect::<std::collections::BTreeSet<_>>().len(), 3);
    // A cursor only ever continues the caller's own list.
    api.get("/v1/offers?role=buyer&cursor=bm90LWEtdWxpZA", &token(&deal.buyer)).await.problem(400, "invalid_cursor");
    let stranger = api.get("/v1/orders?role=buyer&limit=2", &token(&user("stranger"))).await;
    assert_eq!(stranger.ok(200)["items"], json!([]));
}

/// An item's size as DynamoDB counts it: attribute names plus values (UTF-8 strings,
/// numbers by their digits, nested maps and lists with their overhead).
fn item_size(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> usize {
        match v {
            A::S(s) | A::N(s) => s.len(),
            A::Bool(_) | A::Null(_) => 1,
            A::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            A::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>(),
            other => format!("{other:?}").len(),
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

#[tokio::test]
async fn the_largest_valid_offer_in_persian_fits_every_item_it_lands_in() {
    let (api, aws) = (Api::default(), Aws::connect().await);
    let deal = Deal::new(&api).await;
    let fill = "می‌خواهم طرح ۱۲۳ 🎨"; // Persian, a ZWNJ, Arabic-script digits, an emoji
    let text = |n: usize| fill.chars().cycle().take(n).collect::<String>();
    // The policy's limits: title 120, description 10,000, 20 conditions of 1,000, and
    // 40,000 characters in all; the deliverables take what is left.
    let per_stage = (40_000 - 120 * 11 - 10_000 - 20 * 1_000) / 10;
    let stages: Vec<Value> = (0..10)
        .map(|_| json!({ "title": text(120), "deliverables": [text(per_stage)], "amount": 1_000_000, "days": 1 }))
        .collect();
    let mut body = deal.offer();
    body["title"] = json!(text(120));
    body["description"] = json!(text(10_000));
    body["stages"] = json!(stages);
    body["price"]["amount"] = json!(10_000_000);
    body["delivery_days"] = json!(10);
    body["special_conditions"] = json!(vec![text(1_000); 20]);
    let t = token(&deal.seller);
    let sent =
        api.send("POST", "/v1/offers", Some(&t), Some(&body.to_string()), &[("Idempotency-Key", "big-offer")]).await;
    let offer_id = sent.ok(201)["offer_id"].as_str().unwrap().to_owned();
    assert_eq!(sent.body["terms"]["description"], body["description"], "the text survives byte for byte");
    // One character more is refused with its own code, and nothing is stored.
    let mut over = body.clone();
    over["stages"][0]["deliverables"][0] = json!(text(per_stage + 1));
    api.post("/v1/offers", &t, over).await.problem(422, "terms_too_long");

    let path = format!("/v1/offers/{offer_id}/accept");
    let accepted =
        api.send("POST", &path, Some(&token(&deal.buyer)), Some("{}"), &[("Idempotency-Key", "big-accept")]).await;
    let order_id = accepted.ok(201)["order"]["order_id"].as_str().unwrap().to_owned();
    let replay =
        api.send("POST", &path, Some(&token(&deal.buyer)), Some("{}"), &[("Idempotency-Key", "big-accept")]).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"), "the accept's answer was stored");
    let size_of = async |pk: String, sk: &str| {
        let items = aws.partition(&pk).await;
        item_size(items.iter().find(|i| i["SK"].as_s().unwrap() == sk).unwrap_or_else(|| panic!("{pk} {sk}")))
    };
    let offer = size_of(format!("OFFER#{offer_id}"), "OFFER#SEALED").await;
    let order = size_of(format!("ORDER#{order_id}"), "ORDER#SEALED").await;
    let order_state = size_of(format!("ORDER#{order_id}"), "ORDER").await;
    let record = size_of(format!("IDEMPOTENCY#{}#big-accept", deal.buyer), "IDEMPOTENCY").await;
    println!(
        "largest offer: sealed terms {offer} B (offer), {order} B (order); order item {order_state} B; accept record {record} B"
    );
    // The terms are written once, beside the order: what a transition rewrites stays
    // small however long the contract.
    assert!(order_state < 2 * 1024, "the order's own item is {order_state} B");
    for (what, size) in [("offer", offer), ("order", order)] {
        assert!(size < 200 * 1024, "{what}'s sealed terms are {size} B");
    }
    assert!(record < 400 * 1024 - 16 * 1024, "the accept record is {record} B");
}
