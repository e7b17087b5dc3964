//! The flight recorder's pure parts (`conncheck record`): triggers, the sample ring buffer, the
//! state machine that decides when to fire and what an incident holds (`machine`), and the
//! incident folders on disk. The loop that sleeps between ticks and the link to the server are in
//! `commands/record.rs`; the samples are read by `snapshot::sampling`. Nothing here sends SQL.

pub mod machine;
pub mod ring;
pub mod store;
pub mod trigger;
