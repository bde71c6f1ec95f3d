//! TFRecord framing of event files: each record is
//! `u64 length (little-endian) | masked CRC32C of those 8 bytes | data | masked CRC32C of data`.
//!
//! Source: TensorFlow `tensorflow/core/lib/io/record_writer.cc` (format) and
//! `tensorflow/core/lib/hash/crc32c.h` (`Mask`); TensorBoard's reader
//! `tensorboard/compat/tensorflow_stub/pywrap_tensorflow.py` (`PyRecordReader`, `masked_crc32c`)
//! checks both checksums the same way.

use std::fmt;

/// Bytes in front of a record's data: the length and its masked CRC.
const HEADER_LEN: usize = 8 + 4;
/// Bytes after a record's data: the data's masked CRC.
const FOOTER_LEN: usize = 4;
/// Added after the rotation, as in TensorFlow's `crc32c::Mask`.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC32C (Castagnoli) of `data`: `rotr(crc, 15) + 0xa282ead8` (wrapping).
///
/// TensorFlow masks the CRC because computing the CRC of a string that itself contains embedded
/// CRCs is problematic (`crc32c.h`).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    // TensorFlow writes `((crc >> 15) | (crc << 17)) + kMaskDelta`: a rotation right by 15.
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Frames `data` as one record, appended to `out`.
pub fn encode_record(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(HEADER_LEN + data.len() + FOOTER_LEN);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Why the record starting at byte `offset` of a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Byte offset of the record's first byte (its length field) in the file.
    pub offset: u64,
    /// What is wrong with it.
    pub kind: RecordErrorKind,
}

/// The ways a record can be damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The file ends inside the record (a writer was interrupted mid-record).
    Truncated,
    /// The masked CRC stored after the length does not match the length bytes.
    LengthCrc {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed from the length bytes.
        computed: u32,
    },
    /// The masked CRC stored after the data does not match the data.
    DataCrc {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed from the data.
        computed: u32,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = self.offset;
        match self.kind {
            RecordErrorKind::Truncated => write!(
                f,
                "record at byte offset {offset} is truncated (the writer was interrupted)"
            ),
            RecordErrorKind::LengthCrc { stored, computed } => write!(
                f,
                "record at byte offset {offset}: length CRC mismatch \
                 (stored {stored:#010x}, computed {computed:#010x}); the file is corrupt"
            ),
            RecordErrorKind::DataCrc { stored, computed } => write!(
                f,
                "record at byte offset {offset}: data CRC mismatch \
                 (stored {stored:#010x}, computed {computed:#010x}); the file is corrupt"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

/// Splits a whole file into its records' data, each with the byte offset where its record
/// starts, checking both CRCs of every record.
///
/// # Errors
/// The first damaged record: truncated, or either CRC wrong.
pub fn decode_records(bytes: &[u8]) -> Result<Vec<(u64, &[u8])>, RecordError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let error = |kind| RecordError {
            offset: pos as u64,
            kind,
        };
        let rest = &bytes[pos..];
        if rest.len() < HEADER_LEN {
            return Err(error(RecordErrorKind::Truncated));
        }
        let (len_bytes, crc_bytes) = (&rest[..8], &rest[8..12]);
        check_crc(len_bytes, crc_bytes)
            .map_err(|(stored, computed)| error(RecordErrorKind::LengthCrc { stored, computed }))?;
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        // The length is trusted only after its CRC matched; still compare in u64 so a huge
        // value cannot overflow usize arithmetic.
        let available = (rest.len() - HEADER_LEN) as u64;
        if len > available || available - len < FOOTER_LEN as u64 {
            return Err(error(RecordErrorKind::Truncated));
        }
        let len = len as usize;
        let data = &rest[HEADER_LEN..HEADER_LEN + len];
        let footer = &rest[HEADER_LEN + len..HEADER_LEN + len + FOOTER_LEN];
        check_crc(data, footer)
            .map_err(|(stored, computed)| error(RecordErrorKind::DataCrc { stored, computed }))?;
        records.push((pos as u64, data));
        pos += HEADER_LEN + len + FOOTER_LEN;
    }
    Ok(records)
}

/// `Err((stored, computed))` when the little-endian CRC in `stored` is not `data`'s masked CRC.
fn check_crc(data: &[u8], stored: &[u8]) -> Result<(), (u32, u32)> {
    let stored = u32::from_le_bytes(stored.try_into().expect("4 bytes"));
    let computed = masked_crc32c(data);
    if stored == computed {
        Ok(())
    } else {
        Err((stored, computed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC32C values from RFC 3720 (iSCSI), appendix B.4 (and the common check value of
    /// "123456789"). The masked values were computed outside ember with TensorBoard 2.21's
    /// pure-Python `tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`, and
    /// cross-checked with a bit-by-bit CRC32C (reflected polynomial 0x82F63B78) plus the mask in
    /// a throwaway Python script.
    #[test]
    fn masked_crc32c_matches_known_vectors() {
        let ascending: Vec<u8> = (0..32).collect();
        let cases: [(&[u8], u32, u32); 4] = [
            (&[0u8; 32], 0x8a91_36aa, 0x0fd7_fffa),
            (&[0xffu8; 32], 0x62a8_ab43, 0xf909_b029),
            (&ascending, 0x46dd_794e, 0x951f_7892),
            (b"123456789", 0xe306_9283, 0xc78a_b0e5),
        ];
        for (data, crc, masked) in cases {
            assert_eq!(crc32c::crc32c(data), crc, "CRC32C of {data:?}");
            assert_eq!(masked_crc32c(data), masked, "masked CRC32C of {data:?}");
        }
    }

    /// The framing of `b"hello"`, byte for byte as TensorBoard 2.21's own writer
    /// (`tensorboard.summary.writer.record_writer.RecordWriter.write`) frames it.
    #[test]
    fn record_matches_tensorboard_record_writer() {
        let expected = "0500000000000000eab2043e68656c6c6fbb1f1c19";
        let mut out = Vec::new();
        encode_record(b"hello", &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        assert_eq!(decode_records(&out), Ok(vec![(0, &b"hello"[..])]));
    }

    #[test]
    fn empty_input_has_no_records_and_short_input_is_truncated() {
        assert_eq!(decode_records(&[]), Ok(vec![]));
        let mut out = Vec::new();
        encode_record(b"", &mut out);
        encode_record(b"ab", &mut out);
        assert_eq!(
            decode_records(&out),
            Ok(vec![(0, &b""[..]), (16, &b"ab"[..])])
        );
        for cut in 17..out.len() {
            let err = decode_records(&out[..cut]).unwrap_err();
            assert_eq!(err.offset, 16, "cut at {cut}");
            assert_eq!(err.kind, RecordErrorKind::Truncated, "cut at {cut}");
        }
    }

    /// A corrupted length field must be caught by its CRC before it is used as a length.
    #[test]
    fn corrupt_length_is_caught_before_use() {
        let mut out = Vec::new();
        encode_record(b"hello", &mut out);
        out[7] ^= 0x80; // length becomes enormous
        let err = decode_records(&out).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(
            matches!(err.kind, RecordErrorKind::LengthCrc { .. }),
            "{err}"
        );
    }
}
