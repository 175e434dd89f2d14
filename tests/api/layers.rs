//! The crate's layers, checked on its source: the pure domain imports nothing of the use cases, the store, the
//! API, the CLI or a transport; and the workbook module's files import one another without a cycle.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The source without comments, so that a doc comment naming the store is not an import of it.
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules under `prefix` ("crate::", "super::") a file refers to: `crate::store::…` anywhere, and the
/// top-level entries of a `use crate::{…}` group.
fn modules_used(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let squeezed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    for (at, _) in squeezed.match_indices(prefix) {
        let rest = &squeezed[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level entries of the group: split at depth 0.
            let mut depth = 0;
            let mut entry = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        used.insert(entry.split("::").next().unwrap_or("").to_owned());
                        entry.clear();
                        continue;
                    }
                    _ => {}
                }
                entry.push(c);
            }
            used.insert(entry.split("::").next().unwrap_or("").to_owned());
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used.remove("");
    used
}

#[test]
fn the_domain_imports_no_store_no_use_case_no_api_and_no_cli() {
    let forbidden_modules = [
        "store", "service", "api", "cli", "startup", "metrics", "web",
    ];
    let forbidden_crates = ["tonic::", "sqlx::", "axum::", "tokio::"];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src.join("domain"));
    assert!(files.len() > 20, "the domain's files were found");
    let mut violations = Vec::new();
    for file in &files {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for module in modules_used(&code, "crate::") {
            if forbidden_modules.contains(&module.as_str()) {
                violations.push(format!("{} uses crate::{module}", file.display()));
            }
        }
        for krate in forbidden_crates {
            if code.contains(krate) {
                violations.push(format!("{} uses {krate}", file.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_a_store_import_in_a_group() {
    let code = "use crate::{\n    domain::{ids::UnitCode, unit::Unit},\n    store::Store,\n};";
    assert_eq!(
        modules_used(code, "crate::"),
        BTreeSet::from(["domain".to_owned(), "store".to_owned()])
    );
    assert!(modules_used("let s: &crate::store::Store;", "crate::").contains("store"));
}

#[test]
fn the_workbook_files_import_one_another_without_a_cycle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workbook");
    let files = rust_files(&dir);
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod")
        .collect();
    // Which sibling each file refers to (`super::read::…`, or an entry of a `use super::{…}` group).
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        let referred = modules_used(code, "super::")
            .into_iter()
            .filter(|m| names.contains(m) && *m != name)
            .collect();
        edges.insert(name, referred);
    }
    // Depth-first search for a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            return Some(path[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    assert!(
        edges.get("read").is_some_and(|r| r.contains("layout")),
        "the graph was read: {edges:?}"
    );
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!("the workbook's files import in a cycle: {cycle:?}");
        }
    }
}
