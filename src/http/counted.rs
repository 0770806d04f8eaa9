//! A download's body that records, when it ends, what it delivered: the
//! bytes handed to the connection and whether the body reached its end
//! (SPEC §14). The access is pushed to the history then — once, from
//! `Drop`, whether the client read everything or hung up half way.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;

use crate::history::{AccessLog, AccessRecord};

/// The largest piece handed to the connection at once: a body held in
/// memory is sent in slices, so a client that hangs up is seen to have
/// received about what it did, not the whole file.
const SLICE: usize = 64 * 1024;

pub struct Counted {
    inner: BoxBody,
    /// The rest of a chunk larger than [`SLICE`].
    pending: Bytes,
    sent: u64,
    /// The body's length, if known up front.
    expected: Option<u64>,
    ended: bool,
    record: Option<AccessRecord>,
    log: AccessLog,
}

impl Counted {
    pub fn new(inner: BoxBody, record: AccessRecord, log: AccessLog) -> Self {
        let expected = match inner.size() {
            BodySize::Sized(n) => Some(n),
            _ => None,
        };
        Self {
            inner,
            pending: Bytes::new(),
            sent: 0,
            expected,
            ended: false,
            record: Some(record),
            log,
        }
    }

    fn hand_over(&mut self, mut chunk: Bytes) -> Bytes {
        if chunk.len() > SLICE {
            self.pending = chunk.split_off(SLICE);
        }
        self.sent += chunk.len() as u64;
        chunk
    }
}

impl MessageBody for Counted {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let rest = std::mem::take(&mut this.pending);
            return Poll::Ready(Some(Ok(this.hand_over(rest))));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(this.hand_over(chunk)))),
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            let whole = self.expected == Some(self.sent);
            record.bytes_sent = self.sent;
            record.completed = self.ended || (whole && self.pending.is_empty());
            self.log.push(record);
        }
    }
}
