//! `diagnose --from FILE`: whatever deserializes as a snapshot is judged and rendered in every
//! format, and planned for, without a panic (overflowing counters, NaN samples, empty strings).
//! Seed it with `fuzz/seeds/snapshot/` (real-looking snapshots).
#![no_main]

use std::time::Duration;

use conncheck::testing::report::check::{self, Limits};
use conncheck::testing::cli::WithOpenTrx;
use conncheck::testing::report;
use conncheck::testing::diagnose::Thresholds;
use conncheck::testing::filter::SessionFilter;
use conncheck::testing::remedy::plan::{self, Criteria, KillMode, Target};
use conncheck::testing::remedy::settings;
use conncheck::testing::render::{self, Style, nagios, prometheus};
use conncheck::testing::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(snap) = serde_json::from_slice::<Snapshot>(data) else {
        return;
    };
    let th = Thresholds::default();
    let style = Style::plain();
    let report = report::diagnose::build(&snap, &th);
    let _ = render::json(&report);
    let _ = render::diagnose::human(&report, &snap, style, true);
    let st = report::status::build(&snap, 10);
    let _ = render::status::header(&st, style);
    let _ = render::status::clients_table(&st.clients, style);
    let _ = report::sessions::build(&snap, &SessionFilter::default(), None, 0);
    let _ = render::watch::line("2026-01-01T00:00:00Z", &snap);
    let checked = check::judge(
        &snap,
        &Limits {
            th: th.clone(),
            max_idle: Some(0),
            max_long: Some(0),
            max_idle_trx: Some(0),
            fail_on: None,
            forecast: None,
        },
    );
    let _ = nagios::render(&checked);
    let _ = prometheus::render(std::slice::from_ref(&checked), true);
    for target in [Target::Idle, Target::Long] {
        let p = plan::plan(
            &snap,
            &Criteria {
                target,
                mode: KillMode::Connection,
                threshold: Duration::ZERO,
                filter: SessionFilter::default(),
                exclude_users: vec![],
                limit: None,
                with_open_trx: WithOpenTrx::Include,
                min_trx_age: None,
                allow_replication: false,
                allow_system: false,
            },
        );
        let _ = render::kill::plan_text(&p, &snap, style);
    }
    let _ = settings::timeouts(&snap, Some(Duration::from_secs(1)), None, true);
    let _ = settings::max_connections(&snap, 100_000, false, None, true);
    let _ = settings::slow_log(&snap, true, Some(Duration::from_millis(1)), true);
});
