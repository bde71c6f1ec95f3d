//! The IDX reader under generated input (proptest, a bounded number of cases in the normal test
//! suite): any bytes, raw or gzip-compressed, end in an array or a one-line error, never a
//! panic, and a valid file read back equals what was written.

use std::io::Write;
use std::path::{Path, PathBuf};

use ember_datasets::idx::{IdxArray, parse_idx, read_idx};
use proptest::prelude::*;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn scratch(case: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ember-idx-prop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(case)
}

fn one_line(e: &impl ToString) -> bool {
    let text = e.to_string();
    !text.is_empty() && !text.contains('\n')
}

/// Dimensions whose product stays small, and matching data.
fn valid_array() -> impl Strategy<Value = (Vec<u32>, Vec<u8>)> {
    prop::collection::vec(1u32..6, 1..=4).prop_flat_map(|dims| {
        let n = dims.iter().product::<u32>() as usize;
        (Just(dims), prop::collection::vec(any::<u8>(), n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Err(e) = parse_idx(&bytes, Path::new("x")) {
            prop_assert!(one_line(&e));
        }
    }

    /// A valid header in front of arbitrary data, with some header bytes overwritten: sizes
    /// up to 2^32 - 1 per dimension must not allocate what the data does not hold.
    #[test]
    fn corrupted_headers_fail_cleanly(
        (dims, data) in valid_array(),
        edits in prop::collection::vec((0usize..20, any::<u8>()), 0..4),
    ) {
        let mut bytes = idx_bytes(&dims, &data);
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        match parse_idx(&bytes, Path::new("x")) {
            Ok(array) => prop_assert_eq!(array.data.len(), array.dims.iter().product::<usize>()),
            Err(e) => prop_assert!(one_line(&e)),
        }
    }

    #[test]
    fn valid_files_read_back_raw_and_gzip((dims, data) in valid_array()) {
        let bytes = idx_bytes(&dims, &data);
        let expected = IdxArray {
            dims: dims.iter().map(|&d| d as usize).collect(),
            data,
        };
        let raw = scratch("valid-raw");
        std::fs::write(&raw, &bytes).unwrap();
        prop_assert_eq!(read_idx(&raw).unwrap(), expected.clone());
        let gz = scratch("valid.gz");
        std::fs::write(&gz, gzip(&bytes)).unwrap();
        prop_assert_eq!(read_idx(&gz).unwrap(), expected);
    }

    /// Gzip streams of arbitrary content, cut or with flipped bytes.
    #[test]
    fn damaged_gzip_fails_cleanly(
        content in prop::collection::vec(any::<u8>(), 0..256),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut gz = gzip(&content);
        let at = flip.index(gz.len());
        gz[at] ^= 0x40;
        gz.truncate(cut.index(gz.len() + 1).max(2));
        let path = scratch("damaged.gz");
        std::fs::write(&path, &gz).unwrap();
        if let Err(e) = read_idx(&path) {
            prop_assert!(one_line(&e));
        }
    }
}
