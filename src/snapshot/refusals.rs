//! Clients refused during a sample, counted from two readings of the server's counters, by the
//! error they saw (docs/refusals.md). Pure arithmetic shared by `diagnose`, `check` and the
//! `record` trigger, so that they count the same thing.
//!
//! Every difference saturates at 0: counters go back (a restart, `FLUSH STATUS`, `FLUSH HOSTS`),
//! and a refusal count is never negative.

use super::model::{HostCacheEntry, Snapshot};

/// The status counters whose growth counts the logins refused after authentication (MariaDB
/// has all four; MySQL lacks Aborted_connects_preauth and Access_denied_errors and counts its
/// 1040 after login in Connection_errors_max_connections instead).
pub const AFTER_LOGIN_COUNTERS: [&str; 4] = [
    "aborted_connects",
    "aborted_connects_preauth",
    "access_denied_errors",
    "connection_errors_max_connections",
];

/// Logins that failed after authentication for another reason than a wrong password:
/// ΔAborted_connects − ΔAborted_connects_preauth − ΔAccess_denied_errors, less the ERROR 1040
/// refused at accept, which MariaDB counts in Aborted_connects but not in
/// Aborted_connects_preauth (docs/refusals.md "ERROR 1040", observed live). These are ERROR 1040
/// for a client without SUPER when the normal slots are taken (SQLSTATE 08004), 1203 and 1226
/// (an account's limit), and rarer login failures (an unknown default database). `value` reads
/// a counter at the first and at the second reading; None when the server lacks one.
pub fn after_login(value: impl Fn(&str) -> Option<(u64, u64)>) -> Option<u64> {
    let grew = |name: &str| value(name).map(|(a, b)| b.saturating_sub(a));
    let [aborted, preauth, denied, at_accept] = AFTER_LOGIN_COUNTERS;
    Some(
        grew(aborted)?
            .saturating_sub(grew(preauth)?)
            .saturating_sub(grew(denied)?)
            .saturating_sub(grew(at_accept).unwrap_or(0)),
    )
}

/// ERROR 1129 refusals between two readings of the host cache, per IP (only hosts that were
/// refused): the growth of COUNT_HOST_BLOCKED_ERRORS. A host absent from the first reading (it
/// had no error then) counts from 0.
pub fn host_blocked(before: &[HostCacheEntry], after: &[HostCacheEntry]) -> Vec<(String, u64)> {
    let first: std::collections::HashMap<&str, u64> = before
        .iter()
        .map(|h| (h.ip.as_str(), h.count_host_blocked_errors))
        .collect();
    after
        .iter()
        .filter_map(|h| {
            let was = first.get(h.ip.as_str()).copied().unwrap_or(0);
            let n = h.count_host_blocked_errors.saturating_sub(was);
            (n > 0).then(|| (h.ip.clone(), n))
        })
        .collect()
}

impl Snapshot {
    /// [`after_login`] over the snapshot's sample (None without a sample or the counters).
    pub fn refused_after_login(&self) -> Option<u64> {
        let after = self.status_after.as_ref()?;
        after_login(|name| {
            let a = self.status_u64(name)?;
            let b = after.get(name).and_then(|v| super::model::parse_num(v))?;
            Some((a, b))
        })
    }

    /// ERROR 1129 refusals during the sample, per IP ([`host_blocked`]); empty without two
    /// readings of the host cache.
    pub fn refused_host_blocked(&self) -> Vec<(String, u64)> {
        match (&self.host_cache, &self.host_cache_after) {
            (Some(a), Some(b)) => host_blocked(a, b),
            _ => Vec::new(),
        }
    }

    /// Whether every normal slot was taken at some reading of the sample (either status reading
    /// or a trend point): a client without SUPER logging in then got ERROR 1040.
    pub fn slots_full_during_sample(&self) -> bool {
        let max = self.max_connections();
        let first = self.status_u64("threads_connected").unwrap_or(0);
        let last = self.status_now_u64("threads_connected").unwrap_or(0);
        first >= max || last >= max || self.trend.iter().any(|p| p.threads_connected >= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ip: &str, blocked: u64) -> HostCacheEntry {
        HostCacheEntry {
            ip: ip.into(),
            host: None,
            sum_connect_errors: 2,
            count_host_blocked_errors: blocked,
            count_handshake_errors: 2,
        }
    }

    #[test]
    fn after_login_is_what_neither_preauth_nor_a_wrong_password_explains() {
        let v = |a: [(u64, u64); 4]| {
            move |n: &str| {
                AFTER_LOGIN_COUNTERS
                    .iter()
                    .position(|c| *c == n)
                    .map(|i| a[i])
            }
        };
        assert_eq!(after_login(v([(10, 25), (3, 6), (1, 3), (0, 0)])), Some(10));
        // Refused at accept: in Aborted_connects, not in Aborted_connects_preauth.
        assert_eq!(after_login(v([(10, 25), (3, 6), (1, 3), (5, 9)])), Some(6));
        // Counters that went back (FLUSH STATUS, a restart) never make a negative count.
        assert_eq!(after_login(v([(10, 2), (3, 6), (1, 3), (0, 0)])), Some(0));
        assert_eq!(after_login(v([(10, 12), (3, 60), (1, 3), (0, 0)])), Some(0));
        // MySQL: no Aborted_connects_preauth, no Access_denied_errors.
        assert_eq!(
            after_login(|n| (n == "aborted_connects").then_some((1, 9))),
            None
        );
    }

    #[test]
    fn blocked_refusals_are_the_growth_per_host() {
        let before = [host("10.0.0.9", 4), host("10.0.0.8", 7)];
        let after = [
            host("10.0.0.9", 10),
            host("10.0.0.8", 7),
            host("10.0.0.7", 3),
        ];
        assert_eq!(
            host_blocked(&before, &after),
            [("10.0.0.9".to_string(), 6), ("10.0.0.7".to_string(), 3)]
        );
        // FLUSH HOSTS between the readings empties the cache: nothing grew.
        assert!(host_blocked(&after, &[host("10.0.0.9", 1)]).is_empty());
    }
}
