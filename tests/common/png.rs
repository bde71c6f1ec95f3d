//! A small PNG reader for tests: checks the signature and every chunk's CRC, inflates the image
//! data with flate2 (zlib) and undoes the row filters (PNG spec, ISO/IEC 15948 §9). Handles what
//! plotters and the image crate write: 8-bit grey, RGB or RGBA, not interlaced.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Read;

/// A decoded image: `pixels` holds `channels` bytes per pixel, rows top to bottom.
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    /// The RGB of pixel (x, y).
    pub fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Every pixel's RGB.
    pub fn rgbs(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.pixels
            .chunks_exact(self.channels)
            .map(|p| [p[0], p[1], p[2]])
    }

    /// Pixels within `tolerance` (per channel) of `color`.
    pub fn count_near(&self, color: [u8; 3], tolerance: u8) -> usize {
        self.rgbs()
            .filter(|p| (0..3).all(|c| p[c].abs_diff(color[c]) <= tolerance))
            .count()
    }

    /// Number of distinct colours.
    pub fn distinct_colors(&self) -> usize {
        let mut all: Vec<[u8; 3]> = self.rgbs().collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    }
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// Decodes a PNG file, panicking with a message on anything malformed.
pub fn decode(bytes: &[u8]) -> Image {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    let mut pos = 8;
    let mut header = None;
    let mut data = Vec::new();
    loop {
        let len = be32(&bytes[pos..]);
        let kind = &bytes[pos + 4..pos + 8];
        let body = &bytes[pos + 8..pos + 8 + len];
        let crc = be32(&bytes[pos + 8 + len..]) as u32;
        let mut check = flate2::Crc::new();
        check.update(&bytes[pos + 4..pos + 8 + len]);
        assert_eq!(
            check.sum(),
            crc,
            "bad CRC in chunk {}",
            String::from_utf8_lossy(kind)
        );
        match kind {
            b"IHDR" => header = Some(body.to_vec()),
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let header = header.expect("no IHDR chunk");
    let (width, height) = (be32(&header[0..]), be32(&header[4..]));
    let (depth, color_type, interlace) = (header[8], header[9], header[12]);
    assert_eq!(depth, 8, "bit depth");
    assert_eq!(interlace, 0, "interlaced");
    let channels = match color_type {
        0 => 1,
        2 => 3,
        6 => 4,
        other => panic!("colour type {other} not handled"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .expect("inflate IDAT");
    let stride = width * channels;
    assert_eq!(raw.len(), height * (stride + 1), "image data size");
    let mut pixels = vec![0u8; height * stride];
    for row in 0..height {
        let filter = raw[row * (stride + 1)];
        let line = &raw[row * (stride + 1) + 1..(row + 1) * (stride + 1)];
        for i in 0..stride {
            let a = if i >= channels {
                pixels[row * stride + i - channels]
            } else {
                0
            };
            let b = if row > 0 {
                pixels[(row - 1) * stride + i]
            } else {
                0
            };
            let c = if row > 0 && i >= channels {
                pixels[(row - 1) * stride + i - channels]
            } else {
                0
            };
            let predictor = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("bad filter type {other} in row {row}"),
            };
            pixels[row * stride + i] = line[i].wrapping_add(predictor);
        }
    }
    Image {
        width,
        height,
        channels,
        pixels,
    }
}

/// Reads and decodes a PNG file.
pub fn read(path: &std::path::Path) -> Image {
    decode(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}
