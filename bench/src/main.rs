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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use peyman_bench::AwsStandIn;
use peyman_bench::runtime::{self, Runtime};

const SPAWNS: usize = 30;
const FUNCTIONS: &[&str] = &["orders-api", "offer-decisions", "payments-webhook", "sweeper", "export-builder"];
/// How many times one process answers the same request (the first call against the last).
const CALLS: usize = 10;

fn release_binary(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release").join(name)
}

/// The function's environment beside Lambda's own, with our stand-in as its AWS endpoint:
/// nothing may call out.
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-AbCdEf";

fn environment(aws: &str, binary: &Path) -> Vec<(String, String)> {
    // Each function gets the ARNs of the secrets the template gives it, and reads them
    // from the stand-in at init, as in AWS.
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let secrets: &[(&str, &str)] = match name {
        "payments-webhook" => &[("STRIPE_WEBHOOK_SECRET_ARN", SECRET_ARN)],
        "offer-decisions" | "sweeper" | "followups" => &[("STRIPE_SECRET_KEY_ARN", SECRET_ARN)],
        _ => &[],
    };
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
        ("AWS_ENDPOINT_URL", aws),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("TABLE_NAME", "peyman-bench"),
        ("BUCKET_NAME", "peyman-bench"),
        ("FOLLOWUPS_QUEUE_URL", "http://127.0.0.1:9/123456789012/followups"),
        ("EXPORTS_QUEUE_URL", "http://127.0.0.1:9/123456789012/exports"),
        ("EXPORT_SEAL_KEY_ID", "alias/bench"),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .chain(secrets)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `events/orders-api.json` (one query of the table), `calls` times.
fn orders_events(calls: usize) -> Vec<Vec<u8>> {
    let event = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/orders-api.json")).unwrap();
    vec![event; calls]
}

/// One process answering the same request [`CALLS`] times: each call's time, and how
/// many AWS requests its INIT made.
fn first_and_later_calls(binary: &Path, runner: &[&str]) -> (Vec<Duration>, usize) {
    let aws = AwsStandIn::start();
    let mut runtime = Runtime::start(binary, &environment(&aws.url, binary), runner);
    let waiting = runtime.wait_for_next();
    let init_requests = aws.requests().len();
    let (answers, _) = runtime.serve(waiting, &orders_events(CALLS));
    runtime.kill();
    for (_, body) in &answers {
        assert!(String::from_utf8_lossy(body).contains("statusCode"), "an API Gateway answer");
    }
    (answers.into_iter().map(|(time, _)| time).collect(), init_requests)
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
    let aws = AwsStandIn::start();
    let spawned = Instant::now();
    let mut runtime = Runtime::start(binary, &environment(&aws.url, binary), runner);
    let waiting = runtime.wait_for_next();
    let init = spawned.elapsed();
    let rss = peak_rss_kib(runtime.child.id());
    runtime.kill();
    drop(waiting);
    (init, rss)
}

/// Instructions of a process that starts, answers `calls` times `GET /v1/orders` against
/// the stand-in, and exits; with no calls, that is INIT (and the exit).
fn instructions(binary: &Path, runner: &[&str], calls: usize) -> Option<u64> {
    let aws = AwsStandIn::start();
    runtime::instructions(binary, &environment(&aws.url, binary), runner, &orders_events(calls)).map(|(ir, _)| ir)
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
