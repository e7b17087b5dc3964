//! Every relative link in the README and the docs resolves: the file exists, and a `#fragment`
//! names a heading of the Markdown file it points to (GitHub's heading ids). The README keeps
//! moving material into docs/, and a moved section silently breaks the links into it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The Markdown files whose links are checked: the README, the project files beside it, docs/.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = [
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "BENCHMARKS.md",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The text outside fenced code blocks (links in examples are not links).
fn prose(markdown: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The targets of the inline links and images `[text](target)` of a document's prose.
fn links(markdown: &str) -> Vec<String> {
    let text = prose(markdown);
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            found.push(target.to_string());
            rest = &rest[end..];
        }
    }
    found
}

/// GitHub's id for a heading: lower case, punctuation dropped (but `-` and `_`), spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The ids of a document's headings, a repeated one with `-1`, `-2` … as GitHub numbers them.
fn anchors(markdown: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    for line in prose(markdown).lines() {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let mut id = base.clone();
        let mut n = 0;
        while ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        ids.insert(id);
    }
    ids
}

/// What is wrong with the links of `doc` (at `path`): one line per broken link.
fn broken(path: &Path, doc: &str) -> Vec<String> {
    let dir = path.parent().unwrap();
    let mut problems = Vec::new();
    for link in links(doc) {
        if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
            continue;
        }
        let (file, fragment) = match link.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (link.as_str(), None),
        };
        let target = if file.is_empty() {
            path.to_path_buf()
        } else {
            dir.join(file)
        };
        if !target.exists() {
            problems.push(format!("{}: {link}: no such file", path.display()));
            continue;
        }
        let Some(fragment) = fragment else { continue };
        if target.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&target).unwrap();
        if !anchors(&text).contains(fragment) {
            problems.push(format!(
                "{}: {link}: no heading #{fragment} in {}",
                path.display(),
                target.display()
            ));
        }
    }
    problems
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in documents() {
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        checked += links(&doc).len();
        problems.extend(broken(&path, &doc));
    }
    assert!(
        checked >= 20,
        "only {checked} links found: is the parser blind?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// The checker sees a missing file, a missing heading and a good link, and skips code and URLs.
#[test]
fn the_checker_finds_broken_links() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.md");
    std::fs::write(
        &other,
        "# Other\n\n## Exit codes: `check`\n\n## Exit codes: `check`\n",
    )
    .unwrap();
    let doc = "# Title\n\n[ok](other.md#exit-codes-check) [twice](other.md#exit-codes-check-1) \
               [here](#title) [web](https://example.com/x.md)\n\
               [gone](missing.md) [no heading](other.md#nowhere) [self](#nope)\n\
               ```\n[in code](missing-too.md)\n```\n";
    let path = dir.path().join("doc.md");
    std::fs::write(&path, doc).unwrap();
    let problems = broken(&path, doc);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("missing.md: no such file"),
        "{problems:#?}"
    );
    assert!(problems[1].contains("#nowhere"), "{problems:#?}");
    assert!(problems[2].contains("#nope"), "{problems:#?}");
}

/// The README stays a front page (issue 21, item 14): at most 300 lines, its sections in the
/// order a newcomer needs them, both set-up commands, every docs page linked.
#[test]
fn the_readme_is_short_and_in_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move detail to docs/"
    );
    let order = [
        "### What conncheck will never do",
        "## Install",
        "## Accounts to create",
        "## Try it, test it",
        "## The verdict",
        "## Exit codes",
        "## Security",
        "## Documentation",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|h| {
            readme
                .lines()
                .position(|l| l == *h)
                .unwrap_or_else(|| panic!("README.md has no {h:?}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "README sections out of order: {order:?}"
    );
    for command in ["scripts/demo.sh", "scripts/test.sh"] {
        assert!(readme.contains(command), "README.md names {command}");
    }
    for page in [
        "diagnose",
        "connecting",
        "servers",
        "json",
        "monitoring",
        "security",
    ] {
        assert!(
            readme.contains(&format!("(docs/{page}.md)")),
            "README.md links docs/{page}.md"
        );
    }
    assert!(
        readme.contains("(BENCHMARKS.md)"),
        "README.md links BENCHMARKS.md"
    );
}
