//! Logging: pretty for people, JSON for production. The root span of every
//! request records the request id, route pattern (never the raw path: it may
//! hold a link), vendor, order and line.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;
use crate::http::middleware::RequestId;

/// sea-orm's connect functions are traced with their options, whose URL
/// holds the database password: never below debug for them, whatever
/// `RUST_LOG` says (the more specific directive wins).
const NEVER_TRACED: [&str; 2] = ["sea_orm::driver=debug", "sea_orm::database=debug"];

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(format: LogFormat, level: &str) {
    let mut filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("{level},sqlx=warn,sea_orm=warn,actix_server=warn"))
    });
    for directive in NEVER_TRACED {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

pub struct AssetgateRootSpan;

impl RootSpanBuilder for AssetgateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let span = tracing::info_span!(
            "http_request",
            http.method = %request.method(),
            http.route = tracing::field::Empty,
            request_id = tracing::field::Empty,
            vendor_id = tracing::field::Empty,
            admin = tracing::field::Empty,
            order_id = tracing::field::Empty,
            line_id = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        );
        // Matching the route pattern and copying the id cost time on every
        // request: only when the span is recorded (not at `log.level = warn`).
        if !span.is_disabled() {
            if let Some(id) = request.extensions().get::<RequestId>() {
                span.record("request_id", id.0.as_str());
            }
            let route = request.match_pattern();
            span.record("http.route", route.as_deref().unwrap_or("unmatched"));
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.in_scope(|| tracing::info!(status, "request finished"));
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
