//! No file-level import cycle in `src/`: a newcomer can read the files in an order where each
//! uses only files already read.
//!
//! The checker reads every file of the library the way `rustc` finds them (`mod` declarations
//! from `src/lib.rs`, `#[path]` included) and takes an edge from a file to every file it names:
//! `use crate::…`, `use super::…`, `use self::…` and `use child::…` trees, and the same paths
//! written inline (`super::read::text(r, 0)`, `server_full::check`), also through a `use` alias
//! (`use crate::snapshot; snapshot::read::read(…)`). A path is resolved to the file that defines
//! its item: `crate::snapshot::Session` names `snapshot/mod.rs`, which only re-exports it
//! (`pub use model::*`), so the edge goes to `snapshot/model.rs`. Code under `#[cfg(test)]`
//! (unit tests) is left out, and so are comments and string literals. `src/main.rs` is a
//! separate crate (it uses `conncheck::…`) and is not read.
//!
//! A cycle fails the test with its files and, for each of its edges, the path that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library root, relative to the crate.
const LIB: &str = "src/lib.rs";

#[test]
fn no_file_level_import_cycle_in_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).ok();
    let graph = Graph::of(LIB, read);
    assert!(
        graph.files.len() > 50,
        "the walk found only {:?}",
        graph.files.keys().collect::<Vec<_>>()
    );
    assert!(
        graph.missing.is_empty(),
        "modules declared but not found: {:?}",
        graph.missing
    );
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "file-level import cycles in src/ (each file, then the paths that tie it to the others):\n{}",
        cycles.join("\n")
    );
}

/// The checker itself: it finds a cycle through re-exports, inline paths and aliases, and
/// ignores test code, comments and strings.
#[test]
fn the_checker_finds_cycles_and_only_cycles() {
    let files = |v: &[(&'static str, &'static str)]| {
        let m: BTreeMap<String, String> = v
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect();
        move |p: &str| m.get(p).cloned()
    };
    let lib = "pub mod a;\npub mod b;\npub mod c;\n";
    // a -> b (use), b -> c (inline through an alias), c -> a (through b's re-export of a's item).
    let cyclic = files(&[
        ("src/lib.rs", lib),
        ("src/a.rs", "use crate::b::Thing;\npub struct A;\n"),
        (
            "src/b.rs",
            "use crate::c as see;\npub use crate::a::A;\npub struct Thing;\nfn f() { see::g(); }\n",
        ),
        ("src/c.rs", "pub fn g() { let _ = crate::b::A; }\n"),
    ]);
    let g = Graph::of(LIB, cyclic);
    let c = g.cycles();
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].contains("src/a.rs") && c[0].contains("src/b.rs") && c[0].contains("src/c.rs"),
        "{}",
        c[0]
    );
    // The same files where c names a only in a comment, a string and a unit test: no cycle.
    let acyclic = files(&[
        ("src/lib.rs", lib),
        ("src/a.rs", "use crate::b::Thing;\npub struct A;\n"),
        (
            "src/b.rs",
            "use crate::c as see;\npub struct Thing;\nfn f() { see::g(); }\n",
        ),
        (
            "src/c.rs",
            "// crate::a::A\npub fn g() { let _ = \"crate::a::A\"; let _c = '\"'; }\n\
             #[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
    ]);
    assert!(Graph::of(LIB, acyclic).cycles().is_empty());
    // A parent module and a child naming each other through `super::` and a child path.
    let parent_child = files(&[
        ("src/lib.rs", "pub mod d;\n"),
        (
            "src/d/mod.rs",
            "pub mod e;\npub struct Finding;\nconst C: &[fn()] = &[e::check];\n",
        ),
        ("src/d/e.rs", "use super::Finding;\npub fn check() {}\n"),
    ]);
    assert_eq!(Graph::of(LIB, parent_child).cycles().len(), 1);
    // A `#[path]` module is read from its file; a module without a file is reported.
    let pathed = files(&[
        (
            "src/lib.rs",
            "#[path = \"other_name.rs\"]\nmod p;\nmod gone;\n",
        ),
        ("src/other_name.rs", "pub struct X;\n"),
    ]);
    let g = Graph::of(LIB, pathed);
    assert!(g.files.contains_key("src/other_name.rs"));
    assert_eq!(g.missing, ["src/gone.rs or src/gone/mod.rs"]);
}

/// One library file: its module path, its code without comments, strings and test items, and
/// its child modules (name -> file).
struct File {
    module: Vec<String>,
    code: Vec<Token>,
    children: BTreeMap<String, String>,
}

/// The files of the library and the edges between them (from -> to -> the path that made it).
struct Graph {
    files: BTreeMap<String, File>,
    modules: BTreeMap<Vec<String>, String>,
    edges: BTreeMap<String, BTreeMap<String, String>>,
    /// `mod x;` declarations whose file was not found (the files tried).
    missing: Vec<String>,
}

impl Graph {
    fn of(lib: &str, read: impl Fn(&str) -> Option<String>) -> Graph {
        let mut files = BTreeMap::new();
        let mut modules = BTreeMap::new();
        let mut missing = Vec::new();
        let mut todo = vec![(vec![lib.to_string()], Vec::<String>::new())];
        while let Some((candidates, module)) = todo.pop() {
            let Some((path, text)) = candidates
                .iter()
                .find_map(|c| read(c).map(|t| (c.clone(), t)))
            else {
                missing.push(candidates.join(" or "));
                continue;
            };
            let code = tokens(&without_test_items(&strip(&text)));
            let mut children = BTreeMap::new();
            for (name, candidates) in child_files(&path, &code, &path_attributes(&text)) {
                let mut m = module.clone();
                m.push(name.clone());
                todo.push((candidates.clone(), m));
                // The first candidate that exists is the child's file; resolved when popped.
                if let Some(found) = candidates.iter().find(|c| read(c).is_some()) {
                    children.insert(name, found.clone());
                }
            }
            modules.insert(module.clone(), path.clone());
            files.insert(
                path,
                File {
                    module,
                    code,
                    children,
                },
            );
        }
        let mut g = Graph {
            files,
            modules,
            edges: BTreeMap::new(),
            missing,
        };
        let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (path, f) in &g.files {
            for (target, shown) in references(f) {
                if let Some(to) = g.resolve(&target, 0)
                    && to != *path
                {
                    edges
                        .entry(path.clone())
                        .or_default()
                        .entry(to)
                        .or_insert(shown);
                }
            }
        }
        g.edges = edges;
        g
    }

    /// The file that defines what an absolute path names (following `pub use` re-exports).
    fn resolve(&self, path: &[String], depth: usize) -> Option<String> {
        let (len, file) = (0..=path.len())
            .rev()
            .find_map(|n| self.modules.get(&path[..n]).map(|f| (n, f)))?;
        let Some(item) = path.get(len) else {
            return Some(file.clone());
        };
        let f = &self.files[file];
        if depth > 8 || defines(&f.code, item) {
            return Some(file.clone());
        }
        for (target, alias, public) in uses(f) {
            if !public {
                continue;
            }
            if alias.as_deref() == Some(item.as_str()) {
                return self.resolve(&target, depth + 1).or(Some(file.clone()));
            }
            if alias.is_none() {
                // A glob re-export: the item is the glob module's if it has it.
                let mut inner = target.clone();
                inner.push(item.clone());
                if let Some(g) = self.modules.get(&target)
                    && (defines(&self.files[g].code, item)
                        || uses(&self.files[g])
                            .iter()
                            .any(|(_, a, p)| *p && a.as_deref() == Some(item.as_str())))
                {
                    return self.resolve(&inner, depth + 1);
                }
            }
        }
        Some(file.clone())
    }

    /// Every strongly connected group of more than one file, described.
    fn cycles(&self) -> Vec<String> {
        let names: Vec<&String> = self.files.keys().collect();
        let at: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let adj: Vec<Vec<usize>> = names
            .iter()
            .map(|n| {
                self.edges
                    .get(*n)
                    .map(|m| m.keys().filter_map(|t| at.get(t).copied()).collect())
                    .unwrap_or_default()
            })
            .collect();
        sccs(&adj)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let set: BTreeSet<&String> = c.iter().map(|&i| names[i]).collect();
                let mut out = format!("cycle of {} files:", set.len());
                for from in &set {
                    for (to, shown) in self.edges.get(*from).into_iter().flatten() {
                        if set.contains(to) {
                            out.push_str(&format!("\n  {from} -> {to}  ({shown})"));
                        }
                    }
                }
                out
            })
            .collect()
    }
}

/// Tarjan's strongly connected components, iteratively.
fn sccs(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let (mut index, mut low, mut on) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut out, mut next) = (Vec::new(), Vec::new(), 0);
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on[v] = true;
            }
            if let Some(&w) = adj[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut c = Vec::new();
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    c.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(c);
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

/// The source without comments, string and character literals (each literal becomes `""`).
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        if c[i] == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (c[i] == 'r' || (c[i] == 'b' && at(i + 1) == 'r'))
            && !at(i.wrapping_sub(1)).is_alphanumeric()
            && matches!(at(i + 1 + usize::from(c[i] == 'b')), '"' | '#')
            && {
                let mut k = i + 1 + usize::from(c[i] == 'b');
                while at(k) == '#' {
                    k += 1;
                }
                at(k) == '"'
            }
        {
            // Raw string: r"…", r#"…"#, br"…".
            let mut k = i + 1 + usize::from(c[i] == 'b');
            let mut hashes = 0;
            while at(k) == '#' {
                hashes += 1;
                k += 1;
            }
            k += 1;
            while k < c.len() && !(c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#')) {
                k += 1;
            }
            i = k + 1 + hashes;
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' && (at(i + 1) == '\\' || (at(i + 2) == '\'' && at(i + 1) != '\'')) {
            // A character literal ('x', '\n', '\''), not a lifetime.
            i += if at(i + 1) == '\\' {
                let mut k = i + 2;
                while k < c.len() && c[k] != '\'' {
                    k += 1;
                }
                k + 1 - i
            } else {
                3
            };
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The code without the items under `#[cfg(test)]`.
fn without_test_items(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let b: Vec<char> = out[at..].chars().collect();
        let mut k = "#[cfg(test)]".len();
        let mut depth = 0i32;
        let mut end = b.len();
        while k < b.len() {
            match b[k] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                '{' if depth == 0 => {
                    let mut d = 0;
                    while k < b.len() {
                        match b[k] {
                            '{' => d += 1,
                            '}' => {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        k += 1;
                    }
                    end = k + 1;
                    break;
                }
                _ => {}
            }
            k += 1;
        }
        let bytes: usize = b[..end.min(b.len())].iter().map(|ch| ch.len_utf8()).sum();
        out.replace_range(at..at + bytes, " ");
    }
    out
}

fn tokens(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let mut word: String = c[start..i].iter().collect();
            // r#ident
            if word == "r" && c.get(i) == Some(&'#') {
                i += 1;
                let s = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                word = c[s..i].iter().collect();
            }
            out.push(Token::Ident(word));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Token::Path);
            i += 2;
        } else {
            if !ch.is_whitespace() {
                out.push(Token::Punct(ch));
            }
            i += 1;
        }
    }
    out
}

/// `#[path = "file.rs"] mod name;` in the raw source: name -> file (relative to the declaring
/// file's directory). Read before literals are stripped, since the path is one.
fn path_attributes(src: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[path = \"") {
        rest = &rest[at + "#[path = \"".len()..];
        let Some(end) = rest.find('"') else {
            break;
        };
        let file = rest[..end].to_string();
        let after = &rest[end..];
        if let Some(m) = after.find("mod ") {
            let name: String = after[m + 4..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name, file);
        }
    }
    out
}

/// The child modules a file declares (`mod name;`), each with the files it may be in: its
/// `#[path]`, else `name.rs` then `name/mod.rs` in the declaring module's directory.
fn child_files(
    path: &str,
    code: &[Token],
    path_attrs: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<String>> {
    let dir = Path::new(path).parent().unwrap_or(Path::new(""));
    let stem = Path::new(path).file_stem().unwrap_or_default();
    let own_dir: PathBuf = if path.ends_with("/lib.rs") || path.ends_with("/mod.rs") {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    let text = |p: PathBuf| p.to_string_lossy().into_owned();
    let mut out = BTreeMap::new();
    for (i, t) in code.iter().enumerate() {
        if t != &Token::Ident("mod".into()) {
            continue;
        }
        let (Some(name), Some(Token::Punct(';'))) = (ident(code.get(i + 1)), code.get(i + 2))
        else {
            continue;
        };
        let candidates = match path_attrs.get(name) {
            Some(f) => vec![text(dir.join(f))],
            None => vec![
                text(own_dir.join(format!("{name}.rs"))),
                text(own_dir.join(name).join("mod.rs")),
            ],
        };
        out.insert(name.to_string(), candidates);
    }
    out
}

/// Whether the code defines an item of this name.
fn defines(code: &[Token], item: &str) -> bool {
    const KINDS: &[&str] = &[
        "fn", "struct", "enum", "trait", "type", "const", "static", "mod", "union",
    ];
    code.windows(2).any(|w| {
        matches!(&w[0], Token::Ident(k) if KINDS.contains(&k.as_str()))
            && ident(Some(&w[1])) == Some(item)
    })
}

/// The file's `use` declarations as (absolute path, name brought in or None for a glob, pub).
fn uses(f: &File) -> Vec<(Vec<String>, Option<String>, bool)> {
    let mut out = Vec::new();
    let mut scope = Scope::new(&f.module);
    let code = &f.code;
    let mut i = 0;
    while i < code.len() {
        scope.step(code, i);
        if ident(code.get(i)) == Some("use") {
            let public = i > 0
                && (ident(code.get(i - 1)) == Some("pub")
                    || (code.get(i - 1) == Some(&Token::Punct(')'))
                        && code[..i].iter().rev().nth(3) == Some(&Token::Ident("pub".into()))));
            let mut trees = Vec::new();
            let end = use_tree(code, i + 1, &mut Vec::new(), &mut trees);
            for (path, alias) in trees {
                let child = |name: &str| {
                    f.children.contains_key(name).then(|| {
                        let mut m = scope.module.clone();
                        m.push(name.to_string());
                        m
                    })
                };
                if let Some(abs) = absolute(&path, &scope.module, child) {
                    out.push((abs, alias, public));
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// Tracks the inline module (`mod name { … }`) the walk is in.
struct Scope {
    module: Vec<String>,
    depth: i32,
    /// Depth at which each open inline module's body started.
    open: Vec<i32>,
}

impl Scope {
    fn new(module: &[String]) -> Scope {
        Scope {
            module: module.to_vec(),
            depth: 0,
            open: Vec::new(),
        }
    }

    fn step(&mut self, code: &[Token], i: usize) {
        match &code[i] {
            Token::Punct('{') => {
                self.depth += 1;
                if i >= 2
                    && ident(code.get(i - 2)) == Some("mod")
                    && let Some(name) = ident(code.get(i - 1))
                {
                    self.module.push(name.to_string());
                    self.open.push(self.depth);
                }
            }
            Token::Punct('}') => {
                if self.open.last() == Some(&self.depth) {
                    self.open.pop();
                    self.module.pop();
                }
                self.depth -= 1;
            }
            _ => {}
        }
    }
}

/// Parse a use tree from `i`; push each leaf as (relative path, name or None for a glob).
/// Returns the index after the tree's end (`;`, `,` or `}` left for the caller).
fn use_tree(
    code: &[Token],
    mut i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let base = prefix.len();
    if code.get(i) == Some(&Token::Path) {
        i += 1;
    }
    loop {
        match code.get(i) {
            Some(Token::Ident(s)) => {
                let s = s.clone();
                i += 1;
                if code.get(i) == Some(&Token::Path) {
                    prefix.push(s);
                    i += 1;
                    continue;
                }
                let mut name = s.clone();
                if ident(code.get(i)) == Some("as") {
                    name = ident(code.get(i + 1)).unwrap_or("_").to_string();
                    i += 2;
                }
                if s == "self" {
                    let last = prefix.last().cloned().unwrap_or_default();
                    let n = if name == "self" { last } else { name };
                    out.push((prefix.clone(), Some(n)));
                } else {
                    let mut p = prefix.clone();
                    p.push(s);
                    out.push((p, Some(name)));
                }
                break;
            }
            Some(Token::Punct('*')) => {
                out.push((prefix.clone(), None));
                i += 1;
                break;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match code.get(i) {
                        Some(Token::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Token::Punct(',')) => i += 1,
                        None => break,
                        _ => i = use_tree(code, i, prefix, out),
                    }
                }
                break;
            }
            _ => break,
        }
    }
    prefix.truncate(base);
    while let Some(t) = code.get(i) {
        if matches!(t, Token::Punct(';')) {
            return i + 1;
        }
        if matches!(t, Token::Punct(',' | '}')) {
            return i;
        }
        i += 1;
    }
    i
}

/// A path made absolute from the module it is written in: `crate`, `self` and `super` paths,
/// and paths whose first name `lookup` knows (a child module, a `use` alias). None for the rest
/// (other crates, local names).
fn absolute(
    path: &[String],
    module: &[String],
    lookup: impl Fn(&str) -> Option<Vec<String>>,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut rest = &path[1..];
    let mut abs: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut m = module.to_vec();
            m.pop();
            while rest.first().map(String::as_str) == Some("super") {
                m.pop();
                rest = &rest[1..];
            }
            m
        }
        name => lookup(name)?,
    };
    abs.extend(rest.iter().cloned());
    Some(abs)
}

/// Every path the file names: its `use` trees and inline paths, as (absolute path, as written).
fn references(f: &File) -> Vec<(Vec<String>, String)> {
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for (abs, alias, _) in uses(f) {
        out.push((abs.clone(), format!("use crate::{}", abs.join("::"))));
        if let Some(a) = alias {
            aliases.insert(a, abs);
        }
    }
    let code = &f.code;
    let mut scope = Scope::new(&f.module);
    let mut i = 0;
    while i < code.len() {
        scope.step(code, i);
        if ident(code.get(i)) == Some("use") {
            // Already read by `uses`: skip to the end of the declaration.
            while i < code.len() && code[i] != Token::Punct(';') {
                i += 1;
            }
            i += 1;
            continue;
        }
        let starts = ident(code.get(i)).is_some()
            && code.get(i + 1) == Some(&Token::Path)
            && (i == 0 || code[i - 1] != Token::Path);
        if !starts {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut k = i;
        while let Some(s) = ident(code.get(k)) {
            path.push(s.to_string());
            if code.get(k + 1) != Some(&Token::Path) {
                break;
            }
            k += 2;
        }
        let lookup = |name: &str| {
            aliases.get(name).cloned().or_else(|| {
                f.children.contains_key(name).then(|| {
                    let mut m = scope.module.clone();
                    m.push(name.to_string());
                    m
                })
            })
        };
        if let Some(abs) = absolute(&path, &scope.module, lookup) {
            out.push((abs, path.join("::")));
        }
        i = k + 1;
    }
    out
}
