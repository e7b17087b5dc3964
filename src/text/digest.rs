//! Statement digests: the shape of a query text with its values taken out, so that 40 sessions
//! running `SELECT … WHERE id = 17`, `… = 18`, … show as one line with a count of 40.
//!
//! What [`normalize`] does, in one pass: string, number, hex and bit literals become `?` (a sign
//! before a number goes with it); a parenthesised list of values (`IN (1, 2, 3)`, a `VALUES` row)
//! becomes `(...)`, and repeated rows (`VALUES (…), (…)`) become one; comments go (`-- `, `#`,
//! `/* */`; the body of a MySQL `/*! … */` version comment is kept, as the server runs it);
//! whitespace becomes single spaces between tokens, placed by one rule, so `a=1` and `a = 1`
//! are the same digest. Identifiers and keywords are kept as written (table names are
//! case-sensitive on most servers). It is close to, not the same as, the server's own
//! `performance_schema` digest, which not every server has.
//!
//! The text is hostile and may be huge: at most [`SCANNED`] bytes of it are read and at most
//! [`TOKENS`] tokens kept (an ellipsis says so), so a 1 MB statement costs as much as a 16 KiB
//! one and the result is short. Unterminated strings and comments end at the end of the text.
//! The result is not terminal-safe (an identifier may hold control characters): show it
//! through [`crate::text::snippet`].

/// Bytes of a statement read at most: two statements equal for this long share a digest (10,000
/// sessions with megabyte texts cost 160 MB of scanning, not 10 GB).
pub const SCANNED: usize = 16 * 1024;
/// Tokens kept at most; a longer statement ends in `…`.
pub const TOKENS: usize = 400;

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    /// An identifier, keyword or backtick-quoted name, as written.
    Word(&'a str),
    /// A literal value.
    Value,
    /// A list of values (`(...)`).
    List,
    Open,
    Close,
    Comma,
    /// Any other punctuation or operator run (`=`, `<=`, `.`, `@@`, `*`).
    Op(&'a str),
}

/// The digest of a statement text (see the module doc).
pub fn normalize(sql: &str) -> String {
    let mut end = sql.len().min(SCANNED);
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    let (tokens, cut) = tokenize(&sql[..end]);
    render(&tokens, cut || end < sql.len())
}

/// The tokens of `s` with lists collapsed, and whether [`TOKENS`] cut it short.
fn tokenize(s: &str) -> (Vec<Token<'_>>, bool) {
    let b = s.as_bytes();
    let mut out: Vec<Token<'_>> = Vec::new();
    // Indices in `out` of the open parentheses not closed yet.
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if out.len() >= TOKENS {
            return (out, true);
        }
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || *c < 0x20) =>
            {
                i = line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if b.get(i + 2) == Some(&b'!') {
                    // `/*!50001 body */`: the server runs the body; skip the marker and version,
                    // the closing `*/` is skipped below.
                    i += 3;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                }
            }
            b'*' if b.get(i + 1) == Some(&b'/') => i += 2,
            b'\'' | b'"' => {
                i = string_end(b, i);
                push_value(&mut out);
            }
            b'`' => {
                let e = backtick_end(b, i);
                out.push(Token::Word(&s[i..e]));
                i = e;
            }
            b'0'..=b'9' => {
                i = number_end(b, i);
                push_value(&mut out);
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !matches!(out.last(), Some(Token::Word(_) | Token::Close)) =>
            {
                i = number_end(b, i + 1);
                push_value(&mut out);
            }
            b'?' => {
                i += 1;
                push_value(&mut out);
            }
            b'(' => {
                open.push(out.len());
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                i += 1;
                match open.pop() {
                    Some(at) if is_value_list(&out[at + 1..]) && is_list_context(&out[..at]) => {
                        out.truncate(at);
                        // `VALUES (…), (…)`: one row stands for all.
                        if matches!(out.as_slice(), [.., Token::List, Token::Comma]) {
                            out.pop();
                        } else {
                            out.push(Token::List);
                        }
                    }
                    _ => out.push(Token::Close),
                }
            }
            b',' => {
                out.push(Token::Comma);
                i += 1;
            }
            c if is_word_byte(c) => {
                let mut e = i;
                while e < b.len() && is_word_byte(b[e]) {
                    e += 1;
                }
                let word = &s[i..e];
                // x'1F', b'01', N'text', _utf8mb4'text': one literal.
                if matches!(b.get(e), Some(b'\'')) && is_literal_prefix(word) {
                    i = string_end(b, e);
                    push_value(&mut out);
                } else {
                    out.push(Token::Word(word));
                    i = e;
                }
            }
            _ => {
                let mut e = i + 1;
                // A sign never continues a run: `a--1` is `a - -1`.
                while e < b.len()
                    && is_op_byte(b[e])
                    && !matches!(b[e], b'-' | b'+')
                    && !starts_comment(b, e)
                {
                    e += 1;
                }
                out.push(Token::Op(&s[i..e]));
                i = e;
            }
        }
    }
    (out, false)
}

/// A literal, with a sign that belongs to it (`= -5`, `(+1`) folded in.
fn push_value(out: &mut Vec<Token<'_>>) {
    if let [.., before, Token::Op("-" | "+")] = out.as_slice() {
        if !matches!(
            before,
            Token::Word(_) | Token::Value | Token::List | Token::Close
        ) {
            out.pop();
        }
    } else if let [Token::Op("-" | "+")] = out.as_slice() {
        out.pop();
    }
    out.push(Token::Value);
}

/// Whether a parenthesised list of values after `before` is a list to collapse: after `IN` or
/// `VALUES`, a row after another collapsed row, or a row inside a list. A function's arguments
/// (`SLEEP(5)`) stay `(?)`.
fn is_list_context(before: &[Token<'_>]) -> bool {
    match before {
        [.., Token::Word(w)] => ["in", "values", "value"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(w)),
        [.., Token::List, Token::Comma] | [.., Token::Open] => true,
        _ => false,
    }
}

/// Whether the tokens between a parenthesis pair are values only: `?, ?, (...)`.
fn is_value_list(inner: &[Token<'_>]) -> bool {
    !inner.is_empty()
        && inner.iter().enumerate().all(|(k, t)| {
            if k % 2 == 0 {
                matches!(t, Token::Value | Token::List)
            } else {
                *t == Token::Comma
            }
        })
        && inner.len() % 2 == 1
}

fn is_literal_prefix(word: &str) -> bool {
    matches!(word, "x" | "X" | "b" | "B" | "n" | "N") || word.starts_with('_')
}

/// Letters, digits, `_`, `$` and every byte of a non-ASCII character (names may be Unicode).
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_op_byte(c: u8) -> bool {
    matches!(
        c,
        b'<' | b'>'
            | b'='
            | b'!'
            | b':'
            | b'|'
            | b'&'
            | b'^'
            | b'~'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'@'
    )
}

fn starts_comment(b: &[u8], i: usize) -> bool {
    (b[i] == b'/' && b.get(i + 1) == Some(&b'*'))
        || (b[i] == b'*' && b.get(i + 1) == Some(&b'/'))
        || (b[i] == b'-' && b.get(i + 1) == Some(&b'-'))
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |p| i + p + 1)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The end of the quoted string starting at `i` (backslash escapes, doubled quotes).
fn string_end(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut k = i + 1;
    while k < b.len() {
        match b[k] {
            b'\\' => k += 2,
            c if c == q => {
                if b.get(k + 1) == Some(&q) {
                    k += 2;
                } else {
                    return k + 1;
                }
            }
            _ => k += 1,
        }
    }
    b.len()
}

fn backtick_end(b: &[u8], i: usize) -> usize {
    let mut k = i + 1;
    while k < b.len() {
        if b[k] == b'`' {
            if b.get(k + 1) == Some(&b'`') {
                k += 2;
            } else {
                return k + 1;
            }
        } else {
            k += 1;
        }
    }
    b.len()
}

/// The end of a number: digits, a fraction, an exponent with its sign, `0x1F`, `0b01`.
fn number_end(b: &[u8], i: usize) -> usize {
    let mut k = i;
    while k < b.len() {
        let c = b[k];
        let exponent_sign = (c == b'+' || c == b'-') && matches!(b[k - 1], b'e' | b'E');
        if !(c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign) {
            break;
        }
        k += 1;
    }
    k
}

/// Keywords after which a `(` keeps its space (`IN (...)`, `VALUES (...)`): after any other word
/// it is a call (`COUNT(*)`).
const SPACED_BEFORE_PAREN: &[&str] = &[
    "in", "values", "value", "and", "or", "not", "on", "where", "from", "join", "exists", "as",
    "select", "using", "set", "when", "then", "else", "by", "union", "all", "any", "some",
];

fn render(tokens: &[Token<'_>], cut: bool) -> String {
    let mut out = String::new();
    let mut prev: Option<&Token<'_>> = None;
    for t in tokens {
        let space = match (prev, t) {
            (None, _) => false,
            (_, Token::Comma | Token::Close) => false,
            (Some(Token::Open), _) => false,
            (Some(Token::Op(p)), _) if *p == "." || p.ends_with('@') => false,
            (_, Token::Op(".")) => false,
            (Some(Token::Word(w)), Token::Open | Token::List) => SPACED_BEFORE_PAREN
                .iter()
                .any(|k| k.eq_ignore_ascii_case(w)),
            _ => true,
        };
        if space {
            out.push(' ');
        }
        match t {
            Token::Word(w) | Token::Op(w) => out.push_str(w),
            Token::Value => out.push('?'),
            Token::List => out.push_str("(...)"),
            Token::Open => out.push('('),
            Token::Close => out.push(')'),
            Token::Comma => out.push(','),
        }
        prev = Some(t);
    }
    if cut {
        out.push_str(" …");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            normalize("SELECT * FROM t WHERE id = 42 AND name = 'bob' AND x > -3.5e+2"),
            "SELECT * FROM t WHERE id = ? AND name = ? AND x > ?"
        );
        assert_eq!(
            normalize("select a-1, b - 2 from t where c=0x1F and d = X'ab' and e=_utf8mb4'é'"),
            "select a - ?, b - ? from t where c = ? and d = ? and e = ?"
        );
        assert_eq!(
            normalize(r#"SELECT "it\"s", 'o''k', .5, t.c1 FROM t"#),
            "SELECT ?, ?, ?, t.c1 FROM t"
        );
    }

    #[test]
    fn queries_differing_only_in_literals_share_a_digest() {
        let digests: std::collections::BTreeSet<String> = (0..40)
            .map(|i| {
                normalize(&format!(
                    "SELECT SLEEP({i}) /* run {i} */ FROM orders WHERE id IN ({i}, {}, {})  -- c{i}\n AND note = 'n{i}'",
                    i + 1,
                    i * 7
                ))
            })
            .collect();
        assert_eq!(
            digests.into_iter().collect::<Vec<_>>(),
            ["SELECT SLEEP(?) FROM orders WHERE id IN (...) AND note = ?"]
        );
    }

    #[test]
    fn lists_and_rows_collapse() {
        assert_eq!(
            normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'),(3,'z')"),
            "INSERT INTO t(a, b) VALUES (...)"
        );
        assert_eq!(
            normalize("SELECT 1 FROM t WHERE (a, b) IN ((1, 2), (3, 4)) AND c IN (5)"),
            "SELECT ? FROM t WHERE (a, b) IN (...) AND c IN (...)"
        );
        assert_eq!(
            normalize("SELECT COUNT(*) FROM t WHERE f(a) = 1"),
            "SELECT COUNT(*) FROM t WHERE f(a) = ?"
        );
    }

    #[test]
    fn comments_and_whitespace_go() {
        assert_eq!(
            normalize("  /* app:checkout */ SELECT\n\t@@global.max_connections, @v # note\n"),
            "SELECT @@global.max_connections, @v"
        );
        assert_eq!(
            normalize("SELECT 1 /*!50001 , 2 */ --x"),
            "SELECT ?, ? - - x"
        );
        assert_eq!(normalize("SELECT a--1 FROM t"), "SELECT a - ? FROM t");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("   -- only a comment"), "");
    }

    #[test]
    fn hostile_and_unterminated_text_is_handled() {
        assert_eq!(normalize("SELECT 'unterminated"), "SELECT ?");
        assert_eq!(normalize("SELECT /* open"), "SELECT");
        assert_eq!(
            normalize("SELECT `we``ird` FROM `t"),
            "SELECT `we``ird` FROM `t"
        );
        // Control characters and Unicode stay in identifiers; the renderer escapes them.
        assert_eq!(
            normalize("SELECT \u{1b}[2J, naïve"),
            "SELECT \u{1b} [ ?, naïve"
        );
        assert_eq!(normalize(")))((( ,,, ???"), "))) (((,,, ? ? ?");
    }

    /// A 1 MB statement is cut: bounded work, a short result that says it was cut.
    #[test]
    fn huge_statements_are_bounded() {
        let huge = format!(
            "SELECT * FROM t WHERE id IN ({})",
            vec!["1"; 500_000].join(",")
        );
        assert!(huge.len() > 1_000_000);
        let d = normalize(&huge);
        assert!(d.ends_with(" …"), "{d}");
        assert!(d.len() < 4 * TOKENS, "{}", d.len());
        let words = "a ".repeat(600_000);
        let d = normalize(&words);
        assert!(d.ends_with('…') && d.len() < 4 * TOKENS);
        // A multi-byte character at the scan limit is not split.
        let s = "é".repeat(SCANNED);
        assert!(normalize(&s).ends_with('…'));
        // A huge string literal is one value.
        let s = format!("SELECT '{}'", "x".repeat(2_000_000));
        assert_eq!(normalize(&s), "SELECT ? …");
    }
}
