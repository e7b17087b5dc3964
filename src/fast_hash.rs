//! The hash maps and sets of judging: keyed by session ids, user names and client hosts, built
//! over every session (10,000 on a full server), where std's SipHash was a sixth of the work.
//!
//! foldhash is seeded at random per process, so keys crafted in user or host names cannot be
//! made to collide ahead of time; a run is too short-lived to be studied for its seed. Nothing
//! here is persisted or ordered by hash: output order always comes from a sort or a BTreeMap.

pub use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
