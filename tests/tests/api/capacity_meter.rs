//! The capacity meter (issue 12) against moto: the App's own clients meter what they
//! send and what comes back, by DynamoDB's rules, and count S3's requests. The meter's
//! totals are the process's, so the first test runs in a process of its own, where what it
//! measures is only what it did. The second reads the local gateway's meter over HTTP.

use peyman::adapters::dynamo::keys::Key;
use peyman::adapters::dynamo::{key_item, s};
use peyman::adapters::meter::{self, Usage};
use peyman_e2e::{Api, Aws, Deal};

#[tokio::test]
async fn the_meter_counts_writes_reads_and_requests_as_aws_bills_them() {
    if !peyman_e2e::in_a_process_of_its_own(
        "capacity_meter::the_meter_counts_writes_reads_and_requests_as_aws_bills_them",
    ) {
        return;
    }
    meter::enable();
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let id = ulid::Ulid::new().to_string();
    let key = Key { pk: format!("METER#{id}"), sk: "ITEM".into() };

    // A 1,900-byte item in one index: 2 units for the table and 1 for the index's entry
    // (keys only).
    let mut item = key_item(&key);
    item.insert("GSI1PK".into(), s(format!("METER#{id}")));
    item.insert("GSI1SK".into(), s("1"));
    item.insert("body".into(), s("پ".repeat(900)));
    let size = meter::item_size(&item);
    assert!((1025..=2048).contains(&size), "{size} bytes");
    let before = meter::totals();
    assert!(app.store.insert(item.clone()).await.unwrap());
    let wrote = meter::totals().since(&before);
    assert_eq!(
        wrote,
        Usage { dynamodb_requests: 1, items_written: 1, bytes_written: size, write_units: 3, ..Usage::default() }
    );

    // Read back, strongly consistent: one unit (two halves) for up to 4 KB.
    let before = meter::totals();
    assert!(app.store.get(&key).await.unwrap().is_some());
    let read = meter::totals().since(&before);
    assert_eq!(
        read,
        Usage { dynamodb_requests: 1, items_read: 1, bytes_read: size, read_half_units: 2, ..Usage::default() }
    );

    // A read that finds nothing costs its minimum.
    let before = meter::totals();
    let missing = Key { pk: format!("METER#{id}"), sk: "NONE".into() };
    assert!(app.store.get(&missing).await.unwrap().is_none());
    assert_eq!(meter::totals().since(&before), Usage { dynamodb_requests: 1, read_half_units: 2, ..Usage::default() });

    // A transaction doubles: one small timer is two units.
    let before = meter::totals();
    let due = chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap().to_utc();
    let mut commit = app.store.begin();
    commit.timer(due, &format!("meter-{id}")).unwrap();
    app.commit(commit).await.unwrap();
    let committed = meter::totals().since(&before);
    assert_eq!((committed.items_written, committed.write_units), (1, 2), "{committed:?}");
    let timer = peyman::adapters::dynamo::keys::timer(due.timestamp_millis(), &format!("meter-{id}"));
    app.store.delete_key(&timer).await.unwrap();

    // S3 is billed per request.
    let before = meter::totals();
    assert!(app.files.inspect(&format!("meter/{id}"), 1024).await.unwrap().is_none());
    let looked = meter::totals().since(&before);
    assert_eq!((looked.s3_requests, looked.dynamodb_requests), (1, 0), "{looked:?}");

    // A presigned link is signed here and sent by the browser: no request of ours.
    let before = meter::totals();
    app.files.download_link(&format!("meter/{id}"), None, "x.zip", chrono::Utc::now()).await.unwrap();
    assert_eq!(meter::totals().since(&before).s3_requests, 0, "a link is not a request");
}

#[tokio::test]
async fn the_gateway_shows_what_its_functions_calls_and_invocations_cost() {
    let api = Api::default();
    let read = async || api.get("/_local/meter", "").await.ok(200).clone();
    let before = read().await;
    // A seller, a gig and a buyer's message: HTTP invocations that write the table.
    Deal::new(&api).await;
    let after = read().await;
    // Other tests share the gateway, so only growth can be asserted.
    let grew = |path: &[&str]| {
        let at = |v: &serde_json::Value| path.iter().fold(v.clone(), |v, k| v[*k].clone()).as_u64().unwrap();
        at(&after) >= at(&before) + 3
    };
    assert!(grew(&["invocations", "http"]), "{before} → {after}");
    assert!(grew(&["aws", "dynamodb_requests"]), "{before} → {after}");
    assert!(grew(&["aws", "write_units"]), "{before} → {after}");
    assert!(after["invocations"]["duration_micros"].as_u64() > before["invocations"]["duration_micros"].as_u64());
}
