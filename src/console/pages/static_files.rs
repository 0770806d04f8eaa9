//! The console's stylesheet and scripts, compiled into the binary (no CDN).

use actix_web::{HttpRequest, HttpResponse};

use crate::console::ConsoleError;

const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/console.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/htmx.min.js"),
    ),
];

pub async fn serve(req: HttpRequest) -> Result<HttpResponse, ConsoleError> {
    let name = req.match_info().get("file").unwrap_or_default();
    let (_, content_type, bytes) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ConsoleError::NotFound(format!("There is no file {name}.")))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(*bytes))
}
