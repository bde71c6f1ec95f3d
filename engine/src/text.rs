//! Text for one-line messages: the errors and warnings `train` prints are single lines, while
//! the errors they wrap (TOML, Burn, wgpu, panics) often span several.

/// `s` with every run of whitespace, newlines included, turned into one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`one_line`], cut to at most `max` characters (then ending in `...`).
pub fn shorten(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= max {
        s
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

/// `bytes` in MiB with one decimal ("128.0 MiB"), or in bytes below 1 MiB.
pub fn format_bytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes < MIB {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}
