//! Notifications over HTTP: what the follow-ups told each party, newest first, marked
//! read once, and nobody else's.

use peyman_e2e::*;

#[tokio::test]
async fn a_party_reads_what_they_were_told_and_marks_it_read_once() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let offer_id = deal.send_offer(&api, deal.offer()).await;
    api.post(&format!("/v1/offers/{offer_id}/withdraw"), &token(&deal.seller), json!({})).await.ok(200);

    // The buyer was told the offer was sent, then withdrawn: both arrive through the
    // follow-ups consumer, newest first.
    let buyer = token(&deal.buyer);
    let items = eventually(WAIT, async || {
        let page = api.get("/v1/me/notifications?limit=100", &buyer).await;
        let items = page.ok(200)["items"].as_array().unwrap().clone();
        let about: Vec<_> = items.into_iter().filter(|n| n["subject"] == format!("offer/{offer_id}")).collect();
        (about.len() == 2).then_some(about)
    })
    .await
    .expect("the buyer is told twice");
    let mut events: Vec<_> = items.iter().map(|n| n["event"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["offer_sent", "offer_withdrawn"]);
    assert!(items[0]["notification_id"].as_str() > items[1]["notification_id"].as_str(), "newest first");
    assert!(items.iter().all(|n| n["read_at"].is_null()));

    let id = items[0]["notification_id"].as_str().unwrap();
    let read = api.post(&format!("/v1/me/notifications/{id}/read"), &buyer, json!({})).await;
    let read_at = read.ok(200)["read_at"].as_str().expect("read now").to_owned();
    let again = api.post(&format!("/v1/me/notifications/{id}/read"), &buyer, json!({})).await;
    assert_eq!(again.ok(200)["read_at"], read_at.as_str(), "the first time stays");

    // Someone else's notification, or none, is not found; nothing is created for it.
    let stranger = token(&user("stranger"));
    api.post(&format!("/v1/me/notifications/{id}/read"), &stranger, json!({})).await.problem(404, "not_found");
    let unknown = ulid::Ulid::new().to_string();
    api.post(&format!("/v1/me/notifications/{unknown}/read"), &buyer, json!({})).await.problem(404, "not_found");
    let theirs = api.get("/v1/me/notifications", &stranger).await;
    assert_eq!(theirs.ok(200)["items"], json!([]));
    api.post("/v1/me/notifications/nope/read", &buyer, json!({})).await.problem(400, "invalid_id");
    api.get("/v1/me/notifications?limit=0", &buyer).await.problem(400, "invalid_limit");
    api.get("/v1/me/notifications?cursor=%21", &buyer).await.problem(400, "invalid_cursor");
}

#[tokio::test]
async fn notifications_page_without_gaps_or_repeats() {
    let api = Api::default();
    let deal = Deal::new(&api).await;
    let mut offers = Vec::new();
    for _ in 0..5 {
        offers.push(deal.send_offer(&api, deal.offer()).await);
    }
    let buyer = token(&deal.buyer);
    eventually(WAIT, async || {
        let page = api.get("/v1/me/notifications?limit=100", &buyer).await;
        (page.ok(200)["items"].as_array().unwrap().len() >= 5).then_some(())
    })
    .await
    .expect("five notifications");
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/me/notifications?limit=2&cursor={c}"),
            None => "/v1/me/notifications?limit=2".to_owned(),
        };
        let page = api.get(&path, &buyer).await;
        let body = page.ok(200).clone();
        seen.extend(
            body["items"].as_array().unwrap().iter().map(|n| n["notification_id"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, each once");
    assert_eq!(seen.len(), 5);
}
