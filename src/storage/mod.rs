//! Asset files. Content-addressed: a file lives at `{root}/{sha[0..2]}/{sha}`,
//! a name the gateway chooses, so no client input ever becomes a path.

pub mod cache;
pub mod stream;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::domain::Sha256Digest;

const CHUNK: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    small: Arc<cache::SmallFiles>,
}

/// A file copied into storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: Sha256Digest,
    pub size_bytes: u64,
    /// First bytes, for content-type sniffing.
    pub head: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the asset file is missing from storage")]
    Missing,
    #[error("the asset file has {actual} bytes, {expected} were recorded")]
    WrongSize { expected: u64, actual: u64 },
    #[error("the asset file's sha256 does not match the recorded one")]
    WrongDigest,
    #[error("the asset file could not be read")]
    Unreadable,
}

impl Storage {
    /// Opens (creating if needed) the storage folder.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("creating the storage folder {}", root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
            small: Arc::default(),
        })
    }

    /// The whole file from memory if it is small (see [`cache`]); `None` = stream it from disk.
    pub fn small_file(&self, sha256: &Sha256Digest) -> Option<bytes::Bytes> {
        self.small
            .get(sha256)
            .or_else(|| self.small.load(sha256, &self.path_for(sha256)))
    }

    /// Where the file with this digest lives (a digest is always a safe name).
    pub fn path_for(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.as_str();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Copies `source` into storage, hashing as it goes (bounded memory).
    /// `progress(copied, total)` is called after every chunk.
    pub fn import(
        &self,
        source: &Path,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<StoredFile> {
        let mut input =
            std::fs::File::open(source).with_context(|| format!("opening {}", source.display()))?;
        let total = input.metadata().map(|m| m.len()).unwrap_or(0);
        let tmp = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let mut output =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        let mut head = Vec::new();
        loop {
            let n = input
                .read(&mut buf)
                .with_context(|| format!("reading {}", source.display()))?;
            if n == 0 {
                break;
            }
            if head.len() < 8192 {
                head.extend_from_slice(&buf[..n.min(8192 - head.len())]);
            }
            hasher.update(&buf[..n]);
            output
                .write_all(&buf[..n])
                .context("writing into storage")?;
            size += n as u64;
            progress(size, total);
        }
        output.sync_all().context("flushing into storage")?;
        let sha256 = Sha256Digest::from_hasher(hasher);
        let dest = self.path_for(&sha256);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).context("creating the storage sub-folder")?;
        }
        std::fs::rename(&tmp, &dest).context("moving the file into place")?;
        Ok(StoredFile {
            sha256,
            size_bytes: size,
            head,
        })
    }

    /// Checks that the stored file is present and intact (blocking: run off the runtime).
    pub fn verify(&self, sha256: &Sha256Digest, size_bytes: u64) -> Result<(), VerifyError> {
        let path = self.path_for(sha256);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VerifyError::Missing),
            Err(_) => return Err(VerifyError::Unreadable),
        };
        let actual = file.metadata().map_err(|_| VerifyError::Unreadable)?.len();
        if actual != size_bytes {
            return Err(VerifyError::WrongSize {
                expected: size_bytes,
                actual,
            });
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf).map_err(|_| VerifyError::Unreadable)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if Sha256Digest::from_hasher(hasher) == *sha256 {
            Ok(())
        } else {
            Err(VerifyError::WrongDigest)
        }
    }

    /// Healthy when the folder exists and can be listed.
    pub fn healthy(&self) -> bool {
        std::fs::read_dir(&self.root).is_ok()
    }
}

/// Content type from magic bytes first, then the extension, else octet-stream.
pub fn sniff_content_type(head: &[u8], file_name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    mime_guess::from_path(file_name).first().map_or_else(
        || "application/octet-stream".to_owned(),
        |m| m.essence_str().to_owned(),
    )
}

/// A short format label: the extension in upper case, else the MIME subtype.
pub fn format_label(file_name: &str, content_type: &str) -> String {
    Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| {
            content_type
                .rsplit('/')
                .next()
                .unwrap_or("BIN")
                .to_ascii_uppercase()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_then_verify_detects_tampering() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(&dir.path().join("assets"))?;
        let src = dir.path().join("in.pdf");
        std::fs::write(&src, b"%PDF-1.4 hello")?;
        let stored = storage.import(&src, |_, _| {})?;
        assert_eq!(stored.size_bytes, 14);
        assert_eq!(storage.verify(&stored.sha256, 14), Ok(()));
        assert_eq!(
            storage.verify(&stored.sha256, 15),
            Err(VerifyError::WrongSize {
                expected: 15,
                actual: 14
            })
        );
        let path = storage.path_for(&stored.sha256);
        std::fs::write(&path, b"%PDF-1.4 hellO")?;
        assert_eq!(
            storage.verify(&stored.sha256, 14),
            Err(VerifyError::WrongDigest)
        );
        std::fs::remove_file(&path)?;
        assert_eq!(
            storage.verify(&stored.sha256, 14),
            Err(VerifyError::Missing)
        );
        Ok(())
    }

    #[test]
    fn only_hex_digests_become_paths() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(dir.path())?;
        assert!(Sha256Digest::parse("../../etc/passwd").is_err());
        assert!(Sha256Digest::parse(&"A".repeat(64)).is_err());
        let digest = Sha256Digest::parse(&"a".repeat(64))?;
        assert_eq!(
            storage.path_for(&digest),
            dir.path().join("aa").join("a".repeat(64))
        );
        Ok(())
    }

    #[test]
    fn content_type_prefers_magic_bytes_over_extension() {
        assert_eq!(
            sniff_content_type(b"%PDF-1.7\n", "x.bin"),
            "application/pdf"
        );
        assert_eq!(sniff_content_type(b"hello", "notes.txt"), "text/plain");
        assert_eq!(
            sniff_content_type(b"\x00\x01", "noext"),
            "application/octet-stream"
        );
        assert_eq!(format_label("score.pdf", "application/pdf"), "PDF");
        assert_eq!(format_label("noext", "audio/mpeg"), "MPEG");
    }
}
