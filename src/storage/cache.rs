//! Small asset files kept in memory for the download path. Files are
//! content-addressed and an entry is verified (length and SHA-256) before it
//! is kept, so an entry is always the right bytes for its digest; the cache is
//! bounded and simply starts over when full.

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;

use crate::domain::Sha256Digest;

/// Largest file kept in memory.
pub const MAX_FILE: u64 = 64 * 1024;
/// Memory the cache may hold in all.
const BUDGET: usize = 64 << 20;

#[derive(Debug, Default)]
pub struct SmallFiles {
    entries: RwLock<(HashMap<Sha256Digest, Bytes>, usize)>,
}

impl SmallFiles {
    pub fn get(&self, sha256: &Sha256Digest) -> Option<Bytes> {
        self.entries.read().ok()?.0.get(sha256).cloned()
    }

    /// Keeps `bytes` — which the caller verified against `sha256`.
    pub fn insert(&self, sha256: &Sha256Digest, bytes: Bytes) {
        if let Ok(mut guard) = self.entries.write() {
            let (map, used) = &mut *guard;
            if *used + bytes.len() > BUDGET {
                map.clear();
                *used = 0;
            }
            *used += bytes.len();
            map.insert(sha256.clone(), bytes);
        }
    }

    /// Forgets the file (it was removed from storage).
    pub fn remove(&self, sha256: &Sha256Digest) {
        if let Ok(mut guard) = self.entries.write() {
            let (map, used) = &mut *guard;
            if let Some(bytes) = map.remove(sha256) {
                *used -= bytes.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_files_are_found_by_digest_and_the_budget_starts_over() {
        let cache = SmallFiles::default();
        let (s, l) = (Sha256Digest::of(b"s"), Sha256Digest::of(b"l"));
        assert_eq!(cache.get(&s), None);
        cache.insert(&s, Bytes::from_static(b"tiny"));
        assert_eq!(cache.get(&s).as_deref(), Some(&b"tiny"[..]));
        cache.insert(&l, Bytes::from(vec![0u8; BUDGET]));
        assert_eq!(cache.get(&s), None, "a full cache starts over");
        assert!(cache.get(&l).is_some());
    }
}
