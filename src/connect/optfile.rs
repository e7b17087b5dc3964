//! Reader for MySQL/MariaDB option files (`my.cnf`), following the documented
//! option-file syntax: `[group]` headers, `name=value` lines, comments, quoting
//! and escapes, `!include` / `!includedir`, and the permission rules the real
//! client applies (world-writable files are ignored).
//!
//! This module only turns files into normalized `key -> value` pairs. It must
//! not interpret option meanings, connect anywhere, or print anything; it must
//! never put an option *value* (passwords!) into an error message or warning,
//! and it must never panic on arbitrary input.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// MySQL refuses to follow `!include` chains deeper than this.
const MAX_INCLUDE_DEPTH: usize = 10;

/// One `key=value` from an option file, with where it came from (for error messages and the password-permission warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionValue {
    pub value: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

/// Options gathered from files: normalized key (lowercase, '-' -> '_', `loose_` prefix stripped) -> last value seen.
#[derive(Debug, Default, Clone)]
pub struct OptionSet {
    pub values: BTreeMap<String, OptionValue>,
    pub warnings: Vec<String>,
}

/// A problem in an option file. `line` is 1-based; 0 means the whole file
/// (e.g. it could not be read).
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), at_line(*line))]
pub struct OptFileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// `:12` for line 12; nothing for the whole file (line 0).
fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl OptionSet {
    /// Read one file, merging the given groups (e.g. ["client", "conncheck"]) into self; later values win.
    /// `required`: true for --defaults-file/--defaults-extra-file (missing file = error), false for the default search list (missing = silently skipped).
    ///
    /// On error nothing from this file (or its includes) is merged.
    pub fn read_file(
        &mut self,
        path: &Path,
        groups: &[&str],
        required: bool,
    ) -> Result<(), OptFileError> {
        let mut reader = Reader::new(groups);
        reader.read_path(path, Origin::Top { required }, 0)?;
        reader.commit(self);
        Ok(())
    }

    /// Look up an option; `key` is normalized like the file keys
    /// (so `get("ssl-ca")`, `get("SSL_CA")` and `get("loose-ssl-ca")` agree).
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.values.get(&normalize_key(key))
    }
}

/// Parse text (for tests / fuzzing) as if it came from `path`; includes are resolved relative to the filesystem.
///
/// No permission checks are made for `text` itself (it did not come from
/// disk), but they are for included files. On error nothing is merged.
pub fn parse_str(
    text: &str,
    path: &Path,
    groups: &[&str],
    into: &mut OptionSet,
) -> Result<(), OptFileError> {
    let mut reader = Reader::new(groups);
    reader.stack.push(canonical(path));
    reader.parse_text(text, path, 0)?;
    reader.commit(into);
    Ok(())
}

/// The default search list, in order: /etc/my.cnf, /etc/mysql/my.cnf, $HOME/.my.cnf (given home dir).
pub fn default_files(home: Option<&Path>) -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("/etc/my.cnf"),
        PathBuf::from("/etc/mysql/my.cnf"),
    ];
    if let Some(home) = home {
        files.push(home.join(".my.cnf"));
    }
    files
}

/// Lowercase, `-` -> `_`, strip one `loose_` prefix.
fn normalize_key(key: &str) -> String {
    let key = key.trim().to_lowercase().replace('-', "_");
    match key.strip_prefix("loose_") {
        Some(rest) => rest.to_string(),
        None => key,
    }
}

/// Keys whose values are secrets (MySQL 8 adds password1..3 for multi-factor auth).
fn is_password_key(key: &str) -> bool {
    matches!(key, "password" | "password1" | "password2" | "password3")
}

/// Used for include-cycle detection; falls back to the given path when the
/// file does not exist (e.g. the virtual path passed to `parse_str`).
fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How a file came to be read; decides how a failure to open it is reported.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Top { required: bool },
    Include { file: &'a Path, line: usize },
}

/// Accumulates entries and warnings for one top-level read so that a failure
/// anywhere leaves the caller's `OptionSet` untouched.
struct Reader {
    groups: Vec<String>,
    /// Canonical paths of the files currently being read (the include chain).
    stack: Vec<PathBuf>,
    entries: Vec<(String, OptionValue)>,
    warnings: Vec<String>,
}

impl Reader {
    fn new(groups: &[&str]) -> Self {
        Reader {
            groups: groups.iter().map(|g| g.trim().to_lowercase()).collect(),
            stack: Vec::new(),
            entries: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn commit(self, into: &mut OptionSet) {
        for (key, value) in self.entries {
            into.values.insert(key, value);
        }
        into.warnings.extend(self.warnings);
    }

    fn wants(&self, group: &str) -> bool {
        let group = group.to_lowercase();
        self.groups.contains(&group)
    }

    fn open_failed(
        &mut self,
        origin: Origin<'_>,
        path: &Path,
        err: io::Error,
    ) -> Result<(), OptFileError> {
        match origin {
            // The default search list is speculative: absent files are normal.
            Origin::Top { required: false } if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Origin::Top { required: false } => {
                self.warnings.push(format!(
                    "warning: cannot read {}: {err}; skipped",
                    path.display()
                ));
                Ok(())
            }
            Origin::Top { required: true } => Err(OptFileError {
                file: path.to_path_buf(),
                line: 0,
                message: format!("cannot read option file: {err}"),
            }),
            Origin::Include { file, line } => Err(OptFileError {
                file: file.to_path_buf(),
                line,
                message: format!("cannot read included file '{}': {err}", path.display()),
            }),
        }
    }

    fn read_path(
        &mut self,
        path: &Path,
        origin: Origin<'_>,
        depth: usize,
    ) -> Result<(), OptFileError> {
        let canon = canonical(path);
        if let Origin::Include { file, line } = origin {
            let at = |message: String| OptFileError {
                file: file.to_path_buf(),
                line,
                message,
            };
            if depth > MAX_INCLUDE_DEPTH {
                return Err(at(format!(
                    "includes nested too deeply (more than {MAX_INCLUDE_DEPTH} levels) at '{}'",
                    path.display()
                )));
            }
            if self.stack.contains(&canon) {
                return Err(at(format!(
                    "include cycle: '{}' is already being read",
                    path.display()
                )));
            }
        }

        let mut file = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) => return self.open_failed(origin, path, e),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return self.open_failed(origin, path, e),
        };
        if meta.is_dir() {
            let e = io::Error::other("is a directory");
            return self.open_failed(origin, path, e);
        }
        // As in mysql, only a regular file counts as world-writable (not /dev/stdin or a pipe).
        let mode = if meta.is_file() {
            file_mode(&meta)
        } else {
            file_mode(&meta) & !0o002
        };
        if mode & 0o002 != 0 && matches!(origin, Origin::Top { required: true }) {
            // Named explicitly (--defaults-file, --defaults-extra-file): skipping it as mysql does
            // would silently reach whatever server the other files or defaults name.
            return Err(OptFileError {
                file: path.to_path_buf(),
                line: 0,
                message: format!(
                    "is world-writable, so its options cannot be trusted and it was not read (fix with: chmod o-w {})",
                    path.display()
                ),
            });
        }
        if mode & 0o002 != 0 {
            // Anyone could have planted options here; MySQL skips such files.
            self.warnings.push(format!(
                "warning: World-writable config file '{}' is ignored",
                path.display()
            ));
            return Ok(());
        }
        let bytes = match crate::input::read_stream(&mut file, crate::input::SMALL_FILE_MAX) {
            Ok(b) => b,
            Err(e) => return self.open_failed(origin, path, e),
        };
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                self.warnings.push(format!(
                    "warning: {} is not valid UTF-8; invalid bytes were replaced with U+FFFD",
                    path.display()
                ));
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };

        self.stack.push(canon);
        let result = self.parse_text(&text, path, depth);
        self.stack.pop();
        let sets_password = result?;

        if sets_password && mode & 0o004 != 0 {
            self.warnings.push(format!(
                "warning: {0} contains a password and is readable by other users (chmod 600 {0})",
                path.display()
            ));
        }
        Ok(())
    }

    /// Parse one file's text; returns whether it set a non-empty password in
    /// a requested group.
    fn parse_text(&mut self, text: &str, path: &Path, depth: usize) -> Result<bool, OptFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // None until the first [group] header; then whether that group is wanted.
        let mut keep: Option<bool> = None;
        let mut sets_password = false;

        for (idx, raw) in text.lines().enumerate() {
            let lineno = idx + 1;
            let err = |message: String| OptFileError {
                file: path.to_path_buf(),
                line: lineno,
                message,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            // Directives are honoured wherever they appear, like MySQL does.
            if let Some(directive) = line.strip_prefix('!') {
                self.directive(directive, path, lineno, depth)?;
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some((name, after)) = rest.split_once(']') else {
                    return Err(err("malformed group header (missing ']')".into()));
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(err("empty group name".into()));
                }
                let after = after.trim();
                if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                    return Err(err(format!("unexpected text after group header [{name}]")));
                }
                keep = Some(self.wants(name));
                continue;
            }
            match keep {
                None => return Err(err("option outside of any [group]".into())),
                // Lines for other programs (e.g. [mysqld]) are not our business.
                Some(false) => continue,
                Some(true) => {}
            }

            // The name ends at the first '=' (value follows) or '#' (comment).
            let split = line.find(['=', '#']);
            let (name, value_text) = match split {
                Some(i) if line.as_bytes()[i] == b'=' => (line[..i].trim(), Some(&line[i + 1..])),
                Some(i) => (line[..i].trim(), None),
                None => (line, None),
            };
            if name.is_empty() {
                return Err(err("option with empty name".into()));
            }
            if name.contains(char::is_whitespace) {
                // Don't echo the name: `password hunter2` would leak the secret.
                return Err(err(
                    "invalid option name (contains whitespace; missing '='?)".into(),
                ));
            }
            let key = normalize_key(name);
            if key.is_empty() {
                return Err(err("option with empty name".into()));
            }
            let value = match value_text {
                None => None,
                Some(v) => {
                    Some(parse_value(v).map_err(|m| err(format!("{m} in value of '{key}'")))?)
                }
            };
            if is_password_key(&key) && value.as_deref().is_some_and(|v| !v.is_empty()) {
                sets_password = true;
            }
            self.entries.push((
                key,
                OptionValue {
                    value,
                    file: path.to_path_buf(),
                    line: lineno,
                },
            ));
        }
        Ok(sets_password)
    }

    fn directive(
        &mut self,
        directive: &str,
        path: &Path,
        line: usize,
        depth: usize,
    ) -> Result<(), OptFileError> {
        let err = |message: String| OptFileError {
            file: path.to_path_buf(),
            line,
            message,
        };
        let (name, arg) = match directive.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (directive, ""),
        };
        let origin = Origin::Include { file: path, line };
        match name {
            "include" => {
                if arg.is_empty() {
                    return Err(err("!include needs a file name".into()));
                }
                self.read_path(Path::new(arg), origin, depth + 1)
            }
            "includedir" => {
                if arg.is_empty() {
                    return Err(err("!includedir needs a directory name".into()));
                }
                let dir = fs::read_dir(arg)
                    .map_err(|e| err(format!("cannot read included directory '{arg}': {e}")))?;
                // On Unix MySQL only reads *.cnf from include directories.
                let mut files: Vec<PathBuf> = dir
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.path())
                    .filter(|p| {
                        p.is_file()
                            && p.file_name()
                                .is_some_and(|n| n.to_string_lossy().ends_with(".cnf"))
                    })
                    .collect();
                files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
                for file in files {
                    self.read_path(&file, origin, depth + 1)?;
                }
                Ok(())
            }
            _ => Err(err(
                "unknown directive (expected !include or !includedir)".into()
            )),
        }
    }
}

#[cfg(unix)]
fn file_mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(not(unix))]
fn file_mode(_meta: &fs::Metadata) -> u32 {
    // No POSIX "other" bits to check elsewhere.
    0
}

/// Parse the text after `=`: optional quotes, trailing `#` comment, escapes.
/// Errors never contain the value itself.
fn parse_value(text: &str) -> Result<String, String> {
    let text = text.trim();
    let first = text.chars().next();
    if let Some(q @ ('"' | '\'')) = first {
        let body = &text[1..];
        let mut escaped = false;
        let mut close = None;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                close = Some(i);
                break;
            }
        }
        let Some(close) = close else {
            return Err("unterminated quote".into());
        };
        let after = body[close + 1..].trim();
        if !(after.is_empty() || after.starts_with('#')) {
            return Err("unexpected text after closing quote".into());
        }
        Ok(unescape(&body[..close]))
    } else {
        let value = match text.find('#') {
            Some(i) => text[..i].trim_end(),
            None => text,
        };
        Ok(unescape(value))
    }
}

/// MySQL's escapes; unknown escapes (e.g. `\x`) and a trailing `\` are kept as-is.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SECRET: &str = "Zq9SuperSecretPw";
    const GROUPS: &[&str] = &["client", "conncheck"];

    fn parse(text: &str) -> Result<OptionSet, OptFileError> {
        let mut set = OptionSet::default();
        parse_str(text, Path::new("/virtual/my.cnf"), GROUPS, &mut set)?;
        Ok(set)
    }

    fn val(set: &OptionSet, key: &str) -> Option<String> {
        set.get(key).and_then(|v| v.value.clone())
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        set_mode(&path, 0o600);
        path
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &Path, _mode: u32) {}

    fn assert_no_secret(set_or_err: &str) {
        assert!(
            !set_or_err.contains(SECRET) && !set_or_err.contains("SuperSecret"),
            "secret leaked: {set_or_err}"
        );
    }

    // ---- basic syntax ----

    #[test]
    fn simple_key_values() {
        let set = parse("[client]\nuser=app\nhost = db1\nport= 3306\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("app"));
        assert_eq!(val(&set, "host").as_deref(), Some("db1"));
        assert_eq!(val(&set, "port").as_deref(), Some("3306"));
        let host = set.get("host").unwrap();
        assert_eq!(host.line, 3);
        assert_eq!(host.file, Path::new("/virtual/my.cnf"));
    }

    #[test]
    fn flags_without_value() {
        let set = parse("[client]\npassword\nskip-ssl\ncompress # trailing\n").unwrap();
        assert_eq!(set.get("password").unwrap().value, None);
        assert_eq!(set.get("skip_ssl").unwrap().value, None);
        assert_eq!(set.get("compress").unwrap().value, None);
    }

    #[test]
    fn empty_value_is_some_empty() {
        let set = parse("[client]\npassword=\n").unwrap();
        assert_eq!(val(&set, "password").as_deref(), Some(""));
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# leading comment\n; another\n\n[client]\n  # indented\n\t; indented\nuser=app # trailing\nhost=db1#nospace\n\n";
        let set = parse(text).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("app"));
        assert_eq!(val(&set, "host").as_deref(), Some("db1"));
        assert_eq!(set.values.len(), 2);
    }

    #[test]
    fn semicolon_after_value_is_not_a_comment() {
        let set = parse("[client]\ninit-command=SET a=1; SET b=2\n").unwrap();
        assert_eq!(
            val(&set, "init_command").as_deref(),
            Some("SET a=1; SET b=2")
        );
    }

    #[test]
    fn whitespace_trimmed() {
        let set = parse("   [ client ]   \n   user   =   app   \r\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("app"));
    }

    #[test]
    fn crlf_and_bom() {
        let set = parse("\u{feff}[client]\r\nuser=app\r\nhost=h\r\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("app"));
        assert_eq!(val(&set, "host").as_deref(), Some("h"));
    }

    #[test]
    fn value_may_contain_equals() {
        let set = parse("[client]\ninit_command=SET x=1\n").unwrap();
        assert_eq!(val(&set, "init_command").as_deref(), Some("SET x=1"));
    }

    // ---- groups ----

    #[test]
    fn only_requested_groups_kept() {
        let text = "[mysqld]\nport=1\n[client]\nport=2\n[mysql]\nuser=x\n[conncheck]\nhost=h\n";
        let set = parse(text).unwrap();
        assert_eq!(val(&set, "port").as_deref(), Some("2"));
        assert_eq!(val(&set, "host").as_deref(), Some("h"));
        assert!(set.get("user").is_none());
    }

    #[test]
    fn group_names_case_insensitive_and_trimmed() {
        let set = parse("[  CLIENT ]\nuser=a\n[ConnCheck]\nhost=b\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("a"));
        assert_eq!(val(&set, "host").as_deref(), Some("b"));
        let mut set = OptionSet::default();
        parse_str(
            "[client]\nuser=a\n",
            Path::new("x"),
            &[" Client "],
            &mut set,
        )
        .unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("a"));
    }

    #[test]
    fn group_header_with_trailing_comment() {
        let set = parse("[client] # the client group\nuser=a\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("a"));
    }

    #[test]
    fn option_before_group_is_error() {
        let e = parse("# c\nuser=app\n[client]\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("outside of any [group]"), "{e}");
        assert_eq!(
            e.to_string(),
            "/virtual/my.cnf:2: option outside of any [group]"
        );
    }

    #[test]
    fn malformed_lines_in_other_groups_are_ignored() {
        // MySQL does not parse options of groups it does not read.
        let set = parse("[mysqld]\nfoo=\"unterminated\n[client]\nuser=a\n").unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("a"));
    }

    #[test]
    fn malformed_group_headers() {
        for (text, needle) in [
            ("[client\nuser=a\n", "missing ']'"),
            ("[]\n", "empty group name"),
            ("[  ]\n", "empty group name"),
            ("[client] junk\n", "unexpected text after group header"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, 1, "{text}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn malformed_option_lines() {
        for (text, needle) in [
            ("[client]\n=value\n", "empty name"),
            ("[client]\n  = value\n", "empty name"),
            ("[client]\nloose-=1\n", "empty name"),
            ("[client]\nhost localhost\n", "whitespace"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, 2, "{text}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    // ---- names ----

    #[test]
    fn names_normalized() {
        let set = parse("[client]\nSSL-CA=/ca.pem\nloose-default-character-set=utf8mb4\nLoose_Connect_Timeout=5\n").unwrap();
        assert_eq!(val(&set, "ssl_ca").as_deref(), Some("/ca.pem"));
        assert_eq!(val(&set, "ssl-ca").as_deref(), Some("/ca.pem"));
        assert_eq!(val(&set, "SSL_CA").as_deref(), Some("/ca.pem"));
        assert_eq!(
            val(&set, "default_character_set").as_deref(),
            Some("utf8mb4")
        );
        assert_eq!(val(&set, "loose-connect-timeout").as_deref(), Some("5"));
        assert!(set.values.contains_key("connect_timeout"));
        assert!(set.values.keys().all(|k| !k.contains('-')));
    }

    #[test]
    fn dash_and_underscore_same_key_later_wins() {
        let set = parse("[client]\nssl-mode=REQUIRED\nssl_mode=DISABLED\n").unwrap();
        assert_eq!(val(&set, "ssl-mode").as_deref(), Some("DISABLED"));
        assert_eq!(set.get("ssl_mode").unwrap().line, 3);
    }

    // ---- quoting and escapes ----

    #[test]
    fn quoted_values() {
        let text = "[client]\na=\"hello world\"\nb='single # not comment'\nc=\"x\" # comment\nd=''\ne=\"it's\"\nf='say \"hi\"'\n";
        let set = parse(text).unwrap();
        assert_eq!(val(&set, "a").as_deref(), Some("hello world"));
        assert_eq!(val(&set, "b").as_deref(), Some("single # not comment"));
        assert_eq!(val(&set, "c").as_deref(), Some("x"));
        assert_eq!(val(&set, "d").as_deref(), Some(""));
        assert_eq!(val(&set, "e").as_deref(), Some("it's"));
        assert_eq!(val(&set, "f").as_deref(), Some("say \"hi\""));
    }

    #[test]
    fn quoted_value_preserves_inner_whitespace() {
        let set = parse("[client]\np=\"  padded  \"\n").unwrap();
        assert_eq!(val(&set, "p").as_deref(), Some("  padded  "));
    }

    #[test]
    fn escapes_in_quotes() {
        let set = parse(
            r#"[client]
a="tab\there"
b="nl\ncr\rbs\b"
c="back\\slash"
d="sp\sace"
e="q\"uote"
f='ap\'os'
g="unknown\xkeep"
"#,
        )
        .unwrap();
        assert_eq!(val(&set, "a").as_deref(), Some("tab\there"));
        assert_eq!(val(&set, "b").as_deref(), Some("nl\ncr\rbs\u{8}"));
        assert_eq!(val(&set, "c").as_deref(), Some("back\\slash"));
        assert_eq!(val(&set, "d").as_deref(), Some("sp ace"));
        assert_eq!(val(&set, "e").as_deref(), Some("q\"uote"));
        assert_eq!(val(&set, "f").as_deref(), Some("ap'os"));
        assert_eq!(val(&set, "g").as_deref(), Some("unknown\\xkeep"));
    }

    #[test]
    fn escapes_unquoted() {
        let set = parse("[client]\na=C:\\\\dir\\sname\nb=trail\\\nc=x\\\"y\n").unwrap();
        assert_eq!(val(&set, "a").as_deref(), Some("C:\\dir name"));
        assert_eq!(val(&set, "b").as_deref(), Some("trail\\"));
        assert_eq!(val(&set, "c").as_deref(), Some("x\"y"));
    }

    #[test]
    fn escaped_backslash_before_closing_quote() {
        let set = parse("[client]\na=\"dir\\\\\" # c\n").unwrap();
        assert_eq!(val(&set, "a").as_deref(), Some("dir\\"));
    }

    #[test]
    fn unterminated_quote_is_error() {
        for text in [
            "[client]\n\nuser=\"abc\n",
            "[client]\n\nuser='abc\n",
            "[client]\n\nuser=\"abc\\\"\n",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, 3, "{text}");
            assert_eq!(e.file, Path::new("/virtual/my.cnf"));
            assert!(e.message.contains("unterminated quote"), "{e}");
            assert!(e.message.contains("'user'"), "{e}");
        }
    }

    #[test]
    fn text_after_closing_quote_is_error() {
        let e = parse("[client]\nuser=\"a\" b\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("after closing quote"), "{e}");
    }

    // ---- precedence ----

    #[test]
    fn later_line_wins() {
        let set = parse("[client]\nuser=a\n[conncheck]\nuser=b\n[client]\nuser=c\n").unwrap();
        let v = set.get("user").unwrap();
        assert_eq!(v.value.as_deref(), Some("c"));
        assert_eq!(v.line, 6);
    }

    #[test]
    fn later_file_wins_and_earlier_keys_survive() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.cnf", "[client]\nuser=a\nhost=ha\n");
        let b = write(dir.path(), "b.cnf", "[client]\nuser=b\n");
        let mut set = OptionSet::default();
        set.read_file(&a, GROUPS, true).unwrap();
        set.read_file(&b, GROUPS, true).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("b"));
        assert_eq!(set.get("user").unwrap().file, b);
        assert_eq!(val(&set, "host").as_deref(), Some("ha"));
        assert_eq!(set.get("host").unwrap().file, a);
    }

    #[test]
    fn error_leaves_set_untouched() {
        let mut set = parse("[client]\nuser=orig\n").unwrap();
        let e = parse_str(
            "[client]\nuser=new\nhost=\"bad\n",
            Path::new("x.cnf"),
            GROUPS,
            &mut set,
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(val(&set, "user").as_deref(), Some("orig"));
        assert!(set.get("host").is_none());
    }

    // ---- files ----

    #[test]
    fn missing_file_required_vs_optional() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.cnf");
        let mut set = OptionSet::default();
        set.read_file(&missing, GROUPS, false).unwrap();
        assert!(set.values.is_empty());
        assert!(set.warnings.is_empty());
        let e = set.read_file(&missing, GROUPS, true).unwrap_err();
        assert_eq!(e.file, missing);
        assert_eq!(e.line, 0);
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read", missing.display()))
        );
    }

    #[test]
    fn directory_as_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = OptionSet::default();
        let e = set.read_file(dir.path(), GROUPS, true).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.message.contains("directory"), "{e}");
        set.read_file(dir.path(), GROUPS, false).unwrap();
        assert_eq!(set.warnings.len(), 1);
    }

    #[test]
    fn non_utf8_is_lossy_with_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.cnf");
        fs::write(&path, b"[client]\nuser=caf\xe9\nhost=h\n").unwrap();
        set_mode(&path, 0o600);
        let mut set = OptionSet::default();
        set.read_file(&path, GROUPS, true).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("caf\u{fffd}"));
        assert_eq!(val(&set, "host").as_deref(), Some("h"));
        assert_eq!(set.warnings.len(), 1);
        assert!(set.warnings[0].contains("UTF-8"), "{:?}", set.warnings);
    }

    #[test]
    fn default_files_order() {
        assert_eq!(
            default_files(Some(Path::new("/home/u"))),
            vec![
                PathBuf::from("/etc/my.cnf"),
                PathBuf::from("/etc/mysql/my.cnf"),
                PathBuf::from("/home/u/.my.cnf"),
            ]
        );
        assert_eq!(
            default_files(None),
            vec![
                PathBuf::from("/etc/my.cnf"),
                PathBuf::from("/etc/mysql/my.cnf")
            ]
        );
    }

    // ---- includes ----

    #[test]
    fn include_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "[client]\nhost=inc-host\nuser=inc\n");
        let main = write(
            dir.path(),
            "main.cnf",
            &format!(
                "[client]\nuser=before\n!include {}\nport=3307\n",
                inc.display()
            ),
        );
        let mut set = OptionSet::default();
        set.read_file(&main, GROUPS, true).unwrap();
        // Included lines are merged at the point of inclusion.
        assert_eq!(val(&set, "user").as_deref(), Some("inc"));
        assert_eq!(set.get("user").unwrap().file, inc);
        assert_eq!(set.get("user").unwrap().line, 3);
        assert_eq!(val(&set, "port").as_deref(), Some("3307"));
        assert_eq!(set.get("port").unwrap().file, main);
    }

    #[test]
    fn value_after_include_overrides_it() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "[client]\nuser=inc\n");
        let text = format!("[client]\n!include {}\nuser=after\n", inc.display());
        let mut set = OptionSet::default();
        parse_str(&text, &dir.path().join("main.cnf"), GROUPS, &mut set).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("after"));
    }

    #[test]
    fn include_before_any_group_and_group_state_is_per_file() {
        let dir = tempfile::tempdir().unwrap();
        // The included file has its own [group] state: it starts with none.
        let inc = write(dir.path(), "inc.cnf", "[mysqld]\nuser=server\n");
        let text = format!(
            "!include {}\n[client]\nuser=client\n!include {}\nhost=h\n",
            inc.display(),
            inc.display()
        );
        let set = parse(&text).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("client"));
        // Still in [client] after the include returns.
        assert_eq!(val(&set, "host").as_deref(), Some("h"));
    }

    #[test]
    fn included_file_without_group_is_error_in_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "\nuser=x\n");
        let text = format!("[client]\n!include {}\n", inc.display());
        let e = parse(&text).unwrap_err();
        assert_eq!(e.file, inc);
        assert_eq!(e.line, 2);
    }

    #[test]
    fn missing_include_names_includer() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.cnf");
        let main = write(
            dir.path(),
            "main.cnf",
            &format!("[client]\nuser=a\n\n!include {}\n", missing.display()),
        );
        let mut set = OptionSet::default();
        let e = set.read_file(&main, GROUPS, false).unwrap_err();
        assert_eq!(e.file, main);
        assert_eq!(e.line, 4);
        assert!(e.message.contains("gone.cnf"), "{e}");
        assert!(set.values.is_empty());
    }

    #[test]
    fn include_directive_errors() {
        for text in [
            "[client]\n!include\n",
            "[client]\n!include   \n",
            "[client]\n!includedir\n",
            "[client]\n!bogus x\n",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, 2, "{text}");
        }
    }

    #[test]
    fn error_in_included_file_names_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "[client]\nok=1\nbad=\"x\n");
        let main = write(
            dir.path(),
            "main.cnf",
            &format!("[client]\n!include {}\n", inc.display()),
        );
        let e = OptionSet::default()
            .read_file(&main, GROUPS, true)
            .unwrap_err();
        assert_eq!(e.file, inc);
        assert_eq!(e.line, 3);
    }

    #[test]
    fn includedir_reads_cnf_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf.d");
        fs::create_dir(&conf).unwrap();
        write(&conf, "20-b.cnf", "[client]\nuser=b\nhost=hb\n");
        write(&conf, "10-a.cnf", "[client]\nuser=a\nport=1\n");
        write(&conf, "30-c.cnf", "[mysqld]\nuser=server\n");
        write(&conf, "99-z.conf", "[client]\nuser=not-cnf\n");
        write(&conf, "50-x.cnf.bak", "[client]\nuser=backup\n");
        fs::create_dir(conf.join("sub.cnf")).unwrap();
        let text = format!("[client]\nuser=main\n!includedir {}\n", conf.display());
        let set = parse(&text).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("b"));
        assert_eq!(set.get("user").unwrap().file, conf.join("20-b.cnf"));
        assert_eq!(val(&set, "port").as_deref(), Some("1"));
        assert_eq!(val(&set, "host").as_deref(), Some("hb"));
    }

    #[test]
    fn missing_includedir_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[client]\n!includedir {}\n",
            dir.path().join("nope").display()
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("nope"), "{e}");
    }

    #[test]
    fn include_self_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("self.cnf");
        let p = write(
            dir.path(),
            "self.cnf",
            &format!("[client]\nuser=a\n!include {}\n", path.display()),
        );
        let e = OptionSet::default()
            .read_file(&p, GROUPS, true)
            .unwrap_err();
        assert_eq!(e.file, p);
        assert_eq!(e.line, 3);
        assert!(e.message.contains("cycle"), "{e}");
    }

    #[test]
    fn include_two_file_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.cnf");
        let b = dir.path().join("b.cnf");
        write(
            dir.path(),
            "a.cnf",
            &format!("[client]\n!include {}\n", b.display()),
        );
        write(
            dir.path(),
            "b.cnf",
            &format!("[client]\nx=1\n!include {}\n", a.display()),
        );
        let e = OptionSet::default()
            .read_file(&a, GROUPS, true)
            .unwrap_err();
        assert_eq!(e.file, b);
        assert_eq!(e.line, 3);
        assert!(e.message.contains("cycle"), "{e}");
    }

    #[test]
    fn includedir_containing_includer_is_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "main.cnf",
            &format!("[client]\n!includedir {}\n", dir.path().display()),
        );
        let e = OptionSet::default()
            .read_file(&main, GROUPS, true)
            .unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
    }

    #[test]
    fn same_file_included_twice_is_not_a_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "[client]\nport=1\n");
        let text = format!(
            "[client]\n!include {0}\nport=2\n!include {0}\n",
            inc.display()
        );
        let set = parse(&text).unwrap();
        assert_eq!(val(&set, "port").as_deref(), Some("1"));
    }

    #[test]
    fn include_depth_limit() {
        let dir = tempfile::tempdir().unwrap();
        // f0 -> f1 -> ... -> fN; each a distinct file, so no cycle.
        let make_chain = |n: usize| {
            for i in 0..n {
                let next = dir.path().join(format!("d{n}-f{}.cnf", i + 1));
                write(
                    dir.path(),
                    &format!("d{n}-f{i}.cnf"),
                    &format!("[client]\nlevel={i}\n!include {}\n", next.display()),
                );
            }
            write(
                dir.path(),
                &format!("d{n}-f{n}.cnf"),
                &format!("[client]\nlevel={n}\n"),
            );
            dir.path().join(format!("d{n}-f0.cnf"))
        };
        // 10 levels of nesting is allowed.
        let ok = make_chain(10);
        let mut set = OptionSet::default();
        set.read_file(&ok, GROUPS, true).unwrap();
        assert_eq!(val(&set, "level").as_deref(), Some("10"));
        // 11 is not.
        let deep = make_chain(11);
        let e = OptionSet::default()
            .read_file(&deep, GROUPS, true)
            .unwrap_err();
        assert!(e.message.contains("too deeply"), "{e}");
        assert_eq!(e.line, 3);
    }

    // ---- permissions and secrets ----

    #[cfg(unix)]
    #[test]
    fn password_in_world_readable_file_warns() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "my.cnf",
            &format!("[client]\npassword={SECRET}\n"),
        );
        set_mode(&p, 0o644);
        let mut set = OptionSet::default();
        set.read_file(&p, GROUPS, true).unwrap();
        assert_eq!(val(&set, "password").as_deref(), Some(SECRET));
        assert_eq!(
            set.warnings,
            vec![format!(
                "warning: {0} contains a password and is readable by other users (chmod 600 {0})",
                p.display()
            )]
        );
        for w in &set.warnings {
            assert_no_secret(w);
        }
    }

    #[cfg(unix)]
    #[test]
    fn no_warning_for_private_file_or_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let private = write(
            dir.path(),
            "a.cnf",
            &format!("[client]\npassword={SECRET}\n"),
        );
        set_mode(&private, 0o600);
        let public = write(dir.path(), "b.cnf", "[client]\nuser=a\npassword\n");
        set_mode(&public, 0o644);
        // A password in a group we don't read is not "set" by the file for us.
        let other = write(dir.path(), "c.cnf", "[mysqldump]\npassword=x\n");
        set_mode(&other, 0o644);
        let mut set = OptionSet::default();
        for p in [&private, &public, &other] {
            set.read_file(p, GROUPS, true).unwrap();
        }
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    }

    #[cfg(unix)]
    #[test]
    fn password_warning_names_included_file() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(
            dir.path(),
            "secret.cnf",
            &format!("[client]\npassword={SECRET}\n"),
        );
        set_mode(&inc, 0o604);
        let main = write(
            dir.path(),
            "main.cnf",
            &format!("!include {}\n", inc.display()),
        );
        let mut set = OptionSet::default();
        set.read_file(&main, GROUPS, true).unwrap();
        assert_eq!(set.warnings.len(), 1);
        assert!(set.warnings[0].contains("secret.cnf"));
        assert_no_secret(&set.warnings[0]);
    }

    #[cfg(unix)]
    #[test]
    fn world_writable_file_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o666, 0o602, 0o622] {
            let p = write(
                dir.path(),
                &format!("ww{mode:o}.cnf"),
                &format!("[client]\nuser=evil\npassword={SECRET}\n"),
            );
            set_mode(&p, mode);
            // Named explicitly (--defaults-file): an error, never a silent fall-back.
            let e = OptionSet::default()
                .read_file(&p, GROUPS, true)
                .unwrap_err();
            assert!(e.message.contains("chmod o-w"), "{e}");
            assert_no_secret(&e.to_string());
            // Found on the default search list: skipped with a warning, as mysql does.
            let mut set = OptionSet::default();
            set.read_file(&p, GROUPS, false).unwrap();
            assert!(set.values.is_empty());
            assert_eq!(
                set.warnings,
                vec![format!(
                    "warning: World-writable config file '{}' is ignored",
                    p.display()
                )]
            );
            assert_no_secret(&set.warnings[0]);
        }
    }

    #[cfg(unix)]
    #[test]
    fn world_writable_include_ignored_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let inc = write(dir.path(), "inc.cnf", "[client]\nuser=evil\n");
        set_mode(&inc, 0o666);
        let main = write(
            dir.path(),
            "main.cnf",
            &format!("[client]\nuser=good\n!include {}\n", inc.display()),
        );
        let mut set = OptionSet::default();
        set.read_file(&main, GROUPS, true).unwrap();
        assert_eq!(val(&set, "user").as_deref(), Some("good"));
        assert_eq!(set.warnings.len(), 1);
    }

    #[test]
    fn password_never_in_errors() {
        let cases = [
            format!("[client]\npassword=\"{SECRET}\n"),
            format!("[client]\npassword='{SECRET}\n"),
            format!("[client]\npassword=\"{SECRET}\" trailing{SECRET}\n"),
            format!("[client]\npassword {SECRET}\n"),
            format!("[client]\npassword\t{SECRET}=x\n"),
            format!("password={SECRET}\n"),
            format!("[client]\n!{SECRET}\n"),
            format!("[client]\n={SECRET}\n"),
            format!("[client{SECRET}\n"),
        ];
        for text in &cases {
            let e = parse(text).unwrap_err();
            assert_no_secret(&e.to_string());
            assert_no_secret(&format!("{e:?}"));
        }
    }

    #[test]
    fn error_display_format() {
        let e = OptFileError {
            file: PathBuf::from("/etc/my.cnf"),
            line: 7,
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "/etc/my.cnf:7: boom");
        let _: &dyn std::error::Error = &e;
    }

    // ---- fuzz-style ----

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "[",
        "]",
        "=",
        "\"",
        "'",
        "\\",
        "!include ",
        "!includedir ",
        "!",
        "#",
        ";",
        "\n",
        "\r\n",
        " ",
        "\t",
        "[client]",
        "[conncheck]",
        "[mysqld]",
        "password",
        "loose-",
        "-",
        "_",
        "%",
        "@",
        ":",
        "[::1]",
        "12345678901234567890",
        "\\n",
        "\\s",
        "\u{feff}",
        "é",
        "\u{fffd}",
        "user",
        "\0",
    ];

    fn garbage(rng: &mut XorShift) -> String {
        let mut bytes = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(3) == 0 {
                bytes.push(rng.next() as u8);
            } else {
                bytes.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes());
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn fuzz_parse_str_never_panics() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let path = Path::new("/nonexistent-conncheck-fuzz/my.cnf");
        let mut ok = 0;
        for _ in 0..20_000 {
            let text = garbage(&mut rng);
            let mut set = OptionSet::default();
            if parse_str(&text, path, GROUPS, &mut set).is_ok() {
                ok += 1;
            }
        }
        // Sanity: the generator produces both valid and invalid files.
        assert!(ok > 0 && ok < 20_000, "ok={ok}");
    }

    #[test]
    fn fuzz_files_on_disk_never_panic() {
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.cnf");
        for _ in 0..500 {
            let mut bytes = garbage(&mut rng).into_bytes();
            if rng.below(2) == 0 {
                bytes.push(0xff);
            }
            fs::write(&path, &bytes).unwrap();
            set_mode(&path, 0o600);
            let _ = OptionSet::default().read_file(&path, GROUPS, true);
        }
    }
}
