//! The flight recorder's pure parts (`conncheck record`): triggers, the sample ring buffer and
//! the incident folders on disk. The loop that reads the server and sleeps is in
//! `commands/record.rs`; the samples are read by `snapshot::sampling`. Nothing here sends SQL.

pub mod ring;
pub mod store;
pub mod trigger;
