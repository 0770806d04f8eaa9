//! The download path's use case: verify the link, ask the revocation set (on
//! every request), open the file. No database query here, ever.

use super::{App, AppError};
use crate::domain::{LineId, Sha256Digest};
use crate::links::{Action, LinkClaims, LinkError};
use crate::revocation::RevocationError;

/// A link that may be served: its claims name the file.
pub type Grant = LinkClaims;

/// Where the bytes of a response come from.
pub enum Source {
    /// A small file, whole, from the in-memory cache.
    Memory(bytes::Bytes),
    /// An open file of this size, streamed in chunks.
    File(std::fs::File, u64),
}

impl Source {
    pub fn size(&self) -> u64 {
        match self {
            Self::Memory(bytes) => bytes.len() as u64,
            Self::File(_, size) => *size,
        }
    }
}

impl App {
    /// Verifies `token` (signature, then expiry) and checks the revocation
    /// set. Returns the line and action once the link names them (for the
    /// access history), and the grant or why it is refused. Any doubt about
    /// the set is `revocation_unavailable`: never serve when in doubt.
    pub async fn authorize(
        &self,
        token: &str,
    ) -> (Option<(LineId, Action)>, Result<Grant, AppError>) {
        let claims = match self.signer.verify(token) {
            Ok(c) => c,
            Err(LinkError::Invalid) => return (None, Err(AppError::LinkInvalid)),
            Err(LinkError::Expired) => return (None, Err(AppError::LinkExpired)),
        };
        let Some(line) = claims.line() else {
            return (None, Err(AppError::LinkInvalid));
        };
        tracing::Span::current().record("line_id", line.get());
        let who = Some((line, claims.act));
        match self.revocations.is_revoked(line).await {
            Ok(false) => (who, Ok(claims)),
            Ok(true) => (who, Err(AppError::AccessRevoked)),
            Err(RevocationError::Incomplete) => {
                self.maintainer.wake();
                (who, Err(AppError::RevocationUnavailable))
            }
            Err(RevocationError::Unreachable) => (who, Err(AppError::RevocationUnavailable)),
        }
    }

    /// The file with this digest: small ones from memory, others opened for streaming.
    pub fn open_file(&self, sha: &Sha256Digest) -> Result<Source, AppError> {
        if let Some(bytes) = self.storage.small_file(sha) {
            return Ok(Source::Memory(bytes));
        }
        let path = self.storage.path_for(sha);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(sha256 = %sha, "asset file missing from storage");
                return Err(AppError::FileUnavailable);
            }
            Err(e) => return Err(AppError::internal(e)),
        };
        let size = file.metadata().map_err(AppError::internal)?.len();
        Ok(Source::File(file, size))
    }
}
