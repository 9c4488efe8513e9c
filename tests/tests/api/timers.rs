//! Timers that cannot jam: the sweep pages through every due timer, and one that keeps
//! failing is moved aside (retried later, then parked) so it never blocks those behind it.

use aws_sdk_dynamodb::types::AttributeValue;
use peyman_e2e::*;
use std::collections::HashMap;

fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string()))).collect()
}

#[tokio::test]
async fn a_hundred_poison_timers_do_not_block_the_fifty_behind_them_and_support_sees_them_parked() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let run = ulid::Ulid::new().to_string();
    let put = async |item: HashMap<String, AttributeValue>| {
        aws.dynamodb.put_item().table_name(&aws.table).set_item(Some(item)).send().await.expect("put");
    };
    // 100 timers due first (long ago) whose orders cannot be read: firing them always fails.
    let mut poison = Vec::new();
    for i in 0..100 {
        let order_id = ulid::Ulid::new().to_string();
        put(item(&[("PK", &format!("ORDER#{order_id}")), ("SK", "ORDER"), ("entity", "order"), ("junk", "1")])).await;
        let subject = format!("order/{order_id}");
        let key = peyman::adapters::dynamo::keys::timer(1_000 + i, &subject);
        put(item(&[("PK", &key.pk), ("SK", &key.sk), ("entity", "timer"), ("subject", &subject)])).await;
        poison.push(subject);
    }
    // 50 behind them that fire fine (a subject nothing knows is simply dropped).
    let mut fine = Vec::new();
    for i in 0..50 {
        let subject = format!("test/{run}/{i}");
        let key = peyman::adapters::dynamo::keys::timer(2_000 + i, &subject);
        put(item(&[("PK", &key.pk), ("SK", &key.sk), ("entity", "timer"), ("subject", &subject)])).await;
        fine.push(subject);
    }
    let now = chrono::Utc::now();
    let swept = sweeper::handle(&app, json!({ "time": now.to_rfc3339() })).await.expect("a sweep");
    // This sweep, or the stack's own one running beside it, reached all fifty.
    let timers = aws.timers().await;
    let subjects: Vec<&str> = timers.iter().map(|t| t["subject"].as_s().unwrap().as_str()).collect();
    for subject in &fine {
        assert!(!subjects.contains(&subject.as_str()), "{subject} was never fired: {swept}");
    }
    // None of the poison timers stays where it was; each is retried later or parked.
    for t in &timers {
        let subject = t["subject"].as_s().unwrap();
        if poison.contains(subject) {
            assert!(t["SK"].as_s().unwrap().as_str() > "0000000002000", "{subject} was not moved aside");
            assert!(t["attempts"].as_n().unwrap().parse::<u32>().unwrap() >= 1);
        }
    }
    // After RETRY_ATTEMPTS (3 in the tests' stack, retried at once) each is parked with
    // its error, and no longer due.
    let parked = eventually(WAIT, async || {
        let parked = aws.shards(peyman::adapters::dynamo::keys::parked_timer_partitions()).await;
        let ours: Vec<_> = parked.into_iter().filter(|t| poison.contains(t["subject"].as_s().unwrap())).collect();
        (ours.len() == poison.len()).then_some(ours)
    })
    .await
    .expect("every poison timer is parked");
    for t in &parked {
        assert_eq!(t["attempts"].as_n().unwrap(), "3");
        assert!(t["last_error"].as_s().unwrap().contains("decode"), "{:?}", t["last_error"]);
    }
    let timers = aws.timers().await;
    assert!(!timers.iter().any(|t| poison.contains(t["subject"].as_s().unwrap())), "parked timers are gone");
    assert_eq!(app.store.parked_timers().await.unwrap().iter().filter(|t| poison.contains(&t.subject)).count(), 100);
    // Support sees them, with why and when; nobody else does.
    let api = Api::default();
    api.get("/v1/support/parked-work", &token(&user("buyer"))).await.problem(403, "support_only");
    let listed = api.get("/v1/support/parked-work", &support_token(&user("agent"))).await;
    let ours: Vec<_> = listed.ok(200)["timers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| poison.contains(&t["subject"].as_str().unwrap().to_owned()))
        .cloned()
        .collect();
    assert_eq!(ours.len(), 100, "every parked timer is listed");
    for t in &ours {
        assert_eq!(t["attempts"], 3);
        assert!(t["last_error"].as_str().unwrap().contains("decode"), "{t}");
        assert!(t["parked_at"].as_str().is_some_and(|at| at.parse::<chrono::DateTime<chrono::Utc>>().is_ok()), "{t}");
    }
}

/// The sweeper reads a shard a page at a time: a shard with more due timers than a page
/// is read whole, every timer once, in due order, and no page is larger than
/// `DUE_PAGE` (the sweep's memory). Due a year ahead and read at that time, so the
/// stack's own sweep never touches them.
#[tokio::test]
async fn a_shard_with_more_due_timers_than_a_page_is_read_whole_a_page_at_a_time() {
    use peyman::adapters::dynamo::{keys, timers::DUE_PAGE};
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let run = ulid::Ulid::new().to_string();
    let due = chrono::Utc::now() + chrono::Duration::days(365);
    // 250 subjects that all hash to one shard.
    let target = keys::shard(&format!("test/{run}/0"), keys::TIMER_SHARDS);
    let subjects: Vec<String> = (0..)
        .map(|i| format!("test/{run}/{i}"))
        .filter(|s| keys::shard(s, keys::TIMER_SHARDS) == target)
        .take(250)
        .collect();
    let partition = keys::timer(0, &subjects[0]).pk;
    for (i, subject) in subjects.iter().enumerate() {
        let key = keys::timer(due.timestamp_millis() + i as i64, subject);
        assert_eq!(key.pk, partition);
        let timer = item(&[("PK", &key.pk), ("SK", &key.sk), ("entity", "timer"), ("subject", subject)]);
        aws.dynamodb.put_item().table_name(&aws.table).set_item(Some(timer)).send().await.expect("put");
    }
    let read_at = due + chrono::Duration::seconds(1);
    let (mut seen, mut pages, mut start) = (Vec::new(), 0, None);
    loop {
        let (page, next) = app.store.due_timers(&partition, read_at, start).await.unwrap();
        assert!(page.len() <= DUE_PAGE as usize, "a page of {}", page.len());
        pages += 1;
        seen.extend(page.into_iter().map(|t| t.subject).filter(|s| s.starts_with(&format!("test/{run}/"))));
        match next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, subjects, "every timer of the shard once, in due order");
    assert!(pages >= 3, "{pages} pages");
    for (i, subject) in subjects.iter().enumerate() {
        app.store.delete_key(&keys::timer(due.timestamp_millis() + i as i64, subject)).await.unwrap();
    }
}
