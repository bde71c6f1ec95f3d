//! Peak memory of a comparison's backend run: host RAM of the process, and the device
//! allocator's reservation where the backend reports one.

use burn::tensor::Device;

/// The peak resident set size of this process ("high water mark", `VmHWM` in
/// `/proc/self/status`, see proc(5)), in bytes. `None` where `/proc` is absent (not Linux).
///
/// Each backend of a comparison runs in its own process, so this is that backend's peak,
/// including the training data held in memory (about 55 MB for MNIST) and the program itself.
pub fn peak_resident_bytes() -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmHWM` line of a `/proc/<pid>/status` text, in bytes (the kernel writes kB, meaning
/// KiB).
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

/// The most device memory a backend's allocator reserved, sampled after each step.
///
/// Burn 0.22 exposes the CubeCL allocator's state through [`Device::memory_pool_usage`]
/// (`bytes_reserved`: pages held, at least the bytes in use); the CPU backends have no such
/// allocator and report nothing. Sampling after each step misses transient peaks inside a step
/// only if the allocator returns pages within the step, which CubeCL's pools do not (they keep
/// pages for reuse), so the last samples already hold the peak.
#[derive(Debug)]
pub struct DeviceMemoryPeak {
    device: Device,
    peak: Option<u64>,
}

impl DeviceMemoryPeak {
    /// A tracker for `device` (without or with autodiff: the same allocator).
    pub fn new(device: &Device) -> Self {
        DeviceMemoryPeak {
            device: device.clone(),
            peak: None,
        }
    }

    /// Reads the allocator's reservation now.
    pub fn sample(&mut self) {
        if let Some(usage) = self.device.memory_pool_usage() {
            self.peak = Some(self.peak.unwrap_or(0).max(usage.bytes_reserved));
        }
    }

    /// The largest reservation sampled, in bytes; `None` if the backend never reported one.
    pub fn peak(&self) -> Option<u64> {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_in_bytes() {
        let status = "Name:\ttrain\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(123_456 * 1024));
        assert_eq!(parse_vm_hwm("Name:\ttrain\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t12 MB\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        // Linux only: the test machines are Linux; the peak covers at least this 8 MiB buffer.
        let buffer = vec![1u8; 8 << 20];
        assert!(buffer.iter().all(|&b| b == 1));
        assert!(peak_resident_bytes().unwrap() >= 8 << 20);
    }

    #[test]
    fn cpu_backends_report_no_device_memory() {
        let mut peak = DeviceMemoryPeak::new(&Device::flex());
        peak.sample();
        assert_eq!(peak.peak(), None);
    }
}
