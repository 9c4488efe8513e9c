//! The capacity meter (issue 12) against moto: the App's own clients meter what they
//! send and what comes back, by DynamoDB's rules, and count S3's requests. The meter's
//! totals are the process's, and this binary is its own process with this one test, so
//! what it measures is only what the test did.

use peyman::adapters::dynamo::keys::Key;
use peyman::adapters::dynamo::{key_item, s};
use peyman::adapters::meter::{self, Usage};
use peyman_e2e::Aws;

#[tokio::test]
async fn the_meter_counts_writes_reads_and_requests_as_aws_bills_them() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let id = ulid::Ulid::new().to_string();
    let key = Key { pk: format!("METER#{id}"), sk: "ITEM".into() };

    // A 1,900-byte item in one index: 2 units for the table and 2 for the index.
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
        Usage { dynamodb_requests: 1, items_written: 1, bytes_written: size, write_units: 4, ..Usage::default() }
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
}
