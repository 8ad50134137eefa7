//! The module graph, read from the `use` lines of `src/` as a newcomer would: dependencies
//! point one way (surfaces → wiring → decisions → storage → foundations), with no cycle
//! between top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules that may only be imported by the wiring and the surfaces.
const SURFACES_AND_WIRING: &[&str] = &[
    "web",
    "api",
    "ops",
    "cli",
    "startup",
    "routes",
    "state",
    "reload",
    "forward_auth",
    "oidc",
];

/// Modules below the surfaces: none of them may import a surface or the wiring.
const LOWER: &[&str] = &[
    "auth",
    "accounts",
    "db",
    "session_store",
    "config",
    "domain",
    "error",
    "files",
    "http",
    "metrics",
    "telemetry",
];

/// The `crate::NAME` modules a source text refers to, `crate::{a, b::c}` included.
fn referenced_modules(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Top-level module → the other top-level modules its code (tests excluded) imports.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        // Unit tests may reach anywhere; the architecture is about the code they test.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let entry = graph.entry(top.clone()).or_default();
        for module in referenced_modules(code) {
            if module != top {
                entry.insert(module);
            }
        }
    }
    graph
}

#[test]
fn no_lower_module_imports_a_surface_or_the_wiring() {
    let graph = module_graph();

    let mut offences = Vec::new();
    for lower in LOWER {
        for imported in graph.get(*lower).into_iter().flatten() {
            if SURFACES_AND_WIRING.contains(&imported.as_str()) {
                offences.push(format!("{lower} imports {imported}"));
            }
        }
    }

    assert!(offences.is_empty(), "{offences:#?}");
    assert!(
        graph.contains_key("auth") && graph.contains_key("web"),
        "the walk found src/"
    );
}

#[test]
fn the_domain_types_import_nothing_of_the_crate() {
    let graph = module_graph();

    assert_eq!(graph.get("domain"), Some(&BTreeSet::new()));
}

#[test]
fn the_top_level_modules_have_no_cycle() {
    let graph = module_graph();
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(next) = stack.pop() {
            for to in graph.get(&next).into_iter().flatten() {
                if seen.insert(to.clone()) {
                    stack.push(to.clone());
                }
            }
        }
        seen
    };

    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
        .filter(|(from, to)| reaches(to).contains(*from))
        .map(|(from, to)| format!("{from} -> {to} -> … -> {from}"))
        .collect();

    assert!(cycles.is_empty(), "{cycles:#?}");
}

#[test]
fn only_the_revocation_seam_cleans_the_session_store_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut callers = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read_to_string(&path)
                .is_ok_and(|text| text.contains(".forget_revoked_user("))
            {
                callers.push(path.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }

    assert_eq!(callers, vec!["accounts.rs".to_string()]);
}

#[test]
fn the_reference_reader_sees_grouped_imports() {
    let found = referenced_modules("use crate::{api, ops, web as pages};\nuse crate::db::x;");

    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["api", "db", "ops", "web"]
    );
}
