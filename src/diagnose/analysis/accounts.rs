//! The client sessions grouped by account (user, client host), once per judgement, and the
//! finer client groups leaks and pools judge, derived from it. Pure.

use std::collections::BTreeMap;

use crate::snapshot::Session;

/// Client sessions by account: (user, client host without the port) -> sessions, in
/// processlist order.
pub type ByAccount<'s> = BTreeMap<(&'s str, &'s str), Vec<&'s Session>>;

/// The client sessions that pass `keep`, grouped by client as leaks and pools see one: user,
/// client host, default database and program name. Groups come in that key's order, sessions in
/// processlist order. Derived from [`ByAccount`] (grouped once per judgement): only the database
/// and program are compared per session.
pub fn by_client<'s>(
    by_account: &ByAccount<'s>,
    keep: impl Fn(&Session) -> bool,
) -> Vec<Vec<&'s Session>> {
    let mut out = Vec::new();
    for sessions in by_account.values() {
        let kept: Vec<&'s Session> = sessions.iter().copied().filter(|s| keep(s)).collect();
        let key = |s: &&'s Session| (s.db.as_deref(), s.program.as_deref());
        // Most accounts are one client with one database and program: one group, no map.
        match kept.first().map(key) {
            None => {}
            Some(k) if kept.iter().all(|s| key(s) == k) => out.push(kept),
            Some(_) => {
                let mut sub: BTreeMap<_, Vec<&'s Session>> = BTreeMap::new();
                for s in kept {
                    sub.entry(key(&s)).or_default().push(s);
                }
                out.extend(sub.into_values());
            }
        }
    }
    out
}
