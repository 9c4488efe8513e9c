//! The timeline's hash chain: it verifies as written, and any change or deletion of a
//! stored event is detected.

use aws_sdk_dynamodb::types::AttributeValue;
use peyman_e2e::*;

async fn placed_order(api: &Api) -> (Deal, String) {
    let deal = Deal::new(api).await;
    let id = deal.send_offer(api, deal.offer()).await;
    let order = api.post(&format!("/v1/offers/{id}/accept"), &token(&deal.buyer), json!({})).await;
    let order_id = order.ok(201)["order"]["order_id"].as_str().unwrap().to_owned();
    (deal, order_id)
}

#[tokio::test]
async fn changing_a_stored_event_breaks_verification() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let (deal, order_id) = placed_order(&api).await;
    let path = format!("/v1/orders/{order_id}/timeline");
    assert_eq!(api.get(&path, &token(&deal.buyer)).await.ok(200)["verified"], true);
    // Someone with table access rewrites history.
    aws.dynamodb
        .update_item()
        .table_name(&aws.table)
        .key("PK", AttributeValue::S(format!("ORDER#{order_id}")))
        .key("SK", AttributeValue::S("EVENT#0000000001".into()))
        .update_expression("SET actor_id = :x")
        .expression_attribute_values(":x", AttributeValue::S("someone-else".into()))
        .send()
        .await
        .unwrap();
    let r = api.get(&path, &token(&deal.buyer)).await;
    assert_eq!(r.ok(200)["verified"], false);
    assert!(r.body["break"].as_str().unwrap().contains("changed"), "{}", r.text);
}

#[tokio::test]
async fn deleting_a_stored_event_breaks_verification() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let deal = Deal::new(&api).await;
    let id = deal.send_offer(&api, deal.offer()).await;
    api.post(&format!("/v1/offers/{id}/withdraw"), &token(&deal.seller), json!({})).await.ok(200);
    let path = format!("/v1/offers/{id}");
    assert_eq!(api.get(&path, &token(&deal.buyer)).await.ok(200)["history"]["verified"], true);
    aws.dynamodb
        .delete_item()
        .table_name(&aws.table)
        .key("PK", AttributeValue::S(format!("OFFER#{id}")))
        .key("SK", AttributeValue::S("EVENT#0000000002".into()))
        .send()
        .await
        .unwrap();
    let r = api.get(&path, &token(&deal.buyer)).await;
    assert_eq!(r.ok(200)["history"]["verified"], false, "{}", r.text);
}
