//! The revocation set: which order lines' links must never serve again.
//!
//! The database is the source of truth; this set is the hot-path copy checked
//! on every `/access` request. Two implementations sit behind one trait:
//! Redis — one server, a Sentinel-managed primary, or a Redis Cluster —
//! shared by a fleet, and in-process (the single-instance embedded default).
//! Keeping the set complete is the application's job (`app::maintain`).

mod cluster_store;
mod coalesce;
mod memory;
mod redis_store;

use std::sync::Arc;

pub use cluster_store::{ClusterRevocations, key_slot};
pub use memory::MemoryRevocations;
pub use redis_store::RedisRevocations;

use crate::domain::LineId;
pub use crate::domain::Revocation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// The store did not answer in time, or refused the connection.
    #[error("the revocation store is unreachable")]
    Unreachable,
    /// The store answered but its set is not known to be complete (e.g. Redis lost
    /// its memory); it is being rebuilt from the database.
    #[error("the revocation set is being rebuilt")]
    Incomplete,
    /// Written to the primary, but fewer replicas than `redis.min_replica_acks`
    /// confirmed it in time: not answered as in force (a fail-over could lose it).
    /// Not a failure of the store: checks go on being answered.
    #[error(
        "the revocation reached the Redis primary, but not yet enough replicas ({acked} of {wanted} confirmed it in time)"
    )]
    NotReplicated { acked: u32, wanted: u32 },
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

    /// Where the set stands. Call [`refresh`](Self::refresh) first: it is
    /// judged against the server confirmed there.
    async fn state(&self) -> SetState;

    /// Finds the server to talk to (Sentinel: the current primary) and
    /// confirms what it is; the maintainer calls it at the start of each pass.
    async fn refresh(&self) {}

    /// Claims the right to rebuild the set. Must be called *before* the
    /// database is read, so that a loss of the store's memory after this point
    /// voids the rebuild (see [`finish_rebuild`](Self::finish_rebuild)).
    /// `Ok(None)` when another instance is already rebuilding.
    async fn begin_rebuild(&self) -> Result<Option<RebuildTicket>, RevocationError>;

    /// Loads `entries` (every active revocation, read from the database after
    /// `begin_rebuild`) and marks the set complete. Returns `Ok(false)`, leaving
    /// the set incomplete, when the store lost its memory (or the claim) since
    /// `begin_rebuild`: entries written meanwhile may be gone, so the caller
    /// must start over with a fresh read of the database.
    async fn finish_rebuild(
        &self,
        ticket: RebuildTicket,
        entries: &[Revocation],
    ) -> Result<bool, RevocationError>;

    /// Drops entries no unexpired link can need any more; returns how many remain.
    async fn sweep(&self, now_ms: i64) -> usize;

    /// Human label for logs and health: `redis` or `in-process`.
    fn kind(&self) -> &'static str;

    /// Counters that grow with every failed exchange with the store (one, or
    /// one per bucket of a cluster). While one is ahead of what
    /// [`clear_suspicion`](Self::clear_suspicion) confirmed, this instance
    /// fails closed for the lines it covers: the store may have missed a
    /// revocation (a cancel that answered 503 sits in the database outbox).
    /// Every failed exchange — including a write that could not be sent —
    /// must count, so that clearing to an older snapshot lifts nothing.
    fn suspicion(&self) -> Suspicion {
        Suspicion::default()
    }

    /// Whether the server this instance writes to changed since the last
    /// [`repushed`](Self::repushed) (a fail-over, a restart): revocations this
    /// instance wrote to the old one and answered 201 for may be lost with it
    /// even though the new one was already marked complete (Sentinel can
    /// promote twice in a row; the other instance may have rebuilt the new
    /// primary before those cancels committed). The maintainer then writes
    /// every active revocation again.
    fn needs_repush(&self) -> bool {
        false
    }

    /// The maintainer wrote every active revocation to the current server.
    fn repushed(&self) {}

    /// Called by the maintainer after it read the outbox (and pushed it, or
    /// counted the failure) and then asked [`state`](Self::state), with the
    /// counters it read *before* reading the outbox. A store lifts what it
    /// found complete.
    fn clear_suspicion(&self, _seen: &Suspicion, _state: SetState) {}
}

/// A snapshot of a store's failure counters (see [`RevocationStore::suspicion`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suspicion(pub(crate) Vec<u64>);

/// Proof that this instance claimed a rebuild: the generation it will mark
/// complete if nothing was lost in between, and the buckets it claimed (a
/// cluster rebuilds only the buckets that need it; others: empty).
#[derive(Debug, PartialEq, Eq)]
pub struct RebuildTicket(pub(crate) String, pub(crate) Vec<usize>);

pub type SharedRevocations = Arc<dyn RevocationStore>;
