//! Entry points for the coverage-guided fuzz targets in `fuzz/` (cargo fuzz,
//! libFuzzer), and the replay of their committed corpus as ordinary tests.
//! Each function takes arbitrary bytes, must never panic, and checks the
//! properties that must hold for whatever it accepts.

use crate::domain::is_sha256_hex;
use crate::http::extract::{form_parse, parse_json};
use crate::http::range::{self, RangeRequest};
use crate::http::routes::cancel::{CancelBody, CancelQuery};
use crate::http::routes::register::RegisterBody;
use crate::links::LinkSigner;

/// The key the link target signs with (the corpus holds links signed with it).
pub const LINK_KEY: [u8; 32] = *b"assetgate-fuzz-link-key-32-bytes";

/// Link verification: any token either fails or yields claims the access path
/// can trust (a line id, a digest that is a safe file name).
pub fn verify_link(data: &[u8]) {
    thread_local! {
        static SIGNER: LinkSigner = LinkSigner::new(&LINK_KEY, &[], 3600, "http://fuzz");
    }
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    SIGNER.with(|signer| {
        if let Ok(claims) = signer.verify(token) {
            assert!(claims.line().is_some(), "accepted a link without a line");
            assert!(is_sha256_hex(claims.sha.as_str()), "accepted a bad digest");
        }
    });
}

/// `Range` parsing: the first 8 bytes are the file size, the rest the header.
/// A partial answer always lies within the file.
pub fn parse_range(data: &[u8]) {
    let (size, header) = match data.split_first_chunk::<8>() {
        Some((size, rest)) => (u64::from_le_bytes(*size) % (1 << 40), rest),
        None => (1000, data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let RangeRequest::Partial(r) = range::parse(header, size) {
        assert!(r.len >= 1, "an empty partial range");
        assert!(
            r.start.checked_add(r.len).is_some_and(|end| end <= size),
            "a range past the end: {r:?} of {size}"
        );
    }
}

/// Register and cancel request parsing: a body (register), or a query string
/// and an optional body split at the first NUL (cancel), into domain values.
pub fn parse_requests(data: &[u8]) {
    if let Ok(body) = parse_json::<RegisterBody>(data) {
        let _ = body.parse();
    }
    let (query, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    if let Ok(q) = form_parse::<CancelQuery>(query) {
        let body = body.and_then(|b| parse_json::<CancelBody>(b).ok());
        if let Ok((order, line, _)) = q.parse(body.as_ref()) {
            assert!(order.get() >= 1 && line.is_none_or(|l| l.get() >= 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every input of a target's committed corpus, through the target's function.
    fn replay(target: &str, run: fn(&[u8])) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the corpus {} is committed: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.map(|e| e.path()).unwrap_or_default();
            let data = std::fs::read(&path).unwrap_or_default();
            run(&data);
            n += 1;
        }
        n
    }

    #[test]
    fn the_link_corpus_replays_and_starts_from_an_accepted_link() {
        assert!(replay("verify_link", super::verify_link) > 0);
        // Named seeds live apart from the corpus, which `cargo fuzz cmin` rewrites.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/verify_link");
        let signer = super::LinkSigner::new(&super::LINK_KEY, &[], 60, "http://fuzz");
        let valid = std::fs::read_to_string(dir.join("valid")).unwrap_or_default();
        let claims = signer.verify(&valid);
        assert!(claims.is_ok(), "{claims:?}");
        let old = std::fs::read_to_string(dir.join("view_old_no_len")).unwrap_or_default();
        assert!(signer.verify(&old).is_ok_and(|c| c.len.is_none()));
    }

    #[test]
    fn the_range_corpus_replays() {
        assert!(replay("parse_range", super::parse_range) > 0);
    }

    #[test]
    fn the_request_corpus_replays() {
        assert!(replay("parse_requests", super::parse_requests) > 0);
    }
}
