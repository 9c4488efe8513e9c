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
