//! The docs stay true: the roles table in `docs/accounts.md` is what the code grants,
//! every subcommand is in `docs/command-line.md`, every relative link in the README,
//! ARCHITECTURE.md, SECURITY.md and `docs/` leads to a file (and heading) that exists,
//! nothing outside the tests names a file outside the repository, and the README stays
//! a front page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use drydock::access::permissions::{Permission, Role};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md, ARCHITECTURE.md, SECURITY.md and every page of `docs/`.
fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "SECURITY.md"]
        .iter()
        .map(|f| root().join(f))
        .collect();
    for entry in std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "md") {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

#[test]
fn the_roles_table_is_what_the_code_grants() {
    let text = read(&root().join("docs/accounts.md"));
    let table = text
        .split("<!-- roles -->")
        .nth(1)
        .expect("docs/accounts.md has its roles table between <!-- roles --> markers");
    let mut rows = table.lines().map(str::trim).filter(|l| l.starts_with('|'));
    let header: Vec<String> = cells(rows.next().expect("a header row"));
    rows.next(); // |---|
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let row = cells(row);
        let permission = row[0].trim_matches('`').to_string();
        for (role, cell) in header.iter().zip(&row).skip(1) {
            if cell == "yes" {
                documented
                    .entry(role.clone())
                    .or_default()
                    .insert(permission.clone());
            }
        }
    }
    let granted: BTreeMap<String, BTreeSet<String>> = Role::ALL
        .iter()
        .map(|r| {
            let names = r.permissions().names().into_iter().map(str::to_string);
            (r.name().to_string(), names.collect())
        })
        .collect();
    assert_eq!(documented, granted, "docs/accounts.md's roles table");
    let listed: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let all: BTreeSet<String> = Permission::ALL
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(listed, all, "docs/accounts.md lists every permission once");
}

fn cells(row: &str) -> Vec<String> {
    row.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn every_subcommand_is_in_the_command_line_page() {
    let text = read(&root().join("docs/command-line.md"));
    let cli = drydock::cli::Cli::command();
    let mut missing = Vec::new();
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = command.get_name();
        let subs: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
        if subs.is_empty() && !text.contains(&format!("`{name}")) {
            missing.push(name.to_string());
        }
        for sub in subs {
            let said = [
                format!("`{name} {sub}"),
                format!("/ `{sub}"),
                format!("`{sub}`"),
            ];
            if !(text.contains(&format!("`{name} ")) && said.iter().any(|s| text.contains(s))) {
                missing.push(format!("{name} {sub}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/command-line.md does not name: {missing:?}"
    );
}

/// The anchors a Markdown file's headings get, as GitHub makes them.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut inside = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside;
        }
        if inside || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim().to_lowercase();
        let slug: String = heading
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        out.insert(slug);
    }
    out
}

/// Every `](target)` of a Markdown text, code blocks aside.
fn links(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside;
        }
        if inside {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[test]
fn every_link_in_the_docs_leads_somewhere() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let name = file.strip_prefix(root()).unwrap().display().to_string();
            if !target.exists() {
                broken.push(format!("{name}: {link}"));
            } else if !anchor.is_empty() && !anchors(&read(&target)).contains(anchor) {
                broken.push(format!("{name}: {link} (no such heading)"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn nothing_outside_the_tests_names_a_file_outside_the_repository() {
    // The tests run Octopus's GitHub Actions from beside the repository, where the
    // workspace keeps them unchanged: they are the one exception.
    let mut files = markdown_files();
    let mut sources = Vec::new();
    collect(&root().join("src"), &mut sources);
    collect(&root().join("scripts"), &mut sources);
    collect(&root().join("static"), &mut sources);
    collect(&root().join("templates"), &mut sources);
    files.extend(sources);
    let mut found = Vec::new();
    for file in files {
        let text = read(&file);
        for (n, line) in text.lines().enumerate() {
            let spec = line.match_indices("SPEC").any(|(at, _)| {
                line[at + 4..].starts_with([' ', '.'])
                    && line[at + 4..]
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_digit())
            });
            if spec || line.contains("../shared") {
                let name = file.strip_prefix(root()).unwrap().display().to_string();
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "names files outside the repository:\n  {}",
        found.join("\n  ")
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_readme_is_a_front_page() {
    let readme = read(&root().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines <= 220,
        "README.md has {lines} lines: move detail to docs/"
    );
    let opening: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(
        !opening.contains("Next"),
        "the README's opening says what drydock does, not what comes next"
    );
}
