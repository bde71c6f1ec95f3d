//! `train committee`: trains N members, each an ordinary run directory
//! (`<committee>/member-K`) that differs by seed and preprocessing, then evaluates them alone
//! and combined ([`crate::committee`]).
//!
//! Running the same command again with `--run-dir <committee>` continues a stopped committee:
//! finished members (those with `summary.json`) are skipped, a member with checkpoints resumes
//! from its latest, and the rest start. A member whose recorded settings differ from what the
//! command asks now is refused, naming the differences.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use ember_datasets::{Augmentation, Preprocessing};

use crate::backend;
use crate::cli::CommitteeArgs;
use crate::committee::combine::Rule;
use crate::config::TrainConfig;
use crate::training::{
    EXIT_INTERRUPTED, RunState, apply_autotune, complete_run, continuation, create_command_run_dir,
    lock_run, new_config, stop_on_signals,
};
use ember_engine::console::{out, out_text};

/// The members' recipes without `--preprocess`: Ciresan et al. (2011)'s seven, the original
/// images and bounding boxes normalized to widths 10 to 20, used in turn.
pub const DEFAULT_RECIPES: [&str; 7] = [
    "none", "width=10", "width=12", "width=14", "width=16", "width=18", "width=20",
];

pub(super) fn command(mut args: CommitteeArgs) -> anyhow::Result<ExitCode> {
    apply_autotune(&args.train.device);
    if args.train.resume.is_some() {
        bail!(
            "train committee takes no --resume: run the same command again with --run-dir <the committee's directory>; finished members are skipped and a stopped one resumes"
        );
    }
    let members = args.members as usize;
    let rule = Rule::new(members, args.combine.weights.as_deref(), args.combine.vote)
        .map_err(anyhow::Error::msg)?;
    let recipes: Vec<Preprocessing> = match args.train.preprocess.take() {
        Some(list) => list,
        None => DEFAULT_RECIPES
            .iter()
            .map(|r| r.parse().expect("the default recipes parse"))
            .collect(),
    };
    // `--augment A;B;...`: one recipe per member in turn (a recipe itself uses commas).
    let augmentations: Vec<Augmentation> = match args.train.regularization.augment.take() {
        Some(list) => list
            .split(';')
            .map(|recipe| {
                recipe
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--augment: {e}"))
            })
            .collect::<anyhow::Result<_>>()?,
        None => vec![Augmentation::default()],
    };
    let base = new_config(&args.train)?;
    let configs: Vec<TrainConfig> = (0..members)
        .map(|k| {
            let mut config = base.clone();
            config.seed = base.seed.wrapping_add(k as u64);
            config.preprocess = recipes[k % recipes.len()];
            config.regularization.augment = augmentations[k % augmentations.len()].clone();
            config
        })
        .collect();
    for config in &configs {
        config.validate().map_err(anyhow::Error::msg)?;
    }
    let dir = match &args.train.run_dir {
        Some(dir) => dir.clone(),
        None => create_command_run_dir("committee", base.model, &base.optimizer)?,
    };
    // One committee process per directory; each member's run is locked again by its own run.
    let _lock = lock_run(&dir)?;
    let stop = stop_on_signals()?;
    for (k, config) in configs.iter().enumerate() {
        let label = format!(
            "member {}/{members} ({}, preprocess {}, seed {}{})",
            k + 1,
            config.model,
            config.preprocess,
            config.seed,
            match &config.regularization.augment {
                a if a.is_empty() => String::new(),
                a => format!(", augment {a}"),
            }
        );
        let member = dir.join(format!("member-{}", k + 1));
        if complete_run(config, &member, &label, &stop)? == RunState::Interrupted {
            out(&format!(
                "stopped during member {}; continue with: {}",
                k + 1,
                continuation(&dir)
            ));
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    let backend = backend::select(base.backend, base.gpu_index)?;
    let runs: Vec<PathBuf> = (1..=members)
        .map(|k| dir.join(format!("member-{k}")))
        .collect();
    let report =
        crate::committee::evaluate(&runs, &rule, base.data_dir.as_deref(), &backend.device)?;
    report.write(&dir)?;
    out_text(&report.table());
    out(&format!(
        "report: {} and {}",
        dir.join(crate::committee::TABLE_FILE).display(),
        dir.join(crate::committee::REPORT_FILE).display()
    ));
    Ok(ExitCode::SUCCESS)
}
