//! What the integration tests (`tests/it/`), the benchmarks, the examples and the fuzz targets
//! use, by the same paths as inside the crate: `conncheck::testing::snapshot::Snapshot` is
//! `crate::snapshot::Snapshot`. Not an API (hidden from the docs): every other module is private
//! to the crate, so the compiler reports what nothing uses. An item a new test needs is added
//! here.

pub mod cli {
    pub use crate::cli::{
        CheckFormat, Cli, Threshold, WithOpenTrx, parse, parse_bytes, parse_duration,
        parse_threshold,
    };
}
pub mod commands {
    pub mod generate {
        pub use crate::commands::generate::{completion_script, man_pages};
    }
}
pub mod connect {
    pub use crate::connect::{Env, Resolver, Transport};
    pub mod loginpath {
        pub use crate::connect::loginpath::encrypt;
    }
    pub mod optfile {
        pub use crate::connect::optfile::{OptFileError, OptionSet, parse_str};
    }
    pub mod replay {
        pub use crate::connect::replay::{Replay, quote, split};
    }
    pub mod url {
        pub use crate::connect::url::{parse, redact};
    }
}
pub mod diagnose {
    #[cfg(feature = "fixtures")]
    pub use crate::diagnose::fixtures;
    pub use crate::diagnose::{FindingId, Thresholds, diagnose};
}
pub mod exit {
    pub use crate::exit::{AppError, CODES, ErrorKind};
}
pub mod filter {
    pub use crate::filter::SessionFilter;
}
pub mod remedy {
    pub mod execute {
        pub use crate::remedy::execute::{
            Answer, Execution, Failure, KillResult, Link, Lock, Outcome, execute,
        };
    }
    pub mod plan {
        pub use crate::remedy::plan::{Criteria, KillMode, KillPlan, Target, plan};
    }
    pub mod settings {
        pub use crate::remedy::settings::{
            ChangeOutcome, ChangeResult, SettingsPlan, max_connections, slow_log, timeouts,
        };
    }
}
pub mod render {
    pub use crate::render::{Style, json, snapshot_server_line};
    pub mod check {
        pub use crate::render::check::many;
    }
    pub mod diagnose {
        pub use crate::render::diagnose::human;
    }
    pub mod kill {
        pub use crate::render::kill::{plan_text, results_text};
    }
    pub mod layout {
        pub use crate::render::layout::{strip_escapes, width_of};
    }
    pub mod nagios {
        pub use crate::render::nagios::render;
    }
    pub mod prometheus {
        pub use crate::render::prometheus::render;
    }
    pub mod sessions {
        pub use crate::render::sessions::human;
    }
    pub mod settings {
        pub use crate::render::settings::{plan_text, result_text};
    }
    pub mod status {
        pub use crate::render::status::{clients_table, header, human};
    }
    pub mod watch {
        pub use crate::render::watch::{frame, line};
    }
}
pub mod report {
    pub mod check {
        pub use crate::report::check::{Limits, judge};
    }
    pub mod diagnose {
        pub use crate::report::diagnose::build;
    }
    pub mod kill {
        pub use crate::report::kill::{Counts, KILL_SCHEMA_VERSION, KillReport, PlanRecord};
    }
    pub mod sessions {
        pub use crate::report::sessions::{GroupBy, build};
    }
    pub mod settings {
        pub use crate::report::settings::{SETTINGS_SCHEMA_VERSION, SettingsReport};
    }
    pub mod status {
        pub use crate::report::status::build;
    }
}
pub mod snapshot {
    pub use crate::snapshot::{
        Flavor, LockKind, LockWait, Refusal, Session, Snapshot, Transaction, TrendPoint,
    };
    pub mod connect_attrs {
        pub use crate::snapshot::connect_attrs::sql_for;
    }
    pub mod dialect {
        pub use crate::snapshot::dialect::Dialect;
    }
    pub mod flavor {
        pub use crate::snapshot::flavor::parse_version;
    }
    pub mod host_cache {
        pub use crate::snapshot::host_cache::blocked_sum_sql;
    }
    pub mod plan {
        pub use crate::snapshot::plan::{LOCK_READS, Needs, Read, first};
    }
    pub mod read {
        pub use crate::snapshot::read::refused;
    }
    pub mod sample {
        pub use crate::snapshot::sample::{
            INCIDENT_KIND, IncidentIndex, SAMPLE_SCHEMA_VERSION, Sample, SampleHistory,
            sort_clients,
        };
    }
    pub mod sampling {
        pub use crate::snapshot::sampling::sessions_sql;
    }
    pub mod source {
        pub use crate::snapshot::source::load;
    }
    pub mod sql {
        pub use crate::snapshot::sql::{ROLLING_BACK_SQL, STATUS, VARIABLES};
    }
}
pub mod terminal {
    pub use crate::terminal::Signal;
}
pub mod text {
    pub use crate::text::is_safe;
}
