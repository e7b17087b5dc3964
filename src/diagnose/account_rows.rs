//! Client sessions by the account row they logged in as: what `per-user-limit-missing` and
//! `user-limit-reached` both judge, grouped one way. Pure.

use std::collections::BTreeMap;

use super::analysis::Analysis;
use super::common::logging_in;
use crate::snapshot::accounts::account_for;
use crate::snapshot::{Account, Session};

/// Client sessions by the account row they logged in as: (user, matched host part or None when
/// the rows are unknown or none matched) -> (the row, its sessions in processlist order).
/// Sessions still logging in are no account (`unauthenticated user`: an ALTER USER for them
/// fails with ERROR 1396) and are left out. Each client (user, host) is matched once, not each
/// session: thousands of sessions come from a few clients, and a match scans the rows.
pub fn by_account_row<'s>(a: &Analysis<'s>) -> BTreeMap<AccountKey<'s>, AccountSessions<'s>> {
    let rows = a.snap.accounts.as_deref();
    let mut groups: BTreeMap<AccountKey<'s>, AccountSessions<'s>> = BTreeMap::new();
    for (&(user, host), sessions) in a.by_account() {
        let held: Vec<&Session> = sessions
            .iter()
            .copied()
            .filter(|s| !logging_in(s))
            .collect();
        if held.is_empty() {
            continue;
        }
        let row = rows.and_then(|r| account_for(r, user, host));
        groups
            .entry((user, row.map(|r| r.host.as_str())))
            .or_insert_with(|| (row, Vec::new()))
            .1
            .extend(held);
    }
    // A row matched from several client hosts: its sessions back in processlist order (all
    // point into the snapshot's one vector).
    for (_, held) in groups.values_mut() {
        held.sort_unstable_by_key(|s| std::ptr::from_ref::<Session>(s));
    }
    groups
}

/// (user name, matched host part) of [`by_account_row`].
pub type AccountKey<'s> = (&'s str, Option<&'s str>);
/// The matched account row and its sessions, of [`by_account_row`].
pub type AccountSessions<'s> = (Option<&'s Account>, Vec<&'s Session>);
