//! Entry point: parse, run, turn an error into its message and exit code. No logic here, apart
//! from hiding passwords in the process's arguments, which only the binary can do.

use std::process::ExitCode;

use conncheck::entry;

fn main() -> ExitCode {
    // The driver's first login compiles regexes (connect::warm): on the other core, meanwhile.
    entry::warm_up();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // std has copied the arguments: from now on `ps` need not see the password.
    mask_secrets_in_process_arguments();
    let parsed = match entry::parse(args.clone()) {
        Ok(parsed) => parsed,
        Err(e) => return entry::clap_error(&e, entry::is_check_attempt(&args)),
    };
    // The monitoring-plugin exit codes follow the parsed command, never a word in argv
    // (`-u check status` is not `check`).
    let is_check = matches!(parsed.command, entry::Command::Check(_));
    match conncheck::run(parsed) {
        Ok(code) => code,
        Err(err) => entry::report(&err, is_check),
    }
}

/// argc/argv as the C runtime passed them, captured by a constructor before `main`. These point
/// at the process's original argument memory, the bytes `/proc/PID/cmdline` shows.
///
/// Only glibc hands argc, argv and envp to `.init_array` functions (a non-standard extension);
/// musl and the other C libraries call them with no arguments, so the parameters would be
/// whatever the registers hold and we would write through garbage pointers. Rust's std gates its
/// own `.init_array` capture of the arguments the same way (`really_init`, on
/// `all(target_os = "linux", target_env = "gnu")`). Elsewhere there is no masking: the password
/// stays visible in `ps` (docs/connecting.md, "Secrets").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod original_args {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

    pub static ARGC: AtomicUsize = AtomicUsize::new(0);
    pub static ARGV: AtomicPtr<*mut u8> = AtomicPtr::new(std::ptr::null_mut());

    extern "C" fn capture(argc: i32, argv: *mut *mut u8, _envp: *mut *mut u8) {
        ARGC.store(usize::try_from(argc).unwrap_or(0), Ordering::SeqCst);
        ARGV.store(argv, Ordering::SeqCst);
    }

    #[used]
    #[unsafe(link_section = ".init_array")]
    static CAPTURE: extern "C" fn(i32, *mut *mut u8, *mut *mut u8) = capture;
}

/// Overwrite `-pSECRET`, `--password=SECRET` and URL passwords with `x` in place, as the mysql
/// client does (conncheck already holds its own copy).
fn mask_secrets_in_process_arguments() {
    // Not on musl or other systems: see `original_args`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::Ordering;
        let argc = original_args::ARGC.load(Ordering::SeqCst);
        let argv = original_args::ARGV.load(Ordering::SeqCst);
        if argv.is_null() {
            return;
        }
        // SAFETY: argv holds argc pointers to NUL-terminated strings that live for the whole
        // process (set up by the kernel, captured above); we write only inside each string's
        // own bytes, before its NUL, and nothing else reads them at this point.
        unsafe {
            let words: Vec<&mut [u8]> = (0..argc)
                .filter_map(|i| {
                    let p = *argv.add(i);
                    (!p.is_null()).then(|| {
                        let len = std::ffi::CStr::from_ptr(p.cast()).to_bytes().len();
                        std::slice::from_raw_parts_mut(p, len)
                    })
                })
                .collect();
            let views: Vec<&[u8]> = words.iter().map(|w| &**w).collect();
            let ranges = conncheck::entry::secret_ranges(&views);
            let mut words = words;
            for (i, r) in ranges {
                if let Some(w) = words.get_mut(i)
                    && r.end <= w.len()
                {
                    w[r].fill(b'x');
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The `.init_array` capture and the code that writes through what it captured must be
    /// compiled only for glibc: on musl the constructor's arguments are garbage. (No musl
    /// toolchain here to run it, so this checks how the code is gated.)
    #[test]
    fn the_argv_capture_is_gated_on_glibc() {
        const GNU: &str = r#"#[cfg(all(target_os = "linux", target_env = "gnu"))]"#;
        let src = include_str!("main.rs");
        let code = &src[..src.find("#[cfg(test)]").expect("this test module")];
        let gate_of = |item: &str| {
            let at = code
                .find(item)
                .unwrap_or_else(|| panic!("{item} not found"));
            let before = code[..at].trim_end();
            let start = before.rfind("#[cfg(").expect("a cfg attribute");
            before[start..].lines().next().unwrap().trim().to_string()
        };
        assert_eq!(gate_of("mod original_args"), GNU);
        let body = &code[code.find("fn mask_secrets_in_process_arguments").unwrap()..];
        let first_cfg = body.find("#[cfg(").unwrap();
        assert!(body[first_cfg..].starts_with(GNU), "{}", &body[first_cfg..]);
        // No other Linux-only gate lets the capture in on musl.
        assert!(!code.contains(r#"#[cfg(target_os = "linux")]"#));
        assert_eq!(code.matches("link_section").count(), 1, "one capture only");
    }
}
