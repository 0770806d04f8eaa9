//! The revocation set: which order lines' links must never serve again.
//!
//! The database is the source of truth; this set is the hot-path copy checked
//! on every `/access` request. Two implementations sit behind one trait:
//! Redis (shared by a fleet) and in-process (the single-instance embedded
//! default). A Redis Cluster variant can be added behind the same trait.

mod maintainer;
mod memory;
mod redis_store;

use std::sync::Arc;

pub use maintainer::{Maintainer, spawn_maintainer};
pub use memory::MemoryRevocations;
pub use redis_store::RedisRevocations;

use crate::domain::LineId;
pub use crate::store::orders::Revocation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// The store did not answer in time, or refused the connection.
    #[error("the revocation store is unreachable")]
    Unreachable,
    /// The store answered but its set is not known to be complete (e.g. Redis lost
    /// its memory); it is being rebuilt from the database.
    #[error("the revocation set is being rebuilt")]
    Incomplete,
}

/// Where the set stands, for `/health` and the maintainer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetState {
    Complete,
    Incomplete,
    Unreachable,
}

#[async_trait::async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether links of `line` are revoked. Any doubt is an error: the caller fails closed.
    async fn is_revoked(&self, line: LineId) -> Result<bool, RevocationError>;

    /// Puts revocations in force for every instance; `Ok` only once they are.
    async fn revoke(&self, entries: &[Revocation]) -> Result<(), RevocationError>;

    async fn state(&self) -> SetState;

    /// Loads `entries` (every active revocation, from the database) and marks the
    /// set complete. Returns `Ok(false)` when another instance is already doing it.
    async fn rebuild(&self, entries: &[Revocation]) -> Result<bool, RevocationError>;

    /// Drops entries no unexpired link can need any more; returns how many remain.
    async fn sweep(&self, now_ms: i64) -> usize;

    /// Human label for logs and health: `redis` or `in-process`.
    fn kind(&self) -> &'static str;

    /// A counter that grows with every failed exchange with the store. While it
    /// is ahead of what [`clear_suspicion`](Self::clear_suspicion) confirmed,
    /// this instance fails closed: the store may have missed a revocation
    /// (a cancel that answered 503 sits in the database outbox).
    fn suspicion(&self) -> u64 {
        0
    }

    /// Called by the maintainer once the outbox was pushed and the set found
    /// complete, with the counter it read *before* pushing.
    fn clear_suspicion(&self, _seen: u64) {}
}

pub type SharedRevocations = Arc<dyn RevocationStore>;
