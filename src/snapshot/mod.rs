//! The server as data: the serializable [`Snapshot`], how to read it, and the flavor knowledge
//! that decides which SQL reads it.
//!
//! Reading goes `flavor` → `dialect` (what this server can do) → `plan` (the statements to send,
//! each with its key and decoder: `sql`, `row`, and one file per optional read) → `read` (sends
//! the plans, assembles the [`Snapshot`] of `model`). The lock join is in `locks`.

pub mod accounts;
pub mod batch;
pub mod connect_attrs;
pub mod dialect;
pub mod flavor;
pub mod grants;
pub mod host_cache;
pub mod locks;
pub mod mdl;
pub mod model;
pub mod plan;
pub mod process;
pub mod read;
pub mod refusals;
pub mod replication;
pub mod row;
pub mod sample;
pub mod sampling;
pub mod saved;
pub mod source;
pub mod sql;
pub mod thread_memory;
pub mod trx_waits;
pub mod user_locks;

pub use flavor::{Flavor, ProcesslistSource};
pub use model::*;
