//! In-process revocation set: correct for exactly one gateway instance.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{RebuildTicket, Revocation, RevocationError, RevocationStore, SetState};
use crate::domain::LineId;

#[derive(Debug, Default)]
pub struct MemoryRevocations {
    entries: RwLock<HashMap<LineId, i64>>,
    complete: AtomicBool,
}

impl MemoryRevocations {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl RevocationStore for MemoryRevocations {
    async fn is_revoked(&self, line: LineId) -> Result<bool, RevocationError> {
        if !self.complete.load(Ordering::Acquire) {
            return Err(RevocationError::Incomplete);
        }
        let entries = self
            .entries
            .read()
            .map_err(|_| RevocationError::Incomplete)?;
        Ok(entries.contains_key(&line))
    }

    async fn revoke(&self, new: &[Revocation]) -> Result<(), RevocationError> {
        let mut entries = self
            .entries
            .write()
            .map_err(|_| RevocationError::Incomplete)?;
        for r in new {
            let until = entries.entry(r.line).or_insert(r.until_ms);
            *until = (*until).max(r.until_ms);
        }
        Ok(())
    }

    async fn state(&self) -> SetState {
        if self.complete.load(Ordering::Acquire) {
            SetState::Complete
        } else {
            SetState::Incomplete
        }
    }

    async fn begin_rebuild(&self) -> Result<Option<RebuildTicket>, RevocationError> {
        // This process's memory cannot be lost without the process itself.
        Ok(Some(RebuildTicket(String::new(), Vec::new())))
    }

    async fn finish_rebuild(
        &self,
        _ticket: RebuildTicket,
        all: &[Revocation],
    ) -> Result<bool, RevocationError> {
        self.revoke(all).await?;
        self.complete.store(true, Ordering::Release);
        Ok(true)
    }

    async fn sweep(&self, now: i64) -> usize {
        let Ok(mut entries) = self.entries.write() else {
            return 0;
        };
        entries.retain(|_, until| *until > now);
        entries.len()
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::now_ms;

    fn rev(line: i64, until_ms: i64) -> Revocation {
        Revocation {
            line: LineId::parse(line).unwrap(),
            until_ms,
        }
    }

    async fn rebuild(set: &MemoryRevocations, entries: &[Revocation]) {
        let ticket = set.begin_rebuild().await.ok().flatten();
        let done = match ticket {
            Some(t) => set.finish_rebuild(t, entries).await,
            None => Ok(false),
        };
        assert_eq!(done, Ok(true));
    }

    #[tokio::test]
    async fn answers_incomplete_until_rebuilt_then_revoked_lines_are_known() {
        let set = MemoryRevocations::new();
        assert_eq!(
            set.is_revoked(LineId::parse(1).unwrap()).await,
            Err(RevocationError::Incomplete)
        );
        rebuild(&set, &[rev(1, now_ms() + 60_000)]).await;
        assert_eq!(set.is_revoked(LineId::parse(1).unwrap()).await, Ok(true));
        assert_eq!(set.is_revoked(LineId::parse(2).unwrap()).await, Ok(false));
    }

    #[tokio::test]
    async fn sweep_drops_only_entries_no_link_can_need() {
        let set = MemoryRevocations::new();
        let now = now_ms();
        rebuild(&set, &[rev(1, now - 1), rev(2, now + 60_000)]).await;
        assert_eq!(set.sweep(now).await, 1);
        assert_eq!(set.is_revoked(LineId::parse(2).unwrap()).await, Ok(true));
        assert_eq!(set.is_revoked(LineId::parse(1).unwrap()).await, Ok(false));
    }
}
