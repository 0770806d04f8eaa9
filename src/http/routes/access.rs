//! `GET|HEAD /access/{token}`: the download path. No database query here:
//! verify the link, ask the revocation set, stream the file.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, DispositionType, HeaderValue};
use std::panic::AssertUnwindSafe;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use futures_util::FutureExt as _;

use crate::app::{Authorization, Grant, LinkedLine, Source, file_refusal};
use crate::config::DeliveryMode;
use crate::domain::{file_name, now_ms};
use crate::history::AccessRecord;
use crate::http::counted::Counted;
use crate::http::error::ApiError;
use crate::http::range::{self, RangeRequest};
use crate::http::state::AppState;
use crate::links::Action;
use crate::storage::stream::file_range;

/// `GET|HEAD /access/{token}`, mounted as the static-prefix scope `/access`.
pub async fn access(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = std::time::Instant::now();
    let res = answer(&req, &state).await;
    if state.settings.metrics.enabled {
        crate::metrics::ACCESS.request(
            req.method() == Method::HEAD,
            res.status().as_u16(),
            started,
        );
    }
    res
}

async fn answer(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let token = req.match_info().unprocessed().trim_start_matches('/');
    if token.is_empty() || token.contains('/') {
        let path = "/access/…".to_owned();
        return render(
            req,
            ApiError::RouteNotFound {
                method: req.method().to_string(),
                path,
            },
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let method = req.method().to_string();
        return render(
            req,
            ApiError::MethodNotAllowed {
                method,
                allowed: "GET, HEAD",
            },
        );
    }
    let client = state.limits.client_ip(req);
    // This route is not behind the per-resource panic guard: guard it here.
    let served = match state.limits.access(client) {
        Ok(()) => {
            AssertUnwindSafe(serve(req, token, state))
                .catch_unwind()
                .await
        }
        Err(limited) => Ok((None, Err(limited))),
    };
    let Ok((line, result)) = served else {
        return ApiError::internal(anyhow::anyhow!("access handler panicked")).error_response();
    };
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.status_code().as_u16(),
    };
    let name = match &result {
        Ok(res) if res.status() == actix_web::http::StatusCode::NOT_MODIFIED => "not_modified",
        Ok(res) if res.status() == actix_web::http::StatusCode::SEE_OTHER => "redirected",
        Ok(_) => "served",
        Err(e) => e.name(),
    };
    if state.settings.metrics.enabled {
        let series = &*crate::metrics::ACCESS;
        series.count(name);
        if let Ok(res) = &result
            && let actix_web::body::BodySize::Sized(n) =
                actix_web::body::MessageBody::size(res.body())
            && res.status().is_success()
        {
            series.bytes.increment(n);
        }
    }
    let record = state
        .settings
        .history
        .record_access
        .then(|| access_record(req, state, line, status, name, client));
    match (result, record) {
        // A file body: recorded when it ends, with what it delivered.
        (Ok(res), Some(record)) if matches!(status, 200 | 206) && req.method() == Method::GET => {
            let log = state.access_log.clone();
            res.map_body(|_, body| Counted::new(body, record, log))
                .map_into_boxed_body()
        }
        (result, record) => {
            if let Some(record) = record {
                state.access_log.push(record);
            }
            match result {
                Ok(res) => res,
                Err(e) => render(req, e),
            }
        }
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
) -> (Option<LinkedLine>, Result<HttpResponse, ApiError>) {
    let Authorization { link, grant } = state.app.authorize(token).await;
    let result = match grant {
        Ok(grant) => stream_file(req, state, &grant).await,
        Err(e) => Err(e.into()),
    };
    (link, result)
}

async fn stream_file(
    req: &HttpRequest,
    state: &AppState,
    grant: &Grant,
) -> Result<HttpResponse, ApiError> {
    let etag = format!("\"{}\"", grant.sha);
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
    // Active content (HTML, SVG, XML, scripts) is never rendered on this
    // origin, which the console shares: always an attachment, sandboxed.
    let active = is_active(&grant.ct);
    let disposition = content_disposition_value(
        match grant.act {
            Action::View if !active => DispositionType::Inline,
            _ => DispositionType::Attachment,
        },
        &grant.file_name,
    );
    if state.settings.delivery.mode == DeliveryMode::Redirect {
        let max_ttl =
            std::time::Duration::from_secs(state.settings.delivery.redirect_max_ttl_seconds);
        let url = state
            .app
            .presigned_url(grant, max_ttl, disposition.to_str().unwrap_or("attachment"))
            .await?;
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .finish());
    }
    let source = state.app.open_file(grant).await?;
    let mut res = respond(req, source, grant, &etag, disposition).await?;
    if active {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    Ok(res)
}

/// Content a browser would run as a page (scripts, markup it executes).
pub fn is_active(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/ecmascript"
            | "text/ecmascript"
            | "application/x-javascript"
            | "text/xsl"
            | "application/xslt+xml"
    ) || essence.ends_with("+xml")
}

/// The file's bytes with the headers of SPEC §5: one `Range` (GET only,
/// ignored when `If-Range` does not match) → 206 or 416; HEAD reads nothing
/// (an object in a bucket is checked with a HEAD of its own). An object's
/// bytes are asked for as the range wanted, and the answer waits for the
/// store's: an unreachable store is a 503 before any byte.
async fn respond(
    req: &HttpRequest,
    source: Source,
    claims: &Grant,
    etag: &str,
    disposition: header::HeaderValue,
) -> Result<HttpResponse, ApiError> {
    let size = source.size();
    let mut res = HttpResponse::Ok();
    // Constant values as static header values: a `&str` would be copied
    // into a new buffer on every request.
    res.insert_header((header::CONTENT_TYPE, claims.ct.as_str()))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::ACCEPT_RANGES, HeaderValue::from_static("bytes")))
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    let if_range_ok = req
        .headers()
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let range = req
        .headers()
        .get(header::RANGE)
        .filter(|_| req.method() == Method::GET && if_range_ok)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeRequest::Whole, |v| range::parse(v, size));
    let (start, len) = match range {
        RangeRequest::Whole => (0, size),
        RangeRequest::Partial(r) => {
            res.status(actix_web::http::StatusCode::PARTIAL_CONTENT)
                .insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{size}", r.start, r.start + r.len - 1),
                ));
            (r.start, r.len)
        }
        RangeRequest::Unsatisfiable => {
            return Err(ApiError::RangeNotSatisfiable { size });
        }
    };
    if req.method() == Method::HEAD {
        if let Source::Object(object) = &source {
            object.check().await.map_err(|e| file_refusal(claims, e))?;
        }
        // Content-Length of what a GET would send; the writer sends no body.
        return Ok(res.body(SizedStream::new(
            len,
            futures_util::stream::empty::<std::io::Result<bytes::Bytes>>(),
        )));
    }
    Ok(match source {
        // At most `storage::cache::MAX_FILE` bytes: the casts cannot truncate.
        Source::Memory(bytes) => res.body(bytes.slice(start as usize..(start + len) as usize)),
        Source::File(file, size) => {
            res.body(SizedStream::new(len, file_range(file, size, start, len)))
        }
        Source::Object(object) => {
            let body = object
                .range(start, len)
                .await
                .map_err(|e| file_refusal(claims, e))?;
            res.body(SizedStream::new(len, Box::pin(body)))
        }
    })
}

/// RFC 6266: an ASCII `filename` fallback plus the exact UTF-8 name in
/// `filename*`. Written directly, not through actix's `ContentDisposition`
/// (which runs a regex over each parameter: about 3 % of the download path's
/// CPU time); the tests check both give the same bytes.
pub fn content_disposition_value(disposition: DispositionType, name: &str) -> header::HeaderValue {
    /// actix-http's `HTTP_VALUE` set (RFC 5987 §3.2), which `ExtendedValue` uses.
    const HTTP_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'%')
        .add(b'\'')
        .add(b'(')
        .add(b')')
        .add(b'*')
        .add(b',')
        .add(b'/')
        .add(b':')
        .add(b';')
        .add(b'<')
        .add(b'-')
        .add(b'>')
        .add(b'?')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'{')
        .add(b'}');
    use std::fmt::Write as _;
    let kind = match disposition {
        DispositionType::Inline => "inline",
        _ => "attachment",
    };
    // The fallback holds only ASCII letters, digits, space and `-_.()`:
    // nothing a quoted-string has to escape.
    let fallback = file_name::ascii_fallback(name);
    let mut value = String::with_capacity(32 + fallback.len() + 3 * name.len());
    let _ = write!(
        value,
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encoding::percent_encode(name.as_bytes(), HTTP_VALUE)
    );
    header::HeaderValue::try_from(value)
        .unwrap_or_else(|_| header::HeaderValue::from_static("attachment"))
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

/// The access as the history records it (and the hourly counts: a link
/// that names no line is counted too); queued without waiting for the
/// database, at once or when its body ends.
fn access_record(
    req: &HttpRequest,
    state: &AppState,
    line: Option<LinkedLine>,
    status: u16,
    result: &'static str,
    client_ip: Option<std::net::IpAddr>,
) -> AccessRecord {
    let method = if req.method() == actix_web::http::Method::HEAD {
        "HEAD"
    } else {
        "GET"
    };
    let user_agent = state
        .settings
        .history
        .user_agent
        .then(|| req.headers().get(header::USER_AGENT))
        .flatten()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(256)
                .collect()
        });
    AccessRecord {
        line: line.map(|l| l.line),
        at_ms: now_ms(),
        action: line.map_or("", |l| l.action.as_str()),
        method,
        status,
        result,
        range: req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(100).collect()),
        client_ip,
        // Only a refusal shows the buyer a reference to quote.
        request_id: (status >= 400).then(crate::http::error::current_request_id),
        bytes_sent: 0,
        completed: false,
        user_agent,
    }
}

/// What `/access/{token}` answers (GET and HEAD), for the OpenAPI document.
/// 200 or 206 carry the file in its own content type; errors are JSON, or a
/// short HTML page when the client prefers `text/html`.
macro_rules! access_doc {
    ($method:ident, $name:ident, $what:literal) => {
        #[doc = $what]
        #[utoipa::path(
            $method,
            path = "/access/{token}",
            tag = "access",
            params(
                ("token" = String, Path, description = "The signed link token (a JWT)"),
                ("Range" = Option<String>, Header, description = "One byte range: `bytes=0-99`, `bytes=100-`, `bytes=-100`"),
                ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the client has"),
            ),
            responses(
                (status = 200, description = "The whole file", content_type = "*/*", body = Vec<u8>),
                (status = 206, description = "The requested range", content_type = "*/*", body = Vec<u8>),
                (status = 303, description = "`delivery.mode = redirect`: after every check, to a presigned URL of the file in the bucket",
                    headers(("Location" = String, description = "The presigned URL"))),
                (status = 304, description = "Not modified (after the revocation check)"),
                (status = 403, description = "`link_invalid`, `access_revoked`", body = crate::http::error::ErrorResponse),
                (status = 404, description = "`file_unavailable`, `not_found`", body = crate::http::error::ErrorResponse),
                (status = 405, description = "`method_not_allowed`", body = crate::http::error::ErrorResponse),
                (status = 410, description = "`link_expired`", body = crate::http::error::ErrorResponse),
                (status = 416, description = "`range_not_satisfiable`", body = crate::http::error::ErrorResponse),
                (status = 429, description = "`rate_limited` (per client IP, when configured)", body = crate::http::error::ErrorResponse,
                    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
                (status = 503, description = "`revocation_unavailable`: the revocation set cannot be confirmed, so nothing is served; `storage_unavailable`: the object store cannot be reached (before any byte is sent)", body = crate::http::error::ErrorResponse,
                    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
            ),
            security(())
        )]
        #[expect(dead_code, reason = "documents a method of `access`, which serves it")]
        pub(crate) fn $name() {}
    };
}

access_doc!(
    get,
    access_get,
    "Download or view a purchased file through a signed link."
);
access_doc!(
    head,
    access_head,
    "The headers `GET` would answer, without the body."
);

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{Charset, ContentDisposition, DispositionParam, ExtendedValue};

    /// The header as actix renders it: the reference for `content_disposition_value`.
    fn content_disposition(disposition: DispositionType, name: &str) -> ContentDisposition {
        ContentDisposition {
            disposition,
            parameters: vec![
                DispositionParam::Filename(file_name::ascii_fallback(name)),
                DispositionParam::FilenameExt(ExtendedValue {
                    charset: Charset::Ext("UTF-8".to_owned()),
                    language_tag: None,
                    value: name.as_bytes().to_vec(),
                }),
            ],
        }
    }

    #[test]
    fn markup_and_scripts_are_active_documents_and_media_are_not() {
        for ct in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/rss+xml",
            "TEXT/JAVASCRIPT",
        ] {
            assert!(is_active(ct), "{ct}");
        }
        for ct in [
            "application/pdf",
            "image/png",
            "audio/mpeg",
            "text/plain",
            "video/mp4",
        ] {
            assert!(!is_active(ct), "{ct}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_direct_content_disposition_is_what_actix_renders(name in "\\PC{0,40}", inline: bool) {
            let kind = if inline { DispositionType::Inline } else { DispositionType::Attachment };
            let ours = content_disposition_value(kind.clone(), &name);
            let actix = content_disposition(kind, &name).to_string();
            proptest::prop_assert_eq!(ours.to_str().ok(), Some(actix.as_str()));
        }
    }

    #[test]
    fn content_disposition_has_a_safe_ascii_fallback_and_exact_utf8_name() {
        let cd = content_disposition_value(DispositionType::Attachment, "Åsa \"x\"/../é.pdf");
        let cd = cd.to_str().unwrap_or_default();
        assert!(
            cd.starts_with("attachment; filename=\"_sa _x__..__.pdf\""),
            "{cd}"
        );
        assert!(cd.contains("filename*=UTF-8''%C3%85sa"), "{cd}");
        assert!(!cd.contains('/'), "{cd}");
    }
}
