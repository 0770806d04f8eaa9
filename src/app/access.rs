//! The download path's use case: verify the link, ask the revocation set (on
//! every request), open the file. No database query here, ever.

use super::{App, AppError};
use crate::domain::LineId;
use crate::links::{Action, LinkClaims, LinkError};
use crate::revocation::RevocationError;
use crate::storage::VerifyError;

/// A link that may be served: its claims name the file (shared with the
/// verified-link cache, so a request copies no claim).
pub type Grant = std::sync::Arc<LinkClaims>;

/// The line and action a verified link names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkedLine {
    pub line: LineId,
    pub action: Action,
}

/// What [`App::authorize`] decided: the line the link names (once it is
/// known to name one, for the access history) and the grant or the refusal.
#[derive(Debug)]
pub struct Authorization {
    pub link: Option<LinkedLine>,
    pub grant: Result<Grant, AppError>,
}

/// Where the bytes of a response come from.
pub use crate::storage::Opened as Source;

impl App {
    /// Verifies `token` (signature, then expiry) and checks the revocation
    /// set. Returns the line and action once the link names them (for the
    /// access history), and the grant or why it is refused. Any doubt about
    /// the set is `revocation_unavailable`: never serve when in doubt.
    pub async fn authorize(&self, token: &str) -> Authorization {
        let refused = |e| Authorization {
            link: None,
            grant: Err(e),
        };
        let claims = match self.signer.verify(token) {
            Ok(c) => c,
            Err(LinkError::Invalid) => return refused(AppError::LinkInvalid),
            // Authentic but expired: recorded against its line (the
            // commonest reason a buyer's link "stopped working").
            Err(LinkError::Expired(was)) => {
                return Authorization {
                    link: Some(LinkedLine {
                        line: was.line,
                        action: was.action,
                    }),
                    grant: Err(AppError::LinkExpired),
                };
            }
        };
        let Some(line) = claims.line() else {
            return refused(AppError::LinkInvalid);
        };
        tracing::Span::current().record("line_id", line.get());
        let link = Some(LinkedLine {
            line,
            action: claims.act,
        });
        let decided = |grant| Authorization { link, grant };
        let checking = std::time::Instant::now();
        let revoked = self.revocations.is_revoked(line).await;
        crate::metrics::record_revocation_check(checking.elapsed());
        match revoked {
            Ok(false) => decided(Ok(claims)),
            Ok(true) => decided(Err(AppError::AccessRevoked)),
            // Either way the maintainer reconciles (rebuilds, pushes the
            // outbox) and lifts the suspicion: ask for that pass now, so
            // access resumes as soon as the store answers again.
            Err(
                RevocationError::Incomplete
                | RevocationError::Unreachable
                | RevocationError::NotReplicated { .. },
            ) => {
                self.maintainer.wake();
                decided(Err(AppError::RevocationUnavailable))
            }
        }
    }

    /// A presigned URL of the granted file (delivery `redirect`), living
    /// max(60 s, size ÷ 50 KiB/s) capped at `max_ttl`; the answer carries
    /// `disposition` and the grant's content type.
    pub async fn presigned_url(
        &self,
        grant: &Grant,
        max_ttl: std::time::Duration,
        disposition: &str,
    ) -> Result<String, AppError> {
        let by_size = std::time::Duration::from_secs(grant.len.unwrap_or(0) / (50 * 1024));
        let ttl = by_size.max(std::time::Duration::from_secs(60)).min(max_ttl);
        self.storage
            .presign(&grant.sha, ttl, disposition, &grant.ct)
            .await
            .map_err(|e| file_refusal(grant, e))?
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("redirect delivery needs the s3 backend"))
            })
    }

    /// The granted file: small ones from memory (verified before they are
    /// kept), others opened for streaming. A file missing, or not the size or
    /// digest the link was signed with, is `file_unavailable`.
    pub async fn open_file(&self, grant: &Grant) -> Result<Source, AppError> {
        self.storage
            .open_for_serving(&grant.sha, grant.len)
            .await
            .map_err(|e| file_refusal(grant, e))
    }
}

/// Why the granted file is not served: the store unreachable is
/// `storage_unavailable` (503, retry), a file that cannot be read an
/// internal error, one missing or not as signed `file_unavailable`.
pub fn file_refusal(grant: &Grant, e: VerifyError) -> AppError {
    match e {
        VerifyError::Unavailable => AppError::StorageUnavailable,
        VerifyError::Unreadable => AppError::internal(anyhow::anyhow!(
            "asset file {} could not be read",
            grant.sha
        )),
        e => {
            tracing::error!(sha256 = %grant.sha, problem = %e, "asset file unusable; not served");
            AppError::FileUnavailable
        }
    }
}
