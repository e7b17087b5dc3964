//! Units people read: durations, sizes and query snippets, used by the heuristics' messages
//! (`diagnose/`, `remedy/`) and by the renderers alike. Pure, no terminal knowledge.

/// Seconds as a short human duration: `45s`, `5m03s`, `2h10m`, `3d4h`.
pub fn secs(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
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

/// A query text on one line, terminal-safe, cut to `max` characters (see [`crate::text::snippet`]).
pub fn snippet(text: Option<&str>, max: usize) -> String {
    text.map_or_else(String::new, |t| crate::text::snippet(t, max))
}
