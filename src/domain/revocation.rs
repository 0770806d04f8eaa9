use super::LineId;

/// A revocation to put in force: a line, and the time after which no link of
/// it can be valid any more (so the entry may be dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub line: LineId,
    pub until_ms: i64,
}
