//! The README's exit-code table says what `conncheck::exit::CODES` says: the same codes in the
//! same order, each row starting with the table's meaning (the README may explain more after it).

use conncheck::testing::exit::CODES;

#[test]
fn readme_table_matches_the_exit_code_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("README has an Exit codes section");
    let rows: Vec<(u8, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with("| code |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').splitn(2, '|').collect();
            (
                cells[0].trim().parse().unwrap(),
                cells[1].trim().replace('`', ""),
            )
        })
        .collect();
    let codes: Vec<u8> = rows.iter().map(|r| r.0).collect();
    let want: Vec<u8> = CODES.iter().map(|c| c.code).collect();
    assert_eq!(codes, want, "README exit codes");
    for ((code, text), c) in rows.iter().zip(CODES) {
        assert!(
            text.starts_with(c.meaning),
            "README row {code}: {text:?} does not start with {:?}",
            c.meaning
        );
    }
}
