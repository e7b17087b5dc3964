//! Which bytes of the command line are secrets, so that `main` can overwrite them in the
//! process's own argument memory (what `ps` and `/proc/PID/cmdline` show), as the `mysql` client
//! does. Pure: this module finds the ranges; `main.rs` does the one unsafe write.
//!
//! Masked: the value of `-pSECRET` and `--password=SECRET`, and the password of a URL given with
//! `--url URL` or `--url=URL` (`mysql://user:SECRET@host`, also without the scheme). A secret
//! typed as a separate word after a bare `-p` is not a password for conncheck (it prompts), so it
//! is left alone, as in mysql. Nothing after `--` is touched.

use std::ops::Range;

/// For each argument (argv[0] included), the byte ranges to overwrite.
pub fn secret_ranges(args: &[&[u8]]) -> Vec<(usize, Range<usize>)> {
    let mut out = Vec::new();
    let mut url_next = false;
    for (i, a) in args.iter().enumerate().skip(1) {
        if *a == b"--" {
            break;
        }
        if url_next {
            url_next = false;
            if let Some(r) = url_password(a) {
                out.push((i, r));
            }
            continue;
        }
        if *a == b"--url" {
            url_next = true;
        } else if let Some(rest) = a.strip_prefix(b"--url=") {
            if let Some(r) = url_password(rest) {
                out.push((i, r.start + 6..r.end + 6));
            }
        } else if let Some(v) = a.strip_prefix(b"--password=") {
            if !v.is_empty() {
                out.push((i, 11..a.len()));
            }
        } else if a.starts_with(b"-p") && a.len() > 2 {
            out.push((i, 2..a.len()));
        }
    }
    out
}

/// The password inside a URL: after the first `:` of the user part, up to the last `@` before
/// the host. With or without `scheme://`.
pub fn url_password(url: &[u8]) -> Option<Range<usize>> {
    let start = find(url, b"://").map_or(0, |p| p + 3);
    let rest = &url[start..];
    // The authority ends at the first '/', '?' or '#'; the user info at its last '@'.
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let at = authority.iter().rposition(|b| *b == b'@')?;
    let colon = authority[..at].iter().position(|b| *b == b':')?;
    (colon + 1 < at).then(|| start + colon + 1..start + at)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(args: &[&str]) -> Vec<String> {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out: Vec<Vec<u8>> = bytes.iter().map(|b| b.to_vec()).collect();
        for (i, r) in secret_ranges(&bytes) {
            out[i][r].fill(b'x');
        }
        out.into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn attached_passwords_and_url_passwords_are_masked() {
        assert_eq!(
            masked(&[
                "conncheck",
                "-psecret",
                "--password=hunter2",
                "--url",
                "mysql://app:p@ss@db:3306/x",
                "--url=mysql://u:pw@h",
                "status",
            ]),
            [
                "conncheck",
                "-pxxxxxx",
                "--password=xxxxxxx",
                "--url",
                "mysql://app:xxxx@db:3306/x",
                "--url=mysql://u:xx@h",
                "status",
            ]
        );
    }

    #[test]
    fn what_is_not_a_secret_is_kept() {
        let args = [
            "conncheck",
            "-p",
            "--password",
            "--url",
            "mysql://app@db",
            "-u",
            "check",
            "--",
            "-pliteral",
        ];
        assert_eq!(masked(&args), args);
        assert_eq!(
            masked(&["c", "--url", "lab:SECRET@127.0.0.1:3306"]),
            ["c", "--url", "lab:xxxxxx@127.0.0.1:3306"]
        );
    }
}
