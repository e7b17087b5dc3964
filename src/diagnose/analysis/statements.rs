//! Running statements grouped by digest ([`crate::text::digest`]): 40 sessions running the same
//! query with different values are one group of 40, with the clients and programs that send it.
//! Evidence lists groups, not copies of one text. Pure.

use std::collections::BTreeMap;

use crate::snapshot::Session;
use crate::text::digest;

/// Sessions running statements of one digest.
#[derive(Debug, Clone)]
pub struct StatementGroup<'s> {
    /// The normalised text (not terminal-safe: show it through `text::snippet`).
    pub digest: String,
    /// In the order given (oldest first when the caller sorted them so).
    pub sessions: Vec<&'s Session>,
}

impl StatementGroup<'_> {
    pub fn count(&self) -> u64 {
        self.sessions.len() as u64
    }

    /// `app ×30, mysql ×2`: the programs (connection attribute `program_name`) that sent the
    /// statement, where the server exposes them; empty when none is known.
    pub fn programs(&self, top: usize) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for p in self.sessions.iter().filter_map(|s| s.program.as_deref()) {
            *counts.entry(p).or_default() += 1;
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut out: Vec<String> = v
            .iter()
            .take(top)
            .map(|(p, n)| format!("{} ×{n}", crate::text::escape(p)))
            .collect();
        if v.len() > top {
            out.push(format!("{} more programs", v.len() - top));
        }
        out.join(", ")
    }
}

/// The sessions grouped by the digest of their statement (`info`; a session without one is
/// grouped under the empty digest), largest group first, then in the order of each group's first
/// session. Each text is normalised once: bounded work per session (see `text::digest`).
pub fn by_digest<'s>(sessions: &[&'s Session]) -> Vec<StatementGroup<'s>> {
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<StatementGroup<'s>> = Vec::new();
    for s in sessions {
        let d = digest::normalize(s.info.as_deref().unwrap_or(""));
        match at.get(&d) {
            Some(&i) => groups[i].sessions.push(s),
            None => {
                at.insert(d.clone(), groups.len());
                groups.push(StatementGroup {
                    digest: d,
                    sessions: vec![s],
                });
            }
        }
    }
    // Stable: equal counts keep the order of their first session.
    groups.sort_by_key(|g| std::cmp::Reverse(g.sessions.len()));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::session;

    #[test]
    fn forty_statements_differing_in_literals_are_one_group() {
        let mut v: Vec<Session> = (0..40)
            .map(|i| {
                let mut s = session(
                    i + 1,
                    "app",
                    &format!("10.0.0.{}:4000", i % 3),
                    "Query",
                    30,
                    "Sending data",
                    Some(&format!(
                        "SELECT * FROM orders WHERE id = {i} AND tag IN ('a', 'b{i}')"
                    )),
                );
                s.program = Some(if i < 30 { "api" } else { "cron" }.into());
                s
            })
            .collect();
        v.push(session(
            99,
            "rep",
            "10.0.0.9",
            "Query",
            5,
            "",
            Some("SELECT 1"),
        ));
        let refs: Vec<&Session> = v.iter().collect();
        let g = by_digest(&refs);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].count(), 40);
        assert_eq!(
            g[0].digest,
            "SELECT * FROM orders WHERE id = ? AND tag IN (...)"
        );
        assert_eq!(g[0].programs(5), "api ×30, cron ×10");
        assert_eq!(g[1].count(), 1);
        assert_eq!(g[1].programs(5), "");
    }
}
