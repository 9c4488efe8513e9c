//! A transition is one transaction: when any of its conditions fails, none of its writes
//! land. This holds for DynamoDB; the test keeps the local stack (moto, with the
//! transaction patch in `infra/local/moto_server.py`) honest about it.

use peyman_e2e::*;
use peyman_rules::followup::FollowUp;

#[tokio::test]
async fn a_transaction_whose_last_condition_fails_writes_nothing() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let now = chrono::Utc::now();
    let event_id = format!("evt_{}", ulid::Ulid::new());
    let mut first = app.store.begin();
    first.event_received("stripe", &event_id, now).unwrap();
    app.store.commit(first).await.unwrap();

    // An unconditional write first, then a condition that fails (the event was received).
    let followup = FollowUp::notify(&user("someone"), "order/01TESTTESTTESTTESTTESTTEST", "order_paid", now);
    let mut second = app.store.begin();
    second.followup(followup.clone()).unwrap();
    second.event_received("stripe", &event_id, now).unwrap();
    let refused = app.store.commit(second).await.unwrap_err();
    assert_eq!(refused.code(), "concurrent_change");
    let relay = peyman::adapters::dynamo::keys::relay(&followup.followup_id);
    assert!(aws.partition(&relay.pk).await.is_empty(), "the first write of a cancelled transaction was rolled back");
    // Nor did its follow-up reach the table's stream: one committed after it for the same
    // person is relayed, and the stream keeps its order, so it would have come first.
    let later = FollowUp::notify(&followup.recipient_id, "order/01TESTTESTTESTTESTTESTTEST", "order_started", now);
    let mut third = app.store.begin();
    third.followup(later).unwrap();
    app.store.commit(third).await.unwrap();
    let told = eventually(WAIT, async || {
        let told: Vec<String> = aws
            .partition(&format!("USER#{}", followup.recipient_id))
            .await
            .iter()
            .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("NOTIFICATION#")))
            .map(|i| i["event"].as_s().unwrap().clone())
            .collect();
        (!told.is_empty()).then_some(told)
    })
    .await;
    assert_eq!(told.unwrap(), ["order_started"], "only what committed was relayed");
    // The item the failed condition was about is unchanged.
    assert!(app.store.event_received("stripe", &event_id).await.unwrap());
}

/// An order stored before its sealed terms moved beside it (issue 25) still holds them on
/// its own item. A transition would put that item without them, so it is refused, and the
/// item keeps its terms until the table is upgraded.
#[tokio::test]
async fn an_order_still_holding_its_terms_is_not_moved_without_them() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let deal = Deal::new(&api).await;
    let order_id = deal.paid_order(&api, &stripe).await;
    let pk = format!("ORDER#{order_id}");
    type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;
    let sk = |sk: &'static str| move |i: &&Item| i["SK"].as_s().unwrap() == sk;
    let items = aws.partition(&pk).await;
    let sealed = items.iter().find(sk("ORDER#SEALED")).expect("its sealed terms");
    let mut legacy = items.iter().find(sk("ORDER")).expect("the order").clone();
    assert!(!legacy.contains_key("terms"), "a new order's item holds no terms");
    legacy.insert("terms".into(), sealed["terms"].clone());
    aws.dynamodb.put_item().table_name(&aws.table).set_item(Some(legacy.clone())).send().await.unwrap();

    let path = format!("/v1/orders/{order_id}/deliveries");
    let refused = api.post(&path, &token(&deal.seller), serde_json::json!({ "message": "طرح" })).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    let after = aws.partition(&pk).await;
    assert_eq!(after.iter().find(sk("ORDER")), Some(&legacy), "the item as it was, terms and all");
}
