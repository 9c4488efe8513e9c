//! Our emulator of Lambda's runtime API: a function's release `bootstrap` is spawned as
//! Lambda starts it, with `AWS_LAMBDA_RUNTIME_API` pointing at a loopback listener of
//! ours, and is handed events one by one on its `GET …/invocation/next`. Every answer of
//! ours closes its connection, so each call's answer and the next `/next` come on new
//! connections, the same for every call. `make bench` uses it for cold starts (the
//! `cold-start` binary) and for the warm cost of the hot routes (the e2e `warm` bench).

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::read_request;

/// The function's first request, and the one after each answer.
pub const NEXT: &str = "GET /2018-06-01/runtime/invocation/next";

/// One function process and the runtime API it talks to.
pub struct Runtime {
    listener: TcpListener,
    pub child: Child,
}

impl Runtime {
    /// Spawns `binary` (run by `wrapper`, if any, such as valgrind) with a clean
    /// environment: `PATH`, Lambda's own variables, and `env`.
    pub fn start(binary: &Path, env: &[(String, String)], wrapper: &[&str]) -> Runtime {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let runtime_api = listener.local_addr().unwrap().to_string();
        let (program, args) = match wrapper.split_first() {
            Some((program, rest)) => (*program, [rest, &[binary.to_str().unwrap()]].concat()),
            None => (binary.to_str().unwrap(), vec![]),
        };
        let child = Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", binary.file_name().unwrap())
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo build --release` first)", binary.display()));
        Runtime { listener, child }
    }

    /// Waits for the function's next request to the runtime API, which must start with
    /// `expected`, and returns its connection and body.
    pub fn next_request(&mut self, expected: &str) -> (TcpStream, Vec<u8>) {
        self.listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let (head, body) = read_request(&mut reader).expect("a request");
                    assert!(head.starts_with(expected), "expected {expected:?}, the runtime asked {head:?}");
                    return (stream, body);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = self.child.try_wait().unwrap() {
                        panic!("the function exited: {status}");
                    }
                    assert!(Instant::now() < deadline, "no {expected} within 120 s");
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Waits for the function's next `/next`: at the first, INIT is over.
    pub fn wait_for_next(&mut self) -> TcpStream {
        self.next_request(NEXT).0
    }

    /// Hands the function each of `events` on the `/next` it is `waiting` on: per call, the
    /// time from handing it the event to its answer, and the answer; and the `/next` it
    /// waits on after the last.
    pub fn serve(&mut self, mut waiting: TcpStream, events: &[Vec<u8>]) -> (Vec<(Duration, Vec<u8>)>, TcpStream) {
        let mut answers = Vec::with_capacity(events.len());
        for (call, event) in events.iter().enumerate() {
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 120_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: call-{call}\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                event.len()
            );
            let handed = Instant::now();
            waiting.write_all(head.as_bytes()).unwrap();
            waiting.write_all(event).unwrap();
            drop(waiting);
            let expected = format!("POST /2018-06-01/runtime/invocation/call-{call}/response");
            let (mut answered, body) = self.next_request(&expected);
            answers.push((handed.elapsed(), body));
            let _ = answered.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            drop(answered);
            waiting = self.wait_for_next();
        }
        (answers, waiting)
    }

    /// Ends the process: its `/next` is answered 500 and dropped, so the runtime gives up
    /// and exits. `false` if it had not within 120 s (it is then killed).
    pub fn finish(mut self, mut waiting: TcpStream) -> bool {
        let _ =
            waiting.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        drop(waiting);
        drop(self.listener);
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Kills the process.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether valgrind is installed (the instruction counts need it).
pub fn valgrind() -> bool {
    Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Instructions (callgrind's `Ir`) of a process that starts, answers each of `events` and
/// exits, and its answers; `None` without valgrind. With no events, that is INIT (and the
/// exit).
pub fn instructions(
    binary: &Path,
    env: &[(String, String)],
    runner: &[&str],
    events: &[Vec<u8>],
) -> Option<(u64, Vec<Vec<u8>>)> {
    if !valgrind() {
        return None;
    }
    let out = std::env::temp_dir().join(format!("callgrind.{}.{}.out", std::process::id(), unique_suffix()));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let wrapper = [&["valgrind", "--tool=callgrind", "--quiet", &out_arg], runner].concat();
    let mut runtime = Runtime::start(binary, env, &wrapper);
    let waiting = runtime.wait_for_next();
    let (answers, waiting) = runtime.serve(waiting, events);
    if !runtime.finish(waiting) {
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    let ir = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.trim().parse().ok())?;
    Some((ir, answers.into_iter().map(|(_, body)| body).collect()))
}

/// A suffix that keeps two runs' output files apart within one process.
fn unique_suffix() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}
