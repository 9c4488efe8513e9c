//! Support's queues are spread over shards and read back as one list: paging merges the
//! shards in sort-key order, with no item twice and none missed, even where items in
//! different shards share a sort key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use peyman::adapters::dynamo::keys;
use peyman_e2e::*;

#[derive(Debug, serde::Deserialize)]
struct Queued {
    intent_id: String,
}

#[tokio::test]
async fn a_sharded_queue_pages_in_order_without_gaps_or_repeats() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let run = ulid::Ulid::new().to_string();
    let queue = format!("TESTS#{run}");
    // 25 items; every three share a sort key (a tie the merge must cut by table key).
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut shards = std::collections::BTreeSet::new();
    for i in 0..25 {
        let intent_id = format!("pi_{run}_{i:02}");
        let pk = keys::payment(&intent_id).pk;
        let sort = format!("2026-12-07T00:00:{:02}Z", i / 3);
        let shard = keys::queue_shard(&queue, &pk);
        shards.insert(shard.clone());
        let item: HashMap<String, AttributeValue> = [
            ("PK", pk.clone()),
            ("SK", "PAYMENT".to_owned()),
            ("entity", "payment".to_owned()),
            ("intent_id", intent_id.clone()),
            ("GSI2PK", shard),
            ("GSI2SK", sort.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
        .collect();
        aws.dynamodb.put_item().table_name(&aws.table).set_item(Some(item)).send().await.expect("put");
        expected.push((sort, intent_id));
    }
    assert!(shards.len() > 3, "the items are spread: {shards:?}");
    expected.sort();
    for ascending in [true, false] {
        let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let page =
                app.store.queue_page::<Queued>(&queue, "PAYMENT#", ascending, 4, cursor.as_deref()).await.unwrap();
            assert!(page.items.len() <= 4);
            listed.extend(page.items.into_iter().map(|q| q.intent_id));
            pages += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 20, "the pages end");
        }
        let mut want: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();
        if !ascending {
            want.reverse();
        }
        assert_eq!(listed, want, "ascending: {ascending}");
    }
    // A cursor of another kind of item is refused.
    let foreign = peyman::adapters::dynamo::encode_cursor("2026\nDISPUTE#x\nDISPUTE");
    let refused = app.store.queue_page::<Queued>(&queue, "PAYMENT#", true, 4, Some(&foreign)).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_cursor");
}
