//! `--older-than 5m`, `--warning 80%`, `--server-memory 16G`: any text, never a panic, and what is
//! accepted is in range.
#![no_main]

use std::time::Duration;

use conncheck::testing::cli::{Threshold, parse_bytes, parse_duration, parse_threshold};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = parse_duration(&text) {
        assert!(d <= Duration::from_secs(10 * 365 * 86_400), "{text:?} -> {d:?}");
    }
    if let Ok(Threshold::Percent(p)) = parse_threshold(&text) {
        assert!(p.is_finite() && (0.0..=100.0).contains(&p), "{text:?} -> {p}");
    }
    let _ = parse_bytes(&text);
});
