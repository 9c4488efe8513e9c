//! INIT opens the connection to DynamoDB (issue 12): building an `App`, as every
//! function's INIT does, reads one key of its table that never exists, so the first request
//! finds the connection made. The AWS endpoint here is a listener of this test that answers
//! `{}` ("no such item") and keeps what it was asked; this binary runs alone in its
//! process, so pointing `AWS_ENDPOINT_URL` at it touches no other test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use peyman::adapters::config::Config;
use peyman::flows::App;

#[tokio::test]
async fn building_the_app_reads_one_key_of_its_table() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let asked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let (mut target, mut length) = (String::new(), 0);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some((name, value)) = line.split_once(':') {
                        match name.to_ascii_lowercase().as_str() {
                            "x-amz-target" => target = value.trim().to_owned(),
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                    line.clear();
                }
                if line.is_empty() {
                    break;
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                record.lock().unwrap().push((target, String::from_utf8_lossy(&body).into_owned()));
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
                writer.write_all(answer.as_bytes()).unwrap();
            }
        }
    });
    // SAFETY: set before any other thread of this test reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
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

    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 1, "one read in INIT: {asked:?}");
    let (target, body) = &asked[0];
    assert_eq!(target, "DynamoDB_20120810.GetItem");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["TableName"], "peyman-warm-up");
}
