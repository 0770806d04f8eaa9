//! `GET|HEAD /access/{token}`: the download path. No database query here:
//! verify the link, ask the revocation set, stream the file.

use actix_files::NamedFile;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use std::panic::AssertUnwindSafe;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use futures_util::FutureExt as _;

use crate::domain::{LineId, now_ms};
use crate::history::AccessRecord;
use crate::http::error::ApiError;
use crate::links::{Action, LinkClaims, LinkError};
use crate::revocation::RevocationError;
use crate::state::AppState;

/// Files below this size are read on the worker thread, 64 KiB at a time, instead
/// of hopping through the blocking pool per chunk: from the page cache that is
/// memcpy speed (1 MiB downloads: 0.39× → 0.77× nginx). On a cold, slow disk each
/// read stalls this worker for one seek; larger files always use the pool.
const SYNC_READ_BELOW: u64 = 8 * 1024 * 1024;

/// `GET|HEAD /access/{token}`, mounted as the static-prefix scope `/access`.
pub async fn access(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = req.match_info().unprocessed().trim_start_matches('/');
    if token.is_empty() || token.contains('/') {
        let path = "/access/…".to_owned();
        return render(
            &req,
            ApiError::RouteNotFound {
                method: req.method().to_string(),
                path,
            },
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let method = req.method().to_string();
        return render(
            &req,
            ApiError::MethodNotAllowed {
                method,
                allowed: "GET, HEAD",
            },
        );
    }
    // This route is not behind the per-resource panic guard: guard it here.
    let served = AssertUnwindSafe(serve(&req, token, &state))
        .catch_unwind()
        .await;
    let Ok((line, result)) = served else {
        return ApiError::internal(anyhow::anyhow!("access handler panicked")).error_response();
    };
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.status_code().as_u16(),
    };
    if let Some((line, action)) = line.filter(|_| state.settings.history.record_access) {
        record_access(&req, &state, line, action, status, &result);
    }
    match result {
        Ok(res) => res,
        Err(e) => render(&req, e),
    }
}

fn render(req: &HttpRequest, e: ApiError) -> HttpResponse {
    if prefers_html(req) {
        e.html_response()
    } else {
        e.error_response()
    }
}

async fn serve(
    req: &HttpRequest,
    token: &str,
    state: &AppState,
) -> (Option<(LineId, Action)>, Result<HttpResponse, ApiError>) {
    let claims = match state.signer.verify(token) {
        Ok(c) => c,
        Err(LinkError::Invalid) => return (None, Err(ApiError::LinkInvalid)),
        Err(LinkError::Expired) => return (None, Err(ApiError::LinkExpired)),
    };
    let Some(line) = claims.line() else {
        return (None, Err(ApiError::LinkInvalid));
    };
    tracing::Span::current().record("line_id", line.get());
    let who = Some((line, claims.act));
    match state.revocations.is_revoked(line).await {
        Ok(false) => {}
        Ok(true) => return (who, Err(ApiError::AccessRevoked)),
        Err(RevocationError::Incomplete) => {
            state.maintainer.wake();
            return (who, Err(ApiError::RevocationUnavailable));
        }
        Err(RevocationError::Unreachable) => return (who, Err(ApiError::RevocationUnavailable)),
    }
    (who, stream_file(req, state, &claims))
}

fn stream_file(
    req: &HttpRequest,
    state: &AppState,
    claims: &LinkClaims,
) -> Result<HttpResponse, ApiError> {
    let etag = format!("\"{}\"", claims.sha);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .finish());
    }
    let disposition = content_disposition(
        match claims.act {
            Action::Download => DispositionType::Attachment,
            Action::View => DispositionType::Inline,
        },
        &claims.file_name,
    );
    if let Some(bytes) = state.storage.small_file(&claims.sha) {
        return Ok(small_response(req, bytes, claims, &etag, disposition));
    }
    let path = state
        .storage
        .path_for(&claims.sha)
        .ok_or(ApiError::LinkInvalid)?;
    let file = match NamedFile::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(sha256 = %claims.sha, "asset file missing from storage");
            return Err(ApiError::FileUnavailable);
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let mime = claims
        .ct
        .parse()
        .unwrap_or(mime_guess::mime::APPLICATION_OCTET_STREAM);
    let mut res = file
        // Mid-sized files are read inline instead of through the blocking pool.
        .read_mode_threshold(SYNC_READ_BELOW)
        .use_etag(false)
        .use_last_modified(false)
        .set_content_type(mime)
        .set_content_disposition(disposition)
        .into_response(req);
    let headers = res.headers_mut();
    headers.insert(
        header::ETAG,
        header::HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

/// A small file from memory, with the same semantics as the streamed path:
/// one `Range` (GET only, ignored when `If-Range` does not match) → 206 or 416.
fn small_response(
    req: &HttpRequest,
    bytes: bytes::Bytes,
    claims: &LinkClaims,
    etag: &str,
    disposition: ContentDisposition,
) -> HttpResponse {
    let size = bytes.len() as u64;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, claims.ct.as_str()))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    let if_range_ok = req
        .headers()
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let range = req
        .headers()
        .get(header::RANGE)
        .filter(|_| req.method() == Method::GET && if_range_ok)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.split_once('=')
                .is_none_or(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        });
    let Some(range) = range else {
        return res.body(bytes);
    };
    match actix_files::HttpRange::parse(range, size)
        .ok()
        .and_then(|r| r.first().copied())
    {
        Some(r) => {
            let (start, end) = (r.start, r.start + r.length);
            res.status(actix_web::http::StatusCode::PARTIAL_CONTENT)
                .insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{size}", end - 1),
                ))
                .body(bytes.slice(start as usize..end as usize))
        }
        None => res
            .status(actix_web::http::StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
            .finish(),
    }
}

/// RFC 6266: an ASCII `filename` fallback plus the exact UTF-8 name in `filename*`.
pub fn content_disposition(disposition: DispositionType, name: &str) -> ContentDisposition {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    ContentDisposition {
        disposition,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    }
}

/// Browsers (Accept prefers text/html) get a human page instead of JSON.
fn prefers_html(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let html = accept.find("text/html");
    let json = accept.find("application/json");
    match (html, json) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Queues the access for the history without waiting for the database.
fn record_access(
    req: &HttpRequest,
    state: &AppState,
    line: LineId,
    action: Action,
    status: u16,
    result: &Result<HttpResponse, ApiError>,
) {
    let method = if req.method() == actix_web::http::Method::HEAD {
        "HEAD"
    } else {
        "GET"
    };
    state.access_log.push(AccessRecord {
        line,
        at_ms: now_ms(),
        action: action.as_str(),
        method,
        status,
        result: match result {
            Ok(_) => "served",
            Err(e) => e.name(),
        },
        range: req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(100).collect()),
        client_ip: req.peer_addr().map(|a| a.ip()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_has_a_safe_ascii_fallback_and_exact_utf8_name() {
        let cd = content_disposition(DispositionType::Attachment, "Åsa \"x\"/../é.pdf").to_string();
        assert!(
            cd.starts_with("attachment; filename=\"_sa _x__..__.pdf\""),
            "{cd}"
        );
        assert!(cd.contains("filename*=UTF-8''%C3%85sa"), "{cd}");
        assert!(!cd.contains('/'), "{cd}");
    }
}
