//! `train plot`: reading run directories (their `metrics.csv` and a label from `config.toml`)
//! and overlaying their training curves.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::metrics::{EpochMetrics, read_csv};
use crate::plot::write_training_curves;
use crate::run_files::{CONFIG_FILE, METRICS_FILE};

/// Output stem of `train plot` over several runs without `--out`: `plot.png`/`plot.svg` in the
/// current directory.
pub const DEFAULT_STEM: &str = "plot";

/// Reads a run directory: its label and its per-epoch metrics.
///
/// The label is `"<model>/<optimizer>"` from the run's `config.toml` (e.g. `mlp/adam`) when that
/// file is readable and names both, else the directory's name.
///
/// # Errors
/// A one-line message naming `<run>/metrics.csv` when it is missing, unreadable, not an ember
/// metrics file, or has no epochs.
pub fn read_run(run: &Path) -> anyhow::Result<(String, Vec<EpochMetrics>)> {
    let path = run.join(METRICS_FILE);
    if !path.is_file() {
        bail!(
            "{} not found: give the directory of a run that has finished at least one epoch",
            path.display()
        );
    }
    let history = read_csv(&path).map_err(|e| {
        anyhow::anyhow!("{e} (not an ember metrics file; was {METRICS_FILE} written by train?)")
    })?;
    if history.is_empty() {
        bail!(
            "{} has no epochs yet: plot the run after its first epoch",
            path.display()
        );
    }
    Ok((run_label(run), history))
}

/// `"<model>/<optimizer>"` from `<run>/config.toml`, else the directory's name. Only the two
/// fields are read, so configurations of older or newer versions still give a label.
fn run_label(run: &Path) -> String {
    let from_config = std::fs::read_to_string(run.join(CONFIG_FILE))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|config| {
            let model = config.get("model")?.as_str()?.to_string();
            let optimizer = config.get("optimizer")?.get("name")?.as_str()?.to_string();
            Some(format!("{model}/{optimizer}"))
        });
    from_config.unwrap_or_else(|| dir_name(run))
}

fn dir_name(run: &Path) -> String {
    // `runs/x/.` and `..` have no useful file name: fall back to the absolute path's.
    let absolute = std::path::absolute(run).unwrap_or_else(|_| run.to_path_buf());
    let normal: PathBuf = absolute.components().collect();
    normal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.display().to_string())
}

/// `train plot RUN_DIR...`: overlays the runs' training curves in `<out>.png` and `<out>.svg`.
/// Without `out`: `<run>/plots/curves` for one run, `./plot` for several. Runs sharing a label
/// (same model and optimizer) get their directory name appended to tell them apart. Returns the
/// files written.
///
/// # Errors
/// As [`read_run`] for the first unreadable run; a message naming the output file when it cannot
/// be written.
pub fn plot_runs(runs: &[PathBuf], out: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    if runs.is_empty() {
        bail!("no run directory given: train plot RUN_DIR [RUN_DIR...]");
    }
    let mut read = runs
        .iter()
        .map(|run| read_run(run))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let labels: Vec<String> = read.iter().map(|(label, _)| label.clone()).collect();
    for ((label, _), run) in read.iter_mut().zip(runs) {
        if labels.iter().filter(|l| *l == label).count() > 1 {
            *label = format!("{label} ({})", dir_name(run));
        }
    }
    let stem = match (out, runs) {
        (Some(out), _) => out.to_path_buf(),
        (None, [run]) => run.join("plots").join("curves"),
        (None, _) => PathBuf::from(DEFAULT_STEM),
    };
    write_training_curves(&read, &stem)
}

/// `train plot`: [`plot_runs`], then the paths written, one a line.
///
/// # Errors
/// As [`plot_runs`].
pub fn command(args: &crate::cli::PlotArgs) -> anyhow::Result<()> {
    for path in plot_runs(&args.runs, args.out.as_deref())? {
        ember_engine::console::out(&format!("wrote {}", path.display()));
    }
    Ok(())
}
