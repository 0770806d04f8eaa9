//! The catalogue in a folder of this machine: a file lives at
//! `{root}/{sha[0..2]}/{sha}`, a name the gateway chooses, so no client
//! input ever becomes a path. Blocking: callers run these off the runtime,
//! except `open`, which the download path runs inline (an open and, for a
//! small file, one read from the page cache).

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Intake, StoredFile, VerifyError, hash_stream};
use crate::domain::Sha256Digest;

#[derive(Clone, Debug)]
pub struct Folder {
    root: PathBuf,
}

/// A temporary file in storage that is removed unless it was moved into place.
pub struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Opens the file, mapping "not there" apart from "could not be read".
fn open(path: &Path) -> Result<std::fs::File, VerifyError> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VerifyError::Missing,
        _ => VerifyError::Unreadable,
    })
}

impl Folder {
    /// Opens (creating if needed) the storage folder.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join("tmp"))
            .with_context(|| format!("creating the storage folder {}", root.display()))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this digest lives (a digest is always a safe name).
    pub fn path_for(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.as_str();
        self.root.join(&hex[..2]).join(hex)
    }

    /// The open file and its size.
    pub fn open_file(&self, sha256: &Sha256Digest) -> Result<(std::fs::File, u64), VerifyError> {
        let file = open(&self.path_for(sha256))?;
        let meta = file.metadata().map_err(|_| VerifyError::Unreadable)?;
        if !meta.is_file() {
            return Err(VerifyError::Unreadable);
        }
        Ok((file, meta.len()))
    }

    /// Copies what `input` yields into storage. If anything fails, nothing is
    /// left behind (the temporary file is removed).
    pub fn import(
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
        self.put_in_place(&mut tmp, &sha256)?;
        Ok(StoredFile {
            sha256,
            size_bytes,
            head,
        })
    }

    /// [`import`](Self::import) of an asynchronous reader (an upload's
    /// body), left in a temporary file until [`Staged::commit`](super::Staged::commit).
    pub async fn stage(
        &self,
        mut input: impl tokio::io::AsyncRead + Unpin,
        total: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<(StoredFile, TempFile)> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let tmp_path = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let mut output = tokio::fs::File::create(&tmp_path)
            .await
            .with_context(|| format!("creating {}", tmp_path.display()))?;
        let tmp = TempFile(Some(tmp_path));
        let mut intake = Intake::default();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = input.read(&mut buf).await.context("reading the upload")?;
            if n == 0 {
                break;
            }
            output
                .write_all(&buf[..n])
                .await
                .context("writing into storage")?;
            progress(intake.take(&buf[..n]), total);
        }
        output.sync_all().await.context("flushing into storage")?;
        drop(output);
        Ok((intake.finish(), tmp))
    }

    /// Moves the finished temporary file to its content address.
    pub fn put_in_place(&self, tmp: &mut TempFile, sha256: &Sha256Digest) -> anyhow::Result<()> {
        let dest = self.path_for(sha256);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).context("creating the storage sub-folder")?;
        }
        let from = tmp.0.take().context("temporary file")?;
        if let Err(e) = std::fs::rename(&from, &dest) {
            tmp.0 = Some(from);
            return Err(e).context("moving the file into place");
        }
        Ok(())
    }

    /// Checks that the stored file is present and intact.
    pub fn verify(
        &self,
        sha256: &Sha256Digest,
        size_bytes: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(), VerifyError> {
        let (file, size) = self.open_file(sha256)?;
        if size != size_bytes {
            return Err(VerifyError::WrongSize {
                expected: size_bytes,
                actual: size,
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
