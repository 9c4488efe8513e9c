//! The loopback stand-ins that `make bench` and the tests share: a reader of HTTP/1.1
//! requests as the functions' clients send them, and a stand-in for the AWS endpoint
//! that answers every request `{}` (DynamoDB's "no such item", "no items") and keeps
//! what it was asked. Both listen on 127.0.0.1 only, so nothing can call out.

pub mod runtime;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One HTTP/1.1 request: its head (request line and headers) and body; `None` at the end
/// of the connection.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let length = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// The value of the header `name` (any case) in a request's head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().filter_map(|l| l.split_once(':')).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// One request the AWS stand-in answered: its `x-amz-target` (the JSON protocols'
/// operation, empty for others) and its body.
#[derive(Debug, Clone)]
pub struct AwsRequest {
    pub target: String,
    pub body: Vec<u8>,
}

/// Our stand-in for the AWS endpoint (`AWS_ENDPOINT_URL`): every request answered `{}`
/// (a secret's read with a secret), and kept.
pub struct AwsStandIn {
    pub url: String,
    asked: Arc<Mutex<Vec<AwsRequest>>>,
}

impl AwsStandIn {
    pub fn start() -> AwsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked: Arc<Mutex<Vec<AwsRequest>>> = Arc::default();
        let keep = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    while let Some((head, asked)) = read_request(&mut reader) {
                        let target = header(&head, "x-amz-target").unwrap_or_default().to_owned();
                        let answer = match target.as_str() {
                            "secretsmanager.GetSecretValue" => r#"{"SecretString":"{\"value\":\"bench\"}"}"#,
                            _ => "{}",
                        };
                        keep.lock().unwrap().push(AwsRequest { target, body: asked });
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        if writer.write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        AwsStandIn { url, asked }
    }

    /// What it was asked so far, in order.
    pub fn requests(&self) -> Vec<AwsRequest> {
        self.asked.lock().unwrap().clone()
    }
}
