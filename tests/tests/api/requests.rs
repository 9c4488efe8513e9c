//! Custom-project requests: a buyer asks, the seller declines or answers with an offer,
//! the buyer withdraws, and unanswered requests expire.

use peyman_e2e::*;

async fn seller_taking_requests(api: &Api) -> (String, String) {
    let seller = user("seller");
    api.put("/v1/me/seller-settings", &token(&seller), json!({ "custom_projects_enabled": true })).await.ok(200);
    let gig = api.post("/v1/gigs", &token(&seller), json!({ "title": "ترجمه" })).await.ok(201)["gig_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (seller, gig)
}

#[tokio::test]
async fn a_request_with_a_voice_note_is_answered_by_an_offer() {
    let api = Api::default();
    let (seller, gig) = seller_taking_requests(&api).await;
    let buyer = user("buyer");
    let bt = token(&buyer);
    let voice = api.upload(&bt, "voice_note", "audio/ogg", OGG.len() as u64, OGG).await;
    assert_eq!(api.decided_upload(&bt, &voice).await["status"], "ready");
    let created = api
        .post(
            "/v1/custom-project-requests",
            &bt,
            json!({
                "seller_id": seller, "gig_id": gig, "description": "ترجمهٔ ۱۰ صفحه تا آخر هفته",
                "desired_price": { "amount": 3_000_000, "currency": "IRR" }, "desired_delivery_days": 5,
                "voice_note_upload_id": voice
            }),
        )
        .await;
    let request = created.ok(201).clone();
    assert_eq!(request["state"], "pending");
    let id = request["request_id"].as_str().unwrap();
    // The seller sees it, may read its voice note, and may answer or decline.
    let st = token(&seller);
    let received = api.get("/v1/custom-project-requests?role=seller", &st).await;
    assert_eq!(received.ok(200)["items"][0]["request_id"], id);
    assert_eq!(received.body["items"][0]["allowed_actions"], json!(["answer", "decline"]));
    api.get(&format!("/v1/uploads/{voice}"), &st).await.ok(200);

    // The request is prior communication: the seller may offer from it directly.
    let offer = api
        .post(
            "/v1/offers",
            &st,
            json!({
                "buyer_id": buyer, "source": { "request_id": id }, "gig_id": gig, "title": "ترجمه",
                "description": "۱۰ صفحه", "price": { "amount": 3_000_000, "currency": "IRR" }, "delivery_days": 5,
                "stages": [{ "title": "همه", "deliverables": ["فایل Word"] }], "revisions_included": 1
            }),
        )
        .await;
    let offer_id = offer.ok(201)["offer_id"].as_str().unwrap().to_owned();
    let answered = api.get(&format!("/v1/custom-project-requests/{id}"), &bt).await;
    assert_eq!(
        (answered.ok(200)["state"].as_str(), answered.body["offer_id"].as_str()),
        (Some("answered"), Some(offer_id.as_str()))
    );
    assert_eq!(answered.body["history"]["verified"], true);
    // A request is answered once.
    let again = api
        .post(
            "/v1/offers",
            &st,
            json!({
                "buyer_id": buyer, "source": { "request_id": id }, "gig_id": gig, "title": "دوباره",
                "description": "x", "price": { "amount": 1, "currency": "IRR" }, "delivery_days": 1,
                "stages": [{ "title": "همه", "deliverables": ["x"] }], "revisions_included": 0
            }),
        )
        .await;
    again.problem(409, "request_not_pending");
}

#[tokio::test]
async fn the_seller_declines_with_a_reason_and_the_buyer_withdraws() {
    let api = Api::default();
    let (seller, _) = seller_taking_requests(&api).await;
    let buyer = user("buyer");
    let (bt, st) = (token(&buyer), token(&seller));
    let ask = |text: &'static str| {
        let (api, bt, seller) = (api.clone(), bt.clone(), seller.clone());
        async move {
            api.post("/v1/custom-project-requests", &bt, json!({ "seller_id": seller, "description": text }))
                .await
                .ok(201)["request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = ask("اولی").await;
    api.post(&format!("/v1/custom-project-requests/{first}/decline"), &st, json!({}))
        .await
        .problem(422, "missing_field");
    api.post(&format!("/v1/custom-project-requests/{first}/decline"), &bt, json!({ "reason": "x" }))
        .await
        .problem(403, "not_allowed_for_role");
    let declined =
        api.post(&format!("/v1/custom-project-requests/{first}/decline"), &st, json!({ "reason": "وقت ندارم" })).await;
    assert_eq!(
        (declined.ok(200)["state"].as_str(), declined.body["decline_reason"].as_str()),
        (Some("declined"), Some("وقت ندارم"))
    );
    api.post(&format!("/v1/custom-project-requests/{first}/withdraw"), &bt, json!({}))
        .await
        .problem(409, "invalid_state");

    let second = ask("دومی").await;
    api.post(&format!("/v1/custom-project-requests/{second}/withdraw"), &st, json!({}))
        .await
        .problem(403, "not_allowed_for_role");
    assert_eq!(
        api.post(&format!("/v1/custom-project-requests/{second}/withdraw"), &bt, json!({})).await.ok(200)["state"],
        "withdrawn"
    );
    api.get(&format!("/v1/custom-project-requests/{second}"), &token(&user("stranger")))
        .await
        .problem(404, "not_found");
    let mine = api.get("/v1/custom-project-requests?role=buyer&status=withdrawn", &bt).await;
    assert_eq!(mine.ok(200)["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn requests_follow_the_rules_and_bad_ones_store_nothing() {
    let api = Api::default();
    let (seller, gig) = seller_taking_requests(&api).await;
    let buyer = user("buyer");
    let bt = token(&buyer);
    let path = "/v1/custom-project-requests";
    let closed = user("closed-seller");
    api.post(path, &bt, json!({ "seller_id": closed, "description": "x" }))
        .await
        .problem(422, "custom_projects_disabled");
    api.post(path, &bt, json!({ "seller_id": buyer, "description": "x" })).await.problem(422, "self_request");
    let other_gig = seller_taking_requests(&api).await.1;
    api.post(path, &bt, json!({ "seller_id": seller, "gig_id": other_gig, "description": "x" }))
        .await
        .problem(422, "gig_not_found");
    api.patch(&format!("/v1/gigs/{gig}"), &token(&seller), json!({ "status": "paused" })).await.ok(200);
    api.post(path, &bt, json!({ "seller_id": seller, "gig_id": gig, "description": "x" }))
        .await
        .problem(422, "gig_not_active");
    // Files must be the buyer's own and already checked.
    let pending = api
        .post(
            "/v1/uploads",
            &bt,
            json!({ "kind": "voice_note", "file_name": "v.ogg", "content_type": "audio/ogg", "size_bytes": 10 }),
        )
        .await
        .ok(201)["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(path, &bt, json!({ "seller_id": seller, "description": "x", "voice_note_upload_id": pending }))
        .await
        .problem(422, "upload_not_ready");
    let theirs = user("owner");
    let not_mine = api.upload(&token(&theirs), "voice_note", "audio/ogg", OGG.len() as u64, OGG).await;
    api.post(path, &bt, json!({ "seller_id": seller, "description": "x", "voice_note_upload_id": not_mine }))
        .await
        .problem(422, "upload_not_found");
    // What the HTTP parser decides, and one rule of the request's own fields through the
    // route; each of those rules has its code and field in rules/src/request.rs.
    for (body, status, code) in [
        (json!({ "seller_id": seller, "description": "" }), 422, "empty"),
        (json!({ "seller_id": seller, "description": "x", "buyer_id": "someone" }), 422, "unknown_field"),
        (json!({ "seller_id": seller, "description": "x", "desired_delivery_days": -1 }), 422, "invalid_type"),
        (json!({ "seller_id": "a b", "description": "x" }), 400, "invalid_id"),
    ] {
        api.post(path, &bt, body).await.problem(status, code);
    }
    assert_eq!(
        api.get("/v1/custom-project-requests?role=buyer", &bt).await.ok(200)["items"],
        json!([]),
        "nothing stored"
    );
}

#[tokio::test]
async fn an_unanswered_request_expires_through_the_sweeper() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let (seller, _) = seller_taking_requests(&api).await;
    let buyer = user("buyer");
    let id = api
        .post("/v1/custom-project-requests", &token(&buyer), json!({ "seller_id": seller, "description": "x" }))
        .await
        .ok(201)["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The answer window is 14 days: fire this request's own timer as the sweep would then
    // (sweeping everything 14 days ahead would expire other tests' offers too).
    let subject = format!("request/{id}");
    let timers = aws.timers().await;
    let item =
        timers.iter().find(|t| t["subject"].as_s().ok() == Some(&subject)).expect("the request started its timer");
    assert!(item["SK"].as_s().is_ok());
    let timer = aws.timer(&subject).await;
    let app = aws.app().await;
    let early = chrono::Utc::now() + chrono::Duration::days(13);
    assert!(!peyman::flows::timers::fire(&app, &timer, early).await.unwrap(), "not before the window closes");
    let later = chrono::Utc::now() + chrono::Duration::days(14) + chrono::Duration::minutes(1);
    let request = api.get(&format!("/v1/custom-project-requests/{id}"), &token(&seller)).await;
    assert_eq!(request.ok(200)["state"], "pending", "a timer that fires early changes nothing");
    assert!(peyman::flows::timers::fire(&app, &timer, later).await.unwrap());
    let request = api.get(&format!("/v1/custom-project-requests/{id}"), &token(&seller)).await;
    assert_eq!(request.ok(200)["state"], "expired");
    assert_eq!(request.body["allowed_actions"], json!([]));
    assert_eq!(request.body["history"]["verified"], true);
}
