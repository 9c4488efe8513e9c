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
