//! Asset files. Content-addressed: a file lives at `{root}/{sha[0..2]}/{sha}`,
//! a name the gateway chooses, so no client input ever becomes a path.

pub mod cache;
pub mod stream;

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
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
    /// An I/O error: may pass (a busy disk, a remount), unlike the others.
    #[error("the asset file could not be read")]
    Unreadable,
}

impl VerifyError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreadable)
    }
}

/// A file ready to be served.
pub enum Opened {
    /// A small file, whole and verified, from memory.
    Memory(Bytes),
    /// An open file of this size, to stream.
    File(std::fs::File, u64),
}

impl Opened {
    pub fn size(&self) -> u64 {
        match self {
            Self::Memory(bytes) => bytes.len() as u64,
            Self::File(_, size) => *size,
        }
    }
}

/// Hashes everything `input` yields, in bounded chunks, feeding each chunk to
/// `each` as well (a copy, a progress bar). Returns the digest and the size.
pub fn hash_stream(
    mut input: impl Read,
    mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<(Sha256Digest, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        each(&buf[..n])?;
        size += n as u64;
    }
    Ok((Sha256Digest::from_hasher(hasher), size))
}

/// A temporary file in storage that is removed unless it was moved into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
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

    /// The file with this digest, for serving. Small files come from memory,
    /// and enter it only once their length and SHA-256 were checked; a file
    /// whose size is not `expected_len` (the size the link was signed with)
    /// is refused, as is a short read.
    pub fn open_for_serving(
        &self,
        sha256: &Sha256Digest,
        expected_len: Option<u64>,
    ) -> Result<Opened, VerifyError> {
        if let Some(bytes) = self.small.get(sha256) {
            return Ok(Opened::Memory(bytes));
        }
        let mut file = match std::fs::File::open(self.path_for(sha256)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VerifyError::Missing),
            Err(_) => return Err(VerifyError::Unreadable),
        };
        let size = file.metadata().map_err(|_| VerifyError::Unreadable)?.len();
        if let Some(expected) = expected_len.filter(|e| *e != size) {
            return Err(VerifyError::WrongSize {
                expected,
                actual: size,
            });
        }
        if size > cache::MAX_FILE {
            return Ok(Opened::File(file, size));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|_| VerifyError::Unreadable)?;
        if bytes.len() as u64 != size {
            return Err(VerifyError::WrongSize {
                expected: size,
                actual: bytes.len() as u64,
            });
        }
        if Sha256Digest::of(&bytes) != *sha256 {
            return Err(VerifyError::WrongDigest);
        }
        let bytes = Bytes::from(bytes);
        self.small.insert(sha256, bytes.clone());
        Ok(Opened::Memory(bytes))
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
        progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<StoredFile> {
        let input =
            std::fs::File::open(source).with_context(|| format!("opening {}", source.display()))?;
        let total = input.metadata().map(|m| m.len()).unwrap_or(0);
        self.import_from(input, total, progress)
            .with_context(|| format!("copying {} into storage", source.display()))
    }

    /// Copies what `input` yields into storage. If anything fails, nothing is
    /// left behind (the temporary file is removed).
    pub fn import_from(
        &self,
        input: impl Read,
        total: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<StoredFile> {
        let tmp_path = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let mut output = std::fs::File::create(&tmp_path)
            .with_context(|| format!("creating {}", tmp_path.display()))?;
        let mut tmp = TempFile(Some(tmp_path));
        let mut head = Vec::new();
        let mut copied = 0u64;
        let (sha256, size_bytes) = hash_stream(input, |chunk| {
            if head.len() < 8192 {
                head.extend_from_slice(&chunk[..chunk.len().min(8192 - head.len())]);
            }
            output.write_all(chunk)?;
            copied += chunk.len() as u64;
            progress(copied, total);
            Ok(())
        })
        .context("reading the file or writing into storage")?;
        output.sync_all().context("flushing into storage")?;
        let dest = self.path_for(&sha256);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).context("creating the storage sub-folder")?;
        }
        let from = tmp.0.take().context("temporary file")?;
        if let Err(e) = std::fs::rename(&from, &dest) {
            tmp.0 = Some(from);
            return Err(e).context("moving the file into place");
        }
        Ok(StoredFile {
            sha256,
            size_bytes,
            head,
        })
    }

    /// Checks that the stored file is present and intact (blocking: run off the runtime).
    pub fn verify(&self, sha256: &Sha256Digest, size_bytes: u64) -> Result<(), VerifyError> {
        self.verify_with(sha256, size_bytes, |_| {})
    }

    /// [`verify`](Self::verify), reporting each chunk's length to `progress`.
    pub fn verify_with(
        &self,
        sha256: &Sha256Digest,
        size_bytes: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(), VerifyError> {
        let file = match std::fs::File::open(self.path_for(sha256)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VerifyError::Missing),
            Err(_) => return Err(VerifyError::Unreadable),
        };
        let meta = file.metadata().map_err(|_| VerifyError::Unreadable)?;
        if !meta.is_file() {
            return Err(VerifyError::Unreadable);
        }
        if meta.len() != size_bytes {
            return Err(VerifyError::WrongSize {
                expected: size_bytes,
                actual: meta.len(),
            });
        }
        let (actual, _) = hash_stream(file, |chunk| {
            progress(chunk.len() as u64);
            Ok(())
        })
        .map_err(|_| VerifyError::Unreadable)?;
        if actual == *sha256 {
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

    /// A reader that yields some bytes, then fails (a disk full, a yanked USB stick).
    struct FailsAfter(usize);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("No space left on device"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_failed_import_leaves_no_temporary_file_behind() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(dir.path())?;
        let err = storage
            .import_from(FailsAfter(200_000), 300_000, |_, _| {})
            .err()
            .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("No space left")));
        assert_eq!(std::fs::read_dir(dir.path().join("tmp"))?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_small_file_enters_memory_only_once_verified() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::open(dir.path())?;
        let src = dir.path().join("in.pdf");
        std::fs::write(&src, b"%PDF-1.4 hello")?;
        let stored = storage.import(&src, |_, _| {})?;
        let path = storage.path_for(&stored.sha256);

        std::fs::write(&path, b"%PDF-1.4 he")?;
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, None),
            Err(VerifyError::WrongDigest)
        ));
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, Some(14)),
            Err(VerifyError::WrongSize { .. })
        ));
        std::fs::write(&path, b"%PDF-1.4 hellO")?;
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, Some(14)),
            Err(VerifyError::WrongDigest)
        ));
        std::fs::write(&path, b"%PDF-1.4 hello")?;
        let Ok(Opened::Memory(bytes)) = storage.open_for_serving(&stored.sha256, Some(14)) else {
            anyhow::bail!("the restored file serves");
        };
        assert_eq!(&bytes[..], b"%PDF-1.4 hello");
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
}
