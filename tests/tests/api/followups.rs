//! Follow-ups: every transition tells the other party exactly once, even when the process
//! dies right after the commit: the relay sends what the commit wrote.

use aws_sdk_dynamodb::types::AttributeValue;
use peyman_e2e::*;
use peyman_rules::followup::FollowUp;

async fn notifications(aws: &Aws, user: &str) -> Vec<String> {
    let out = aws
        .dynamodb
        .query()
        .table_name(&aws.table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :n)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
        .expression_attribute_values(":n", AttributeValue::S("NOTIFICATION#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default().iter().map(|i| i["event"].as_s().unwrap().clone()).collect()
}

#[tokio::test]
async fn each_transition_tells_the_other_party_once() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let deal = Deal::new(&api).await;
    let id = deal.send_offer(&api, deal.offer()).await;
    let told = eventually(WAIT, async || {
        let n = notifications(&aws, &deal.buyer).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(told.unwrap(), ["offer_sent"]);
    api.post(&format!("/v1/offers/{id}/accept"), &token(&deal.buyer), json!({})).await.ok(201);
    let seller_told = eventually(WAIT, async || {
        let n = notifications(&aws, &deal.seller).await;
        (n.len() >= 2).then_some(n)
    })
    .await
    .expect("the seller is told of the acceptance and the order");
    let mut seller_told = seller_told;
    seller_told.sort();
    assert_eq!(seller_told, ["offer_accepted", "order_placed"]);
}

#[tokio::test]
async fn a_follow_up_is_relayed_from_the_stream_though_its_committer_never_sends_it() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let recipient = user("recipient");
    // Commit a follow-up exactly as a transition does, then "die": nothing is sent by
    // the committer, ever; the commit itself carries it.
    let mut commit = app.store.begin();
    let followup = FollowUp::notify(&recipient, "offer/01TESTTESTTESTTESTTESTTEST", "offer_sent", chrono::Utc::now());
    commit.followup(followup.clone()).unwrap();
    let written = app.store.commit(commit).await.unwrap();
    assert_eq!(written, std::slice::from_ref(&followup));
    // A commit with no timeline event puts its follow-ups on an item of their own, which
    // TTL removes a day later.
    let relay = aws.partition(&peyman::adapters::dynamo::keys::relay(&followup.followup_id).pk).await;
    assert_eq!(relay.len(), 1);
    assert!(relay[0]["ttl"].as_n().is_ok());

    // The relay reads it from the table's stream and sends it; the consumer tells them.
    let arrived = eventually(WAIT, async || {
        let n = notifications(&aws, &recipient).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(arrived.unwrap(), ["offer_sent"]);
    // A second delivery of the same follow-up (the relay retrying a batch, an SQS
    // redelivery) changes nothing.
    app.queues.send(std::slice::from_ref(&followup)).await.unwrap();
    assert!(!app.store.record_notification(&followup).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(notifications(&aws, &recipient).await, ["offer_sent"], "still exactly once");
}
