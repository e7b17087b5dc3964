//! The docs' finding table says what `conncheck::diagnose::FindingId` says: the same ids in the
//! same order, one row each. Scripts depend on the ids, so a new one is added to both, and one
//! is never renamed (see how `tests/exit_codes.rs` holds the exit-code table the same way).

use conncheck::testing::diagnose::FindingId;

/// Where the finding table is, relative to the crate.
const DOC: &str = "docs/diagnose.md";
/// The heading the table follows.
const SECTION: &str = "### What diagnose looks for";

/// The ids of the table's rows, in order: the first cell of each row, without its backquotes.
fn table_ids(doc: &str) -> Vec<String> {
    let section = doc
        .split(SECTION)
        .nth(1)
        .unwrap_or_else(|| panic!("{DOC} has no {SECTION:?} section"));
    section
        .lines()
        .skip_while(|l| !l.starts_with("| id |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches('`')
                .to_string()
        })
        .collect()
}

#[test]
fn the_docs_table_lists_every_finding_id_in_order() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let documented = table_ids(&doc);
    let known: Vec<&str> = FindingId::ALL.iter().map(|id| id.as_str()).collect();
    assert_eq!(
        documented, known,
        "the finding table in {DOC} and FindingId::ALL differ"
    );
}

/// The parser reads what it should: a table with a missing and an extra row differs.
#[test]
fn the_table_parser_sees_the_rows() {
    let doc = format!(
        "intro\n{SECTION}\n\ntext\n\n| id | means | fix |\n|---|---|---|\n| `server-full` | a | b |\n| `made-up` | c | d |\n\nafter\n| `not-a-row` |\n"
    );
    assert_eq!(table_ids(&doc), ["server-full", "made-up"]);
}
