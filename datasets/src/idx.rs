//! Reader for the IDX format of the MNIST family, gzip-compressed or raw.
//!
//! Format (LeCun et al., <http://yann.lecun.com/exdb/mnist/>): two zero bytes, one byte for the
//! element type (`0x08` = unsigned byte, the only type the MNIST family uses), one byte for the
//! number of dimensions `n`, then `n` big-endian `u32` sizes, then the elements in row-major
//! order. Files starting with the gzip magic `1f 8b` are decompressed first (flate2), all
//! members of a multi-member stream (as `cat a.gz b.gz` or `pigz` make) in turn, and never
//! beyond what the IDX header announces: a small file that inflates to gigabytes is refused
//! after reading one byte more than its header promises.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};

/// Element type code of unsigned bytes, the only one MNIST-family files use.
const TYPE_U8: u8 = 0x08;
/// The two bytes that start every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Sizes of each dimension, outermost first (e.g. `[60000, 28, 28]` for MNIST images).
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// Reads an IDX file, gzip-compressed or raw (detected by the gzip magic number).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::NotIdx`] if it is neither IDX nor a
/// valid gzip of IDX, [`DataError::Truncated`] if it holds fewer bytes than its header announces.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        inflate(&raw, path)?
    } else {
        raw
    };
    parse_idx(&bytes, path)
}

/// The gzip stream `raw` inflated, but only as far as its IDX header allows: the header
/// first, then the data bytes it announces and one more (so that [`parse_idx`] reports the
/// excess), never more.
fn inflate(raw: &[u8], path: &Path) -> Result<Vec<u8>> {
    let broken = |e: std::io::Error| DataError::NotIdx {
        path: path.to_path_buf(),
        reason: format!("broken gzip stream: {e}"),
    };
    let mut stream = MultiGzDecoder::new(raw);
    let mut out = Vec::new();
    // The magic number, then the sizes of as many dimensions as it announces.
    (&mut stream)
        .take(4)
        .read_to_end(&mut out)
        .map_err(broken)?;
    if out.len() == 4 {
        let rank = u64::from(out[3]).min(255);
        (&mut stream)
            .take(4 * rank)
            .read_to_end(&mut out)
            .map_err(broken)?;
    }
    let header_len = out.len();
    let announced = out
        .get(4..)
        .filter(|_| header_len >= 8)
        .map(|sizes| {
            sizes
                .chunks_exact(4)
                .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .try_fold(1u64, u64::checked_mul)
        })
        .unwrap_or(Some(0));
    // A header whose sizes overflow is refused by parse_idx whatever follows: read nothing.
    let limit = announced.map_or(0, |n| n.saturating_add(1));
    stream.take(limit).read_to_end(&mut out).map_err(broken)?;
    Ok(out)
}

/// Parses the bytes of an uncompressed IDX file; `path` only names the source in errors.
///
/// # Errors
/// As [`read_idx`], less the I/O error.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let not_idx = |reason: String| DataError::NotIdx {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 4 {
        return Err(not_idx(format!(
            "{} bytes, shorter than the 4-byte magic number",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(not_idx(format!(
            "magic number starts with {:02x} {:02x}, not 00 00",
            bytes[0], bytes[1]
        )));
    }
    if bytes[2] != TYPE_U8 {
        return Err(not_idx(format!(
            "element type 0x{:02x}, only 0x08 (unsigned byte) is supported",
            bytes[2]
        )));
    }
    let rank = bytes[3] as usize;
    if rank == 0 || rank > 4 {
        return Err(not_idx(format!("{rank} dimensions, expected 1 to 4")));
    }
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| not_idx(format!("dimensions {dims:?} overflow")))?;
    let data = &bytes[header_len..];
    if data.len() < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: data.len(),
        });
    }
    if data.len() > expected {
        return Err(not_idx(format!(
            "{} bytes after the {expected} the header announces",
            data.len() - expected
        )));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn parses_raw_and_gzip_alike() {
        let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let dir = std::env::temp_dir().join(format!("ember-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = dir.join("a-idx2-ubyte");
        std::fs::write(&raw, &bytes).unwrap();
        let gz = dir.join("a-idx2-ubyte.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&bytes).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();

        let expected = IdxArray {
            dims: vec![2, 3],
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(read_idx(&raw).unwrap(), expected);
        assert_eq!(read_idx(&gz).unwrap(), expected);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejects_truncated_data() {
        let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4]);
        let err = parse_idx(&bytes, Path::new("x")).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 6,
                    found: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_truncated_header() {
        let bytes = idx_bytes(&[2, 3], &[]);
        let err = parse_idx(&bytes[..7], Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    }

    #[test]
    fn rejects_non_idx_bytes() {
        for bytes in [
            b"PK\x03\x04 a zip file".to_vec(),
            vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0],
            vec![0, 0, TYPE_U8, 9],
            vec![0, 0],
        ] {
            let err = parse_idx(&bytes, Path::new("x")).unwrap_err();
            assert!(matches!(err, DataError::NotIdx { .. }), "{err}");
        }
    }

    #[test]
    fn rejects_trailing_bytes() {
        let bytes = idx_bytes(&[2], &[1, 2, 3]);
        let err = parse_idx(&bytes, Path::new("x")).unwrap_err();
        assert!(matches!(err, DataError::NotIdx { .. }), "{err}");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn read_gz(name: &str, gz: &[u8]) -> Result<IdxArray> {
        let dir = std::env::temp_dir().join(format!("ember-idx-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.gz");
        std::fs::write(&path, gz).unwrap();
        let result = read_idx(&path);
        std::fs::remove_dir_all(dir).unwrap();
        result
    }

    /// `cat a.gz b.gz` is one valid gzip file (RFC 1952, section 2.2); `gzip -d` reads it whole.
    #[test]
    fn reads_every_member_of_a_multi_member_gzip() {
        let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let mut gz = gzip(&bytes[..5]);
        gz.extend(gzip(&bytes[5..11]));
        gz.extend(gzip(&bytes[11..]));
        assert_eq!(
            read_gz("multi", &gz).unwrap(),
            IdxArray {
                dims: vec![2, 3],
                data: vec![1, 2, 3, 4, 5, 6],
            }
        );
    }

    /// 64 MiB of zeros after a header announcing 6 bytes: inflation stops one byte past the
    /// announced data, so the error counts exactly one extra byte, not 64 MiB.
    #[test]
    fn inflates_no_more_than_the_header_announces() {
        let mut bytes = idx_bytes(&[2, 3], &[]);
        bytes.resize(bytes.len() + (64 << 20), 0);
        let err = read_gz("bomb", &gzip(&bytes)).unwrap_err().to_string();
        assert!(
            err.contains("1 bytes after the 6 the header announces"),
            "{err}"
        );
    }

    #[test]
    fn rejects_broken_gzip() {
        let dir = std::env::temp_dir().join(format!("ember-idx-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.gz");
        std::fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        let err = read_idx(&path).unwrap_err();
        assert!(matches!(err, DataError::NotIdx { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
