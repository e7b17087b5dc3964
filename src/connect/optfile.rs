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

/// MySQL refuses to follow `!include` chains deeper than this (mysys/my_default.cc; see
/// docs/file-limits.md).
const MAX_INCLUDE_DEPTH: usize = 10;
/// At most this many files are read for one top-level file, includes counted: a chain that is
/// no cycle can still fan out (each file including the next twice reads 2^10 files).
pub const MAX_FILES: usize = 100;

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
#[error("{}{}: {message}", crate::text::path(file), at_line(*line))]
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
        reader.explicit = required;
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
    /// The top file was named explicitly (`--defaults-file`, `--defaults-extra-file`): a file it
    /// includes that cannot be trusted is an error, not a warning.
    explicit: bool,
    /// Files opened so far, the top one included (at most [`MAX_FILES`]).
    files: usize,
}

impl Reader {
    fn new(groups: &[&str]) -> Self {
        Reader {
            groups: groups.iter().map(|g| g.trim().to_lowercase()).collect(),
            stack: Vec::new(),
            entries: Vec::new(),
            warnings: Vec::new(),
            explicit: false,
            files: 0,
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
                    crate::text::path(path)
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
                message: format!(
                    "cannot read included file '{}': {err}",
                    crate::text::path(path)
                ),
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
                    crate::text::path(path)
                )));
            }
            if self.stack.contains(&canon) {
                return Err(at(format!(
                    "include cycle: '{}' is already being read",
                    crate::text::path(path)
                )));
            }
            if self.files >= MAX_FILES {
                return Err(at(format!(
                    "too many included files (more than {MAX_FILES} in all) at '{}'",
                    crate::text::path(path)
                )));
            }
        }
        self.files += 1;

        // A file named on the command line may be a pipe (`--defaults-file=<(...)`, /dev/stdin),
        // read once; an included file or one of the default search list must be a regular file,
        // so that a FIFO there never blocks the run.
        let opened = match origin {
            Origin::Top { required: true } => fs::File::open(path),
            _ => crate::input::open_regular(path),
        };
        let mut file = match opened {
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
        if mode & 0o002 != 0 && self.explicit {
            // Named explicitly (--defaults-file, --defaults-extra-file), or included from such a
            // file: skipping it as mysql does would silently reach whatever server the other
            // files or defaults name.
            let message = format!(
                "is world-writable, so its options cannot be trusted and it was not read (fix with: chmod o-w {})",
                crate::text::path(path)
            );
            return Err(match origin {
                Origin::Top { .. } => OptFileError {
                    file: path.to_path_buf(),
                    line: 0,
                    message,
                },
                Origin::Include { file, line } => OptFileError {
                    file: file.to_path_buf(),
                    line,
                    message: format!("included file '{}' {message}", crate::text::path(path)),
                },
            });
        }
        if mode & 0o002 != 0 {
            // Anyone could have planted options here; MySQL skips such files.
            self.warnings.push(format!(
                "warning: World-writable config file '{}' is ignored",
                crate::text::path(path)
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
                    crate::text::path(path)
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
                crate::text::path(path)
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
                let shown = crate::text::escape(arg);
                let dir = fs::read_dir(arg)
                    .map_err(|e| err(format!("cannot read included directory '{shown}': {e}")))?;
                // On Unix MySQL only reads *.cnf from include directories. Never more than the
                // files still allowed are collected (a folder may hold millions of entries).
                let room = MAX_FILES.saturating_sub(self.files);
                let mut files: Vec<PathBuf> = Vec::new();
                for p in dir.filter_map(|entry| entry.ok()).map(|entry| entry.path()) {
                    if p.is_file()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().ends_with(".cnf"))
                    {
                        if files.len() >= room {
                            return Err(err(format!(
                                "too many included files (more than {MAX_FILES} in all) in '{shown}'"
                            )));
                        }
                        files.push(p);
                    }
                }
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
#[path = "optfile_tests.rs"]
mod tests;
