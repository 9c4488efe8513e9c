//! Accept, decline and withdraw race on one offer: exactly one wins, the rest get 409
//! (or, with the winner's idempotency key, its response), never a 5xx; the timeline holds
//! exactly the transitions that succeeded.

use peyman_e2e::*;

async fn order_count(aws: &Aws, buyer: &str) -> usize {
    aws.dynamodb
        .query()
        .table_name(&aws.table)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(peyman::adapters::dynamo::keys::buyer_list("ORDER", buyer)),
        )
        .send()
        .await
        .unwrap()
        .count as usize
}

#[tokio::test]
async fn fifty_concurrent_accepts_place_exactly_one_order() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let deal = Deal::new(&api).await;
    let id = deal.send_offer(&api, deal.offer()).await;
    let bt = token(&deal.buyer);
    let shared_key = ulid::Ulid::new().to_string();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (api, bt, id) = (api.clone(), bt.clone(), id.clone());
            // Half retry with one key, half each with their own.
            let key = if i % 2 == 0 { shared_key.clone() } else { ulid::Ulid::new().to_string() };
            tokio::spawn(async move {
                api.send(
                    "POST",
                    &format!("/v1/offers/{id}/accept"),
                    Some(&bt),
                    Some("{}"),
                    &[("Idempotency-Key", &key)],
                )
                .await
            })
        })
        .collect();
    let mut orders = std::collections::BTreeSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert!(r.status < 500, "no 5xx: {}", r.text);
        match r.status {
            201 => {
                orders.insert(r.body["order"]["order_id"].as_str().unwrap().to_owned());
            }
            409 => assert!(
                ["offer_changed", "invalid_state", "idempotency_in_progress"]
                    .contains(&r.body["code"].as_str().unwrap()),
                "{}",
                r.text
            ),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(orders.len(), 1, "every 201 is the one order: {orders:?}");
    assert_eq!(order_count(&aws, &deal.buyer).await, 1);
    let offer = api.get(&format!("/v1/offers/{id}"), &bt).await;
    let events = offer.ok(200)["history"]["events"].as_array().unwrap().len();
    assert_eq!(events, 2, "sent and accepted, once");
    assert_eq!(offer.body["history"]["verified"], true);
}

#[tokio::test]
async fn accepts_declines_and_withdrawals_race_to_one_final_state() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let deal = Deal::new(&api).await;
    let id = deal.send_offer(&api, deal.offer()).await;
    let (bt, st) = (token(&deal.buyer), token(&deal.seller));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (api, id) = (api.clone(), id.clone());
        let (path, token, body) = match i % 5 {
            0 | 1 => (format!("/v1/offers/{id}/accept"), bt.clone(), "{}".to_owned()),
            2 | 3 => (format!("/v1/offers/{id}/decline"), bt.clone(), r#"{"reason":"نه"}"#.to_owned()),
            _ => (format!("/v1/offers/{id}/withdraw"), st.clone(), "{}".to_owned()),
        };
        tasks.push(tokio::spawn(async move {
            (path.rsplit('/').next().unwrap().to_owned(), api.send("POST", &path, Some(&token), Some(&body), &[]).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (action, r) = task.await.unwrap();
        assert!(r.status < 500, "no 5xx: {}", r.text);
        if r.status < 300 {
            winners.push(action);
        } else {
            assert_eq!(r.status, 409, "{}", r.text);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one wins: {winners:?}");
    let offer = api.get(&format!("/v1/offers/{id}"), &bt).await;
    let expected_state = match winners[0].as_str() {
        "accept" => "accepted",
        "decline" => "declined",
        _ => "withdrawn",
    };
    assert_eq!(offer.ok(200)["state"], expected_state);
    let events: Vec<_> = offer.body["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["offer_sent".to_owned(), format!("offer_{expected_state}")]);
    assert_eq!(order_count(&aws, &deal.buyer).await, usize::from(expected_state == "accepted"));
}
