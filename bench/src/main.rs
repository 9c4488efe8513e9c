//! Cold init per function, as Lambda starts it: the release `bootstrap` is spawned with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a runtime-API emulator of ours (a loopback
//! listener), and the clock stops when its first `GET /2018-06-01/runtime/invocation/next`
//! arrives: everything the function does in INIT is inside. For each function: p50 and
//! p90 of 30 spawns, the peak RSS at that moment (`VmHWM`), the instructions to that point
//! where valgrind is installed (callgrind; the emulator then drops the connection and the
//! runtime exits, so the exit is counted too), and the size of its deployment zip.
//!
//! The AWS endpoint is a stand-in of ours on loopback that answers every request `{}`
//! (DynamoDB's "no such item", "no items") and counts them, so INIT's warm-up read is a
//! real round trip and nothing can call out. Then, in one process, `orders-api` answers
//! the same request (`events/orders-api.json`, one query of the table) ten times: the
//! first call against the tenth, from handing it the event to its answer.
//!
//! Printed, never asserted. Ratios between runs and functions are what hold across
//! machines. `make bench` builds the binaries first (`cargo build --release`, the
//! functions of `BENCH_FUNCTIONS`); one not built is said so.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use peyman_bench::{AwsStandIn, read_request};

const SPAWNS: usize = 30;
const FUNCTIONS: &[&str] = &["orders-api", "offer-decisions", "payments-webhook", "sweeper", "export-builder"];
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next";
/// How many times one process answers the same request (the first call against the last).
const CALLS: usize = 10;

fn release_binary(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release").join(name)
}

/// The function's process as Lambda starts it, with our emulator as its runtime API and
/// our stand-in as its AWS endpoint: nothing may call out.
fn start(binary: &Path, runtime_api: &str, aws: &str, wrapper: &[&str]) -> Child {
    let (program, args) = match wrapper.split_first() {
        Some((program, rest)) => (*program, [rest, &[binary.to_str().unwrap()]].concat()),
        None => (binary.to_str().unwrap(), vec![]),
    };
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary.file_name().unwrap())
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_SESSION_TOKEN", "bench")
        .env("AWS_ENDPOINT_URL", aws)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", "peyman-bench")
        .env("BUCKET_NAME", "peyman-bench")
        .env("FOLLOWUPS_QUEUE_URL", "http://127.0.0.1:9/123456789012/followups")
        .env("EXPORTS_QUEUE_URL", "http://127.0.0.1:9/123456789012/exports")
        .env("EXPORT_SEAL_KEY_ID", "alias/bench")
        .env("STRIPE_SECRET_KEY", "sk_test_bench")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo build --release` first)", binary.display()))
}

/// Waits for the function's next request to the runtime API, which must start with
/// `expected`, and returns its connection and body.
fn next_request(listener: &TcpListener, child: &mut Child, expected: &str) -> (TcpStream, Vec<u8>) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (head, body) = read_request(&mut reader).expect("a request");
                assert!(head.starts_with(expected), "expected {expected:?}, the runtime asked {head:?}");
                return (stream, body);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("the function exited: {status}");
                }
                assert!(Instant::now() < deadline, "no {expected} within 120 s");
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Waits for the function's first request to the runtime API: INIT is over.
fn first_request(listener: &TcpListener, child: &mut Child) -> TcpStream {
    next_request(listener, child, NEXT).0
}

/// Hands the function `events/orders-api.json` `calls` times on the runtime API, from the
/// `/next` it is `waiting` on: per call, the time from handing it the event to its answer;
/// and the `/next` it waits on after the last. Every answer of ours closes its connection,
/// so each call's answer and the next `/next` come on new connections, the same for every
/// call.
fn serve(
    listener: &TcpListener,
    child: &mut Child,
    mut waiting: TcpStream,
    calls: usize,
) -> (Vec<Duration>, TcpStream) {
    let event = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/orders-api.json")).unwrap();
    let mut times = Vec::with_capacity(calls);
    for call in 0..calls {
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 120_000;
        let head = format!(
            "HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: call-{call}\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
             lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            event.len()
        );
        let handed = Instant::now();
        waiting.write_all(head.as_bytes()).unwrap();
        waiting.write_all(&event).unwrap();
        drop(waiting);
        let expected = format!("POST /2018-06-01/runtime/invocation/call-{call}/response");
        let (mut answered, body) = next_request(listener, child, &expected);
        times.push(handed.elapsed());
        assert!(String::from_utf8_lossy(&body).contains("statusCode"), "an API Gateway answer");
        let _ = answered.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        drop(answered);
        waiting = first_request(listener, child);
    }
    (times, waiting)
}

/// One process answering the same request [`CALLS`] times: each call's time, and how
/// many AWS requests its INIT made.
fn first_and_later_calls(binary: &Path, runner: &[&str]) -> (Vec<Duration>, usize) {
    let aws = AwsStandIn::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    let mut child = start(binary, &runtime_api, &aws.url, runner);
    let waiting = first_request(&listener, &mut child);
    let init_requests = aws.requests().len();
    let (times, _) = serve(&listener, &mut child, waiting, CALLS);
    let _ = child.kill();
    let _ = child.wait();
    (times, init_requests)
}

/// Peak resident memory of `pid` so far, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One cold start: the time from spawn to the first `/next`, and the peak RSS then.
fn cold_start(binary: &Path, runner: &[&str]) -> (Duration, u64) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    let aws = AwsStandIn::start();
    let spawned = Instant::now();
    let mut child = start(binary, &runtime_api, &aws.url, runner);
    let stream = first_request(&listener, &mut child);
    let init = spawned.elapsed();
    let rss = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    drop(stream);
    (init, rss)
}

/// Instructions (callgrind's `Ir`) of a process that starts, answers `calls` requests and
/// exits: at its next `/next` the emulator answers a 500 and drops the connection, so the
/// runtime gives up. With no calls, that is INIT (and the exit).
fn instructions(binary: &Path, runner: &[&str], calls: usize) -> Option<u64> {
    Command::new("valgrind").arg("--version").output().ok().filter(|o| o.status.success())?;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    let out = std::env::temp_dir().join(format!("callgrind.{}.out", std::process::id()));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let aws = AwsStandIn::start();
    let wrapper = [&["valgrind", "--tool=callgrind", "--quiet", &out_arg], runner].concat();
    let mut child = start(binary, &runtime_api, &aws.url, &wrapper);
    let waiting = first_request(&listener, &mut child);
    let (_, mut stream) = serve(&listener, &mut child, waiting, calls);
    let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    drop(stream);
    drop(listener);
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.trim().parse().ok())
}

/// Instructions per warm call: a process answering [`CALLS`] + 1 requests against one
/// answering one, per call.
fn warm_instructions(binary: &Path, runner: &[&str]) -> Option<u64> {
    let (one, many) = (instructions(binary, runner, 1)?, instructions(binary, runner, CALLS + 1)?);
    Some(many.saturating_sub(one) / CALLS as u64)
}

/// The size of the function's deployment zip: its `bootstrap`, deflated as SAM packs it.
fn zip_size(binary: &Path) -> u64 {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bootstrap", options).unwrap();
    zip.write_all(&std::fs::read(binary).unwrap()).unwrap();
    zip.finish().unwrap().into_inner().len() as u64
}

/// One function's cold start, as printed.
struct Cold {
    p50: Duration,
    p90: Duration,
    instructions: Option<u64>,
    rss_kib: u64,
    zip: u64,
}

/// [`SPAWNS`] cold starts of `binary` (run by `runner`, if any), and its instructions.
fn measure(name: &str, binary: &Path, runner: &[&str]) -> Cold {
    let mut times = Vec::with_capacity(SPAWNS);
    let mut rss_kib = 0;
    for _ in 0..SPAWNS {
        let (init, peak) = cold_start(binary, runner);
        times.push(init);
        rss_kib = rss_kib.max(peak);
    }
    times.sort();
    let pick = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let cold = Cold {
        p50: pick(0.5),
        p90: pick(0.9),
        instructions: instructions(binary, runner, 0),
        rss_kib,
        zip: zip_size(binary),
    };
    let ir = cold.instructions.map_or("no valgrind".to_owned(), |ir| format!("{:.1} M", ir as f64 / 1e6));
    println!(
        "{name:<18} {:>10.2?} {:>10.2?} {ir:>14} {:>9.1} MB {:>7.2} MB",
        cold.p50,
        cold.p90,
        cold.rss_kib as f64 / 1024.0,
        cold.zip as f64 / 1e6
    );
    cold
}

/// The first call against the [`CALLS`]th of `binary`, median over a few processes.
fn first_against_tenth(name: &str, binary: &Path, runner: &[&str]) -> (Duration, Duration) {
    // The first of a few processes warms the machine's caches; the figures are the
    // median over them of each call's time.
    let runs: Vec<_> = (0..21).map(|_| first_and_later_calls(binary, runner)).collect();
    let median = |call: usize| {
        let mut times: Vec<_> = runs.iter().map(|(t, _)| t[call]).collect();
        times.sort();
        times[times.len() / 2]
    };
    let (first, last) = (median(0), median(CALLS - 1));
    println!();
    println!("First call against the {CALLS}th, one process ({name}; median of {})", runs.len());
    println!(
        "AWS requests in INIT: {}   first call: {first:.2?}   {CALLS}th call: {last:.2?}   ratio {:.2}",
        runs[0].1,
        first.as_secs_f64() / last.as_secs_f64()
    );
    let each: Vec<String> = (0..CALLS).map(|call| format!("{:.2?}", median(call))).collect();
    println!("every call: {}", each.join("  "));
    (first, last)
}

/// The Node.js peer's bundle (`bench/peer-node`, built by `make bench`).
fn peer_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer-node/dist/index.mjs")
}

fn main() {
    println!("Cold init: spawn to the first /next through our runtime-API emulator ({SPAWNS} spawns each)");
    println!(
        "{:<18} {:>10} {:>10} {:>14} {:>12} {:>10}",
        "function", "init p50", "init p90", "instructions", "peak RSS", "zip"
    );
    let mut ours = None;
    for name in FUNCTIONS {
        let binary = release_binary(name);
        if !binary.exists() {
            println!("{name:<18} not built (cargo build --release -p {name})");
            continue;
        }
        let cold = measure(name, &binary, &[]);
        if *name == "orders-api" {
            ours = Some(cold);
        }
    }
    let peer = peer_bundle();
    let node = if peer.exists() {
        Some(measure("node peer", &peer, &["node"]))
    } else {
        println!("node peer          not built (cd bench/peer-node && npm ci && npm run build)");
        None
    };

    let binary = release_binary("orders-api");
    let ours_calls = binary.exists().then(|| first_against_tenth("orders-api, GET /v1/orders", &binary, &[]));
    let node_calls = peer.exists().then(|| first_against_tenth("node peer, one GetItem", &peer, &["node"]));

    let warm = |binary: &Path, runner: &[&str]| {
        warm_instructions(binary, runner).map_or("no valgrind".to_owned(), |ir| format!("{:.2} M", ir as f64 / 1e6))
    };
    println!();
    println!("Warm cost: instructions per call after the first (callgrind, {CALLS} calls; our process only)");
    if binary.exists() {
        println!("orders-api, GET /v1/orders (the stand-in's empty answer): {}", warm(&binary, &[]));
    }
    if peer.exists() {
        println!("node peer, one GetItem: {}", warm(&peer, &["node"]));
    }

    if let (Some(ours), Some(node)) = (ours, node) {
        println!();
        println!("The Node peer against orders-api (times the peer's figure)");
        let ratio = |a: f64, b: f64| format!("{:.1}", a / b);
        println!("init p50: {}", ratio(node.p50.as_secs_f64(), ours.p50.as_secs_f64()));
        if let (Some(n), Some(o)) = (node.instructions, ours.instructions) {
            println!("instructions to the first /next: {}", ratio(n as f64, o as f64));
        }
        println!("peak RSS: {}", ratio(node.rss_kib as f64, ours.rss_kib as f64));
        if let (Some((nf, _)), Some((of, _))) = (node_calls, ours_calls) {
            println!("first call: {}", ratio(nf.as_secs_f64(), of.as_secs_f64()));
        }
    }
}
