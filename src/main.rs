//! Entry point: parse, run, turn an error into its message and exit code. No logic here.

use std::process::ExitCode;

use conncheck::{cli, errors};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let is_check = cli::is_check(&args);
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => return errors::clap_error(&e, is_check),
    };
    match conncheck::run(parsed) {
        Ok(code) => code,
        Err(err) => errors::report(&err, is_check),
    }
}
