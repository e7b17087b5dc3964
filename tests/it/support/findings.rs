//! Reading a `diagnose --format json` report in assertions: the findings by id, their sessions,
//! evidence and actions. Shared by the live scenarios (tests/it/diagnose.rs) and the recorded
//! snapshots (tests/it/recorded.rs).

use serde_json::Value;

pub fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().expect("a findings array")
}

/// `(id, severity)` of every finding, in report order.
pub fn ranked(v: &Value) -> Vec<(String, String)> {
    findings(v)
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What `ranked` is compared with.
pub fn expect(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect()
}

pub fn all<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    findings(v).iter().filter(|f| f["id"] == id).collect()
}

/// The one finding with this id.
pub fn the<'a>(v: &'a Value, id: &str) -> &'a Value {
    let f = all(v, id);
    assert_eq!(
        f.len(),
        1,
        "expected exactly one {id} finding, report has {:?}",
        ranked(v)
    );
    f[0]
}

pub fn absent(v: &Value, id: &str) {
    assert!(
        all(v, id).is_empty(),
        "unexpected {id}: {}",
        serde_json::to_string_pretty(&all(v, id)).unwrap()
    );
}

/// The finding's session ids, in report order.
pub fn sessions(f: &Value) -> Vec<u64> {
    f["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

pub fn sorted(ids: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = ids.into_iter().collect();
    v.sort_unstable();
    v
}

pub fn evidence<'a>(f: &'a Value, name: &str) -> &'a str {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("no evidence {name:?} in {}", f["evidence"]))
}

/// The texts of the finding's actions, all kinds. A command is shown as the heuristic wrote it,
/// `conncheck <subcommand> …   # note`, without the connection options the report puts in front
/// (tests/it/suggestions.rs checks those).
pub fn actions(f: &Value) -> Vec<String> {
    actions_where(f, |_| true)
}

/// The texts of the finding's actions of one kind (`command`, `sql`, `config`, `advice`).
pub fn actions_of(f: &Value, kind: &str) -> Vec<String> {
    actions_where(f, |a| a["kind"] == kind)
}

fn actions_where(f: &Value, pick: impl Fn(&Value) -> bool) -> Vec<String> {
    f["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| pick(a))
        .map(|a| match a["args"].as_array() {
            Some(args) if a["kind"] == "command" => {
                let args: Vec<String> = args
                    .iter()
                    .map(|w| w.as_str().unwrap().to_string())
                    .collect();
                conncheck::testing::connect::replay::Replay::none()
                    .command_line(&args, a["note"].as_str())
            }
            _ => a["text"].as_str().unwrap().to_string(),
        })
        .collect()
}

pub fn has_action(f: &Value, prefix: &str) -> bool {
    actions(f).iter().any(|a| a.starts_with(prefix))
}
