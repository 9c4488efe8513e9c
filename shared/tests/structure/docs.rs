//! The front door and the manual: the README stays short (what, two commands, a taste, a
//! map), every document in `docs/` is on its map, and every relative link of the README and
//! of `docs/` leads to a file that exists.

use std::path::{Path, PathBuf};

/// The README is read in five minutes.
const README_LINES: usize = 200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markdown(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("docs/ reads") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            markdown(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The targets of the relative links `[text](target)` in `text`, anchors dropped.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for (at, _) in text.match_indices("](") {
        let rest = &text[at + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split('#').next().unwrap_or_default();
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            links.push(target.to_owned());
        }
    }
    links
}

#[test]
fn the_readme_is_short_and_maps_every_document() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(lines <= README_LINES, "README.md is {lines} lines; the manual belongs in docs/");
    for must in ["make dev", "make test", "docs/walkthrough.md"] {
        assert!(readme.contains(must), "README.md does not mention {must}");
    }
    let mut documents = Vec::new();
    markdown(&root().join("docs"), &mut documents);
    let linked = relative_links(&readme);
    for document in documents.iter().filter(|d| d.parent() == Some(&root().join("docs"))) {
        let name = format!("docs/{}", document.file_name().unwrap().to_string_lossy());
        assert!(linked.contains(&name), "{name} is not on the README's map of docs/");
    }
}

#[test]
fn every_relative_link_leads_to_a_file() {
    let mut files = vec![root().join("README.md")];
    markdown(&root().join("docs"), &mut files);
    assert!(files.len() > 20, "the documents were found");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a document reads");
        for link in relative_links(&text) {
            if !file.parent().unwrap().join(&link).exists() {
                broken.push(format!("{}: {link}", file.strip_prefix(root()).unwrap_or(file).display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
    assert_eq!(relative_links("[a](x.md#b) [b](https://e.org) [c](../y)"), ["x.md", "../y"], "the reading of links");
}
