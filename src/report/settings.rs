//! The settings report: the plan, what was applied and read back, and any sessions killed.

use serde::Serialize;

use crate::exit::{AppError, ErrorKind};
use crate::remedy::execute::KillResult;
use crate::remedy::plan::KillPlan;
use crate::remedy::settings::{Applied, ChangeOutcome, ChangeResult, SettingsPlan};

pub const SETTINGS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SettingsReport {
    pub schema_version: u32,
    pub target: String,
    pub dry_run: bool,
    pub plan: SettingsPlan,
    /// The variables whose value changed (kept for scripts written before `results`).
    pub applied: Vec<Applied>,
    /// One entry per planned variable: `applied`, `failed` (with `error`) or `unchanged`. Empty
    /// when nothing was executed (dry run, blocked, declined).
    pub results: Vec<ChangeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_plan: Option<KillPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kill_results: Vec<KillResult>,
}

/// The error for a change that failed. Nothing changed: the first failure as it is (a missing
/// privilege keeps its exit code). Some variables changed and others not: ACTION_FAILED, naming
/// both, so that nobody believes the change was all or nothing.
pub fn change_failure(results: &[ChangeResult], first: AppError) -> AppError {
    let names = |o: ChangeOutcome| {
        results
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| r.variable)
            .collect::<Vec<_>>()
    };
    let (applied, failed) = (names(ChangeOutcome::Applied), names(ChangeOutcome::Failed));
    if applied.is_empty() {
        return first;
    }
    AppError::new(
        ErrorKind::ActionFailed,
        format!(
            "partial change: {} changed, {} not ({})",
            applied.join(", "),
            failed.join(", "),
            first.message
        ),
    )
    .hint("the changed values stay in effect: set them back by hand if the change must be all or nothing")
}
