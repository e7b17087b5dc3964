//! The server process on this machine: its resident memory (VmRSS), for a local server only.
//!
//! The process is the one in `@@pid_file` (often readable only by the mysql user), else the one
//! `mariadbd`/`mysqld` process on the machine. Either way it must be a `mariadbd` or `mysqld`
//! whose age matches the server's Uptime within a few seconds: a pid file read from another
//! pid namespace (a container) or a second server on the machine is never taken for ours.

use std::path::Path;

/// How far the process age may be from the server's Uptime (seconds).
const AGE_SLACK_S: f64 = 5.0;
/// Linux reports process start times in USER_HZ ticks, 100 per second on every architecture
/// Linux supports (the kernel ABI fixes it, whatever CONFIG_HZ is).
const USER_HZ: f64 = 100.0;

/// VmRSS of the server process in bytes, or None when it cannot be found with certainty.
pub fn server_rss(pid_file: Option<&str>, uptime_s: u64) -> Option<u64> {
    let proc = Path::new("/proc");
    let since_boot = std::fs::read_to_string(proc.join("uptime"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()?;
    let ours = |pid: u32| is_server(proc, pid, since_boot, uptime_s);
    let from_file = pid_file.and_then(read_pid).filter(|pid| ours(*pid));
    let pid = match from_file {
        Some(pid) => pid,
        None => {
            let mut found = std::fs::read_dir(proc)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| ours(*pid));
            let first = found.next()?;
            // Two servers of the same age: we cannot tell which one we are connected to.
            if found.next().is_some() {
                return None;
            }
            first
        }
    };
    let status = std::fs::read_to_string(proc.join(pid.to_string()).join("status")).ok()?;
    vm_rss(&status)
}

/// The pid in the server's pid file. The path is the server's own text: only a regular file
/// is opened (never a FIFO, which would block, or a device such as /dev/zero), and only its
/// first bytes are read.
fn read_pid(path: &str) -> Option<u32> {
    use std::io::Read;
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut head = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(32)
        .read_to_string(&mut head)
        .ok()?;
    head.trim().parse().ok()
}

fn is_server(proc: &Path, pid: u32, since_boot: f64, uptime_s: u64) -> bool {
    // The main thread's own stat, not the process's: /proc/PID/stat sums the times of every
    // thread, which is 3 ms for a server with 10,000 connection threads; the name and start
    // time read here are the main thread's in both files.
    let pid = pid.to_string();
    let dir = proc.join(&pid).join("task").join(&pid);
    let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
        return false;
    };
    match parse_stat(&stat) {
        Some((comm, start_ticks)) => {
            let age = since_boot - start_ticks as f64 / USER_HZ;
            matches!(comm, "mariadbd" | "mysqld") && (age - uptime_s as f64).abs() <= AGE_SLACK_S
        }
        None => false,
    }
}

/// `(comm, starttime)` from /proc/PID/task/PID/stat: `pid (comm) state ... starttime(22nd) ...`; the
/// command name may hold spaces and parentheses, so it ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    // Fields after the name start at the 3rd (state): the 22nd is the 20th of them.
    let start = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    Some((comm, start))
}

/// `VmRSS:   108504 kB` in /proc/PID/status, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_lines_parse() {
        let stat = "1234 (mariadbd) S 1 1234 1234 0 -1 4194560 5000 0 0 0 10 5 0 0 20 0 30 0 987654 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(("mariadbd", 987_654)));
        // A name with a space and a parenthesis.
        let odd = "7 (my (odd) d) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0";
        assert_eq!(parse_stat(odd), Some(("my (odd) d", 42)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            vm_rss("Name:\tmariadbd\nVmRSS:\t  108504 kB\n"),
            Some(108_504 * 1024)
        );
        assert_eq!(vm_rss("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn our_own_process_is_not_a_server() {
        // This test binary is neither mariadbd nor mysqld, whatever its age.
        let me = std::process::id();
        let since_boot: f64 = std::fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(!is_server(Path::new("/proc"), me, since_boot, 0));
        assert_eq!(server_rss(Some("/nonexistent/pid"), u64::MAX / 2), None);
    }

    #[test]
    fn the_server_is_known_by_its_main_thread_stat() {
        // /proc/PID/stat sums every thread's times (3 ms at 10,000 connection threads): only
        // /proc/PID/task/PID/stat is read, which names the process and its start alike.
        let proc = tempfile::tempdir().unwrap();
        let task = proc.path().join("77/task/77");
        std::fs::create_dir_all(&task).unwrap();
        let started_ticks = 50_000; // 500 s after boot
        std::fs::write(
            task.join("stat"),
            format!("77 (mariadbd) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 9 0 {started_ticks} 0 0"),
        )
        .unwrap();
        assert!(is_server(proc.path(), 77, 600.0, 100));
        assert!(
            !is_server(proc.path(), 77, 600.0, 200),
            "an age 100 s off is another server"
        );
        assert!(!is_server(proc.path(), 78, 600.0, 100));
    }

    #[test]
    fn a_hostile_pid_file_path_is_never_read_past_a_few_bytes() {
        // Devices and directories are not opened at all (/dev/zero would never end).
        assert_eq!(read_pid("/dev/zero"), None);
        assert_eq!(read_pid("/proc"), None);
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("mysqld.pid");
        std::fs::write(&pid, "4242\n").unwrap();
        assert_eq!(read_pid(pid.to_str().unwrap()), Some(4242));
        // A large file: only its head is read, and it is not a pid.
        std::fs::write(&pid, "1".repeat(1 << 20)).unwrap();
        assert_eq!(read_pid(pid.to_str().unwrap()), None);
    }
}
