//! Links verified recently, kept per thread so the download path verifies a
//! link's signature once instead of on every request (base64, JSON and
//! HMAC-SHA256 were a fifth of its CPU time under load).
//!
//! Only a token whose signature verified is kept, with its claims. An entry
//! is found by the token's signature segment and used only when the *whole*
//! token is byte-for-byte the one verified, by the same signer: a token
//! that reuses a valid signature with another payload or header misses and
//! is verified in full (and refused). The expiry is checked on every use by
//! the caller; the revocation set is asked on every request as before.
//! Bounded: when the kept tokens pass [`BUDGET`] bytes the thread's cache
//! starts over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::LinkClaims;

/// Bytes of tokens one thread keeps.
pub(super) const BUDGET: usize = 2 << 20;

struct Entry {
    signer: u64,
    token: Box<str>,
    claims: Arc<LinkClaims>,
}

#[derive(Default)]
struct Recent {
    by_signature: HashMap<Box<str>, Entry>,
    bytes: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
}

/// A process-unique id for a signer: entries of one signer (one key set)
/// are never answered for another.
pub fn signer_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The signature segment of a compact JWT (what follows the last dot).
fn signature(token: &str) -> Option<&str> {
    token
        .rsplit_once('.')
        .map(|(_, s)| s)
        .filter(|s| !s.is_empty())
}

/// The claims of `token` if this thread verified exactly that token with
/// signer `signer` before.
pub fn get(signer: u64, token: &str) -> Option<Arc<LinkClaims>> {
    let sig = signature(token)?;
    RECENT.with_borrow(|r| {
        r.by_signature
            .get(sig)
            .filter(|e| e.signer == signer && *e.token == *token)
            .map(|e| e.claims.clone())
    })
}

/// Keeps `claims` for `token`, which signer `signer` has just verified.
pub fn put(signer: u64, token: &str, claims: Arc<LinkClaims>) {
    let Some(sig) = signature(token) else {
        return;
    };
    RECENT.with_borrow_mut(|r| {
        if r.bytes + token.len() > BUDGET {
            r.by_signature.clear();
            r.bytes = 0;
        }
        r.bytes += token.len();
        let old = r.by_signature.insert(
            sig.into(),
            Entry {
                signer,
                token: token.into(),
                claims,
            },
        );
        if let Some(old) = old {
            r.bytes -= old.token.len();
        }
    });
}

#[cfg(test)]
pub fn kept_tokens() -> usize {
    RECENT.with_borrow(|r| r.by_signature.len())
}
