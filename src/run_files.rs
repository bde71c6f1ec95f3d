//! Every file name of a `train` run directory, in one place: the engine's (metrics, TensorBoard,
//! checkpoints, selected models; [`ember_engine::layout`]) and the application's own.
//!
//! ```text
//! <run>/config.toml      the resolved configuration       <run>/metrics.csv, metrics.jsonl
//! <run>/model.bpk        the final weights                <run>/tensorboard/
//! <run>/summary.json     the final metrics                <run>/checkpoints/, models/
//! <run>/plots/           the end-of-run plots
//! ```

pub use ember_engine::layout::{
    BEST_MODEL_FILE, CHECKPOINTS_DIR, METRICS_FILE, METRICS_JSONL_FILE, MODEL_FILE, MODELS_DIR,
    OPTIMIZER_FILE, STATE_FILE, TENSORBOARD_DIR,
};

/// The final weights.
pub const FINAL_MODEL_FILE: &str = "model.bpk";
/// The resolved configuration.
pub const CONFIG_FILE: &str = "config.toml";
/// Sub-directory of the end-of-run plots.
pub const PLOTS_DIR: &str = "plots";
/// The run summary.
pub const SUMMARY_FILE: &str = "summary.json";
