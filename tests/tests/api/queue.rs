//! The upload checker as an SQS consumer: partial batch failures, and the DLQ after the
//! template's receive count.

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use peyman_e2e::*;

fn notification(key: &str) -> String {
    json!({ "Records": [{ "eventName": "ObjectCreated:Put", "s3": { "object": { "key": key, "size": 1 } } }] })
        .to_string()
}

/// Declares an upload and stores its object straight into the bucket.
async fn stored_upload(api: &Api, aws: &Aws, owner: &str) -> (String, String) {
    let declared = api
        .post(
            "/v1/uploads",
            &token(owner),
            json!({ "kind": "attachment", "file_name": "p.png", "content_type": "image/png", "size_bytes": PNG.len() }),
        )
        .await;
    let id = declared.ok(201)["upload_id"].as_str().unwrap().to_owned();
    let key = peyman::adapters::s3::upload_object(owner, &id);
    aws.s3.put_object().bucket(&aws.bucket).key(&key).body(PNG.to_vec().into()).send().await.unwrap();
    (id, key)
}

#[tokio::test]
async fn one_bad_message_fails_alone_in_its_batch() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let owner = user("owner");
    let (first, first_key) = stored_upload(&api, &aws, &owner).await;
    let (second, second_key) = stored_upload(&api, &aws, &owner).await;
    let event: SqsEvent = serde_json::from_value(json!({ "Records": [
        { "messageId": "good-1", "body": notification(&first_key), "attributes": {}, "messageAttributes": {} },
        { "messageId": "poison", "body": "this is not an S3 notification", "attributes": {}, "messageAttributes": {} },
        { "messageId": "good-2", "body": notification(&second_key), "attributes": {}, "messageAttributes": {} },
    ]}))
    .unwrap();
    let response = upload_checker::handle(&aws.app().await, event).await.unwrap();
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["poison"]);
    for id in [first, second] {
        assert_eq!(api.get(&format!("/v1/uploads/{id}"), &token(&owner)).await.ok(200)["status"], "ready");
    }
}

#[tokio::test]
async fn a_poison_message_reaches_the_dlq_after_the_receive_count_while_its_batch_mates_complete() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let queue = aws.template.queue_url("UploadCheckQueue").unwrap();
    let dlq = aws.template.queue_url("UploadCheckDeadLetterQueue").unwrap();

    // The queue was made from the template's own redrive policy.
    let attributes = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes.attributes().unwrap()[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "3");

    let owner = user("owner");
    let declared = api
        .post(
            "/v1/uploads",
            &token(&owner),
            json!({ "kind": "attachment", "file_name": "p.png", "content_type": "image/png", "size_bytes": PNG.len() }),
        )
        .await;
    let id = declared.ok(201)["upload_id"].as_str().unwrap().to_owned();
    let key = peyman::adapters::s3::upload_object(&owner, &id);
    // S3 announces the object too; the checker decides it once whichever message comes first.
    let poison = format!("poison-{}", ulid::Ulid::new());
    aws.s3.put_object().bucket(&aws.bucket).key(&key).body(PNG.to_vec().into()).send().await.unwrap();
    aws.sqs
        .send_message_batch()
        .queue_url(&queue)
        .entries(SendMessageBatchRequestEntry::builder().id("poison").message_body(&poison).build().unwrap())
        .entries(SendMessageBatchRequestEntry::builder().id("good").message_body(notification(&key)).build().unwrap())
        .send()
        .await
        .unwrap();

    assert_eq!(api.decided_upload(&token(&owner), &id).await["status"], "ready");
    let dead = eventually(WAIT, async || {
        let out = aws
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        out.messages.unwrap_or_default().into_iter().find(|m| m.body.as_deref() == Some(poison.as_str()))
    })
    .await;
    assert!(dead.is_some(), "the poison message never reached the DLQ");
}

#[tokio::test]
async fn make_redrive_moves_dead_letters_back_and_they_are_applied() {
    let aws = Aws::connect().await;
    let dlq = aws.template.queue_url("FollowUpsDeadLetterQueue").unwrap();
    let source = aws.template.queue_url("FollowUpsQueue").unwrap();
    // A follow-up that failed five times (its cause since fixed) waits in the DLQ.
    let recipient = user("buyer");
    let followup = peyman_rules::followup::FollowUp::notify(&recipient, "order/x", "order_paid", chrono::Utc::now());
    let body = serde_json::to_string(&followup).unwrap();
    aws.sqs.send_message().queue_url(&dlq).message_body(&body).send().await.unwrap();
    let python = format!("{}/../.venv/moto/bin/python", env!("CARGO_MANIFEST_DIR"));
    let script = format!("{}/../infra/ops/redrive.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python).args([&script, "--dlq", &dlq, "--to", &source]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("moved "), "{}", String::from_utf8_lossy(&out.stdout));
    // The stack's consumer applies it from the source queue: the notification exists.
    let key = peyman::adapters::dynamo::keys::notification(&recipient, &followup.followup_id);
    let applied = eventually(WAIT, async || {
        (!aws.partition(&key.pk).await.iter().all(|i| i["SK"].as_s().unwrap() != &key.sk)).then_some(())
    })
    .await;
    assert!(applied.is_some(), "the redriven follow-up was applied");
}
