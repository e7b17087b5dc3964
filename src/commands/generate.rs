//! `conncheck completions <shell>` and the hidden `conncheck man DIR`: generated from the clap
//! definition, checked into `completions/` and `man/` (a test fails when they drift).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit;

/// The completion script for a shell, rendered into memory first: clap_complete panics on a
/// broken pipe when it writes to stdout directly.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "conncheck", &mut buf);
    buf
}

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(&completion_script(args.shell))?;
    out.flush()?;
    Ok(exit::OK)
}

/// Man pages: `conncheck.1` and `conncheck-<command>.1` for every visible command.
pub fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let cmd = Cli::command().after_help(exit::man_section());
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    pages.push(("conncheck.1".to_string(), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("conncheck-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(clap::builder::Str::from(name.clone().leak() as &'static str));
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf)?;
        pages.push((format!("{name}.1"), buf));
    }
    Ok(pages)
}

pub fn man(args: &ManArgs) -> anyhow::Result<u8> {
    write_man(&args.dir)?;
    Ok(exit::OK)
}

fn write_man(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in man_pages()? {
        crate::output::write_atomic_mode(&dir.join(name), &text, crate::output::PUBLIC)?;
    }
    Ok(())
}
