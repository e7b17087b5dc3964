//! Units people read: durations, sizes and query snippets, used by the heuristics' messages
//! (`diagnose/`, `remedy/`) and by the renderers alike, and the durations people type (every
//! duration flag's value parser, the connection flags' included). Pure, no terminal knowledge.

use std::time::Duration;

/// Seconds as a short human duration: `45s`, `5m03s`, `2h10m`, `3d4h`.
pub fn secs(s: u64) -> String {
    // Written digit by digit (itoa), not with `format!`: a session table prints one or two a
    // row, 10,000 rows.
    let mut out = String::with_capacity(8);
    let mut digits = itoa::Buffer::new();
    let mut part = |n: u64, two_digits: bool, unit: char| {
        if two_digits && n < 10 {
            out.push('0');
        }
        out.push_str(digits.format(n));
        out.push(unit);
    };
    match s {
        0..=59 => part(s, false, 's'),
        60..=3599 => {
            part(s / 60, false, 'm');
            part(s % 60, true, 's');
        }
        3600..=86_399 => {
            part(s / 3600, false, 'h');
            part((s % 3600) / 60, true, 'm');
        }
        _ => {
            part(s / 86_400, false, 'd');
            part((s % 86_400) / 3600, false, 'h');
        }
    }
    out
}

/// Bytes with a binary unit: `512 KiB`, `1.5 GiB`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The first Unix time (milliseconds) RFC 3339 cannot show with four year digits:
/// 10000-01-01T00:00:00Z. Times read from files must be before it.
pub const MAX_TIME_MS: u64 = 253_402_300_800_000;

/// `2026-12-04T17:40:03Z`: UTC to the second. Never panics: a time before 1970 or in year 10000
/// or later (a clock far off) is shown as such instead.
pub fn utc(t: std::time::SystemTime) -> String {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Err(_) => "(a time before 1970)".to_string(),
        Ok(d) if d.as_millis() >= u128::from(MAX_TIME_MS) => "(a time after year 9999)".to_string(),
        Ok(_) => humantime::format_rfc3339_seconds(t).to_string(),
    }
}

/// [`utc`] of a Unix time in milliseconds.
pub fn utc_ms(at_ms: u64) -> String {
    if at_ms >= MAX_TIME_MS {
        return utc(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(MAX_TIME_MS)
        );
    }
    utc(std::time::UNIX_EPOCH + std::time::Duration::from_millis(at_ms))
}

/// A query text on one line, terminal-safe, cut to `max` characters (see [`crate::text::snippet`]).
pub fn snippet(text: Option<&str>, max: usize) -> String {
    text.map_or_else(String::new, |t| crate::text::snippet(t, max))
}

/// A duration as people type it (`300s`, `5m`, `1h30m`, or bare seconds), at most ten years:
/// the value parser of every duration flag.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration: use e.g. 300s, 5m, 1h".into());
    }
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative: durations must be 0 or more"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= 10 * 365 * 86_400)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("'{s}' is too large"));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("'{s}' is not a duration ({e}): use e.g. 300s, 5m, 1h30m"))?;
    if d > Duration::from_secs(10 * 365 * 86_400) {
        return Err(format!("'{s}' is too large"));
    }
    Ok(d)
}

/// `--connect-timeout`, `--query-timeout`: a duration of at least 1ms. A zero (or sub-millisecond)
/// socket timeout means "wait forever" to the operating system, the opposite of what was asked.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_at_least(
        s,
        Duration::from_millis(1),
        "a timeout must be at least 1ms",
    )
}

/// A duration of at least `min` (`rule` says why, in the error).
pub fn parse_at_least(s: &str, min: Duration, rule: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < min {
        return Err(format!("'{s}' is too short: {rule}"));
    }
    Ok(d)
}

/// A float as a count, the way `as` converts it: toward zero, NaN and negatives to 0, beyond
/// the range to `u64::MAX`. Saturating is what every caller wants (a rate, a share, an estimate
/// of bytes); round first where rounding is meant.
// `as` from a float saturates (defined since Rust 1.45): the one place the cast lints allow it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn float_to_u64(x: f64) -> u64 {
    x as u64
}

/// [`float_to_u64`] for an index or a length.
// As above: `as` from a float saturates.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn float_to_usize(x: f64) -> usize {
    x as usize
}

/// [`float_to_u64`] for a signed value (a sort key): NaN is 0, the ends saturate.
// As above: `as` from a float saturates.
#[allow(clippy::cast_possible_truncation)]
pub fn float_to_i64(x: f64) -> i64 {
    x as i64
}

/// A duration in whole milliseconds, `u64::MAX` past 584 million years.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_reads_as_it_always_did() {
        let old = |s: u64| match s {
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
            3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
            _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        };
        for s in (0..200_000).chain([u64::MAX / 2, u64::MAX]) {
            assert_eq!(secs(s), old(s), "{s}");
        }
    }

    #[test]
    fn times_out_of_range_never_panic() {
        assert_eq!(utc_ms(1_796_406_003_999), "2026-12-04T17:40:03Z");
        assert_eq!(utc_ms(MAX_TIME_MS - 1), "9999-12-31T23:59:59Z");
        assert_eq!(utc_ms(MAX_TIME_MS), "(a time after year 9999)");
        assert_eq!(utc_ms(u64::MAX), "(a time after year 9999)");
        let before = std::time::UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(utc(before), "(a time before 1970)");
    }

    #[test]
    fn float_and_duration_conversions_saturate() {
        assert_eq!(float_to_u64(f64::NAN), 0);
        assert_eq!(float_to_u64(-3.7), 0);
        assert_eq!(float_to_u64(3.7), 3);
        assert_eq!(float_to_u64(1e30), u64::MAX);
        assert_eq!(float_to_usize(f64::INFINITY), usize::MAX);
        assert_eq!(float_to_i64(-1e30), i64::MIN);
        assert_eq!(millis(Duration::from_micros(2_500)), 2);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
