//! Asset files, content-addressed (`…/{sha[0..2]}/{sha256}`, a name the
//! gateway chooses, so no client input ever becomes a path), in a local
//! folder (`local`) or an S3-compatible bucket (`s3`, SPEC §11).

pub mod cache;
pub mod local;
pub mod s3;
pub mod stream;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::config::{StorageBackend, StorageSettings};
use crate::domain::Sha256Digest;

const CHUNK: usize = 64 * 1024;

/// The catalogue's files, on this machine's disk or in a bucket, with the
/// small ones kept in memory for the download path.
#[derive(Clone, Debug)]
pub struct Storage {
    backend: Backend,
    small: Arc<cache::SmallFiles>,
}

#[derive(Clone, Debug)]
enum Backend {
    Local(local::Folder),
    S3(s3::Bucket),
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
    /// The object store did not answer (or refused): may pass.
    #[error("the object store could not be reached")]
    Unavailable,
}

impl VerifyError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreadable | Self::Unavailable)
    }
}

/// An upload stored under a temporary name: [`commit`](Self::commit) it or
/// [`discard`](Self::discard) it (dropped, a local one is removed; a
/// bucket's temporary key is removed in the background).
pub struct Staged {
    pub file: StoredFile,
    at: StagedAt,
}

enum StagedAt {
    Local(local::Folder, local::TempFile),
    S3(s3::Bucket, s3::ObjectPath),
    Done,
}

impl Staged {
    /// Puts the file at its content address.
    pub async fn commit(mut self) -> anyhow::Result<StoredFile> {
        match std::mem::replace(&mut self.at, StagedAt::Done) {
            StagedAt::Local(folder, mut tmp) => folder.put_in_place(&mut tmp, &self.file.sha256)?,
            StagedAt::S3(bucket, key) => bucket.commit(&key, &self.file).await?,
            StagedAt::Done => {}
        }
        Ok(self.file.clone())
    }

    /// Removes the staged copy.
    pub async fn discard(mut self) {
        if let StagedAt::S3(bucket, key) = std::mem::replace(&mut self.at, StagedAt::Done) {
            bucket.discard(&key).await;
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let StagedAt::S3(bucket, key) = std::mem::replace(&mut self.at, StagedAt::Done)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { bucket.discard(&key).await });
        }
    }
}

/// A file ready to be served.
pub enum Opened {
    /// A small file, whole and verified, from memory.
    Memory(Bytes),
    /// An open local file of this size, to stream.
    File(std::fs::File, u64),
    /// An object in the bucket, to stream with ranged GETs.
    Object(s3::Object),
}

impl Opened {
    pub fn size(&self) -> u64 {
        match self {
            Self::Memory(bytes) => bytes.len() as u64,
            Self::File(_, size) => *size,
            Self::Object(object) => object.size(),
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

/// What an import has taken in so far: the running digest, the size and
/// the first bytes (for content-type sniffing).
#[derive(Default)]
pub(crate) struct Intake {
    hasher: Sha256,
    head: Vec<u8>,
    size: u64,
}

impl Intake {
    /// Takes in the next chunk; returns the size so far.
    pub(crate) fn take(&mut self, chunk: &[u8]) -> u64 {
        self.hasher.update(chunk);
        if self.head.len() < 8192 {
            let room = 8192 - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        self.size += chunk.len() as u64;
        self.size
    }

    pub(crate) fn finish(self) -> StoredFile {
        StoredFile {
            sha256: Sha256Digest::from_hasher(self.hasher),
            size_bytes: self.size,
            head: self.head,
        }
    }
}

/// `bytes`, read whole, if they are `size` bytes with this digest.
pub(crate) fn whole(bytes: Bytes, size: u64, sha256: &Sha256Digest) -> Result<Bytes, VerifyError> {
    if bytes.len() as u64 != size {
        return Err(VerifyError::WrongSize {
            expected: size,
            actual: bytes.len() as u64,
        });
    }
    if Sha256Digest::of(&bytes) != *sha256 {
        return Err(VerifyError::WrongDigest);
    }
    Ok(bytes)
}

/// Runs blocking storage work off the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("storage task stopped")
}

impl Storage {
    /// The storage `settings` name: a local folder (created if needed) or a
    /// bucket (no request is made yet).
    pub fn open(settings: &StorageSettings) -> anyhow::Result<Self> {
        let backend = match settings.backend {
            StorageBackend::Local => Backend::Local(local::Folder::open(&settings.path)?),
            StorageBackend::S3 => {
                Backend::S3(s3::Bucket::connect(&settings.s3).context("configuring the S3 client")?)
            }
        };
        Ok(Self {
            backend,
            small: Arc::default(),
        })
    }

    /// A local folder (created if needed).
    pub fn local(root: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Local(local::Folder::open(root)?),
            small: Arc::default(),
        })
    }

    /// `local` or `s3`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
        }
    }

    /// The folder or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(folder) => folder.root().display().to_string(),
            Backend::S3(bucket) => bucket.describe(),
        }
    }

    /// Where a local file lives (`None` in a bucket).
    pub fn local_path(&self, sha256: &Sha256Digest) -> Option<PathBuf> {
        match &self.backend {
            Backend::Local(folder) => Some(folder.path_for(sha256)),
            Backend::S3(_) => None,
        }
    }

    /// The file with this digest, for serving. Small files come from memory,
    /// and enter it only once their length and SHA-256 were checked; a file
    /// whose size is not `expected_len` (the size the link was signed with)
    /// is refused, as is a short read. A large object in a bucket is not
    /// asked for yet: [`s3::Object::range`] asks for the bytes wanted.
    pub async fn open_for_serving(
        &self,
        sha256: &Sha256Digest,
        expected_len: Option<u64>,
    ) -> Result<Opened, VerifyError> {
        if let Some(bytes) = self.small.get(sha256) {
            return Ok(Opened::Memory(bytes));
        }
        let bytes = match &self.backend {
            Backend::Local(folder) => {
                let (mut file, size) = folder.open_file(sha256)?;
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
                whole(Bytes::from(bytes), size, sha256)?
            }
            Backend::S3(bucket) => {
                let size = match expected_len {
                    Some(size) => size,
                    None => bucket.size_of(sha256).await?,
                };
                if size > cache::MAX_FILE {
                    return Ok(Opened::Object(bucket.object(sha256, size)));
                }
                bucket.read_small(sha256, size).await?
            }
        };
        self.small.insert(sha256, bytes.clone());
        Ok(Opened::Memory(bytes))
    }

    /// The whole file with this digest, checked against `size` and its
    /// digest (stamping reads an original this way; bounded by the caller).
    pub async fn read_whole(&self, sha256: &Sha256Digest, size: u64) -> Result<Bytes, VerifyError> {
        match &self.backend {
            Backend::Local(folder) => {
                let (folder, sha) = (folder.clone(), sha256.clone());
                blocking(move || {
                    let (mut file, actual) = folder.open_file(&sha)?;
                    if actual != size {
                        return Err(VerifyError::WrongSize {
                            expected: size,
                            actual,
                        });
                    }
                    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    file.read_to_end(&mut bytes)
                        .map_err(|_| VerifyError::Unreadable)?;
                    whole(Bytes::from(bytes), size, &sha)
                })
                .await
                .unwrap_or(Err(VerifyError::Unreadable))
            }
            Backend::S3(bucket) => bucket.read_small(sha256, size).await,
        }
    }

    /// Stores `bytes` under their digest (a stamped copy); already there is fine.
    pub async fn put_bytes(&self, bytes: Vec<u8>) -> anyhow::Result<StoredFile> {
        let total = bytes.len() as u64;
        self.import_reader(std::io::Cursor::new(bytes), total, |_, _| {})
            .await
    }

    /// Copies `source` into storage, hashing as it goes (bounded memory).
    /// `progress(copied, total)` is called after every chunk.
    pub async fn import_file(
        &self,
        source: &Path,
        progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> anyhow::Result<StoredFile> {
        let shown = source.display().to_string();
        let stored = match &self.backend {
            Backend::Local(folder) => {
                let (folder, source) = (folder.clone(), source.to_owned());
                blocking(move || {
                    let input = std::fs::File::open(&source)
                        .with_context(|| format!("opening {}", source.display()))?;
                    let total = input.metadata().map(|m| m.len()).unwrap_or(0);
                    folder.import(input, total, progress)
                })
                .await?
            }
            Backend::S3(_) => {
                let input = tokio::fs::File::open(source)
                    .await
                    .with_context(|| format!("opening {shown}"))?;
                let total = input.metadata().await.map(|m| m.len()).unwrap_or(0);
                self.import_reader(input, total, progress).await
            }
        };
        stored.with_context(|| format!("copying {shown} into storage"))
    }

    /// Copies what `input` yields (an upload's body; `total` bytes expected,
    /// for progress) into storage, hashing as it goes, in bounded memory. If
    /// anything fails, nothing is left behind: no temporary file, no
    /// half-written object.
    pub async fn import_reader(
        &self,
        input: impl tokio::io::AsyncRead + Unpin,
        total: u64,
        progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<StoredFile> {
        self.stage(input, total, progress).await?.commit().await
    }

    /// [`import_reader`](Self::import_reader) in two steps: the bytes are
    /// stored and hashed under a temporary name of their own, and reach
    /// their content address only on [`Staged::commit`]. A request that
    /// turns out bad after its file (a part after it, a refused field)
    /// discards its own staged copy and never touches a file another upload
    /// or an asset may share.
    pub async fn stage(
        &self,
        input: impl tokio::io::AsyncRead + Unpin,
        total: u64,
        progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<Staged> {
        let (file, at) = match &self.backend {
            Backend::Local(folder) => {
                let (file, tmp) = folder.stage(input, total, progress).await?;
                (file, StagedAt::Local(folder.clone(), tmp))
            }
            Backend::S3(bucket) => {
                let (file, key) = bucket.stage(input, total, progress).await?;
                (file, StagedAt::S3(bucket.clone(), key))
            }
        };
        Ok(Staged { file, at })
    }

    /// The size of the stored file with this digest (`None`: not there).
    pub async fn size_of(&self, sha256: &Sha256Digest) -> Result<Option<u64>, VerifyError> {
        let found = match &self.backend {
            Backend::Local(folder) => folder.open_file(sha256).map(|(_, size)| size),
            Backend::S3(bucket) => bucket.size_of(sha256).await,
        };
        match found {
            Ok(size) => Ok(Some(size)),
            Err(VerifyError::Missing) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The local file with this digest, opened for an asynchronous read.
    pub async fn open_local(&self, sha256: &Sha256Digest) -> anyhow::Result<tokio::fs::File> {
        let path = self
            .local_path(sha256)
            .context("the catalogue is not in a local folder")?;
        tokio::fs::File::open(&path)
            .await
            .with_context(|| format!("opening {}", path.display()))
    }

    /// A presigned URL for the object (delivery `redirect`); `None` when the
    /// catalogue is a local folder.
    pub async fn presign(
        &self,
        sha256: &Sha256Digest,
        ttl: std::time::Duration,
        disposition: &str,
        content_type: &str,
    ) -> Result<Option<String>, VerifyError> {
        match &self.backend {
            Backend::Local(_) => Ok(None),
            Backend::S3(bucket) => bucket
                .presign(sha256, ttl, disposition, content_type)
                .await
                .map(Some),
        }
    }

    /// Removes the file with this digest (one no asset names); gone already is fine.
    pub async fn remove(&self, sha256: &Sha256Digest) -> anyhow::Result<()> {
        self.small.remove(sha256);
        match &self.backend {
            Backend::Local(folder) => match std::fs::remove_file(folder.path_for(sha256)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(anyhow::Error::new(e).context("removing a stored file"))
                }
                _ => Ok(()),
            },
            Backend::S3(bucket) => bucket.remove(sha256).await,
        }
    }

    /// The check fulfilment makes before a line is COMPLETED: a local file
    /// is re-hashed (a read from this machine's disk); an object is checked
    /// for presence and size with one `HEAD` — re-reading a whole object
    /// per sale would cost its transfer (and, on AWS, its egress) every
    /// time, for an object that is content-addressed and never rewritten.
    /// `storage verify` re-hashes objects.
    pub async fn check_for_sale(
        &self,
        sha256: &Sha256Digest,
        size: u64,
    ) -> Result<(), VerifyError> {
        match &self.backend {
            Backend::Local(_) => self.verify(sha256, size).await,
            Backend::S3(bucket) => match bucket.size_of(sha256).await? {
                actual if actual == size => Ok(()),
                actual => Err(VerifyError::WrongSize {
                    expected: size,
                    actual,
                }),
            },
        }
    }

    /// Checks that the stored file is present and intact.
    pub async fn verify(&self, sha256: &Sha256Digest, size_bytes: u64) -> Result<(), VerifyError> {
        self.verify_with(sha256, size_bytes, |_| {}).await
    }

    /// [`verify`](Self::verify), reporting each chunk's length to `progress`.
    pub async fn verify_with(
        &self,
        sha256: &Sha256Digest,
        size_bytes: u64,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<(), VerifyError> {
        match &self.backend {
            Backend::Local(folder) => {
                let (folder, sha256) = (folder.clone(), sha256.clone());
                blocking(move || folder.verify(&sha256, size_bytes, progress))
                    .await
                    .unwrap_or(Err(VerifyError::Unreadable))
            }
            Backend::S3(bucket) => bucket.verify(sha256, size_bytes, progress).await,
        }
    }

    /// The folder can be listed, or the bucket answers (within a second).
    pub async fn healthy(&self) -> bool {
        match &self.backend {
            Backend::Local(folder) => folder.healthy(),
            Backend::S3(bucket) => {
                tokio::time::timeout(std::time::Duration::from_secs(1), bucket.healthy())
                    .await
                    .unwrap_or(false)
            }
        }
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

    fn path(storage: &Storage, sha256: &Sha256Digest) -> anyhow::Result<PathBuf> {
        storage.local_path(sha256).context("a local path")
    }

    #[tokio::test]
    async fn import_then_verify_detects_tampering() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::local(&dir.path().join("assets"))?;
        let src = dir.path().join("in.pdf");
        std::fs::write(&src, b"%PDF-1.4 hello")?;
        let stored = storage.import_file(&src, |_, _| {}).await?;
        assert_eq!(stored.size_bytes, 14);
        assert_eq!(storage.verify(&stored.sha256, 14).await, Ok(()));
        assert_eq!(
            storage.verify(&stored.sha256, 15).await,
            Err(VerifyError::WrongSize {
                expected: 15,
                actual: 14
            })
        );
        let path = path(&storage, &stored.sha256)?;
        std::fs::write(&path, b"%PDF-1.4 hellO")?;
        assert_eq!(
            storage.verify(&stored.sha256, 14).await,
            Err(VerifyError::WrongDigest)
        );
        std::fs::remove_file(&path)?;
        assert_eq!(
            storage.verify(&stored.sha256, 14).await,
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
        let folder = local::Folder::open(dir.path())?;
        let err = folder
            .import(FailsAfter(200_000), 300_000, |_, _| {})
            .err()
            .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("No space left")));
        assert_eq!(std::fs::read_dir(dir.path().join("tmp"))?.count(), 0);
        Ok(())
    }

    #[tokio::test]
    async fn a_small_file_enters_memory_only_once_verified() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::local(dir.path())?;
        let src = dir.path().join("in.pdf");
        std::fs::write(&src, b"%PDF-1.4 hello")?;
        let stored = storage.import_file(&src, |_, _| {}).await?;
        let path = path(&storage, &stored.sha256)?;

        std::fs::write(&path, b"%PDF-1.4 he")?;
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, None).await,
            Err(VerifyError::WrongDigest)
        ));
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, Some(14)).await,
            Err(VerifyError::WrongSize { .. })
        ));
        std::fs::write(&path, b"%PDF-1.4 hellO")?;
        assert!(matches!(
            storage.open_for_serving(&stored.sha256, Some(14)).await,
            Err(VerifyError::WrongDigest)
        ));
        std::fs::write(&path, b"%PDF-1.4 hello")?;
        let Ok(Opened::Memory(bytes)) = storage.open_for_serving(&stored.sha256, Some(14)).await
        else {
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
        let storage = Storage::local(dir.path())?;
        assert!(Sha256Digest::parse("../../etc/passwd").is_err());
        assert!(Sha256Digest::parse(&"A".repeat(64)).is_err());
        let digest = Sha256Digest::parse(&"a".repeat(64))?;
        assert_eq!(
            path(&storage, &digest)?,
            dir.path().join("aa").join("a".repeat(64))
        );
        Ok(())
    }
}
