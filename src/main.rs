//! The `train` binary: parses the command line and reports errors on one line.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use ember::cli::Cli;
use ember_engine::text::one_line;

/// The console's log filter when `RUST_LOG` is unset: ember's warnings, and nothing of the GPU
/// runtime. CubeCL logs a warning for every autotune candidate it cannot measure (hundreds
/// when a buffer is refused) and wgpu logs driver chatter; ember reports what matters of both
/// itself (the software-adapter note, [`ember::gpu_error`]). `RUST_LOG=cubecl=debug` (or any
/// `RUST_LOG`) shows them.
const DEFAULT_LOG_FILTER: &str =
    "warn,cubecl=off,burn_cubecl=off,burn_fusion=off,wgpu=off,wgpu_core=off,wgpu_hal=off,naga=off";

/// `e` and its causes on one line, each cause once: a message that already quotes its cause
/// ("cannot write X: No space left on device") is not followed by the cause again.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = one_line(&cause.to_string());
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn main() -> ExitCode {
    // A panic is a bug in ember or a library; the user still gets one line, not a trace. A GPU
    // failure (an allocation the device refuses, a lost device) is not a bug: it is kept and
    // reported as an error once the panic has unwound to `gpu_error::catch`.
    std::panic::set_hook(Box::new(|info| {
        let payload = ember::gpu_error::payload_text(info.payload());
        if let Some(failure) = ember::gpu_error::classify(&payload) {
            ember::gpu_error::remember(failure);
            return;
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        ember_engine::console::err(&format!(
            "error: internal error: {}{place} (please report it)",
            one_line(&payload)
        ));
    }));
    // This thread trains: as a worker of the CPU kernels' pool it runs its share of each
    // parallel region rather than sleeping until the pool is done (see the function). First,
    // before anything uses the pool.
    ember_engine::threads::join_compute_pool();
    // Before any thread starts: see the function.
    let _runtime_dir = ember::backend::quiet_headless_vulkan();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's usage errors span several lines; keep the substance on one.
            let text = e.render().to_string();
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            ember_engine::console::err(&format!("{line} (see train --help)"));
            return ExitCode::from(2);
        }
    };
    match ember::gpu_error::catch(|| ember::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            ember_engine::console::err(&format!("error: {}", message(&e)));
            ExitCode::FAILURE
        }
    }
}
