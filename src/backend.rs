//! Choosing the compute backend and device.
//!
//! `--device cpu` defaults to Burn's flex backend (a LeNet step at batch 256 measured ~55 ms on
//! flex against ~435 ms on ndarray on a 2-core machine), `--device gpu` to wgpu. `--backend`
//! overrides either default. wgpu picks its adapter through Vulkan, Metal, DX12 or OpenGL; on a
//! machine without a GPU, Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) is a CPU
//! Vulkan driver that wgpu accepts, which is how CI checks the GPU path.
//!
//! Kernel autotuning: CubeCL benchmarks candidate kernels the first time it meets each shape and
//! caches the winners in `target/environment/` of the project it runs in. On lavapipe that first
//! tuning took ~144 s for LeNet; `CUBECL_AUTOTUNE_LEVEL=minimal` (CubeCL's setting, also
//! `[autotune] level = "minimal"` in a `cubecl.toml`) bounds it to one candidate per kernel.
//! [`apply_autotune_level`] sets it, and ember applies `minimal` by itself when the chosen wgpu
//! adapter is a software (CPU) one and the user set no level.

use std::fmt;
use std::str::FromStr;

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};

use ember_engine::text::one_line;

/// Where to train: the user's coarse choice, mapped to a default backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The CPU; default backend flex.
    Cpu,
    /// A GPU through wgpu.
    Gpu,
}

impl DeviceChoice {
    /// The backend used when `--backend` is not given.
    pub fn default_backend(self) -> BackendKind {
        match self {
            DeviceChoice::Cpu => BackendKind::Flex,
            DeviceChoice::Gpu => BackendKind::Wgpu,
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" => Ok(DeviceChoice::Gpu),
            _ => Err(format!("unknown device '{s}' (expected cpu or gpu)")),
        }
    }
}

/// The Burn backends ember runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's flex CPU backend (pure Rust, SIMD + rayon); the CPU default.
    Flex,
    /// Burn's ndarray CPU backend (deprecated in Burn 0.22 but supported).
    Ndarray,
    /// Burn's wgpu backend (CubeCL kernels on Vulkan/Metal/DX12/OpenGL), with fusion and autotune.
    Wgpu,
}

impl BackendKind {
    /// Every backend, in the order the CLI lists them.
    pub const ALL: [BackendKind; 3] = [BackendKind::Flex, BackendKind::Ndarray, BackendKind::Wgpu];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend '{s}' (expected one of: flex, ndarray, wgpu)"))
    }
}

/// Why a backend could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// wgpu found no adapter (no GPU and no software Vulkan driver), or failed to open it.
    #[error(
        "no GPU is available to wgpu ({reason}); use --device cpu, or install a Vulkan driver (for a CPU-only machine: apt-get install mesa-vulkan-drivers)"
    )]
    NoAdapter {
        /// What wgpu reported.
        reason: String,
    },
    /// `--gpu-index` is past the adapters found.
    #[error("--gpu-index {index} is out of range: wgpu found {count} adapter(s): {names}")]
    BadIndex {
        /// The requested index.
        index: usize,
        /// Adapters found.
        count: usize,
        /// Their names.
        names: String,
    },
}

/// A ready backend: its kind, the device to put tensors on (without autodiff), and a
/// human-readable device name for logs and `summary.json`.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Which backend.
    pub kind: BackendKind,
    /// The device, autodiff off; call `.autodiff()` on a clone for training.
    pub device: Device,
    /// E.g. `"AMD EPYC 7B13 (2 threads)"` or `"llvmpipe (LLVM 15.0.7, 256 bits) [Vulkan, Cpu]"`.
    pub device_name: String,
    /// The largest buffer the device can bind, in bytes: for wgpu the smaller of the device's
    /// `max_storage_buffer_binding_size` and `max_buffer_size` (what CubeCL allocates within;
    /// 128 MiB on lavapipe and under WebGPU's default limits). `None` on the CPU backends,
    /// which have no such limit. Data kept on the device stays under it
    /// ([`crate::data::RunData::source`]).
    pub max_buffer_bytes: Option<u64>,
}

/// Brings up `kind`. For wgpu, `gpu_index` picks the N-th adapter wgpu enumerates (default: the
/// adapter wgpu prefers, a high-performance GPU when there is one).
///
/// # Errors
/// [`BackendError`] when wgpu has no usable adapter or the index is out of range.
pub fn select(kind: BackendKind, gpu_index: Option<usize>) -> Result<Backend, BackendError> {
    match kind {
        BackendKind::Flex => Ok(Backend {
            kind,
            device: Device::flex(),
            device_name: cpu_name(),
            max_buffer_bytes: None,
        }),
        BackendKind::Ndarray => Ok(Backend {
            kind,
            #[allow(deprecated)] // ndarray is deprecated in Burn 0.22 but part of ember's spec
            device: Device::ndarray(),
            device_name: cpu_name(),
            max_buffer_bytes: None,
        }),
        BackendKind::Wgpu => select_wgpu(gpu_index),
    }
}

/// The wgpu backends this process has opened, by `--gpu-index`: wgpu's runtime is registered
/// once per process, so a second run in the same process (a committee's next member, a
/// distillation's second student, the evaluation after them) reuses the device.
static WGPU_OPENED: std::sync::Mutex<Vec<(Option<usize>, Backend)>> =
    std::sync::Mutex::new(Vec::new());

fn select_wgpu(gpu_index: Option<usize>) -> Result<Backend, BackendError> {
    let mut opened = WGPU_OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, backend)) = opened.iter().find(|(index, _)| *index == gpu_index) {
        return Ok(backend.clone());
    }
    let backend = open_wgpu(gpu_index)?;
    opened.push((gpu_index, backend.clone()));
    Ok(backend)
}

fn open_wgpu(gpu_index: Option<usize>) -> Result<Backend, BackendError> {
    let adapters = list_adapters();
    let (device_kind, software) = match gpu_index {
        None => {
            // wgpu's preference: any real GPU before a software one.
            let software = !adapters.is_empty()
                && adapters
                    .iter()
                    .all(|a| a.device_type == wgpu::DeviceType::Cpu);
            (DeviceKind::DefaultDevice, software)
        }
        Some(index) => {
            let info = adapters.get(index).ok_or_else(|| BackendError::BadIndex {
                index,
                count: adapters.len(),
                names: adapters
                    .iter()
                    .map(|a| a.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            // wgpu numbers adapters per type: the n-th discrete GPU, the n-th integrated one...
            let nth = adapters[..index]
                .iter()
                .filter(|a| a.device_type == info.device_type)
                .count();
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(nth),
                wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(nth),
                wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(nth),
                wgpu::DeviceType::Cpu => DeviceKind::Cpu,
                wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
            };
            (kind, info.device_type == wgpu::DeviceType::Cpu)
        }
    };
    if software && std::env::var_os(AUTOTUNE_ENV).is_none() {
        apply_autotune_level("minimal");
        ember_engine::console::err(&format!(
            "note: wgpu runs on a software (CPU) adapter: kernel autotuning is bounded with {AUTOTUNE_ENV}=minimal (--autotune overrides), and the first steps still spend a minute or more compiling kernels"
        ));
    }
    // Bringing up a device can panic deep inside a driver; turn that into the same clean error.
    let init = quietly(|| {
        Device::wgpu_options()
            .device_kind(device_kind)
            .init_with_setup()
    });
    let (device, setup) = match init {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            return Err(BackendError::NoAdapter {
                reason: one_line(&e.to_string()),
            });
        }
        Err(_) => {
            return Err(BackendError::NoAdapter {
                reason: "the wgpu runtime panicked while opening the adapter".into(),
            });
        }
    };
    let info = setup.adapter.get_info();
    let limits = setup.device.limits();
    let max_buffer_bytes = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let device_name = format!("{} [{:?}, {:?}]", info.name, info.backend, info.device_type);
    crate::gpu_error::record_adapter(&device_name, max_buffer_bytes);
    Ok(Backend {
        kind: BackendKind::Wgpu,
        device,
        device_name,
        max_buffer_bytes: Some(max_buffer_bytes),
    })
}

/// On a headless machine the Vulkan loader pulls in libwayland-client, which prints
/// "error: XDG_RUNTIME_DIR is invalid or not set" to stderr several times: lines that read like
/// ember errors. When the variable is unset (desktops set it), this points it at a private
/// directory that the returned guard removes when dropped.
///
/// Call it first thing in `main`, before any other thread exists (it sets an environment
/// variable).
pub fn quiet_headless_vulkan() -> Option<RuntimeDir> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("ember-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok()?;
    // SAFETY: the caller runs this before any other thread exists (see above).
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    Some(RuntimeDir(dir))
}

/// The private runtime directory of [`quiet_headless_vulkan`], removed on drop.
#[derive(Debug)]
pub struct RuntimeDir(std::path::PathBuf);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment variable CubeCL reads for its autotune level.
pub const AUTOTUNE_ENV: &str = "CUBECL_AUTOTUNE_LEVEL";

/// Sets CubeCL's autotune level (`minimal`, `balanced`, `extensive`, `full`) for this process.
///
/// Must run before the first wgpu device is created, while the program is single-threaded
/// (CubeCL reads its configuration once; the CLI calls this first thing in `main`).
pub fn apply_autotune_level(level: &str) {
    // SAFETY: called before any other thread exists (start of `main`, or before the first wgpu
    // device is created in a single-threaded CLI run), so no concurrent reads of the environment.
    unsafe { std::env::set_var(AUTOTUNE_ENV, level) };
}

/// Adapters wgpu can see, in enumeration order: those of the primary APIs (Vulkan, Metal,
/// DX12), else those of the others (OpenGL), the order CubeCL tries them in.
fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let enumerate = |backends: wgpu::Backends| {
        quietly(|| {
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            pollster::block_on(instance.enumerate_adapters(backends))
                .iter()
                .map(wgpu::Adapter::get_info)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    };
    let primary = enumerate(wgpu::Backends::PRIMARY);
    if primary.is_empty() {
        enumerate(wgpu::Backends::SECONDARY)
    } else {
        primary
    }
}

/// Runs `f`, turning a panic into `Err` without printing it (the caller reports it as an
/// error of its own).
fn quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    result
}

/// The CPU's model name from `/proc/cpuinfo` and the number of threads available.
fn cpu_name() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model} ({threads} threads)")
}
