//! Small asset files kept in memory for the download path. Files are
//! content-addressed, so an entry can never be stale for its digest; the
//! cache is bounded and simply starts over when full.

use std::collections::HashMap;
use std::path::Path;
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

    /// Reads `path` if it is small enough and remembers it. `None` = serve from disk.
    pub fn load(&self, sha256: &Sha256Digest, path: &Path) -> Option<Bytes> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.len() > MAX_FILE {
            return None;
        }
        let bytes = Bytes::from(std::fs::read(path).ok()?);
        if let Ok(mut guard) = self.entries.write() {
            let (map, used) = &mut *guard;
            if *used + bytes.len() > BUDGET {
                map.clear();
                *used = 0;
            }
            *used += bytes.len();
            map.insert(sha256.clone(), bytes.clone());
        }
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_kept_and_large_ones_are_not() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let small = dir.path().join("small");
        let large = dir.path().join("large");
        std::fs::write(&small, b"tiny")?;
        std::fs::write(&large, vec![0u8; MAX_FILE as usize + 1])?;
        let cache = SmallFiles::default();
        let (s, l) = (Sha256Digest::of(b"s"), Sha256Digest::of(b"l"));
        assert_eq!(cache.get(&s), None);
        assert_eq!(cache.load(&s, &small).as_deref(), Some(&b"tiny"[..]));
        assert_eq!(cache.get(&s).as_deref(), Some(&b"tiny"[..]));
        assert_eq!(cache.load(&l, &large), None);
        assert_eq!(cache.get(&l), None);
        Ok(())
    }
}
