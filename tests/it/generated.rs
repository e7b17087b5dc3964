//! `completions/` and `man/` are generated from the clap definition and checked in; this test
//! fails when they drift from it.

use std::path::Path;

use clap_complete::Shell;
use conncheck::testing::commands::generate::{completion_script, man_pages};

const REGENERATE: &str = "regenerate with scripts/generate.sh";

fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "completions/conncheck.bash",
        Shell::Zsh => "completions/_conncheck",
        Shell::Fish => "completions/conncheck.fish",
        Shell::Elvish => "completions/conncheck.elv",
        Shell::PowerShell => "completions/_conncheck.ps1",
        _ => unreachable!("no such shell in the list"),
    }
}

#[test]
fn completions_are_current() {
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(completion_file(shell));
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == completion_script(shell),
            "{} is out of date: {}",
            path.display(),
            REGENERATE
        );
    }
}

#[test]
fn man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = man_pages().unwrap();
    assert!(pages.len() > 5, "one page per command");
    for (name, text) in pages {
        let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
        assert!(
            on_disk == text,
            "man/{name} is out of date: regenerate with scripts/generate.sh"
        );
    }
}
