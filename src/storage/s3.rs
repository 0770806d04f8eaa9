//! The catalogue in an S3-compatible bucket (SPEC §11), through the Apache
//! Arrow project's `object_store`. Objects are content-addressed exactly as
//! on disk: `{prefix}{sha[0..2]}/{sha256}`. An upload goes to
//! `{prefix}tmp/{uuid}` first (hashed on the way) and is copied to its
//! content address once complete, so a failed or interrupted upload never
//! leaves a half-written object at an address a link can name.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
pub use object_store::path::Path as ObjectPath;
use object_store::signer::{SignedUrlOptions, Signer as _};
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _,
    RetryConfig, WriteMultipart,
};
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use super::{Intake, StoredFile, VerifyError};
use crate::config::S3Settings;
use crate::domain::Sha256Digest;

/// Bytes per uploaded part (S3's minimum is 5 MiB) and parts in flight:
/// an upload holds at most about `(PARTS_IN_FLIGHT + 1) × PART` in memory.
const PART: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;
/// A store that sends nothing for this long mid-body has failed: the
/// download is cut (never padded) and the client retries with `Range`.
const IDLE: Duration = Duration::from_secs(20);

/// One bucket (and prefix) holding the catalogue.
#[derive(Clone, Debug)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    prefix: String,
    name: String,
}

/// A large object to stream, whose size the link was signed with.
#[derive(Clone, Debug)]
pub struct Object {
    bucket: Bucket,
    location: ObjectPath,
    size: u64,
}

/// `object_store`'s answer as one of ours: a missing object is `Missing`;
/// anything else (refused connection, timeout, 5xx, denied) `Unavailable`.
fn refused(e: &object_store::Error) -> VerifyError {
    match e {
        object_store::Error::NotFound { .. } => VerifyError::Missing,
        other => {
            tracing::warn!(error = %other, "object store request failed");
            VerifyError::Unavailable
        }
    }
}

/// `http://host:9000` → `http://bucket.host:9000` (virtual-hosted style on a
/// custom endpoint: `object_store` expects the bucket in the endpoint).
fn virtual_hosted(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{bucket}.{rest}"),
        None => endpoint.to_owned(),
    }
}

impl Bucket {
    /// The client for `settings` (no request is made here).
    pub fn connect(settings: &S3Settings) -> anyhow::Result<Self> {
        crate::webhooks::install_tls_provider();
        let options = ClientOptions::new()
            .with_allow_http(settings.allow_http)
            .with_connect_timeout(Duration::from_secs(2))
            // No bound on a whole request: a download to a slow client takes
            // as long as it takes. A stalled read is bounded instead.
            .with_timeout_disabled()
            .with_read_timeout(IDLE);
        // Fail fast: a download waits at most a few seconds before its 503.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_secs(3),
        };
        // `from_env`: the standard AWS chain (AWS_* variables, web identity,
        // ECS task role, instance metadata) when no keys are configured.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_client_options(options)
            .with_retry(retry)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(!settings.force_path_style)
            // No SHA-256 of every uploaded byte for the request signature
            // (`UNSIGNED-PAYLOAD`, which AWS accepts): the upload is hashed once
            // already, for its content address, and that second hash was a third
            // of an upload's CPU (bench/README.md). TLS protects the body in
            // transit; the content address is checked by `storage verify`.
            .with_unsigned_payload(true);
        let endpoint = settings.endpoint.trim();
        if !endpoint.is_empty() {
            builder = builder.with_endpoint(if settings.force_path_style {
                endpoint.to_owned()
            } else {
                virtual_hosted(endpoint, &settings.bucket)
            });
        }
        if !settings.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&settings.access_key_id)
                .with_secret_access_key(settings.secret_access_key.expose_secret());
        }
        let store = builder.build()?;
        Ok(Self {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
            name: settings.bucket.clone(),
        })
    }

    /// `s3://bucket/prefix`, for logs and the CLI.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.name, self.prefix)
    }

    /// Where the object with this digest lives.
    pub fn location(&self, sha256: &Sha256Digest) -> ObjectPath {
        let hex = sha256.as_str();
        ObjectPath::from(format!("{}{}/{hex}", self.prefix, &hex[..2]))
    }

    /// The size of the stored object, if there is one.
    pub async fn size_of(&self, sha256: &Sha256Digest) -> Result<u64, VerifyError> {
        let meta = self
            .store
            .head(&self.location(sha256))
            .await
            .map_err(|e| refused(&e))?;
        Ok(meta.size)
    }

    /// The object, once the store says it has `size` bytes.
    async fn get_sized(
        &self,
        sha256: &Sha256Digest,
        size: u64,
    ) -> Result<object_store::GetResult, VerifyError> {
        let got = self
            .store
            .get(&self.location(sha256))
            .await
            .map_err(|e| refused(&e))?;
        if got.meta.size != size {
            return Err(VerifyError::WrongSize {
                expected: size,
                actual: got.meta.size,
            });
        }
        Ok(got)
    }

    /// The whole object (small files only), checked against `size` and its digest.
    pub async fn read_small(&self, sha256: &Sha256Digest, size: u64) -> Result<Bytes, VerifyError> {
        let got = self.get_sized(sha256, size).await?;
        let bytes = got.bytes().await.map_err(|e| refused(&e))?;
        super::whole(bytes, size, sha256)
    }

    /// A URL that lets its bearer GET the object for `ttl`, answered with
    /// these `Content-Disposition` and `Content-Type` (signed in: the
    /// bearer cannot change them). Made locally: no request to the store.
    pub async fn presign(
        &self,
        sha256: &Sha256Digest,
        ttl: Duration,
        disposition: &str,
        content_type: &str,
    ) -> Result<String, VerifyError> {
        let options = SignedUrlOptions::new().with_query([
            ("response-content-disposition", disposition),
            ("response-content-type", content_type),
            ("response-cache-control", "private, no-store"),
        ]);
        self.store
            .signed_url_opts(http::Method::GET, &self.location(sha256), ttl, &options)
            .await
            .map(String::from)
            .map_err(|e| refused(&e))
    }

    /// The object with this digest, to be streamed (no request yet).
    pub fn object(&self, sha256: &Sha256Digest, size: u64) -> Object {
        Object {
            bucket: self.clone(),
            location: self.location(sha256),
            size,
        }
    }

    /// Re-hashes the stored object chunk by chunk.
    pub async fn verify(
        &self,
        sha256: &Sha256Digest,
        size: u64,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<(), VerifyError> {
        let got = self.get_sized(sha256, size).await?;
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| refused(&e))?;
            hasher.update(&chunk);
            read += chunk.len() as u64;
            progress(chunk.len() as u64);
        }
        if read != size {
            return Err(VerifyError::WrongSize {
                expected: size,
                actual: read,
            });
        }
        if Sha256Digest::from_hasher(hasher) == *sha256 {
            Ok(())
        } else {
            Err(VerifyError::WrongDigest)
        }
    }

    /// Reachable, and the credentials may read the bucket: a HEAD of a key
    /// that need not exist answers 404, which is healthy.
    pub async fn healthy(&self) -> bool {
        let probe = ObjectPath::from(format!("{}health-probe", self.prefix));
        match self.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => true,
            Err(e) => {
                tracing::warn!(error = %e, "object store health check failed");
                false
            }
        }
    }

    /// Uploads what `input` yields (`total` bytes expected, for progress),
    /// hashing as it goes, to a temporary key of its own; [`commit`] puts it
    /// at its content address, [`discard`] removes it. If anything fails on
    /// the way, the multipart upload is aborted: nothing stays in the bucket.
    ///
    /// [`commit`]: Self::commit
    /// [`discard`]: Self::discard
    pub async fn stage(
        &self,
        mut input: impl tokio::io::AsyncRead + Unpin,
        total: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<(StoredFile, ObjectPath)> {
        let tmp = ObjectPath::from(format!(
            "{}tmp/{}",
            self.prefix,
            uuid::Uuid::new_v4().simple()
        ));
        let upload = self.store.put_multipart(&tmp).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut intake = Intake::default();
        let mut buf = vec![0u8; 256 * 1024];
        let read: anyhow::Result<()> = async {
            loop {
                let n = input.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.write(&buf[..n]);
                progress(intake.take(&buf[..n]), total);
            }
        }
        .await;
        if let Err(e) = read {
            let _ = writer.abort().await;
            return Err(e.context("reading the file or uploading it to the bucket"));
        }
        writer
            .finish()
            .await
            .map_err(|e| anyhow::Error::new(e).context("completing the upload"))?;
        Ok((intake.finish(), tmp))
    }

    /// Puts the staged upload at its content address (unless an intact copy
    /// of that size is there already: the same file is stored once) and
    /// removes the temporary object.
    pub async fn commit(&self, tmp: &ObjectPath, stored: &StoredFile) -> anyhow::Result<()> {
        let placed = self.place(tmp, &stored.sha256, stored.size_bytes).await;
        self.discard(tmp).await;
        placed
    }

    /// Removes a staged upload (best effort: a temporary key names nothing).
    pub async fn discard(&self, tmp: &ObjectPath) {
        if let Err(e) = self.store.delete(tmp).await {
            tracing::warn!(error = %e, key = %tmp, "could not remove a temporary upload");
        }
    }

    /// Removes the object with this digest (gone already is fine).
    pub async fn remove(&self, sha256: &Sha256Digest) -> anyhow::Result<()> {
        match self.store.delete(&self.location(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("removing an object")),
        }
    }

    /// Copies the uploaded `tmp` to the digest's address, unless an intact
    /// copy is already there (the same file uploaded twice is stored once).
    async fn place(
        &self,
        tmp: &ObjectPath,
        sha256: &Sha256Digest,
        size: u64,
    ) -> anyhow::Result<()> {
        let dest = self.location(sha256);
        match self.store.head(&dest).await {
            Ok(meta) if meta.size == size => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(anyhow::Error::new(e).context("looking for an existing copy")),
        }
        self.store
            .copy(tmp, &dest)
            .await
            .map_err(|e| anyhow::Error::new(e).context("moving the upload to its address"))
    }
}

impl Object {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Checks the object is there with the signed size (for `HEAD`).
    pub async fn check(&self) -> Result<(), VerifyError> {
        let meta = self
            .bucket
            .store
            .head(&self.location)
            .await
            .map_err(|e| refused(&e))?;
        if meta.size == self.size {
            Ok(())
        } else {
            Err(VerifyError::WrongSize {
                expected: self.size,
                actual: meta.size,
            })
        }
    }

    /// The bytes `start .. start + len`, asked of the store as a ranged GET.
    /// Resolves once the store has answered (so an unreachable store is an
    /// error before any byte is sent); the body then flows with
    /// back-pressure. A body that stalls, ends short or runs long is an
    /// error, which cuts the connection: never wrong or padded bytes.
    pub async fn range(
        &self,
        start: u64,
        len: u64,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + use<>, VerifyError> {
        let wanted: Range<u64> = start..start + len;
        let options = GetOptions {
            range: Some(GetRange::Bounded(wanted.clone())),
            ..GetOptions::default()
        };
        let got = self
            .bucket
            .store
            .get_opts(&self.location, options)
            .await
            .map_err(|e| refused(&e))?;
        if got.meta.size != self.size {
            return Err(VerifyError::WrongSize {
                expected: self.size,
                actual: got.meta.size,
            });
        }
        if got.range != wanted {
            return Err(VerifyError::Unavailable);
        }
        let body = got.into_stream().map_err(std::io::Error::other);
        Ok(exactly(body, len))
    }
}

/// `body`, which must yield exactly `len` bytes, each chunk within [`IDLE`].
fn exactly(
    body: impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::try_unfold((body, len), |(mut body, left)| async move {
        let next = tokio::time::timeout(IDLE, body.next()).await.map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "object store stalled")
        })?;
        match next {
            None if left == 0 => Ok(None),
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Some(chunk) => {
                let chunk = chunk?;
                let n = chunk.len() as u64;
                if n > left {
                    return Err(std::io::Error::other("object store sent more than asked"));
                }
                Ok(Some((chunk, (body, left - n))))
            }
        }
    })
}
