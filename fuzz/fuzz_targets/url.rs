//! Connection URLs: parse and redact any text without panicking, and never echo a password.
//!
//! Leak check: take what would be the password (between the first ':' of the user info and the
//! last '@'; at least 6 bytes, occurring once), swap it for a marker of Qs and parse/redact again.
//! A leak is the password in the first output *and* the marker in the second: that tells an echo
//! of the input apart from a password that happens to spell part of a fixed message (the fuzzer
//! finds "// or mariadb:" quickly) or the `***` that redact writes.
#![no_main]

use conncheck::testing::connect::url::{parse, redact};
use libfuzzer_sys::fuzz_target;

fn password_of(text: &str) -> Option<&str> {
    let rest = text.trim().split_once("://").map_or(text, |(_, r)| r);
    let (userinfo, _) = rest.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (pw.len() >= 6 && text.matches(pw).count() == 1).then_some(pw)
}

fn outputs(text: &str) -> (String, String) {
    let err = match parse(text) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    (redact(text), err)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (red, err) = outputs(text);
    let pw = match parse(text) {
        Ok(u) => u.password.filter(|p| p.len() >= 6 && text.matches(p.as_str()).count() == 1),
        Err(_) => password_of(text).map(str::to_string),
    };
    let Some(pw) = pw else { return };
    let marker = "Q".repeat(pw.len());
    if text.contains(&marker) {
        return;
    }
    let (red2, err2) = outputs(&text.replacen(&pw, &marker, 1));
    assert!(
        !(red.contains(&pw) && red2.contains(&marker)),
        "{text:?} -> {red:?}"
    );
    assert!(
        !(err.contains(&pw) && err2.contains(&marker)),
        "{text:?}: {err}"
    );
});
