//! Streaming a stored file (or a byte range of it) with bounded memory.
//!
//! actix-files reads 64 KiB per step and, for large files, hops through the
//! blocking pool for every step: 16,384 hops per GiB. Reading larger chunks
//! cuts that by the chunk ratio while memory stays bounded by one chunk in
//! flight per download (the HTTP writer polls the next chunk only once the
//! previous one has been handed to the socket).

use std::io::{Read as _, Seek as _, SeekFrom};

use bytes::Bytes;
use futures_util::Stream;

/// Bytes read per step. Larger amortises the thread hop; smaller bounds memory
/// per concurrent download (the HTTP writer copies each chunk once more).
/// Measured with `bench/run.sh` scenario (c), 20 × 1 GiB: 64 KiB (actix-files)
/// 0.54× nginx; 256 KiB 0.82×, peak RSS 37 MiB; 1 MiB 1.06× but 88 MiB
/// (118 MiB for the embedded default, past the 100 MiB bound).
pub const CHUNK: usize = 256 * 1024;

/// Files smaller than this are read on the calling (worker) thread: from the
/// page cache that is memcpy speed and cheaper than a hop to the blocking pool.
/// On a cold, slow disk each read stalls that worker for one seek; larger files
/// always go through the pool.
pub const READ_INLINE_BELOW: u64 = 8 * 1024 * 1024;

/// Reads at most `want` bytes at the file's current position into `buf`
/// (empty, with room for `want`). The caller allocates the buffer on the HTTP
/// worker thread, which also frees it once written: with glibc, memory belongs
/// to the arena of the thread that allocated it, and buffers allocated on
/// Tokio's many blocking threads spread over up to 8 arenas per core, each
/// keeping what was freed into it (bench/README.md, "Memory").
fn read_chunk(file: &mut std::fs::File, mut buf: Vec<u8>, want: usize) -> std::io::Result<Bytes> {
    // `read_to_end` on a `Take<&File>` fills the spare capacity without zeroing it first.
    let n = file.take(want as u64).read_to_end(&mut buf)?;
    if n == 0 {
        // The file is shorter than recorded: stop rather than send short.
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Bytes::from(buf))
}

/// The bytes `start .. start + len` of `file` (freshly opened, whose size is
/// `file_size`), as a stream.
pub fn file_range(
    file: std::fs::File,
    file_size: u64,
    start: u64,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    let inline = file_size < READ_INLINE_BELOW;
    // State: the file, where to seek before the next read (0: stay), bytes left.
    futures_util::stream::try_unfold(
        (file, start, len),
        move |(mut file, seek_to, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            if seek_to > 0 {
                file.seek(SeekFrom::Start(seek_to))?;
            }
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let buf = Vec::with_capacity(want);
            let (file, chunk) = if inline {
                let chunk = read_chunk(&mut file, buf, want)?;
                (file, chunk)
            } else {
                tokio::task::spawn_blocking(move || {
                    read_chunk(&mut file, buf, want).map(|chunk| (file, chunk))
                })
                .await
                .map_err(std::io::Error::other)??
            };
            let left = left.saturating_sub(chunk.len() as u64);
            Ok(Some((chunk, (file, 0, left))))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt as _;

    async fn collect(
        path: &std::path::Path,
        start: u64,
        len: u64,
    ) -> std::io::Result<(Vec<u8>, usize)> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        let chunks: Vec<Bytes> = file_range(file, size, start, len).try_collect().await?;
        let max = chunks.iter().map(Bytes::len).max().unwrap_or(0);
        Ok((chunks.concat(), max))
    }

    #[tokio::test]
    async fn streams_exactly_the_requested_range_in_bounded_chunks() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let data: Vec<u8> = (0..READ_INLINE_BELOW + 3 * CHUNK as u64 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let path = dir.path().join("big");
        std::fs::write(&path, &data)?;
        let size = data.len() as u64;

        let (all, max) = collect(&path, 0, size).await?;
        assert_eq!(all, data, "whole file");
        assert!(max <= CHUNK, "a chunk of {max} bytes");

        let (mid, _) = collect(&path, 1_000_003, 2_500_000).await?;
        assert_eq!(mid, &data[1_000_003..3_500_003], "a range across chunks");

        let (tail, _) = collect(&path, size - 5, 5).await?;
        assert_eq!(tail, &data[data.len() - 5..], "the last bytes");
        Ok(())
    }

    #[tokio::test]
    async fn small_files_are_read_inline_with_the_same_result() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let data: Vec<u8> = (0..CHUNK as u64 + 10).map(|i| (i % 7) as u8).collect();
        let path = dir.path().join("small");
        std::fs::write(&path, &data)?;
        let (got, _) = collect(&path, 3, data.len() as u64 - 3).await?;
        assert_eq!(got, &data[3..]);
        Ok(())
    }

    #[tokio::test]
    async fn a_file_shorter_than_asked_is_an_error_not_a_short_success() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("short");
        std::fs::write(&path, b"abc")?;
        let file = std::fs::File::open(&path)?;
        let res: std::io::Result<Vec<Bytes>> = file_range(file, 3, 0, 10).try_collect().await;
        assert_eq!(
            res.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::UnexpectedEof)
        );
        Ok(())
    }
}
