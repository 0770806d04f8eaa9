//! The parsers every route and console page shares: cursors, page sizes,
//! times, the order a path names, the query strings and bodies that more than
//! one route reads. A route never imports another route's internals; what
//! two of them need lives here.

use base64::Engine as _;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::Field as _;
use crate::app::search::{HistoryPage, OrderCursor, OrderFilter};
use crate::domain::{
    CancelReason, CancelReasonCode, CancelWhy, Environment, LineStatus, OrderLineId, OrderNumber,
    VendorId,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An opaque cursor: base64url of the numbers it carries, dot-separated.
pub fn encode_cursor(parts: &[i64]) -> String {
    let text: Vec<String> = parts.iter().map(ToString::to_string).collect();
    B64.encode(text.join("."))
}

/// The numbers of a cursor made by [`encode_cursor`]; 422 `cursor` otherwise.
pub fn decode_cursor<const N: usize>(raw: &str) -> Result<[i64; N], ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor this API returned");
    let text = B64.decode(raw.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let numbers: Vec<i64> = text
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    numbers.try_into().map_err(|_| bad())
}

/// `page_size` within 1..=`max`, `default` when absent.
pub fn page_size(raw: Option<i64>, default: u64, max: u64) -> Result<u64, ApiError> {
    raw.map_or(Ok(default), |n| {
        u64::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("page_size", format!("must be an integer from 1 to {max}"))
            })
    })
}

/// Of `limit + 1` rows (newest first): the page, and the cursor of the next
/// one if there is more.
pub fn page_of<T>(
    mut rows: Vec<T>,
    limit: u64,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(&cursor)).flatten();
    (rows, next)
}

/// `?cursor=` of a page keyed by one id (newest first).
pub fn id_cursor(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.filter(|c| !c.is_empty())
        .map(|c| decode_cursor::<1>(c).map(|[id]| id))
        .transpose()
}

/// The reason (defaulted when blank) and the optional reason code of a cancel.
pub fn parse_why(reason: Option<&str>, code: Option<&str>) -> Result<CancelWhy, ApiError> {
    Ok(CancelWhy {
        reason: CancelReason::parse(reason).field("reason")?,
        code: code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::parse::<CancelReasonCode>)
            .transpose()
            .field("reason_code")?,
    })
}

/// The value if given and not blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An RFC 3339 timestamp (or a date, meaning its midnight UTC), in ms.
pub fn parse_time(field: &str, raw: &str) -> Result<i64, ApiError> {
    let raw = raw.trim();
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(|d| {
                d.and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp_millis()
            })
        })
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time or a YYYY-MM-DD date"))
}

/// An optional time parameter (blank = absent).
pub fn optional_time(field: &str, raw: &Option<String>) -> Result<Option<i64>, ApiError> {
    given(raw).map(|t| parse_time(field, t)).transpose()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub vendor_id: Option<String>,
    pub environment: Option<String>,
    pub status: Option<String>,
    pub reason_code: Option<String>,
    pub q: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub page_size: Option<i64>,
    pub cursor: Option<String>,
}

impl SearchQuery {
    /// The filter: `q` of digits (after an optional `#`) is an order number,
    /// anything else a customer substring.
    pub fn filter(&self) -> Result<OrderFilter, ApiError> {
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(ApiError::invalid("q", "must be at most 200 characters"));
        }
        // `#1001` is how people write an order number.
        let number = q
            .map(|q| q.strip_prefix('#').unwrap_or(q).trim())
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        Ok(OrderFilter {
            vendor: given(&self.vendor_id)
                .map(VendorId::parse)
                .transpose()
                .field("vendor_id")?,
            environment: given(&self.environment)
                .map(str::parse::<Environment>)
                .transpose()
                .field("environment")?,
            status: given(&self.status)
                .map(|s| s.to_ascii_uppercase().parse::<LineStatus>())
                .transpose()
                .field("status")?,
            reason_code: given(&self.reason_code)
                .map(|s| s.to_ascii_lowercase().parse::<CancelReasonCode>())
                .transpose()
                .field("reason_code")?,
            order_number: number
                .map(|n| {
                    n.parse::<i64>()
                        .ok()
                        .and_then(|n| OrderNumber::parse(n).ok())
                        .ok_or_else(|| ApiError::invalid("q", "is not an order number"))
                })
                .transpose()?,
            customer: q.filter(|_| number.is_none()).map(str::to_owned),
            created_from_ms: optional_time("created_from", &self.created_from)?,
            created_to_ms: optional_time("created_to", &self.created_to)?,
        })
    }

    pub fn cursor(&self) -> Result<Option<OrderCursor>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                decode_cursor::<2>(c).map(|[created_at_ms, id]| OrderCursor { created_at_ms, id })
            })
            .transpose()
    }

    pub fn page_size(&self) -> Result<u64, ApiError> {
        page_size(self.page_size, 50, 200)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    history_limit: Option<i64>,
    history_before: Option<String>,
}

impl DetailQuery {
    pub fn page(&self) -> Result<HistoryPage, ApiError> {
        Ok(HistoryPage {
            limit: page_size(self.history_limit, 200, 1000).map_err(|_| {
                ApiError::invalid("history_limit", "must be an integer from 1 to 1000")
            })?,
            before_ms: optional_time("history_before", &self.history_before)?,
        })
    }
}

/// An operator's cancel (admin API body, console form).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCancelBody)]
pub struct CancelBody {
    pub order_line_id: Option<i64>,
    pub reason: String,
    pub reason_code: Option<String>,
}

impl CancelBody {
    /// The line (if one) and the reason, which operators must give.
    pub fn parse(&self) -> Result<(Option<OrderLineId>, CancelWhy), ApiError> {
        if self.reason.trim().is_empty() {
            return Err(ApiError::invalid(
                "reason",
                "must say why (1 to 500 characters)",
            ));
        }
        let reason = parse_why(Some(&self.reason), self.reason_code.as_deref())?;
        let line = self
            .order_line_id
            .map(OrderLineId::parse)
            .transpose()
            .field("order_line_id")?;
        Ok((line, reason))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    page_size: Option<i64>,
    cursor: Option<String>,
}

impl DeliveriesQuery {
    /// The delivery to start before, and the page size.
    pub fn page(&self) -> Result<(Option<i64>, u64), ApiError> {
        Ok((
            id_cursor(self.cursor.as_deref())?,
            page_size(self.page_size, 50, 200)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor(&[1_764_000_000_000, 42]);
        assert_eq!(decode_cursor::<2>(&c).ok(), Some([1_764_000_000_000, 42]));
        assert!(decode_cursor::<2>("nope").is_err());
        assert!(decode_cursor::<1>(&c).is_err(), "wrong arity");
        assert!(decode_cursor::<2>(&B64.encode("1.x")).is_err());
    }
}
