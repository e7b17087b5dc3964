//! All integration tests, one binary (`autotests = false`): one link instead of one per file, and
//! one process whose private servers are shared per test file (see `support::Server::shared`).

mod support;

mod bad_input;
mod check;
mod cli;
mod conformance;
mod connect_faults;
mod diagnose;
mod dialects;
mod doc_links;
mod exit_codes;
mod files;
mod finding_ids;
mod fuzz_parsers;
mod generated;
mod hostile_text;
mod import_cycles;
mod json_contract;
mod kill;
mod kill_record;
mod kill_signals;
mod layout;
mod login_path;
mod multi;
mod pileups;
mod record;
mod recorded;
mod refusals;
mod replay;
mod robustness;
mod scale;
mod security;
mod sessions;
mod settings;
mod statements;
mod status;
mod suggestions;
mod time_aware;
mod validation;
mod watch;
