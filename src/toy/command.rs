//! `train toy` as a command: its flags to runs, printed results and files.

use anyhow::{Context, bail};

use crate::backend::{self, DeviceChoice};
use crate::cli::ToyArgs;
use crate::toy::{ContourPlot, StartPoint, TestFunction, Trajectory, run_optimizer, write_csv};

/// `train toy`: runs each optimizer of `args` on the function, prints where each ended, writes
/// the CSV and, with `--plot`, the contour plot. An optimizer whose path diverges (NaN or
/// infinity) stops there with a one-line warning on stderr; the others go on.
///
/// # Errors
/// A one-line message for a bad `--lr`, `--steps` or `--plot` extension, an unavailable
/// `--device gpu`, or an unwritable output file.
pub fn command(args: &ToyArgs) -> anyhow::Result<()> {
    if let Some(lr) = args.lr
        && !(lr.is_finite() && lr > 0.0)
    {
        bail!("--lr must be a positive number, got {lr}");
    }
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if let Some(plot) = &args.plot {
        // Before the runs, so that a typo does not cost them.
        crate::plot::Format::of(plot).context("--plot")?;
    }
    for (flag, path) in [("--out", Some(&args.out)), ("--plot", args.plot.as_ref())] {
        let Some(path) = path else { continue };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            bail!(
                "{flag} {}: directory {} does not exist; create it or choose another path",
                path.display(),
                dir.display()
            );
        }
    }
    let optimizers = args
        .optimizer_args
        .apply_to_each(&args.optimizers)
        .map_err(anyhow::Error::msg)?;
    let choice = args.device.unwrap_or(DeviceChoice::Cpu);
    let backend = backend::select(choice.default_backend(), None)?;
    let device = backend.device;
    ember_engine::console::out(&format!(
        "{}, {} steps, on {} ({})",
        args.function, args.steps, backend.kind, backend.device_name
    ));
    let function = args.function;
    let start = args
        .start
        .map_or(function.default_start(), |StartPoint(x, y)| (x, y));
    let trajectories: Vec<Trajectory> = optimizers
        .iter()
        .map(|optimizer| {
            let lr = args.lr.unwrap_or_else(|| function.default_lr(optimizer));
            run_optimizer(function, optimizer, lr, start, args.steps, &device)
        })
        .collect();
    for t in &trajectories {
        report(function, t);
    }
    write_csv(&args.out, &trajectories)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    ember_engine::console::out(&format!("wrote {}", args.out.display()));
    if let Some(plot) = &args.plot {
        crate::plot::save(&ContourPlot::new(function, &trajectories, &device), plot)?;
        ember_engine::console::out(&format!("wrote {}", plot.display()));
    }
    Ok(())
}

/// One line per optimizer: where it ended and how far from the nearest minimum; a warning on
/// stderr when it diverged.
fn report(function: TestFunction, t: &Trajectory) {
    let Some(last) = t.points.last() else {
        ember_engine::console::err(&format!(
            "warning: {} on {function}: f is not finite at the start point; choose another --start",
            t.optimizer
        ));
        return;
    };
    if let Some(step) = t.diverged_at {
        ember_engine::console::err(&format!(
            "warning: {} (lr {}) diverged on {function} at step {step} (x, y or f became NaN or infinite); its path stops at step {}: lower --lr",
            t.optimizer, t.lr, last.step
        ));
        return;
    }
    let distance = function
        .minima()
        .iter()
        .map(|&(mx, my)| (f64::from(last.x) - mx).hypot(f64::from(last.y) - my))
        .fold(f64::INFINITY, f64::min);
    ember_engine::console::out(&format!(
        "{:<10} lr {:<8} step {:>6}: (x, y) = ({:.6}, {:.6}), f = {:.6e}, distance to the nearest minimum {:.3e}",
        t.optimizer, t.lr, last.step, last.x, last.y, last.f, distance
    ));
}
