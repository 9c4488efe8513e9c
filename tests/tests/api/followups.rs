//! Follow-ups: every transition tells the other party exactly once, even when the process
//! dies between the commit and the send to SQS.

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
async fn a_follow_up_lost_between_commit_and_send_still_arrives_once() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let recipient = user("recipient");
    // Commit a follow-up exactly as a transition does, then "die": never send it.
    let mut commit = app.store.begin();
    let followup = FollowUp::notify(&recipient, "offer/01TESTTESTTESTTESTTESTTEST", "offer_sent", chrono::Utc::now());
    commit.followup(followup.clone()).unwrap();
    let pending = app.store.commit(commit).await.unwrap();
    assert_eq!(pending, std::slice::from_ref(&followup));

    // The sweeper finds it in the outbox after its grace period and sends it.
    let arrived = eventually(WAIT, async || {
        let n = notifications(&aws, &recipient).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(arrived.unwrap(), ["offer_sent"]);
    // A second delivery of the same follow-up (a resend, an SQS redelivery) changes nothing.
    app.queues.send(std::slice::from_ref(&followup)).await.unwrap();
    assert!(!app.store.record_notification(&followup).await.unwrap());
    let settled = eventually(WAIT, async || {
        let outbox = aws.partition(peyman::adapters::dynamo::keys::OUTBOX).await;
        (!outbox.iter().any(|i| i["SK"].as_s().ok() == Some(&followup.followup_id))).then_some(())
    })
    .await;
    assert!(settled.is_some(), "the outbox entry is gone once sent");
    assert_eq!(notifications(&aws, &recipient).await, ["offer_sent"], "still exactly once");
}
