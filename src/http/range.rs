//! The `Range` request header (RFC 9110 §14.2), for one representation of a
//! known size. A header that does not parse is ignored (the whole file, 200);
//! one that parses but asks only for bytes past the end is unsatisfiable (416).
//! Of several ranges the first satisfiable one is served (206, not multipart).

/// `start .. start + len` of the representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub len: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable `Range`: send the whole representation.
    Whole,
    Partial(ByteRange),
    /// Well-formed, but no range overlaps the representation.
    Unsatisfiable,
}

/// One range-spec as written: `first-last`, `first-` or `-suffix`.
enum Spec {
    From(u64, Option<u64>),
    Suffix(u64),
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn spec(s: &str) -> Option<Spec> {
    let (first, last) = s.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    if last.is_empty() {
        return Some(Spec::From(first, None));
    }
    let last = number(last)?;
    (last >= first).then_some(Spec::From(first, Some(last)))
}

impl Spec {
    fn within(&self, size: u64) -> Option<ByteRange> {
        match *self {
            Spec::From(first, _) if first >= size => None,
            Spec::From(first, last) => {
                let end = last.map_or(size - 1, |l| l.min(size - 1));
                Some(ByteRange {
                    start: first,
                    len: end - first + 1,
                })
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(_) if size == 0 => None,
            Spec::Suffix(n) => Some(ByteRange {
                start: size.saturating_sub(n),
                len: n.min(size),
            }),
        }
    }
}

/// What `header` asks of a representation of `size` bytes.
pub fn parse(header: &str, size: u64) -> RangeRequest {
    let Some((unit, set)) = header.split_once('=') else {
        return RangeRequest::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Whole;
    }
    let mut specs = Vec::new();
    for element in set.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match spec(element) {
            Some(s) => specs.push(s),
            None => return RangeRequest::Whole,
        }
    }
    if specs.is_empty() {
        return RangeRequest::Whole;
    }
    specs
        .iter()
        .find_map(|s| s.within(size))
        .map_or(RangeRequest::Unsatisfiable, RangeRequest::Partial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn partial(start: u64, len: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, len })
    }

    #[test]
    fn well_formed_ranges_select_bytes() {
        assert_eq!(parse("bytes=0-7", 100), partial(0, 8));
        assert_eq!(parse("bytes=10-", 100), partial(10, 90));
        assert_eq!(parse("bytes=-5", 100), partial(95, 5));
        assert_eq!(parse("bytes=-500", 100), partial(0, 100));
        assert_eq!(parse("bytes=90-1000", 100), partial(90, 10));
        assert_eq!(parse("BYTES = 1-1 ", 100), partial(1, 1));
        assert_eq!(
            parse("bytes=200-300, 5-6", 100),
            partial(5, 2),
            "first satisfiable"
        );
    }

    #[test]
    fn malformed_headers_are_ignored_not_refused() {
        for h in [
            "bytes=abc",
            "bytes=1-1-1",
            "bytes=5-1",
            "bytes=99999999999999999999999-",
            "bytes=-",
            "bytes=",
            "bytes=1-2,x",
            "items=0-1",
            "0-1",
            "bytes=+1-2",
        ] {
            assert_eq!(parse(h, 100), RangeRequest::Whole, "{h:?}");
        }
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(parse("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=100-200", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), RangeRequest::Unsatisfiable);
    }

    proptest! {
        #[test]
        fn a_partial_answer_always_lies_within_the_file(h in "\\PC{0,40}", size in 0u64..10_000) {
            if let RangeRequest::Partial(r) = parse(&h, size) {
                prop_assert!(r.len >= 1);
                prop_assert!(r.start.checked_add(r.len).is_some_and(|end| end <= size));
            }
        }

        #[test]
        fn any_int_range_within_the_file_is_served_exactly(size in 1u64..10_000, a in 0u64..10_000, b in 0u64..10_000) {
            let (first, last) = (a.min(b), a.max(b));
            let got = parse(&format!("bytes={first}-{last}"), size);
            if first < size {
                prop_assert_eq!(got, partial(first, last.min(size - 1) - first + 1));
            } else {
                prop_assert_eq!(got, RangeRequest::Unsatisfiable);
            }
        }
    }
}
