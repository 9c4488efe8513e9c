//! Domain events: every timeline event is on the EventBridge bus, as its schema in
//! `events/schemas/` says, for other services to subscribe to. The local stack's tap (a
//! rule on the bus into a queue) is the subscriber this test reads.

use std::collections::{BTreeMap, HashMap};

use peyman_e2e::*;
use serde_json::Value;

/// Each event's JSON Schema, by name, from `events/schemas/`.
fn schemas() -> HashMap<String, jsonschema::Validator> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schemas");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, jsonschema::validator_for(&schema).expect("a valid schema"))
        })
        .collect()
}

#[tokio::test]
async fn every_timeline_event_is_on_the_bus_as_its_schema_says() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let schemas = schemas();
    let deal = Deal::new(&api).await;
    let order_id = deal.completed_order(&api, &stripe).await;
    let timeline = api.get(&format!("/v1/orders/{order_id}/timeline"), &token(&deal.buyer)).await;
    let ours: Vec<Value> = timeline.ok(200)["events"].as_array().unwrap().clone();
    assert!(ours.len() >= 6, "placed, paid, two stages delivered and accepted: {ours:?}");
    let subject = format!("order/{order_id}");

    // Read the tap until every event of this order's timeline arrived; every message read
    // (this test's or another's running beside it) must match its event's schema.
    let (tap, _) = peyman_local::provision::event_tap(&aws.template, "EventBus").unwrap();
    let mut seen: BTreeMap<u64, Value> = BTreeMap::new();
    let mut checked = 0;
    // Every test's events are in the tap ahead of ours: it is read ten at a time and
    // emptied ten at a time, so a long backlog drains in few calls.
    let arrived = eventually(2 * WAIT, async || {
        let out = aws.sqs.receive_message().queue_url(&tap).max_number_of_messages(10).send().await.unwrap();
        let mut read = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            let name = body["detail-type"].as_str().unwrap().to_owned();
            let schema = schemas.get(&name).unwrap_or_else(|| panic!("no schema for {name}"));
            let errors: Vec<String> =
                schema.iter_errors(&body).map(|e| format!("{e} at {}", e.instance_path)).collect();
            assert!(errors.is_empty(), "{name} does not match its schema: {errors:?}\n{body}");
            checked += 1;
            if body["detail"]["subject"] == subject.as_str() {
                seen.insert(body["detail"]["seq"].as_u64().unwrap(), body["detail"].clone());
            }
            let entry = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id(read.len().to_string())
                .receipt_handle(message.receipt_handle().unwrap())
                .build()
                .unwrap();
            read.push(entry);
        }
        if !read.is_empty() {
            aws.sqs.delete_message_batch().queue_url(&tap).set_entries(Some(read)).send().await.unwrap();
        }
        (seen.len() >= ours.len()).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "of {} events, {} arrived: {:?}", ours.len(), seen.len(), seen.keys());
    // Each is the timeline's own event: its name, place in the chain and hash.
    for event in &ours {
        let published = &seen[&event["seq"].as_u64().unwrap()];
        assert_eq!(published["event"], event["event"]);
        assert_eq!(published["hash"], event["hash"], "{}", event["event"]);
        assert_eq!(published["prev_hash"], event["prev_hash"]);
    }
    assert!(checked >= ours.len());
}
