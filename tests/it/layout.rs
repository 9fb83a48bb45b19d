//! The module structure: no module imports one that imports it back, and the database layer,
//! the call path and the side effects know nothing of HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module of a file under `src/` (`src/web/mcp.rs` → `web`, `src/cli.rs` → `cli`).
fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each module's source, and the other top-level modules it names as `crate::<module>`.
fn modules() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for file in files {
        let module = module_of(&file, &src);
        // Code only: a comment may name a module without importing it.
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(|line| format!("{line}\n"))
            .collect();
        let entry = modules.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != module {
                entry.1.insert(name);
            }
        }
        entry.0.push_str(&text);
    }
    modules
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = modules();
    let graph: BTreeMap<&str, Vec<&str>> =
        modules.iter().map(|(m, (_, uses))| (m.as_str(), uses.iter().map(String::as_str).collect())).collect();
    // Depth-first search for a cycle, reporting the path.
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", cycle.join(" → "));
        }
    }
    assert!(graph["web"].contains(&"call") && graph["call"].contains(&"db"), "{graph:?}");
}

#[test]
fn the_database_layer_the_call_path_and_side_effects_know_nothing_of_http() {
    let modules = modules();
    for module in ["db", "call", "effects", "error", "limits", "auth", "catalog"] {
        let (text, uses) = &modules[module];
        assert!(!text.contains("actix_web"), "src/{module} uses actix_web");
        assert!(!uses.contains("web"), "src/{module} imports the web layer");
    }
}
