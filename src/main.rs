//! Entry point: parse, run, turn an error into its message and exit code. No logic here, apart
//! from hiding passwords in the process's arguments, which only the binary can do.

use std::process::ExitCode;

use conncheck::{cli, errors};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // std has copied the arguments: from now on `ps` need not see the password.
    mask_secrets_in_process_arguments();
    let parsed = match cli::parse(args.clone()) {
        Ok(parsed) => parsed,
        Err(e) => return errors::clap_error(&e, errors::is_check_attempt(&args)),
    };
    // The monitoring-plugin exit codes follow the parsed command, never a word in argv
    // (`-u check status` is not `check`).
    let is_check = matches!(parsed.command, cli::Command::Check(_));
    match conncheck::run(parsed) {
        Ok(code) => code,
        Err(err) => errors::report(&err, is_check),
    }
}

/// argc/argv as the C runtime passed them, captured by a constructor before `main` (glibc hands
/// them to every `.init_array` function). These point at the process's original argument memory,
/// the bytes `/proc/PID/cmdline` shows.
#[cfg(target_os = "linux")]
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
    #[cfg(target_os = "linux")]
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
            let ranges = conncheck::argv::secret_ranges(&views);
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
