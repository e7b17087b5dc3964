//! Reports: what every command tells its user, as plain `serde` structs with pure builders from a
//! snapshot, findings or a plan and its results. They depend on `snapshot`, `diagnose` and
//! `remedy` only; turning them into text (tables, JSON, Nagios, Prometheus) is
//! [`crate::render`]'s job, and running a command is [`crate::commands`]'.
//!
//! A new JSON field goes in the report here (field names are contracts: keep the old ones); a new
//! way of showing it goes in `render/`.

pub mod check;
pub mod diagnose;
pub mod kill;
pub mod sessions;
pub mod settings;
pub mod status;
pub mod timeline;
pub mod watch;
