//! Conversations over HTTP: text, files, pagination, and who can read what.

use peyman::adapters::dynamo::keys;
use peyman_e2e::*;

#[tokio::test]
async fn both_parties_see_one_conversation_in_order() {
    let api = Api::default();
    let (buyer, seller) = (user("buyer"), user("seller"));
    let text = "سلام، برای طراحی لوگو ۳ روز وقت دارید؟ 🙏 می‌شود؟";
    let first =
        api.post(&format!("/v1/conversations/{seller}/messages"), &token(&buyer), json!({ "text": text })).await;
    assert_eq!(first.ok(201)["text"].as_str().unwrap().as_bytes(), text.as_bytes());
    assert_eq!(
        (first.body["sender_id"].as_str(), first.body["recipient_id"].as_str()),
        (Some(buyer.as_str()), Some(seller.as_str()))
    );
    api.post(&format!("/v1/conversations/{buyer}/messages"), &token(&seller), json!({ "text": "بله" })).await.ok(201);

    let seen_by_seller = api.get(&format!("/v1/conversations/{buyer}/messages"), &token(&seller)).await;
    let items = seen_by_seller.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["text"], "بله", "newest first");
    assert_eq!(items[1]["text"].as_str().unwrap().as_bytes(), text.as_bytes());
    let seen_by_buyer = api.get(&format!("/v1/conversations/{seller}/messages"), &token(&buyer)).await;
    assert_eq!(seen_by_buyer.ok(200)["items"], json!(items));
}

#[tokio::test]
async fn pages_follow_the_opaque_cursor_without_gaps_or_repeats() {
    let api = Api::default();
    let (a, b) = (user("a"), user("b"));
    for i in 0..7 {
        api.post(&format!("/v1/conversations/{b}/messages"), &token(&a), json!({ "text": format!("پیام {i}") }))
            .await
            .ok(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = api.get(&format!("/v1/conversations/{a}/messages?limit=3{query}"), &token(&b)).await;
        let body = page.ok(200);
        seen.extend(body["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("پیام {i}")).collect();
    assert_eq!(seen, expected);

    let t = token(&b);
    api.get(&format!("/v1/conversations/{a}/messages?cursor=bm90LWEtY3Vyc29y"), &t)
        .await
        .problem(400, "invalid_cursor");
    api.get(&format!("/v1/conversations/{a}/messages?limit=0"), &t).await.problem(400, "invalid_limit");
    api.get(&format!("/v1/conversations/{a}/messages?limit=101"), &t).await.problem(400, "invalid_limit");
}

#[tokio::test]
async fn a_third_user_never_sees_the_conversation() {
    let api = Api::default();
    let (buyer, seller, stranger) = (user("buyer"), user("seller"), user("stranger"));
    api.post(&format!("/v1/conversations/{seller}/messages"), &token(&buyer), json!({ "text": "private" }))
        .await
        .ok(201);
    // The stranger can only ever name their own conversations.
    for other in [&seller, &buyer] {
        let r = api.get(&format!("/v1/conversations/{other}/messages"), &token(&stranger)).await;
        assert_eq!(r.ok(200)["items"], json!([]));
        assert!(!r.text.contains("private"));
    }
    assert_eq!(api.send("GET", &format!("/v1/conversations/{seller}/messages"), None, None, &[]).await.status, 401);
}

#[tokio::test]
async fn files_are_attached_with_their_status_and_become_readable_by_the_recipient() {
    let api = Api::default();
    let (buyer, seller, stranger) = (user("buyer"), user("seller"), user("stranger"));
    let bt = token(&buyer);
    let image = api.upload(&bt, "attachment", "image/png", PNG.len() as u64, PNG).await;
    let voice = api.upload(&bt, "voice_note", "audio/ogg", OGG.len() as u64, OGG).await;
    api.decided_upload(&bt, &image).await;
    api.decided_upload(&bt, &voice).await;

    let sent = api
        .post(
            &format!("/v1/conversations/{seller}/messages"),
            &bt,
            json!({ "attachment_upload_ids": [image], "voice_note_upload_id": voice }),
        )
        .await;
    let body = sent.ok(201);
    assert_eq!(body["attachments"][0]["upload_id"], image);
    assert_eq!(body["attachments"][0]["status"], "ready");
    assert_eq!(body["voice_note"]["upload_id"], voice);
    assert_eq!(body["text"], serde_json::Value::Null);

    // The recipient may now read both files; a stranger may not tell they exist.
    for id in [&image, &voice] {
        let r = api.get(&format!("/v1/uploads/{id}"), &token(&seller)).await;
        assert!(r.ok(200)["download_url"].as_str().is_some());
        api.get(&format!("/v1/uploads/{id}"), &token(&stranger)).await.problem(404, "not_found");
    }
    let listed = api.get(&format!("/v1/conversations/{buyer}/messages"), &token(&seller)).await;
    assert_eq!(listed.ok(200)["items"][0]["voice_note"]["status"], "ready");
}

#[tokio::test]
async fn a_pending_upload_is_shown_as_pending() {
    let api = Api::default();
    let (buyer, seller) = (user("buyer"), user("seller"));
    let bt = token(&buyer);
    // Declared but never uploaded: it stays pending, and the message says so.
    let pending = api
        .post("/v1/uploads", &bt, json!({ "kind": "attachment", "file_name": "later.pdf", "content_type": "application/pdf", "size_bytes": 10 }))
        .await
        .ok(201)["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = api
        .post(
            &format!("/v1/conversations/{seller}/messages"),
            &bt,
            json!({ "text": "x", "attachment_upload_ids": [pending] }),
        )
        .await;
    assert_eq!(sent.ok(201)["attachments"][0]["status"], "pending");
}

#[tokio::test]
async fn a_message_cannot_attach_someone_elses_upload() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let (buyer, seller, owner) = (user("buyer"), user("seller"), user("owner"));
    let theirs = api.upload(&token(&owner), "attachment", "image/png", PNG.len() as u64, PNG).await;
    let r = api
        .post(
            &format!("/v1/conversations/{seller}/messages"),
            &token(&buyer),
            json!({ "text": "look", "attachment_upload_ids": [theirs] }),
        )
        .await;
    assert_eq!(r.problem(422, "upload_not_found")["field"], "attachment_upload_ids[0]");
    let r = api
        .post(
            &format!("/v1/conversations/{seller}/messages"),
            &token(&buyer),
            json!({ "voice_note_upload_id": theirs }),
        )
        .await;
    assert_eq!(r.problem(422, "upload_not_found")["field"], "voice_note_upload_id");
    assert!(aws.partition(&keys::conversation(&buyer, &seller)).await.is_empty(), "no message stored");
    // And the would-be recipient gained no access to the file.
    api.get(&format!("/v1/uploads/{theirs}"), &token(&seller)).await.problem(404, "not_found");
}

#[tokio::test]
async fn kinds_and_rejected_files_are_enforced() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let (buyer, seller) = (user("buyer"), user("seller"));
    let bt = token(&buyer);
    let image = api.upload(&bt, "attachment", "image/png", PNG.len() as u64, PNG).await;
    let fake_voice = api.upload(&bt, "voice_note", "audio/ogg", PNG.len() as u64, PNG).await;
    assert_eq!(api.decided_upload(&bt, &fake_voice).await["status"], "rejected");
    let path = format!("/v1/conversations/{seller}/messages");
    api.post(&path, &bt, json!({ "voice_note_upload_id": image })).await.problem(422, "wrong_upload_kind");
    api.post(&path, &bt, json!({ "voice_note_upload_id": fake_voice })).await.problem(422, "upload_rejected");
    assert!(aws.partition(&keys::conversation(&buyer, &seller)).await.is_empty(), "no message stored");
}

#[tokio::test]
async fn bad_message_input_is_refused_and_nothing_is_stored() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let (buyer, seller) = (user("buyer"), user("seller"));
    let bt = token(&buyer);
    let path = format!("/v1/conversations/{seller}/messages");
    let long = "ا".repeat(5001);
    let many: Vec<String> = (0..11).map(|_| ulid::Ulid::new().to_string()).collect();
    let cases = [
        (json!({}), 422, "empty_message", "text"),
        (json!({ "text": "" }), 422, "empty", "text"),
        (json!({ "text": long }), 422, "too_long", "text"),
        (json!({ "text": "hi", "attachment_upload_ids": ["nope"] }), 400, "invalid_id", "attachment_upload_ids[0]"),
        (json!({ "text": "hi", "attachment_upload_ids": many }), 422, "too_many_attachments", "attachment_upload_ids"),
        (json!({ "text": "hi", "attachment_upload_ids": "one" }), 422, "invalid_type", "attachment_upload_ids"),
        (json!({ "text": "hi", "sender_id": "someone" }), 422, "unknown_field", "sender_id"),
        (json!({ "text": ["hi"] }), 422, "invalid_type", "text"),
    ];
    for (body, status, code, field) in &cases {
        let r = api.post(&path, &bt, body.clone()).await;
        assert_eq!(r.problem(*status, code)["field"], *field, "{body}");
    }
    api.post(&format!("/v1/conversations/{buyer}/messages"), &bt, json!({ "text": "me" }))
        .await
        .problem(422, "self_conversation");
    api.post("/v1/conversations/has%20space/messages", &bt, json!({ "text": "x" })).await.problem(400, "invalid_id");
    assert!(aws.partition(&keys::conversation(&buyer, &seller)).await.is_empty(), "no message stored");
    // 5,000 characters of Persian is the limit, not 5,000 bytes.
    api.post(&path, &bt, json!({ "text": "ا".repeat(5000) })).await.ok(201);
}

#[tokio::test]
async fn messages_about_an_order_are_listed_on_it_and_only_between_its_parties() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let order_id = deal.placed_order(&api).await["order_id"].as_str().unwrap().to_owned();
    let (to_seller, to_buyer) =
        (format!("/v1/conversations/{}/messages", deal.seller), format!("/v1/conversations/{}/messages", deal.buyer));
    let about = |text: &str| json!({ "text": text, "order_id": order_id });
    let first = api.post(&to_seller, &token(&deal.buyer), about("فایل‌ها کی آماده است؟")).await;
    assert_eq!(first.ok(201)["order_id"], order_id.as_str());
    api.post(&to_buyer, &token(&deal.seller), json!({ "text": "not about the order" })).await.ok(201);
    for i in 0..3 {
        api.post(&to_buyer, &token(&deal.seller), about(&format!("مرحله {i}"))).await.ok(201);
    }

    // The order's messages, newest first, page by page: four of the six in the conversation.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{to_seller}?order_id={order_id}&limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.get(&path, &token(&deal.buyer)).await;
        let body = page.ok(200).clone();
        seen.extend(body["items"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["مرحله 2", "مرحله 1", "مرحله 0", "فایل‌ها کی آماده است؟"]);
    let all = api.get(&to_buyer, &token(&deal.seller)).await;
    assert_eq!(all.ok(200)["items"].as_array().unwrap().len(), 6, "the conversation still holds them all");

    // An order of others, or none, is refused the same way, and nothing is stored.
    let stranger = user("stranger");
    let elsewhere = format!("/v1/conversations/{stranger}/messages");
    let refused = api.post(&elsewhere, &token(&deal.buyer), about("to the wrong person")).await;
    refused.problem(422, "order_not_between_you");
    assert_eq!(refused.body["field"], "order_id");
    let unknown = json!({ "text": "x", "order_id": ulid::Ulid::new().to_string() });
    api.post(&to_seller, &token(&deal.buyer), unknown).await.problem(422, "order_not_between_you");
    api.post(&to_seller, &token(&deal.buyer), json!({ "text": "x", "order_id": "nope" }))
        .await
        .problem(400, "invalid_id");
    let empty = api.get(&elsewhere, &token(&deal.buyer)).await;
    assert_eq!(empty.ok(200)["items"], json!([]), "the refused message was not stored");
    // Reading by order is for the order's parties, through their own conversation.
    let peek = format!("/v1/conversations/{}/messages?order_id={order_id}", deal.seller);
    api.get(&peek, &token(&stranger)).await.problem(422, "order_not_between_you");
    api.get(&format!("{to_seller}?order_id=nope"), &token(&deal.buyer)).await.problem(400, "invalid_id");
}
