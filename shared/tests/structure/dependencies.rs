//! What the functions link, read from `cargo tree`: one HTTP and TLS stack (hyper over
//! rustls with ring), shared by the SDK's clients (S3 among them, issue 24) and the
//! providers' client (issue 12). Each crate named here once came back into a zip
//! unnoticed, or would: a second TLS library (aws-lc-rs, OpenSSL), a second HTTP client
//! (reqwest), or the SDK's configuration loader and the STS client it brings (each about
//! 0.25–1 MB of a zip).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Crates none of the functions may link.
const FORBIDDEN: [&str; 8] =
    ["reqwest", "aws-lc-rs", "aws-lc-sys", "openssl", "native-tls", "hyper-tls", "aws-config", "aws-sdk-sts"];

/// Crates the one stack is made of; if the tree lacks them, it was not read right.
const THE_STACK: [&str; 6] = ["hyper", "hyper-rustls", "rustls", "ring", "aws-sigv4", "aws-sdk-s3"];

/// The crates the functions link on this platform (normal dependencies, not the tests').
fn linked() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let functions: Vec<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(functions.len() >= 18, "{functions:?}");
    tree(&functions.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The crates `packages` link on this platform (normal dependencies, not the tests').
fn tree(packages: &[&str]) -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    command.current_dir(&root).args(["tree", "--locked", "-e", "normal", "--prefix", "none", "--format", "{p}"]);
    for package in packages {
        command.args(["-p", package]);
    }
    let out = command.output().expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_functions_link_one_http_and_tls_stack() {
    let linked = linked();
    for name in THE_STACK {
        assert!(linked.contains(name), "{name} is not in the tree: {linked:?}");
    }
    let found: Vec<_> = FORBIDDEN.iter().filter(|name| linked.contains(**name)).collect();
    assert!(found.is_empty(), "the functions link {found:?}: a second stack, or a crate we replaced (see the README)");
}

/// Crate names (or their beginnings) that mean an SDK, an async runtime, an HTTP stack or
/// the Lambda runtime.
const NOT_PURE: [&str; 9] = ["aws-", "tokio", "hyper", "http", "lambda_", "reqwest", "rustls", "ring", "serde_dynamo"];

/// The rules are pure and the offline verifier is small: neither links an AWS SDK, an
/// async runtime or an HTTP stack, so support can build and trust `peyman-verify` alone.
#[test]
fn the_rules_and_the_verifier_link_no_sdk_runtime_or_http() {
    for package in ["peyman-rules", "peyman-verify"] {
        let linked = tree(&[package]);
        assert!(linked.contains("peyman-rules") && linked.contains("serde"), "{package}'s tree was read: {linked:?}");
        let found: Vec<_> = linked.iter().filter(|name| NOT_PURE.iter().any(|p| name.starts_with(p))).collect();
        assert!(found.is_empty(), "{package} links {found:?}");
    }
    // The same look finds them in the core crate, which does link them.
    let core = tree(&["peyman"]);
    assert!(core.iter().any(|name| NOT_PURE.iter().any(|p| name.starts_with(p))), "{core:?}");
}
