//! Pasting a verdict's relief in assertions: its argv as the report prints it, run as pasted
//! (with `--dry-run` to read the plan, or for real). Shared by the live scenarios
//! (tests/it/diagnose.rs, tests/it/pileups.rs).

use serde_json::Value;

/// The relief's command, one word per element (`conncheck` first).
pub fn argv(relief: &Value) -> Vec<String> {
    relief["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("no argv in {relief}"))
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// Run `argv` as pasted (its `conncheck` is this build) plus `extra`: the JSON of a run that
/// must succeed.
pub fn run(argv: &[String], extra: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"))
        .args(&argv[1..])
        .args(extra)
        .output()
        .unwrap();
    super::json_ok(&out)
}

/// Run `argv` as pasted with `--dry-run --format json`: the plan and the ids it would kill.
pub fn dry_run(argv: &[String]) -> (Value, Vec<u64>) {
    let plan = run(argv, &["--dry-run", "--format", "json"]);
    let planned: Vec<u64> = plan["victims"]
        .as_array()
        .or_else(|| plan["plan"]["victims"].as_array())
        .expect("victims")
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    (plan, planned)
}
