//! The tester's layers import each other one way only: `runtime -> verdict <- report <- check`,
//! with `explore` (the strategies) below the runtime that consults them. A module that must
//! call back into its caller means a type belongs in a lower layer (see tests/README.md).
//!
//! The test reads `src/` and lists, per top-level module, the other top-level modules its code
//! names as `crate::<module>` (comments and unit-test modules left out), then looks for a cycle
//! among the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers that must not form a cycle.
const LAYERS: [&str; 5] = ["runtime", "verdict", "report", "check", "explore"];

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for line in code.lines() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for part in line.split("crate::").skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name != module && LAYERS.contains(&name.as_str()) {
                        edges.entry(module.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    edges
}

#[test]
fn the_layers_import_each_other_one_way() {
    let edges = imports();
    // Every layer: which layers it reaches, following imports.
    for start in LAYERS {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(m) = todo.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        assert!(
            !seen.contains(start),
            "{start} imports itself through {seen:?}; the imports: {edges:#?}"
        );
    }
    // The data-flow direction in particular.
    let reaches = |a: &str, b: &str| edges.get(a).is_some_and(|s| s.contains(b));
    assert!(!reaches("verdict", "runtime") && !reaches("verdict", "report"));
    assert!(!reaches("report", "check") && !reaches("report", "runtime"));
    assert!(!reaches("explore", "runtime") && !reaches("explore", "check"));
}
