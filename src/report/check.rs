//! The verdict of `conncheck check`: a snapshot and the limits in, OK / WARNING / CRITICAL /
//! UNKNOWN out, with the reasons that decided it and the metrics monitoring systems graph.
//!
//! Pure: no I/O, no printing. The heuristics behind `--fail-on` are [`diagnose::diagnose`]'s;
//! this module only adds the plugin rules (usage thresholds, session counts, refusals) and never
//! re-implements a heuristic. Rendering is in `render::nagios`, `render::prometheus` and JSON.

use serde::Serialize;

use super::status::{self, ConnectionSummary};
use crate::diagnose::FailOn;
use crate::diagnose::forecast::{self, Forecast};
use crate::diagnose::{self, Analysis, Finding, FindingId, Severity, Thresholds, common};
use crate::exit::{AppError, nagios};
use crate::snapshot::Snapshot;

/// Bumped when a field of the check JSON changes meaning or disappears.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// A monitoring-plugin state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The plugin exit code (and the value of `conncheck_check_state`): 0, 1, 2, 3.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Ok => nagios::OK,
            State::Warning => nagios::WARNING,
            State::Critical => nagios::CRITICAL,
            State::Unknown => nagios::UNKNOWN,
        }
    }

    /// Order of aggregation over several targets, as Nagios does for service groups:
    /// CRITICAL > WARNING > UNKNOWN > OK (a confirmed problem outranks a failed check).
    fn rank(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Unknown => 1,
            State::Warning => 2,
            State::Critical => 3,
        }
    }

    /// The worst of several states (OK for none).
    pub fn worst(states: impl IntoIterator<Item = State>) -> State {
        states
            .into_iter()
            .max_by_key(|s| s.rank())
            .unwrap_or(State::Ok)
    }

    fn of_severity(s: Severity) -> State {
        match s {
            Severity::Critical => State::Critical,
            Severity::Warning => State::Warning,
            Severity::Info => State::Ok,
        }
    }
}

/// What `check` judges against: the diagnose thresholds plus the plugin's own limits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Limits {
    pub th: Thresholds,
    pub max_idle: Option<u64>,
    pub max_long: Option<u64>,
    pub max_idle_trx: Option<u64>,
    pub fail_on: Option<FailOn>,
    /// `--forecast`: WARNING when the trend reaches max_connections within this long.
    pub forecast: Option<std::time::Duration>,
}

/// One rule that raised the state, e.g. usage over the warning threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub state: State,
    /// `usage`, `refused-during-sample`, `server-full`, `idle-sessions`, `long-queries`,
    /// `idle-transactions`, an error kind for UNKNOWN, or a diagnose finding id (`--fail-on`).
    pub id: String,
    pub message: String,
}

/// What the sessions are doing, counted against the thresholds. Shared with `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Activity {
    /// Client sessions in Sleep.
    pub sleeping: u64,
    /// ... of which idle at least `--idle-threshold`.
    pub idle_sessions: u64,
    /// Client statements running at least `--long-query-threshold`.
    pub long_queries: u64,
    /// Sleeping sessions holding a transaction open at least `--trx-threshold`.
    pub idle_transactions: u64,
    pub oldest_idle_s: u64,
    pub longest_query_s: u64,
}

impl Activity {
    pub fn of(snap: &Snapshot, th: &Thresholds) -> Activity {
        let mut a = Activity::default();
        let trx_of = snap.transactions_by_session();
        for s in snap.clients() {
            if s.is_sleeping() {
                a.sleeping += 1;
                a.oldest_idle_s = a.oldest_idle_s.max(s.time_s);
                a.idle_sessions += u64::from(common::at_least(s, th.idle));
                a.idle_transactions += u64::from(
                    trx_of
                        .get(&s.id)
                        .is_some_and(|t| t.age_s >= th.trx.as_secs()),
                );
            } else {
                a.longest_query_s = a.longest_query_s.max(s.time_s);
                a.long_queries += u64::from(common::at_least(s, th.long_query));
            }
        }
        a
    }
}

/// The numbers behind the verdict (None in the report when the server could not be read).
#[derive(Debug, Serialize)]
pub struct Metrics {
    #[serde(flatten)]
    pub connections: ConnectionSummary,
    #[serde(flatten)]
    pub activity: Activity,
    /// `--warning` and `--critical` as connection counts on this server.
    pub warning_connections: f64,
    pub critical_connections: f64,
    /// Growth of Connection_errors_max_connections during the sample (None without a sample).
    pub refused_during_sample: Option<u64>,
    /// Clients refused during the sample by any error a refusal finding names (ERROR 1040 at
    /// accept and after login, 1203, 1226, 1129), summed over those findings' `refused`.
    #[serde(default)]
    pub refused_any_during_sample: u64,
    pub sample_s: f64,
}

/// The result of one check of one server.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub schema_version: u32,
    pub target: String,
    pub state: State,
    pub exit_code: u8,
    /// One line, as on the plugin's first output line.
    pub summary: String,
    /// The rules that raised the state, worst first (empty when OK).
    pub reasons: Vec<Reason>,
    pub metrics: Option<Metrics>,
    /// Every diagnose finding, ranked (whether or not `--fail-on` made it count).
    pub findings: Vec<Finding>,
    /// The diagnosis' main cause (its verdict), a finding id; also named on the plugin line when
    /// the state is not OK.
    pub cause: Option<FindingId>,
    /// The trend of Threads_connected over the sample and the time until max_connections at
    /// that rate (`rate_per_min`, `full_in_s`); absent when the sample was too short to fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
    /// `--forecast` in seconds: the horizon the forecast was judged against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_horizon_s: Option<u64>,
}

impl CheckReport {
    /// The report when no verdict could be reached (unreachable, denied, timeout ...).
    pub fn unknown(target: &str, err: &AppError) -> CheckReport {
        let mut message = err.message.clone();
        if let Some(h) = &err.hint {
            message.push_str(&format!(" (hint: {h})"));
        }
        CheckReport {
            schema_version: CHECK_SCHEMA_VERSION,
            target: target.to_string(),
            state: State::Unknown,
            exit_code: State::Unknown.exit_code(),
            summary: err.message.clone(),
            reasons: vec![Reason {
                state: State::Unknown,
                id: err.kind.name(),
                message,
            }],
            metrics: None,
            findings: Vec::new(),
            cause: None,
            forecast: None,
            forecast_horizon_s: None,
        }
    }
}

/// Judge a snapshot. A refused snapshot (our own login got ERROR 1040) is CRITICAL.
pub fn judge(snap: &Snapshot, limits: &Limits) -> CheckReport {
    // The verdict's cause from the one function diagnose and watch take theirs from.
    let a = Analysis::new(snap);
    let findings = diagnose::judge(&a, &limits.th);
    let cause = diagnose::verdict::cause(&findings).main.map(|f| f.id);
    let mut reasons = Vec::new();
    let forecast = forecast::of_snapshot(snap);
    let horizon = limits.forecast;
    if let (Some(f), Some(h)) = (&forecast, horizon)
        && f.full_within(h.as_secs_f64())
    {
        reasons.push(Reason {
            state: State::Warning,
            id: "forecast".into(),
            message: format!(
                "{} (trend over {:.0}s, --forecast {})",
                f.sentence(),
                f.window_s,
                humantime::format_duration(h)
            ),
        });
    }
    let metrics = if snap.refused.is_some() {
        reasons.push(Reason {
            state: State::Critical,
            id: FindingId::ServerFull.to_string(),
            message: format!(
                "{} refused conncheck with ERROR 1040 (Too many connections)",
                snap.target
            ),
        });
        None
    } else {
        let mut m = metrics(snap, &limits.th);
        reasons.extend(rule_reasons(&m, limits));
        let refusals = refusal_reasons(&findings, m.refused_during_sample.unwrap_or(0));
        m.refused_any_during_sample = findings
            .iter()
            .filter(|f| REFUSAL_FINDINGS.contains(&f.id))
            .fold(0, |n, f| n.saturating_add(f.refused));
        reasons.extend(refusals);
        Some(m)
    };
    if let Some(fail_on) = limits.fail_on {
        reasons.extend(
            findings
                .iter()
                // Covered by the usage and refusal rules above, with the same thresholds.
                .filter(|f| !matches!(f.id, FindingId::NearLimit | FindingId::ServerFull))
                .filter(|f| f.severity.at_least(fail_on))
                .map(|f| Reason {
                    state: State::of_severity(f.severity),
                    id: f.id.to_string(),
                    message: format!("{}: {}", f.id, f.title),
                }),
        );
    }
    // Worst first; the sort is stable, so rules keep their order within a state.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.state.rank()));
    let state = State::worst(reasons.iter().map(|r| r.state));
    let mut summary = match (&metrics, state) {
        (Some(m), State::Ok) => {
            let c = &m.connections;
            format!(
                "{} of {} connections ({:.0}%), {} running, {} sleeping",
                c.threads_connected,
                c.max_connections,
                c.usage_pct,
                c.threads_running,
                m.activity.sleeping
            )
        }
        _ => reasons
            .iter()
            .filter(|r| r.state == state)
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    };
    // The verdict's cause (the top-ranked finding that explains connections) on the line.
    if state != State::Ok
        && let Some(c) = &cause
    {
        summary.push_str(&format!("; cause: {c}"));
    }
    CheckReport {
        schema_version: CHECK_SCHEMA_VERSION,
        target: snap.target.clone(),
        state,
        exit_code: state.exit_code(),
        summary,
        reasons,
        metrics,
        findings,
        cause,
        forecast,
        forecast_horizon_s: horizon.map(|h| h.as_secs()),
    }
}

fn metrics(snap: &Snapshot, th: &Thresholds) -> Metrics {
    let connections = status::build(snap, 0).connections;
    let max = connections.max_connections;
    // 80 % of 151 is 120.80000000000001 in floating point: two decimals are all a count has.
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    Metrics {
        warning_connections: round2(th.warning.connections(max)),
        critical_connections: round2(th.critical.connections(max)),
        activity: Activity::of(snap, th),
        refused_during_sample: snap.status_delta("connection_errors_max_connections"),
        refused_any_during_sample: 0,
        sample_s: (snap.sample_s * 1000.0).round() / 1000.0,
        connections,
    }
}

/// The findings that count clients refused with an error (`Finding::refused`).
const REFUSAL_FINDINGS: [FindingId; 3] = [
    FindingId::RefusedConnections,
    FindingId::UserLimitReached,
    FindingId::HostBlocked,
];

/// CRITICAL for every refusal finding that counted refused clients during the sample, beyond the
/// ERROR 1040 at accept the `refused-during-sample` rule already reports (`at_accept`): logins
/// refused with 1040 after authentication, 1203 / 1226 (an account's limit), 1129 (a blocked
/// host). Each names the finding and its title, which names the error.
fn refusal_reasons(findings: &[Finding], at_accept: u64) -> Vec<Reason> {
    findings
        .iter()
        .filter(|f| REFUSAL_FINDINGS.contains(&f.id))
        .filter_map(|f| {
            let n = if f.id == FindingId::RefusedConnections {
                f.refused.saturating_sub(at_accept)
            } else {
                f.refused
            };
            (n > 0).then(|| Reason {
                state: State::Critical,
                id: f.id.to_string(),
                message: format!(
                    "{n} client{} refused during the sample: {}",
                    if n == 1 { "" } else { "s" },
                    f.title
                ),
            })
        })
        .collect()
}

/// The plugin's own rules, in the order they are listed in `check --help`.
fn rule_reasons(m: &Metrics, limits: &Limits) -> Vec<Reason> {
    let mut out = Vec::new();
    let c = &m.connections;
    let connected = c.threads_connected as f64;
    // `>=` as in diagnose's near-limit finding: "80%" means "at 80% or more".
    let usage = if connected >= m.critical_connections {
        Some((State::Critical, "critical", limits.th.critical))
    } else if connected >= m.warning_connections {
        Some((State::Warning, "warning", limits.th.warning))
    } else {
        None
    };
    if let Some((state, name, threshold)) = usage {
        out.push(Reason {
            state,
            id: "usage".into(),
            message: format!(
                "{} of {} connections in use ({:.0}%), {name} threshold {threshold}",
                c.threads_connected, c.max_connections, c.usage_pct
            ),
        });
    }
    if let Some(n) = m.refused_during_sample.filter(|n| *n > 0) {
        out.push(Reason {
            state: State::Critical,
            id: "refused-during-sample".into(),
            message: format!(
                "{n} connection{} refused with ERROR 1040 during the {:.1}s sample (Connection_errors_max_connections)",
                if n == 1 { "" } else { "s" },
                m.sample_s
            ),
        });
    }
    let a = &m.activity;
    // "More than N" for the session counts, as their --help says.
    if let Some(max) = limits.max_idle.filter(|max| a.idle_sessions > *max) {
        out.push(Reason {
            state: if a.idle_sessions > max.saturating_mul(2) {
                State::Critical
            } else {
                State::Warning
            },
            id: "idle-sessions".into(),
            message: format!(
                "{} sessions idle for {} or more (--max-idle {max})",
                a.idle_sessions,
                diagnose::dur(limits.th.idle)
            ),
        });
    }
    if let Some(max) = limits.max_long.filter(|max| a.long_queries > *max) {
        out.push(Reason {
            state: State::Warning,
            id: "long-queries".into(),
            message: format!(
                "{} statements running for {} or more (--max-long {max})",
                a.long_queries,
                diagnose::dur(limits.th.long_query)
            ),
        });
    }
    if let Some(max) = limits.max_idle_trx.filter(|max| a.idle_transactions > *max) {
        out.push(Reason {
            state: State::Warning,
            id: FindingId::IdleTransactions.to_string(),
            message: format!(
                "{} idle sessions hold a transaction open for {} or more (--max-idle-trx {max})",
                a.idle_transactions,
                diagnose::dur(limits.th.trx)
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Threshold;
    use crate::diagnose::fixtures::{self, session, trx};
    use crate::exit::ErrorKind;
    use crate::snapshot::Refusal;

    /// max_connections 100, `n` connections including us (n-1 sleeping for 10 s).
    fn server_with(n: u64) -> Snapshot {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "100".into());
        let sessions = (1..n)
            .map(|i| session(i, "app", "10.0.0.1", "Sleep", 10, "", None))
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        s
    }

    #[test]
    fn usage_thresholds_percent_and_count() {
        let l = Limits::default();
        let r = judge(&server_with(50), &l);
        assert_eq!(r.state, State::Ok, "{:?}", r.reasons);
        assert_eq!(r.exit_code, 0);
        assert!(r.summary.starts_with("50 of 100 connections (50%)"));
        assert!(r.reasons.is_empty());

        let r = judge(&server_with(80), &l);
        assert_eq!(r.state, State::Warning);
        assert_eq!(r.reasons[0].id, "usage");
        // The verdict's cause follows: 79 pooled connections idle 10 s hold the slots.
        assert_eq!(
            r.summary,
            "80 of 100 connections in use (80%), warning threshold 80%; cause: pool-oversized"
        );
        assert_eq!(r.cause, Some(FindingId::PoolOversized));
        assert_eq!(judge(&server_with(90), &l).state, State::Critical);
        assert_eq!(judge(&server_with(79), &l).state, State::Ok);

        let counts = Limits {
            th: Thresholds {
                warning: Threshold::Count(20),
                critical: Threshold::Count(30),
                ..Thresholds::default()
            },
            ..Limits::default()
        };
        assert_eq!(judge(&server_with(19), &counts).state, State::Ok);
        assert_eq!(judge(&server_with(25), &counts).state, State::Warning);
        let r = judge(&server_with(30), &counts);
        assert_eq!(r.state, State::Critical);
        let m = r.metrics.unwrap();
        assert_eq!(
            (m.warning_connections, m.critical_connections),
            (20.0, 30.0)
        );
    }

    #[test]
    fn refusals_during_the_sample_are_critical() {
        let mut s = server_with(5);
        fixtures::set_status(&mut s, "connection_errors_max_connections", 7);
        fixtures::sample(&mut s, 2.0, &[("connection_errors_max_connections", 7)]);
        assert_eq!(judge(&s, &Limits::default()).state, State::Ok, "no growth");
        fixtures::sample(&mut s, 2.0, &[("connection_errors_max_connections", 9)]);
        let r = judge(&s, &Limits::default());
        assert_eq!(r.state, State::Critical);
        assert_eq!(r.reasons[0].id, "refused-during-sample");
        assert!(
            r.summary.starts_with("2 connections refused"),
            "{}",
            r.summary
        );
        assert_eq!(r.metrics.unwrap().refused_during_sample, Some(2));
    }

    #[test]
    fn refusals_after_login_and_by_account_limits_are_critical() {
        let mut s = server_with(5);
        s.variables
            .insert("max_user_connections".into(), "4".into());
        fixtures::set_status(&mut s, "aborted_connects", 0);
        fixtures::set_status(&mut s, "aborted_connects_preauth", 0);
        fixtures::set_status(&mut s, "access_denied_errors", 0);
        let after = [
            ("aborted_connects", 5),
            ("aborted_connects_preauth", 1),
            ("access_denied_errors", 1),
        ];
        fixtures::sample(&mut s, 2.0, &after);
        // Four sleeping sessions of one account at max_user_connections 4: ERROR 1203.
        let r = judge(&s, &Limits::default());
        assert_eq!(r.state, State::Critical, "{:?}", r.reasons);
        let reason = r
            .reasons
            .iter()
            .find(|x| x.id == "user-limit-reached")
            .expect("the account limit");
        assert!(
            reason.message.starts_with("3 clients refused"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("ERROR 1203"), "{}", reason.message);
        assert_eq!(r.metrics.unwrap().refused_any_during_sample, 3);

        // Nobody at a limit, slots free: failed logins are no refusal.
        s.variables
            .insert("max_user_connections".into(), "0".into());
        assert_eq!(judge(&s, &Limits::default()).state, State::Ok);
    }

    #[test]
    fn our_own_refusal_is_critical_without_metrics() {
        let mut s = fixtures::mariadb();
        s.refused = Some(Refusal {
            code: 1040,
            message: "Too many connections".into(),
            before_greeting: false,
            admin_port_tried: None,
        });
        let r = judge(&s, &Limits::default());
        assert_eq!(r.state, State::Critical);
        assert_eq!(r.exit_code, 2);
        assert!(r.metrics.is_none());
        assert_eq!(r.reasons[0].id, "server-full");
    }

    #[test]
    fn session_counts() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 900, "", None),
                session(2, "app", "10.0.0.1", "Sleep", 400, "", None),
                session(3, "app", "10.0.0.1", "Sleep", 350, "", None),
                session(4, "app", "10.0.0.1", "Sleep", 5, "", None),
                session(
                    5,
                    "app",
                    "10.0.0.1",
                    "Query",
                    120,
                    "Sending data",
                    Some("SELECT 1"),
                ),
                session(6, "system user", "", "Slave_SQL", 9000, "", None),
            ],
        );
        s.transactions.push(trx(2, "RUNNING", 400, 1, None));
        let a = Activity::of(&s, &Thresholds::default());
        assert_eq!(
            a,
            Activity {
                sleeping: 4,
                idle_sessions: 3,
                long_queries: 1,
                idle_transactions: 1,
                oldest_idle_s: 900,
                longest_query_s: 120,
            }
        );
        let with = |max_idle, max_long, max_idle_trx| Limits {
            max_idle,
            max_long,
            max_idle_trx,
            ..Limits::default()
        };
        assert_eq!(judge(&s, &with(Some(3), None, None)).state, State::Ok);
        assert_eq!(judge(&s, &with(Some(2), None, None)).state, State::Warning);
        assert_eq!(judge(&s, &with(Some(1), None, None)).state, State::Critical);
        assert_eq!(judge(&s, &with(None, Some(0), None)).state, State::Warning);
        assert_eq!(judge(&s, &with(None, Some(1), None)).state, State::Ok);
        let r = judge(&s, &with(None, None, Some(0)));
        assert_eq!(r.state, State::Warning);
        assert_eq!(r.reasons[0].id, "idle-transactions");
    }

    #[test]
    fn fail_on_uses_the_diagnose_findings() {
        // 30 sessions idle for 15 minutes: diagnose finds idle connections.
        let mut s = server_with(5);
        let idle = (1..=30)
            .map(|i| session(i, "app", "10.0.0.1", "Sleep", 900, "", None))
            .collect();
        fixtures::with_sessions(&mut s, idle);
        let findings = diagnose::diagnose(&s, &Thresholds::default());
        let worst = diagnose::worst(&findings);
        assert!(worst >= Some(Severity::Warning), "{findings:?}");
        assert_eq!(
            judge(&s, &Limits::default()).state,
            State::Ok,
            "without --fail-on"
        );
        let r = judge(
            &s,
            &Limits {
                fail_on: Some(FailOn::Warning),
                ..Limits::default()
            },
        );
        assert_eq!(r.findings, findings);
        let expected = match worst {
            Some(Severity::Critical) => State::Critical,
            Some(Severity::Warning) => State::Warning,
            _ => State::Ok,
        };
        assert_eq!(r.state, expected);
        assert!(!r.reasons.is_empty());
        for reason in &r.reasons {
            assert!(findings.iter().any(|f| f.id.as_str() == reason.id));
        }
    }

    #[test]
    fn aggregation_order() {
        use State::*;
        assert_eq!(State::worst([Ok, Unknown, Warning]), Warning);
        assert_eq!(State::worst([Ok, Unknown]), Unknown);
        assert_eq!(State::worst([Critical, Unknown, Warning]), Critical);
        assert_eq!(State::worst([]), Ok);
    }

    #[test]
    fn unknown_reports_carry_the_error() {
        let e = AppError::new(ErrorKind::Unreachable, "cannot connect to db1:3306")
            .hint("is the server running?");
        let r = CheckReport::unknown("db1:3306", &e);
        assert_eq!((r.state, r.exit_code), (State::Unknown, 3));
        assert_eq!(r.summary, "cannot connect to db1:3306");
        assert_eq!(r.reasons[0].id, "unreachable");
        assert!(
            r.reasons[0]
                .message
                .contains("hint: is the server running?")
        );
    }
}
