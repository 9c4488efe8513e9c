//! The core crate's layers, checked from its source (ArchUnit's idea): every module's
//! `use` declarations and paths are read with `syn`, and the check fails on
//!
//! - a dependency against the direction `shell → flows → adapters → rules` (a layer may
//!   use its own and the ones below it);
//! - a circle between modules (`a` uses `b` uses … uses `a`);
//! - an outside crate a layer must not know: rules know no SDK, no HTTP and no runtime;
//!   only the shell knows `lambda_http`;
//! - a clock read (`Utc::now`) in rules or flows: time arrives as an input;
//! - a function handler (`functions/*/src/lib.rs`) holding more than routing: see
//!   `handlers_only_route_to_flows` for what a handler may hold.
//!
//! The rules are a crate of their own (`peyman-rules`), so the compiler already keeps them
//! from the layers above and from any SDK, runtime or HTTP crate. They are still read here,
//! as the `rules` layer of one crate (their `crate::` becoming `crate::rules::`, and the
//! core crate's `peyman_rules::` the same), so that a circle between rules, a clock read in
//! them, or a crate they must not name is found by the same check as before they moved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// Bottom to top.
const LAYERS: [&str; 4] = ["rules", "adapters", "flows", "shell"];

/// The outside crates each layer must not name.
fn forbidden_crates(layer: &str) -> &'static [&'static str] {
    const RUNTIME: [&str; 3] = ["lambda_http", "lambda_runtime", "aws_lambda_events"];
    match layer {
        "rules" => &[
            "lambda_http",
            "lambda_runtime",
            "aws_lambda_events",
            "aws_types",
            "aws_sdk_dynamodb",
            "aws_sdk_s3",
            "aws_sdk_sqs",
            "aws_sigv4",
            "serde_dynamo",
            "hyper_util",
            "hyper_rustls",
            "rustls",
            "tokio",
            "tracing_subscriber",
        ],
        "adapters" => &RUNTIME,
        "flows" => &[
            "lambda_http",
            "lambda_runtime",
            "aws_lambda_events",
            "aws_sdk_dynamodb",
            "aws_sdk_s3",
            "aws_sdk_sqs",
            "aws_sigv4",
            "hyper_util",
            "hyper_rustls",
        ],
        _ => &[],
    }
}

/// Layers whose code must not read the clock (outside its tests).
const NO_CLOCK: [&str; 2] = ["rules", "flows"];

/// What one source file says about its dependencies.
#[derive(Default)]
struct Reading {
    /// Module paths (relative to the crate) this file names.
    modules: BTreeSet<Vec<String>>,
    /// Outside crates it names.
    crates: BTreeSet<String>,
    /// Whether it reads the clock outside `#[cfg(test)]` code.
    reads_clock: bool,
}

struct Reader<'a> {
    /// The module being read, inline `mod`s included.
    current: Vec<String>,
    /// Child modules each module declares (to resolve `keys::PK` inside `dynamo`).
    children: &'a BTreeMap<Vec<String>, BTreeSet<String>>,
    in_test: usize,
    reading: Reading,
}

impl Reader<'_> {
    /// Records `segments`, a path as written in this module.
    fn path(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else { return };
        let absolute = match first.as_str() {
            "crate" => Some(segments[1..].to_vec()),
            "super" | "self" => {
                let mut base = self.current.clone();
                let mut rest = segments;
                while let Some(head) = rest.first() {
                    match head.as_str() {
                        "super" => {
                            base.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                Some(base)
            }
            // `keys::PK` beside `pub mod keys;` (one segment alone is a local or an item).
            name if segments.len() > 1 && self.children.get(&self.current).is_some_and(|c| c.contains(name)) => {
                let mut base = self.current.clone();
                base.extend(segments.iter().cloned());
                Some(base)
            }
            _ => None,
        };
        match absolute {
            Some(path) => {
                self.reading.modules.insert(path);
            }
            None if segments.len() > 1 => {
                self.reading.crates.insert(first.clone());
            }
            None => {}
        }
        let clock = |name: &str| matches!(name, "Utc" | "Local" | "SystemTime");
        let reads_clock = matches!(segments, [.., clock_type, now] if clock(clock_type) && now == "now");
        if reads_clock && self.in_test == 0 {
            self.reading.reads_clock = true;
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.path(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.path(&full);
            }
            syn::UseTree::Glob(_) => {
                let full = prefix.clone();
                self.path(&full);
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("test")
            || (a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
    })
}

impl<'ast> Visit<'ast> for Reader<'_> {
    fn visit_item_use(&mut self, node: &'ast syn::ItemUse) {
        let test = is_test(&node.attrs);
        self.in_test += usize::from(test);
        self.use_tree(&mut Vec::new(), &node.tree);
        self.in_test -= usize::from(test);
    }

    fn visit_path(&mut self, node: &'ast syn::Path) {
        let segments: Vec<String> = node.segments.iter().map(|s| s.ident.to_string()).collect();
        self.path(&segments);
        visit::visit_path(self, node);
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        let test = is_test(&node.attrs);
        self.in_test += usize::from(test);
        self.current.push(node.ident.to_string());
        visit::visit_item_mod(self, node);
        self.current.pop();
        self.in_test -= usize::from(test);
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        let test = is_test(&node.attrs);
        self.in_test += usize::from(test);
        visit::visit_item_fn(self, node);
        self.in_test -= usize::from(test);
    }
}

/// The module a source file is, from its path under `src/`.
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Everything wrong with the crate whose files (path under `src/`, source) are given.
fn violations(files: &[(String, String)]) -> Vec<String> {
    let modules: Vec<Vec<String>> = files.iter().map(|(path, _)| module_of(path)).collect();
    let known: BTreeSet<Vec<String>> = modules.iter().cloned().collect();
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        if let Some((last, parent)) = module.split_last() {
            children.entry(parent.to_vec()).or_default().insert(last.clone());
        }
    }
    // The file module a path lands in: its longest prefix that is a file of the crate.
    let owner = |path: &[String]| (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| known.contains(p));
    let layer = |module: &[String]| module.first().and_then(|l| LAYERS.iter().position(|x| x == l));

    let mut problems = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for ((path, source), module) in files.iter().zip(&modules) {
        let file = match syn::parse_file(source) {
            Ok(file) => file,
            Err(e) => {
                problems.push(format!("{path}: does not parse: {e}"));
                continue;
            }
        };
        let mut reader =
            Reader { current: module.clone(), children: &children, in_test: 0, reading: Reading::default() };
        reader.visit_file(&file);
        let reading = reader.reading;
        let name = module.join("::");
        if module.is_empty() {
            // The crate root only declares the layers.
            if !reading.modules.is_empty() || !reading.crates.is_empty() {
                problems.push("lib.rs: the crate root declares the layers and nothing else".to_owned());
            }
            continue;
        }
        if module.last().is_some_and(|m| m == "tests") {
            // A module of tests (`#[cfg(test)] mod tests;` beside it) may read the clock.
            continue;
        }
        let Some(own) = layer(module) else {
            problems.push(format!("{name}: belongs to no layer ({})", LAYERS.join(", ")));
            continue;
        };
        for target in reading.modules.iter().filter_map(|p| owner(p)) {
            if &target == module || target.is_empty() {
                continue;
            }
            match layer(&target) {
                Some(theirs) if theirs > own => {
                    problems.push(format!(
                        "{name} ({}) uses {} ({}): against the layers",
                        LAYERS[own],
                        target.join("::"),
                        LAYERS[theirs]
                    ));
                }
                _ => {}
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
        for krate in &reading.crates {
            if forbidden_crates(LAYERS[own]).contains(&krate.as_str()) {
                problems.push(format!("{name} ({}) uses the crate {krate}", LAYERS[own]));
            }
        }
        if reading.reads_clock && NO_CLOCK.contains(&LAYERS[own]) {
            problems.push(format!("{name} ({}) reads the clock: take `now` as an input", LAYERS[own]));
        }
    }
    problems.extend(circles(&edges));
    problems
}

/// Every circle in the module graph, each reported once (from its smallest module).
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    let mut found = BTreeSet::new();
    for start in edges.keys() {
        // Depth-first from `start`, looking for a way back to it.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    let smallest = trail.iter().min().expect("a trail has its start");
                    if smallest == start {
                        let names: Vec<String> = trail.iter().chain([start]).map(|m| m.join("::")).collect();
                        found.insert(format!("circle: {}", names.join(" → ")));
                    }
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

fn sources(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the source directory reads") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            (relative, std::fs::read_to_string(&p).expect("a source file reads"))
        })
        .collect()
}

/// The core crate's sources and the rules crate's, as the layers of one crate.
fn the_layers() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, String)> = sources(&root.join("src"))
        .into_iter()
        .map(|(path, source)| (path, source.replace("peyman_rules::", "crate::rules::")))
        .collect();
    for (path, source) in sources(&root.join("../rules/src")) {
        let path = if path == "lib.rs" { "rules/mod.rs".to_owned() } else { format!("rules/{path}") };
        files.push((path, source.replace("crate::", "crate::rules::")));
    }
    files
}

#[test]
fn the_core_crate_is_in_layers_without_circles() {
    let files = the_layers();
    assert!(files.len() > 60, "the crates' sources were found");
    let problems = violations(&files);
    assert!(problems.is_empty(), "the core crate breaks its layers:\n{}", problems.join("\n"));
    let layers: Vec<String> = LAYERS
        .iter()
        .map(|layer| {
            let n = files.iter().filter(|(path, _)| path.starts_with(&format!("{layer}/"))).count();
            format!("{layer} {n}")
        })
        .collect();
    println!("{} modules ({}), no circles, every dependency downward", files.len(), layers.join(", "));
}

/// What a function's handler (`functions/*/src/lib.rs`) may hold: routing, parse → flow →
/// answer, and nothing that decides. It may hold `use` declarations, functions, constants,
/// and the request bodies it parses (structs or enums that derive `Deserialize` and deny
/// unknown fields). It may not reach below the flows (`peyman::adapters`, an AWS SDK), loop
/// (going over data is a rule's or a flow's work), define `impl`s, statics, traits, macros
/// or modules, read the clock anywhere but in its entry `handle` (the shell's `req.now`
/// serves the routes), or grow past `HANDLER_LINES`.
fn handler_problems(name: &str, source: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let file = match syn::parse_file(source) {
        Ok(file) => file,
        Err(e) => return vec![format!("{name}: does not parse: {e}")],
    };
    let children = BTreeMap::new();
    let mut reader = Reader { current: Vec::new(), children: &children, in_test: 0, reading: Reading::default() };
    reader.visit_file(&file);
    if source.contains("peyman::adapters") || reader.reading.crates.iter().any(|c| c.starts_with("aws_sdk")) {
        problems.push(format!("{name}: a handler calls flows, not adapters"));
    }
    let lines = source.lines().count();
    if lines > HANDLER_LINES {
        problems.push(format!("{name}: {lines} lines; a handler is routing (parse → flow → answer)"));
    }
    for item in &file.items {
        match item {
            syn::Item::Use(_) | syn::Item::Const(_) => {}
            syn::Item::Fn(f) => {
                let mut body = Body::default();
                body.visit_block(&f.block);
                if body.loops > 0 {
                    problems.push(format!("{name}: `{}` loops; going over data is a rule's or a flow's", f.sig.ident));
                }
                if body.reads_clock && f.sig.ident != "handle" {
                    problems.push(format!("{name}: `{}` reads the clock; only `handle` may", f.sig.ident));
                }
            }
            syn::Item::Struct(syn::ItemStruct { attrs, ident, .. })
            | syn::Item::Enum(syn::ItemEnum { attrs, ident, .. }) => {
                let text = attrs.iter().map(quote_attr).collect::<Vec<_>>().join(" ");
                if !(text.contains("Deserialize") && text.contains("deny_unknown_fields")) {
                    problems.push(format!("{name}: `{ident}` is not a request body that denies unknown fields"));
                }
            }
            other => problems.push(format!("{name}: holds {}; a handler only routes", kind(other))),
        }
    }
    problems
}

/// The longest handler: the longest today (`support-payments`, four routes and two views)
/// with a little room.
const HANDLER_LINES: usize = 80;

/// Loops and clock reads in a function's body.
#[derive(Default)]
struct Body {
    loops: usize,
    reads_clock: bool,
}

impl<'ast> Visit<'ast> for Body {
    fn visit_expr(&mut self, node: &'ast syn::Expr) {
        if matches!(node, syn::Expr::ForLoop(_) | syn::Expr::While(_) | syn::Expr::Loop(_)) {
            self.loops += 1;
        }
        visit::visit_expr(self, node);
    }

    fn visit_path(&mut self, node: &'ast syn::Path) {
        let names: Vec<String> = node.segments.iter().map(|s| s.ident.to_string()).collect();
        if matches!(names.as_slice(), [.., clock, now] if matches!(clock.as_str(), "Utc" | "SystemTime") && now == "now")
        {
            self.reads_clock = true;
        }
        visit::visit_path(self, node);
    }
}

fn quote_attr(attr: &syn::Attribute) -> String {
    match &attr.meta {
        syn::Meta::List(list) => format!("{} {}", path_text(&list.path), list.tokens),
        syn::Meta::Path(path) => path_text(path),
        syn::Meta::NameValue(nv) => path_text(&nv.path),
    }
}

fn path_text(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

fn kind(item: &syn::Item) -> &'static str {
    match item {
        syn::Item::Impl(_) => "an impl",
        syn::Item::Static(_) => "a static",
        syn::Item::Trait(_) => "a trait",
        syn::Item::Mod(_) => "a module",
        syn::Item::Macro(_) => "a macro",
        _ => "an item other than use, fn, const and request bodies",
    }
}

#[test]
fn handlers_only_route_to_flows() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let mut problems = Vec::new();
    let mut read = 0;
    for entry in std::fs::read_dir(&functions).expect("functions/ reads") {
        let dir = entry.expect("an entry").path();
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(dir.join("src/lib.rs")).expect("every function has its handler in lib.rs");
        read += 1;
        problems.extend(handler_problems(&name, &source));
    }
    assert!(read >= 18, "every function's handler was read");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The handler check, broken on purpose: each kind of thing a handler may not hold is found.
#[test]
fn the_handler_check_finds_what_a_handler_may_not_hold() {
    let clean = r#"
        use peyman::flows::App;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body { text: String }
        pub async fn handle(app: &App) { let now = chrono::Utc::now(); route(app, now).await }
        async fn route(app: &App, now: Now) -> Reply { let items: Vec<_> = xs.iter().map(view).collect(); }
    "#;
    assert_eq!(handler_problems("clean", clean), Vec::<String>::new());
    let found = |source: &str, needle: &str| {
        let problems = handler_problems("broken", source);
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle:?} not in {problems:#?}");
    };
    found("use peyman::adapters::dynamo::Store;", "calls flows, not adapters");
    found("fn f() { let c = aws_sdk_dynamodb::Client::new(); }", "calls flows, not adapters");
    found("fn route() { for x in xs { f(x); } }", "loops");
    found("fn route() { while go() {} }", "loops");
    found("fn route() { let now = chrono::Utc::now(); }", "reads the clock");
    found("#[derive(Deserialize)] struct Body { a: u8 }", "denies unknown fields");
    found("struct Plain;", "denies unknown fields");
    found("impl App { fn f() {} }", "an impl");
    found("static CACHE: u8 = 0;", "a static");
    found("mod inner {}", "a module");
    found(&"// routing\n".repeat(HANDLER_LINES + 1), "lines; a handler is routing");
}

/// The check itself, broken on purpose: each kind of violation is found.
#[test]
fn the_check_finds_what_breaks_the_layers() {
    let file = |path: &str, source: &str| (path.to_owned(), source.to_owned());
    let clean = vec![
        file("lib.rs", "pub mod rules; pub mod adapters; pub mod flows; pub mod shell;"),
        file("rules/mod.rs", "pub mod a; pub mod b;"),
        file("rules/a.rs", "use crate::rules::b::B; pub struct A;"),
        file("rules/b.rs", "pub struct B;"),
        file("adapters/mod.rs", "pub mod store;"),
        file("adapters/store.rs", "use crate::rules::a::A; use aws_sdk_dynamodb::Client;"),
        file("flows/mod.rs", "use crate::adapters::store; pub fn f(now: chrono::DateTime<chrono::Utc>) {}"),
        file("shell/mod.rs", "use lambda_http::Request; use crate::flows::f; fn g() { chrono::Utc::now(); }"),
    ];
    assert_eq!(violations(&clean), Vec::<String>::new());

    let broken = |path: &str, source: &str| {
        let mut files = clean.clone();
        files.retain(|(p, _)| p != path);
        files.push(file(path, source));
        violations(&files)
    };
    let found = |problems: Vec<String>, needle: &str| {
        assert!(problems.iter().any(|p| p.contains(needle)), "{needle:?} not in {problems:#?}");
    };
    found(broken("rules/b.rs", "use crate::adapters::store::Store; pub struct B;"), "against the layers");
    found(broken("adapters/store.rs", "fn f() { crate::flows::f(); }"), "against the layers");
    found(broken("rules/b.rs", "use crate::rules::a::A; pub struct B;"), "circle: rules::a → rules::b → rules::a");
    found(broken("rules/b.rs", "use super::a::A; pub struct B;"), "circle");
    found(broken("rules/b.rs", "pub fn f(r: lambda_http::Request) {}"), "uses the crate lambda_http");
    found(broken("adapters/store.rs", "use lambda_http::Request;"), "uses the crate lambda_http");
    found(broken("flows/mod.rs", "fn f() { let _ = chrono::Utc::now(); }"), "reads the clock");
    found(broken("rules/b.rs", "use chrono::Utc; fn f() { Utc::now(); }"), "reads the clock");
    found(broken("rules/b.rs", "fn f() { std::time::SystemTime::now(); }"), "reads the clock");
    found(broken("misc.rs", "pub fn f() {}"), "belongs to no layer");
    // Tests may read the clock.
    assert_eq!(broken("rules/b.rs", "#[cfg(test)] mod tests { fn t() { chrono::Utc::now(); } }"), Vec::<String>::new());
}
