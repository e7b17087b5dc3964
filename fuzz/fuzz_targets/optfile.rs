//! Option files: any bytes, read the way a file is (lossy UTF-8), never panic; an error never
//! contains the value of a `password=` line.
#![no_main]

use std::path::Path;

use conncheck::testing::connect::optfile::{OptionSet, parse_str};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "Zq9FuzzSecret";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/nonexistent-conncheck-fuzz/my.cnf");
    let groups = ["client", "conncheck"];
    let _ = parse_str(&text, path, &groups, &mut OptionSet::default());
    // The same text around a password line.
    let with_pw = format!("[client]\npassword={SECRET}{text}");
    if let Err(e) = parse_str(&with_pw, path, &groups, &mut OptionSet::default()) {
        assert!(!e.to_string().contains(SECRET), "{e}");
    }
});
