//! The server as data: the serializable [`Snapshot`], how to read it, and the flavor knowledge
//! that decides which SQL reads it.

pub mod accounts;
pub mod batch;
pub mod connect_attrs;
pub mod dialect;
pub mod flavor;
pub mod grants;
pub mod index;
pub mod locks;
pub mod mdl;
pub mod model;
pub mod process;
pub mod read;
pub mod sample;
pub mod sampling;
pub mod saved;
pub mod source;
pub mod thread_memory;
pub mod trx_waits;

pub use accounts::Account;
pub use flavor::{Flavor, ProcesslistSource};
pub use model::*;
