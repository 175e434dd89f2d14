//! How the stores encode what they keep compressed: a submission's bytes as received, and (in the embedded store)
//! its report and figures JSON. Each row names its encoding (`content_encoding`, `json_encoding`), so a row is read
//! the way it was written whatever writes now.
//!
//! New rows are written with zstd at its fastest level, through a compression context kept per thread. Against
//! deflate at its fast level, which rows were written with before (and which is still read), a typical synthetic
//! disclosure's 15 KiB keep in about a fifth fewer bytes, for about half the CPU: most of deflate's cost at this
//! size was setting up and clearing its state (some 300 KiB) for every call, which a kept context does not repeat.
//!
//! Reading is bounded: a zstd frame states its content size, which is checked against what the row may hold before
//! anything is allocated, and a deflate stream is read no further than that.

use std::{borrow::Cow, cell::RefCell, io::Read};

use super::StoreError;

/// Kept as received.
pub(super) const IDENTITY: &str = "identity";
/// Raw deflate (RFC 1951), as rows written before zstd are.
pub(super) const DEFLATE: &str = "deflate";
/// One zstd frame with its content size.
pub(super) const ZSTD: &str = "zstd";

/// zstd's fastest regular level: the write path is what is measured, and level 1 already keeps less than deflate.
const ZSTD_LEVEL: i32 = 1;

thread_local! {
    /// One compression context per thread: making a context costs about as much as compressing a disclosure.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// `bytes` in one zstd frame stating its content size; `None` if the encoder fails.
pub(super) fn compressed(bytes: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        slot.as_mut()?.compress(bytes).ok()
    })
}

/// The bytes to keep and their encoding: compressed when that is smaller, else as given.
pub(super) fn compress(bytes: &[u8]) -> (Cow<'_, [u8]>, &'static str) {
    match compressed(bytes) {
        Some(compressed) if compressed.len() < bytes.len() => (compressed.into(), ZSTD),
        _ => (bytes.into(), IDENTITY),
    }
}

/// Bytes kept in `encoding`, as they were given; more than `at_most` bytes is corruption (`what` names the column in
/// the error). Nothing beyond `at_most` is allocated or inflated.
pub(super) fn decompress(
    encoding: &str,
    what: &str,
    stored: Vec<u8>,
    at_most: usize,
) -> Result<Vec<u8>, StoreError> {
    let too_long = || corrupt(what, format!("holds more than {at_most} bytes"));
    let bytes = match encoding {
        IDENTITY => stored,
        DEFLATE => {
            let mut bytes = Vec::with_capacity((stored.len() * 4).min(at_most));
            // One byte beyond the bound, to notice a longer stream.
            flate2::read::DeflateDecoder::new(stored.as_slice())
                .take(at_most as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(what, e.to_string()))?;
            bytes
        }
        ZSTD => {
            let size = match zstd::zstd_safe::get_frame_content_size(&stored) {
                Ok(Some(size)) => usize::try_from(size).map_err(|_| too_long())?,
                _ => return Err(corrupt(what, "not a zstd frame with its size")),
            };
            if size > at_most {
                return Err(too_long());
            }
            // A second frame, or a first longer than it says, does not fit the capacity and is refused.
            let bytes =
                zstd::bulk::decompress(&stored, size).map_err(|e| corrupt(what, e.to_string()))?;
            if bytes.len() != size {
                return Err(corrupt(what, "shorter than its frame says"));
            }
            bytes
        }
        other => return Err(corrupt(what, format!("encoding {other:?}"))),
    };
    if bytes.len() > at_most {
        return Err(too_long());
    }
    Ok(bytes)
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {why}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn figures() -> Vec<u8> {
        r#"{"t":"01","r":"2010101","c":"1","v":"12.50"},"#
            .repeat(300)
            .into_bytes()
    }

    #[test]
    fn compressible_bytes_are_kept_in_zstd_and_read_back_exactly() {
        let bytes = figures();
        let (kept, encoding) = compress(&bytes);
        assert_eq!(encoding, ZSTD);
        assert!(kept.len() * 10 < bytes.len(), "{} bytes kept", kept.len());
        let read = decompress(encoding, "content", kept.into_owned(), bytes.len()).unwrap();
        assert_eq!(read, bytes);
    }

    #[test]
    fn a_kept_context_compresses_each_input_alone() {
        // The per-thread context must not carry one call's data into the next frame.
        let first = figures();
        let second = b"another disclosure entirely, with other words in it".repeat(20);
        let (a, _) = compress(&first);
        let (b, _) = compress(&second);
        let b_alone = zstd::bulk::compress(&second, ZSTD_LEVEL).unwrap();
        assert_eq!(b.as_ref(), b_alone.as_slice());
        assert_eq!(
            decompress(ZSTD, "content", a.into_owned(), first.len()).unwrap(),
            first
        );
    }

    #[test]
    fn incompressible_bytes_are_kept_as_given() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let (kept, encoding) = compress(&bytes);
        assert_eq!(encoding, IDENTITY);
        assert_eq!(kept.as_ref(), bytes.as_slice());
    }

    #[test]
    fn rows_written_deflated_still_read() {
        let bytes = figures();
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).unwrap();
        let deflated = encoder.finish().unwrap();
        assert_eq!(
            decompress(DEFLATE, "content", deflated, bytes.len()).unwrap(),
            bytes
        );
    }

    #[test]
    fn more_than_the_bound_is_corruption_before_it_is_inflated() {
        let bytes = figures();
        let (kept, encoding) = compress(&bytes);
        let refused = decompress(encoding, "facts_json", kept.into_owned(), bytes.len() - 1);
        assert!(
            matches!(&refused, Err(StoreError::Corrupt(why)) if why.starts_with("facts_json: holds more")),
            "{refused:?}"
        );
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).unwrap();
        let refused = decompress(DEFLATE, "content", encoder.finish().unwrap(), 100);
        assert!(
            matches!(refused, Err(StoreError::Corrupt(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn damaged_or_unknown_encodings_are_corruption() {
        let bytes = figures();
        let (kept, _) = compress(&bytes);
        let mut two_frames = kept.clone().into_owned();
        two_frames.extend_from_slice(&kept);
        let mut truncated = kept.into_owned();
        truncated.truncate(truncated.len() / 2);
        for (encoding, stored) in [
            (DEFLATE, b"not deflate at all".to_vec()),
            (ZSTD, b"not zstd at all".to_vec()),
            (ZSTD, truncated),
            (ZSTD, two_frames),
            ("brotli", b"{}".to_vec()),
        ] {
            assert!(
                matches!(
                    decompress(encoding, "content", stored, 1 << 20),
                    Err(StoreError::Corrupt(_))
                ),
                "{encoding}"
            );
        }
    }
}
