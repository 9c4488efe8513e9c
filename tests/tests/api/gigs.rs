//! Gigs over HTTP: create, read, pause, and who may do what.

use peyman::adapters::dynamo::keys;
use peyman_e2e::*;

async fn seller_gig_count(aws: &Aws, seller: &str) -> usize {
    aws.items_where("seller_id", seller)
        .await
        .iter()
        .filter(|i| i.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("gig"))
        .count()
}

#[tokio::test]
async fn a_seller_creates_reads_and_pauses_a_gig() {
    let api = Api::default();
    let seller = user("seller");
    let t = token(&seller);
    let created = api.post("/v1/gigs", &t, json!({ "title": "Logo design" })).await;
    let gig = created.ok(201).clone();
    assert_eq!(gig["status"], "active");
    assert_eq!(gig["seller_id"], seller);
    let no_stars = json!({ "1": 0, "2": 0, "3": 0, "4": 0, "5": 0 });
    assert_eq!(gig["rating"], json!({ "count": 0, "average": null, "stars": no_stars }));
    let id = gig["gig_id"].as_str().unwrap();

    // Anyone signed in reads it.
    let read = api.get(&format!("/v1/gigs/{id}"), &token(&user("buyer"))).await;
    assert_eq!(read.ok(200)["title"], "Logo design");

    let paused = api.patch(&format!("/v1/gigs/{id}"), &t, json!({ "status": "paused" })).await;
    assert_eq!(paused.ok(200)["status"], "paused");
    assert_eq!(paused.body["title"], "Logo design");
    let renamed = api.patch(&format!("/v1/gigs/{id}"), &t, json!({ "title": "Logo & brand" })).await;
    assert_eq!(
        (renamed.ok(200)["title"].as_str(), renamed.body["status"].as_str()),
        (Some("Logo & brand"), Some("paused"))
    );
}

#[tokio::test]
async fn persian_titles_survive_byte_for_byte() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    // ZWNJ (U+200C) inside «می‌کنم», Arabic-script digits, and an emoji with a ZWJ sequence.
    let title = "طراحی لوگو می‌کنم در ۳ روز — ٤٥٦ 👩‍🎨";
    let raw = format!(r#"{{"title":"{title}"}}"#);
    let r = api.send("POST", "/v1/gigs", Some(&token(&seller)), Some(&raw), &[]).await;
    let id = r.ok(201)["gig_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["title"].as_str().unwrap().as_bytes(), title.as_bytes());
    let read = api.get(&format!("/v1/gigs/{id}"), &token(&seller)).await;
    assert_eq!(read.ok(200)["title"].as_str().unwrap().as_bytes(), title.as_bytes());
    let stored = aws.partition(&keys::gig(&id).pk).await;
    assert_eq!(stored[0]["title"].as_s().unwrap().as_bytes(), title.as_bytes());
}

#[tokio::test]
async fn only_the_gigs_seller_changes_it() {
    let api = Api::default();
    let seller = user("seller");
    let id = api.post("/v1/gigs", &token(&seller), json!({ "title": "Mine" })).await.ok(201)["gig_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/gigs/{id}");
    api.patch(&path, &token(&user("other")), json!({ "status": "paused" })).await.problem(403, "not_gig_owner");
    api.patch(&path, &support_token(&user("agent")), json!({ "status": "paused" })).await.problem(403, "not_gig_owner");
    assert_eq!(api.send("PATCH", &path, None, Some(r#"{"status":"paused"}"#), &[]).await.status, 401);
    assert_eq!(api.get(&path, &token(&seller)).await.ok(200)["status"], "active", "nothing changed");
}

#[tokio::test]
async fn missing_and_malformed_gig_ids() {
    let api = Api::default();
    let t = token(&user("buyer"));
    api.get(&format!("/v1/gigs/{}", ulid::Ulid::new()), &t).await.problem(404, "not_found");
    api.patch(&format!("/v1/gigs/{}", ulid::Ulid::new()), &t, json!({ "status": "paused" }))
        .await
        .problem(404, "not_found");
    assert_eq!(api.get("/v1/gigs/not-an-id", &t).await.problem(400, "invalid_id")["field"], "gig_id");
}

#[tokio::test]
async fn bad_gig_input_is_refused_and_nothing_is_stored() {
    let api = Api::default();
    let aws = Aws::connect().await;
    let seller = user("seller");
    let t = token(&seller);
    let long = "ک".repeat(121);
    let cases = [
        (r#"{"title":"#.to_owned(), 400, "malformed_json", None),
        (r#"{"title":""}"#.to_owned(), 422, "empty", Some("title")),
        (r#"{"title":"   "}"#.to_owned(), 422, "empty", Some("title")),
        (format!(r#"{{"title":"{long}"}}"#), 422, "too_long", Some("title")),
        (r#"{"title":"a\nb"}"#.to_owned(), 422, "control_character", Some("title")),
        (r#"{"title":42}"#.to_owned(), 422, "invalid_type", Some("title")),
        (r#"{"title":"ok","status":"deleted"}"#.to_owned(), 422, "invalid_value", Some("status")),
        (r#"{"title":"ok","price":1}"#.to_owned(), 422, "unknown_field", Some("price")),
        (r#"{"title":"ok","seller_id":"someone-else"}"#.to_owned(), 422, "unknown_field", Some("seller_id")),
    ];
    for (body, status, code, field) in &cases {
        let r = api.send("POST", "/v1/gigs", Some(&t), Some(body), &[]).await;
        assert_eq!(r.problem(*status, code)["field"].as_str(), *field, "{body}");
    }
    // 120 characters of Persian is within the limit even though it is 240 bytes.
    api.post("/v1/gigs", &t, json!({ "title": "ک".repeat(120) })).await.ok(201);
    assert_eq!(seller_gig_count(&aws, &seller).await, 1, "only the valid gig is stored");

    let id = api.post("/v1/gigs", &t, json!({ "title": "x" })).await.ok(201)["gig_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/gigs/{id}");
    api.patch(&path, &t, json!({})).await.problem(422, "empty_patch");
    api.patch(&path, &t, json!({ "title": "" })).await.problem(422, "empty");
    api.patch(&path, &t, json!({ "seller_id": "thief" })).await.problem(422, "unknown_field");
    assert_eq!(api.get(&path, &t).await.ok(200)["title"], "x");
}
