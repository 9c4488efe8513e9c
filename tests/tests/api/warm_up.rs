//! INIT opens the connection to DynamoDB (issue 12): building an `App`, as every
//! function's INIT does, reads one key of its table that never exists, so the first request
//! finds the connection made. The AWS endpoint here is the bench's stand-in, which answers
//! `{}` ("no such item") and keeps what it was asked. Pointing `AWS_ENDPOINT_URL` at it
//! changes the whole process's environment, so the test runs itself again in a child
//! process of this binary, where it touches no other test.

use peyman::adapters::config::Config;
use peyman::flows::App;
use peyman_bench::AwsStandIn;

#[tokio::test]
async fn building_the_app_reads_one_key_of_its_table() {
    if !peyman_e2e::in_a_process_of_its_own("warm_up::building_the_app_reads_one_key_of_its_table") {
        return;
    }
    let aws = AwsStandIn::start();
    // SAFETY: this child process runs this one test, and sets them before any thread reads them.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &aws.url);
        for (name, value) in
            [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")]
        {
            std::env::set_var(name, value);
        }
    }
    let vars = [("TABLE_NAME", "peyman-warm-up"), ("BUCKET_NAME", "b"), ("FOLLOWUPS_QUEUE_URL", "q")];
    let config = Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        .expect("a configuration");
    let _app = App::new(config).await;

    let asked = aws.requests();
    assert_eq!(asked.len(), 1, "one read in INIT: {asked:?}");
    assert_eq!(asked[0].target, "DynamoDB_20120810.GetItem");
    let body: serde_json::Value = serde_json::from_slice(&asked[0].body).unwrap();
    assert_eq!(body["TableName"], "peyman-warm-up");
}
