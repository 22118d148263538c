//! The code's shape, checked: the arrows between `src/`'s top-level modules (every
//! `crate::module` a file names, in `use` lines or inline) must be ones ARCHITECTURE.md
//! allows in its "Layers" block, which is the one place they are listed; the
//! `debt` lines there are arrows that still run the wrong way, each to be removed (the
//! test fails when a listed debt arrow is gone, so the list only shrinks). Also: no
//! circle in the layers or between the files of a folder, the code map names every
//! folder of `src/`, `tests/it/` and `static/`, ARCHITECTURE.md's lines are short, and
//! every test SECURITY.md cites exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/`'s files, as paths relative to the project (`src/store/tasks.rs`).
fn source_files() -> Vec<String> {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let mut files: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

/// The top-level module a file belongs to (`src/store/tasks.rs` → `store`).
fn module_of(file: &str) -> String {
    let rest = file.strip_prefix("src/").unwrap();
    let first = rest.split('/').next().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module a file's code names through `crate::` (comments aside).
fn arrows_of(text: &str) -> BTreeSet<String> {
    names_after(text, "crate::")
}

/// The first path segment after each `prefix` in a file's code (comments aside), with
/// `prefix{a::b, c}` groups read as `a` and `c`.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let word = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut targets = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            // `super::super::x` is not a sibling: only whole prefixes count.
            let before = &rest[..at];
            rest = &rest[at + prefix.len()..];
            if before.ends_with(':') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name = word(item);
                    if !name.is_empty() {
                        targets.insert(name);
                    }
                }
            } else {
                let name = word(rest);
                if !name.is_empty() {
                    targets.insert(name);
                }
            }
        }
    }
    targets
}

/// A circle in `graph`, if it has one (as the nodes along it).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// Which modules each module may name.
type Allowed = BTreeMap<String, BTreeSet<String>>;
/// Arrows that still run the wrong way.
type Debt = BTreeSet<(String, String)>;

/// The "Layers" block of ARCHITECTURE.md: `module -> allowed targets` lines, and
/// `debt: module -> target` lines.
fn layers() -> (Allowed, Debt) {
    let text = architecture();
    let block = text
        .split("<!-- layers -->")
        .nth(1)
        .expect("ARCHITECTURE.md has a block between <!-- layers --> markers");
    let mut allowed = BTreeMap::new();
    let mut debt = BTreeSet::new();
    for line in block.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("```") || line.starts_with('#') {
            continue;
        }
        if let Some(arrow) = line.strip_prefix("debt:") {
            let (from, to) = arrow.split_once("->").expect("debt: a -> b");
            debt.insert((from.trim().to_string(), to.trim().to_string()));
            continue;
        }
        let (from, to) = line.split_once("->").expect("a -> b c d");
        let targets: BTreeSet<String> = to.split_whitespace().map(str::to_string).collect();
        allowed.insert(from.trim().to_string(), targets);
    }
    (allowed, debt)
}

#[test]
fn dependencies_between_modules_point_the_way_architecture_md_draws_them() {
    let (allowed, debt) = layers();
    let modules: BTreeSet<String> = source_files().iter().map(|f| module_of(f)).collect();
    let mut found: BTreeMap<(String, String), String> = BTreeMap::new();
    for file in source_files() {
        let from = module_of(&file);
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        for to in arrows_of(&text) {
            // Names that are not modules are the crate root's: none may name it.
            let to = if modules.contains(&to) {
                to
            } else {
                "lib".to_string()
            };
            if to != from {
                found.entry((from.clone(), to)).or_insert(file.clone());
            }
        }
    }
    for module in &modules {
        assert!(
            allowed.contains_key(module) || module == "main",
            "ARCHITECTURE.md's layers do not list module `{module}`"
        );
    }
    let mut wrong = Vec::new();
    for ((from, to), file) in &found {
        if from == "main" {
            continue; // calls `drydock::cli::main()` and nothing else
        }
        let ok = allowed
            .get(from)
            .is_some_and(|targets| targets.contains(to));
        if !ok && !debt.contains(&(from.clone(), to.clone())) {
            wrong.push(format!("{from} -> {to} (in {file})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows ARCHITECTURE.md's layers do not allow:\n  {}",
        wrong.join("\n  ")
    );
    let paid: Vec<String> = debt
        .iter()
        .filter(|arrow| !found.contains_key(*arrow))
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(
        paid.is_empty(),
        "these debt arrows are gone: remove them from ARCHITECTURE.md's layers:\n  {}",
        paid.join("\n  ")
    );
    // An allowed arrow that also appears as debt is a contradiction.
    for (from, to) in &debt {
        assert!(
            !allowed.get(from).is_some_and(|t| t.contains(to)),
            "{from} -> {to} is both allowed and debt"
        );
    }
}

#[test]
fn no_two_modules_depend_on_each_other_outside_the_debt_list() {
    let (allowed, _) = layers();
    for (from, targets) in &allowed {
        for to in targets {
            assert!(
                !allowed.get(to).is_some_and(|back| back.contains(from)),
                "ARCHITECTURE.md allows both {from} -> {to} and {to} -> {from}"
            );
        }
    }
}

#[test]
fn the_layers_have_no_circle() {
    let (allowed, _) = layers();
    assert_eq!(circle(&allowed), None, "ARCHITECTURE.md's layers go round");
}

/// Within each folder of `src/`, the files beside `mod.rs` name each other (through
/// `super::x` or the folder's full path) without a circle: a folder's files build on
/// each other one way, and what two of them share lives in a third or in `mod.rs`.
#[test]
fn no_files_of_a_folder_name_each_other_in_a_circle() {
    let mut folders: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in source_files() {
        let path = Path::new(&file);
        let folder = path.parent().unwrap().to_string_lossy().into_owned();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if stem == "mod" || folder == "src" {
            continue;
        }
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        let full = format!(
            "crate::{}::",
            folder.trim_start_matches("src/").replace('/', "::")
        );
        let mut named = names_after(&text, "super::");
        named.extend(names_after(&text, &full));
        named.remove(&stem);
        folders.entry(folder).or_default().insert(stem, named);
    }
    let mut circles = Vec::new();
    for (folder, files) in &folders {
        let siblings: BTreeSet<&String> = files.keys().collect();
        let graph: BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .map(|(file, named)| {
                let edges = named.iter().filter(|n| siblings.contains(n)).cloned();
                (file.clone(), edges.collect())
            })
            .collect();
        if let Some(found) = circle(&graph) {
            circles.push(format!("{folder}/: {}", found.join(" -> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "files of a folder name each other in a circle:\n  {}",
        circles.join("\n  ")
    );
}

/// Every folder under `root` (relative to the project, `src/store/sql`).
fn folders(root_dir: &str, out: &mut Vec<String>) {
    out.push(root_dir.to_string());
    let mut entries: Vec<_> = std::fs::read_dir(root().join(root_dir))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| format!("{root_dir}/{}", e.file_name().to_string_lossy()))
        .collect();
    entries.sort();
    for dir in entries {
        folders(&dir, out);
    }
}

#[test]
fn the_code_map_names_every_folder() {
    let text = architecture();
    let map = text
        .split("## Code map")
        .nth(1)
        .and_then(|m| m.split("\n## ").next())
        .expect("ARCHITECTURE.md has a \"Code map\" section");
    let mut all = Vec::new();
    for top in ["src", "tests/it", "static"] {
        folders(top, &mut all);
    }
    let missing: Vec<&String> = all
        .iter()
        .filter(|dir| !map.contains(&format!("`{dir}/`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these folders: {missing:?}"
    );
}

#[test]
fn architecture_md_has_short_lines() {
    let mut fence = false;
    let long: Vec<String> = architecture()
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            if line.starts_with("```") {
                fence = !fence;
            }
            !fence && !line.starts_with('|') && line.chars().count() > 100
        })
        .map(|(n, line)| format!("{}: {line}", n + 1))
        .collect();
    assert!(
        long.is_empty(),
        "lines over 100 characters:\n{}",
        long.join("\n")
    );
}

/// Every test SECURITY.md names (`module::test_name`, as `cargo test` prints it)
/// exists: in `tests/it/<module>.rs`, or in the unit tests under `src/<module>`.
#[test]
fn every_test_security_md_cites_exists() {
    let text = std::fs::read_to_string(root().join("SECURITY.md")).expect("SECURITY.md");
    let mut cited = BTreeSet::new();
    for piece in text.split('`').skip(1).step_by(2) {
        let segments: Vec<&str> = piece.split("::").collect();
        let name = segments.last().unwrap();
        let test_like = segments.len() >= 2
            && name.matches('_').count() >= 3
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if test_like {
            cited.insert(segments.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
    }
    assert!(
        cited.len() > 50,
        "SECURITY.md cites only {} tests?",
        cited.len()
    );
    let mut unit = Vec::new();
    sources(&root().join("src"), &mut unit);
    let mut missing = Vec::new();
    for segments in &cited {
        let name = segments.last().unwrap();
        let def = format!("fn {name}(");
        let in_suite = std::fs::read_to_string(root().join(format!("tests/it/{}.rs", segments[0])))
            .is_ok_and(|t| t.contains(&def));
        let prefix = root().join("src").join(&segments[0]);
        let in_unit = unit.iter().any(|f| {
            f.starts_with(&prefix) || f == &prefix.with_extension("rs")
        } && std::fs::read_to_string(f).is_ok_and(|t| t.contains(&def)));
        if !in_suite && !in_unit {
            missing.push(segments.join("::"));
        }
    }
    assert!(
        missing.is_empty(),
        "SECURITY.md cites tests that do not exist:\n  {}",
        missing.join("\n  ")
    );
}

/// Files (as `src/...` prefixes) whose code contains `needle`, comments aside.
fn files_naming(needle: &str) -> BTreeSet<String> {
    source_files()
        .into_iter()
        .filter(|file| {
            std::fs::read_to_string(root().join(file))
                .unwrap()
                .lines()
                // A file's unit tests (its `#[cfg(test)]` module, at its end) may make
                // what they test.
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .any(|l| !l.trim_start().starts_with("//") && l.contains(needle))
        })
        .collect()
}

fn only_in(needle: &str, allowed: &[&str]) {
    let outside: Vec<String> = files_naming(needle)
        .into_iter()
        .filter(|file| !allowed.iter().any(|a| file.starts_with(a)))
        .collect();
    assert!(
        outside.is_empty(),
        "`{needle}` may appear only in {allowed:?}, but also in {outside:?}"
    );
}

#[test]
fn the_all_permission_proofs_and_the_admission_have_their_one_maker_each() {
    only_in("Proof::for_request(", &["src/auth/guards.rs"]);
    only_in("Proof::command_line(", &["src/cli/"]);
    only_in("Proof::schedule(", &["src/queue/"]);
    only_in("Proof::system(", &["src/accounts.rs"]);
    // The one decision the store runs inside every change.
    only_in("Admit for", &["src/access/", "src/store/mod.rs"]);
}

#[test]
fn only_the_listed_writers_open_bookkeeping_transactions() {
    let text = architecture();
    let block = text.split("<!-- bookkeeping -->").nth(1).expect(
        "ARCHITECTURE.md lists the bookkeeping writers between <!-- bookkeeping --> markers",
    );
    let listed: BTreeSet<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let mut writers = files_naming(".bookkeeping(");
    writers.extend(files_naming(".bookkeeping_now("));
    writers.remove("src/store/mod.rs");
    assert_eq!(
        writers, listed,
        "the files that open bookkeeping transactions differ from ARCHITECTURE.md's list"
    );
}

#[test]
fn only_the_request_layers_know_rocket() {
    // HTTP lives in web and api, what they share (http), the guards (auth), the
    // command line that launches the server, and the server that builds it.
    let allowed = [
        "src/web/",
        "src/api/",
        "src/auth/",
        "src/http/",
        "src/cli/",
        "src/server.rs",
        "src/main.rs",
    ];
    only_in("rocket::", &allowed);
    only_in("use rocket", &allowed);
    only_in("askama", &["src/web/"]);
}
