//! Every problem the server answers with is one of `Code`'s (the type allows no other),
//! and every place that builds one uses a code whose declared statuses include the status
//! that constructor answers with, so `docs/errors.md` (generated from `Code`) says what the
//! server does. Read from the source of every crate that answers requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use peyman_rules::error::Code;

/// What each way of building an `ApiError` is answered with.
const CONSTRUCTORS: [(&str, u16); 8] = [
    ("malformed(", 400),
    ("Malformed {", 400),
    ("forbidden(", 403),
    ("Forbidden {", 403),
    ("conflict(", 409),
    ("Conflict {", 409),
    ("invalid(", 422),
    ("Invalid {", 422),
];

/// Codes built other than by naming them in a constructor, and why.
const BUILT_ELSEWHERE: [(&str, &str); 7] = [
    ("unknown_field", "the shell's body parser picks it from serde's error (shell/http.rs)"),
    ("missing_field", "the shell's body parser picks it from serde's error (shell/http.rs)"),
    ("invalid_type", "the shell's body parser picks it from serde's error (shell/http.rs)"),
    ("unauthenticated", "the variant ApiError::Unauthenticated"),
    ("not_found", "the variant ApiError::NotFound"),
    ("dependency_unavailable", "the variant ApiError::Unavailable"),
    ("internal", "the variant ApiError::Internal"),
];

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("a source file")));
        }
    }
}

/// Every (code, status) built in `source`: `ApiError::<constructor>` followed by `Code::X`.
fn built(source: &str) -> Vec<(String, u16)> {
    let by_name: BTreeMap<String, &str> = Code::ALL.iter().map(|c| (format!("{c:?}"), c.as_str())).collect();
    let mut found = Vec::new();
    for (at, _) in source.match_indices("ApiError::") {
        let rest = &source[at + "ApiError::".len()..];
        let Some((ctor, status)) = CONSTRUCTORS.iter().find(|(ctor, _)| rest.starts_with(ctor)) else { continue };
        // A construction names its code first: `ctor(Code::X` or `Ctor { code: Code::X`
        // (a pattern such as `Conflict { code, .. }` builds nothing).
        let after = rest[ctor.len()..].trim_start();
        let after = after.strip_prefix("code:").map(str::trim_start).unwrap_or(after);
        if let Some(named) = after.strip_prefix("Code::") {
            let name: String = named.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let code = by_name.get(&name).unwrap_or_else(|| panic!("Code::{name} is no code"));
            found.push(((*code).to_owned(), *status));
        }
    }
    found
}

#[test]
fn every_problem_the_server_builds_has_the_status_its_code_declares() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["rules/src", "shared/src", "functions", "infra/local/src"] {
        sources(&root.join(dir), &mut files);
    }
    let declared: BTreeSet<(String, u16)> =
        Code::ALL.iter().flat_map(|c| c.statuses().iter().map(|s| (c.as_str().to_owned(), *s))).collect();
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for (path, source) in &files {
        for (code, status) in built(source) {
            if !declared.contains(&(code.clone(), status)) {
                wrong.push(format!("{path}: {code} answered {status}, which its declaration does not say"));
            }
            seen.insert((code, status));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(seen.len() > 80, "the constructors were found: {seen:?}");
    let elsewhere: Vec<&str> = BUILT_ELSEWHERE.iter().map(|(code, _)| *code).collect();
    let unused: Vec<_> =
        declared.iter().filter(|pair| !seen.contains(*pair) && !elsewhere.contains(&pair.0.as_str())).collect();
    assert!(unused.is_empty(), "declared but never built (docs/errors.md would promise them): {unused:?}");
}

/// The check finds a code built with a status it does not declare.
#[test]
fn the_error_check_finds_a_status_a_code_does_not_declare() {
    let found = built("return Err(ApiError::conflict(Code::TooLong, \"x\"));");
    assert_eq!(found, vec![("too_long".to_owned(), 409)]);
    assert!(!Code::TooLong.statuses().contains(&409));
    assert_eq!(built("ApiError::Invalid {\n code: Code::InvalidValue,"), vec![("invalid_value".to_owned(), 422)]);
}
