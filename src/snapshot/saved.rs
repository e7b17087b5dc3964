//! A snapshot or a sample history as a file: what `conncheck snapshot` writes (to `-o FILE` or
//! standard output) and what `record` writes into an incident folder. Every file must stay
//! readable by `diagnose --from` (at most [`crate::input::SNAPSHOT_MAX`] bytes) and an incident
//! within `record --max-size`, whatever the server holds: query texts are what grows without
//! bound (a statement can be as long as `max_allowed_packet`, and JSON shows a control byte in six
//! bytes), so they are cut, and each cut text is marked (`info_truncated`, `query_truncated`).
//!
//! Pure: the caller renders (`render` is the JSON writer it uses), this module only decides what
//! to cut. No I/O.

use super::Snapshot;
use super::sample::SampleHistory;

/// The longest query text kept in a file, in characters: as much as MySQL keeps of a statement
/// in performance_schema (`performance_schema_max_sql_text_length`, default 1024; see
/// docs/file-limits.md). Enough to recognise a statement, never megabytes of one.
pub const QUERY_TEXT_MAX: usize = 1024;

/// The cuts tried in turn while the file is over its budget; 0 keeps no query text at all.
const CUTS: [usize; 4] = [QUERY_TEXT_MAX, 256, 64, 0];

/// A file that does not fit even with every query text removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub bytes: u64,
    pub max: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} even without query texts, more than the {} `diagnose --from` reads",
            crate::units::bytes(self.bytes),
            crate::units::bytes(self.max)
        )
    }
}

/// A snapshot rendered for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub text: String,
    /// The cut applied (characters per query text); texts shorter than it are whole.
    pub cut_at: usize,
    /// How many query texts were cut.
    pub texts_cut: usize,
}

/// Cut `s` to at most `max` characters; whether it was cut.
fn cut(s: &mut String, max: usize) -> bool {
    match s.char_indices().nth(max) {
        Some((i, _)) => {
            s.truncate(i);
            true
        }
        None => false,
    }
}

/// Cut every query text of `snap` (processlist `info`, transaction `query`) to at most `max`
/// characters, marking those cut. Returns how many are marked cut now.
pub fn cut_query_texts(snap: &mut Snapshot, max: usize) -> usize {
    for s in &mut snap.sessions {
        if let Some(info) = s.info.as_mut() {
            s.info_truncated |= cut(info, max);
        }
    }
    for t in &mut snap.transactions {
        if let Some(q) = t.query.as_mut() {
            t.query_truncated |= cut(q, max);
        }
    }
    marked_cut(snap)
}

/// How many query texts of `snap` are marked cut.
fn marked_cut(snap: &Snapshot) -> usize {
    snap.sessions.iter().filter(|s| s.info_truncated).count()
        + snap
            .transactions
            .iter()
            .filter(|t| t.query_truncated)
            .count()
}

/// Whether [`cut_query_texts`] at `max` would cut any text of `snap`.
fn any_over(snap: &Snapshot, max: usize) -> bool {
    // A text of at most `max` bytes has at most `max` characters: only longer ones are counted.
    let over = |t: &String| t.len() > max && t.chars().nth(max).is_some();
    snap.sessions
        .iter()
        .filter_map(|s| s.info.as_ref())
        .any(over)
        || snap
            .transactions
            .iter()
            .filter_map(|t| t.query.as_ref())
            .any(over)
}

/// The file text of `snap` (as `render` writes it): query texts cut at [`QUERY_TEXT_MAX`]
/// characters, then shorter in turn (256, 64, none) while the text is over `budget` bytes. A
/// text over `max` bytes (the reader's cap) even without any query text is an error.
pub fn fit_snapshot(
    snap: &Snapshot,
    budget: u64,
    max: u64,
    render: impl Fn(&Snapshot) -> String,
) -> Result<Fitted, TooLarge> {
    // Copied only once a text has to be cut: most snapshots have none that long, and a copy of
    // 10,000 sessions is the largest allocation a `snapshot` would make.
    let mut copy: Option<Snapshot> = None;
    let mut fitted = None;
    for cut_at in CUTS {
        if copy.is_none() && any_over(snap, cut_at) {
            copy = Some(snap.clone());
        }
        let (texts_cut, text) = match copy.as_mut() {
            Some(s) => (cut_query_texts(s, cut_at), render(s)),
            None => (marked_cut(snap), render(snap)),
        };
        let fits = text.len() as u64 <= budget;
        fitted = Some(Fitted {
            text,
            cut_at,
            texts_cut,
        });
        if fits {
            break;
        }
    }
    let f = fitted.expect("CUTS is not empty");
    if f.text.len() as u64 > max {
        return Err(TooLarge {
            bytes: f.text.len() as u64,
            max,
        });
    }
    Ok(f)
}

/// The file text of `history` (as `render` writes it), at most `budget` bytes: the oldest
/// samples are left out while it is over. Returns the text and how many samples were left out.
pub fn fit_history(
    history: &SampleHistory,
    budget: u64,
    render: impl Fn(&SampleHistory) -> String,
) -> (String, usize) {
    let mut text = render(history);
    let n = history.samples.len();
    let mut keep = n;
    while text.len() as u64 > budget && keep > 0 {
        // Scale by the average sample, and always drop at least one more: a few passes at most.
        let ratio = budget as f64 / text.len() as f64;
        let next = crate::units::float_to_usize(keep as f64 * ratio * 0.95).min(keep - 1);
        keep = next;
        let kept = SampleHistory {
            schema_version: history.schema_version,
            target: history.target.clone(),
            interval_ms: history.interval_ms,
            samples: history.samples[n - keep..].to_vec(),
        };
        text = render(&kept);
    }
    (text, n - keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::sample::Sample;
    use crate::snapshot::{Session, Transaction};

    fn json<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string_pretty(v).unwrap()
    }

    fn snap(texts: usize, len: usize) -> Snapshot {
        let mut s: Snapshot =
            serde_json::from_str(include_str!("../../tests/data/mysql80-incident.json")).unwrap();
        let long = "\u{1}é".repeat(len / 2);
        s.sessions = (0..texts as u64)
            .map(|id| Session {
                id,
                user: "app".into(),
                command: "Query".into(),
                info: Some(long.clone()),
                ..Default::default()
            })
            .collect();
        s.transactions = vec![Transaction {
            session_id: 0,
            query: Some(long.clone()),
            ..Default::default()
        }];
        s
    }

    #[test]
    fn texts_are_cut_at_the_documented_length_and_marked() {
        let mut s = snap(3, 5000);
        s.sessions[2].info = Some("short".into());
        assert_eq!(cut_query_texts(&mut s, QUERY_TEXT_MAX), 3);
        let info = s.sessions[0].info.as_deref().unwrap();
        assert_eq!(info.chars().count(), QUERY_TEXT_MAX);
        assert!(s.sessions[0].info_truncated);
        assert!(!s.sessions[2].info_truncated);
        assert!(s.transactions[0].query_truncated);
        // The flags survive a file round trip; absent, they read as false.
        let back: Snapshot = serde_json::from_str(&json(&s)).unwrap();
        assert!(back.sessions[0].info_truncated && !back.sessions[2].info_truncated);
        assert!(!json(&s.sessions[2]).contains("info_truncated"));
    }

    #[test]
    fn a_file_over_its_budget_keeps_shorter_texts_and_never_passes_the_cap() {
        let s = snap(200, 64 * 1024);
        let whole = json(&s).len() as u64;
        let f = fit_snapshot(&s, u64::MAX, u64::MAX, json).unwrap();
        assert_eq!((f.cut_at, f.texts_cut), (QUERY_TEXT_MAX, 201));
        assert!((f.text.len() as u64) < whole / 20);
        let f = fit_snapshot(&s, 400 * 1024, u64::MAX, json).unwrap();
        assert!(
            f.cut_at < QUERY_TEXT_MAX && f.text.len() <= 400 * 1024,
            "{}",
            f.cut_at
        );
        // No budget at all: no text, still within the cap.
        let f = fit_snapshot(&s, 0, 1 << 20, json).unwrap();
        assert_eq!(f.cut_at, 0);
        // Over the reader's cap even without texts: an error, never a file it cannot read.
        let e = fit_snapshot(&s, 0, 1000, json).unwrap_err();
        assert!(e.to_string().contains("even without query texts"), "{e}");
    }

    #[test]
    fn a_history_over_its_budget_loses_its_oldest_samples() {
        let h = SampleHistory {
            schema_version: 1,
            target: "t".into(),
            interval_ms: 1000,
            samples: (0..1000)
                .map(|i| Sample {
                    at_ms: i,
                    ..Default::default()
                })
                .collect(),
        };
        let (text, dropped) = fit_history(&h, u64::MAX, json);
        assert_eq!((text, dropped), (json(&h), 0));
        let (text, dropped) = fit_history(&h, 50_000, json);
        assert!(text.len() <= 50_000 && dropped > 0);
        let back: SampleHistory = serde_json::from_str(&text).unwrap();
        assert_eq!(back.samples.len(), 1000 - dropped);
        assert_eq!(
            back.samples.last().unwrap().at_ms,
            999,
            "the newest are kept"
        );
        let (_, dropped) = fit_history(&h, 0, json);
        assert_eq!(dropped, 1000);
    }
}
