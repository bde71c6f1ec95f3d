//! Committees of networks (Ciresan, Meier, Gambardella and Schmidhuber 2011, "Convolutional
//! neural network committees for handwritten character classification"; 2012, "Multi-column
//! deep neural networks for image classification"): trained runs evaluated together on the
//! test split, each on images prepared with its own preprocessing, and combined
//! ([`combine::Rule`]). `train committee` trains the members and then calls [`evaluate`];
//! `train evaluate` with several checkpoints calls it on runs trained before.

pub mod combine;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use burn::tensor::Device;
use ember_datasets::{DatasetKind, NUM_CLASSES, Preprocessing};
use ember_models::ModelKind;
use serde::{Deserialize, Serialize};

use crate::evaluation::test_outputs;
use combine::{Outcome, Rule};

/// The committee's report file (JSON) in its directory; `committee.md` holds the table.
pub const REPORT_FILE: &str = "committee.json";
/// The report's table as Markdown.
pub const TABLE_FILE: &str = "committee.md";

/// What a member is, as its run recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Its run directory (or weights file), as given.
    pub path: PathBuf,
    /// The model.
    pub model: ModelKind,
    /// The preprocessing it was trained (and is tested) with.
    pub preprocess: Preprocessing,
    /// Its seed.
    pub seed: u64,
    /// Its test error alone, a fraction.
    pub test_error: f64,
}

/// A committee's evaluation on a test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The dataset whose test split was used.
    pub dataset: DatasetKind,
    /// The members, in order.
    pub members: Vec<Member>,
    /// How they were combined.
    pub rule: Rule,
    /// The errors and overlaps.
    pub outcome: Outcome,
}

/// Evaluates the runs at `paths` (each a run directory, checkpoint or `.bpk` file that `train`
/// wrote, so that its model and preprocessing are recorded) on their dataset's test split,
/// alone and combined by `rule`, on `device`. `data_dir` overrides where the data is found.
///
/// # Errors
/// A run that cannot be loaded, runs on different datasets, or missing data.
pub fn evaluate(
    paths: &[PathBuf],
    rule: &Rule,
    data_dir: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Report> {
    let mut members = Vec::new();
    let mut outputs = Vec::new();
    let mut dataset = None;
    let mut labels: Option<Vec<u8>> = None;
    for path in paths {
        let (config, probabilities, split_labels) =
            test_outputs(path, "committee member", data_dir, device)?;
        if let Some(first) = dataset.filter(|d| *d != config.dataset) {
            anyhow::bail!(
                "committee member {} was trained on {}, the first on {first}; a committee's members share a dataset",
                path.display(),
                config.dataset
            );
        }
        dataset = Some(config.dataset);
        labels.get_or_insert(split_labels);
        members.push(Member {
            path: path.clone(),
            model: config.model,
            preprocess: config.preprocess,
            seed: config.seed,
            test_error: 0.0,
        });
        outputs.push(probabilities);
    }
    let labels = labels.context("a committee needs at least one member")?;
    let predictions = combine::member_predictions(&outputs, NUM_CLASSES);
    let committee = rule.predict(&outputs, NUM_CLASSES);
    let outcome = combine::outcome(&predictions, &committee, &labels);
    for (member, error) in members.iter_mut().zip(&outcome.member_errors) {
        member.test_error = *error;
    }
    Ok(Report {
        dataset: dataset.unwrap_or(DatasetKind::Mnist),
        members,
        rule: rule.clone(),
        outcome,
    })
}

impl Report {
    /// The report as Markdown: one row per member, their mean and spread, the committee's
    /// error, and the overlap of the members' errors.
    pub fn table(&self) -> String {
        let o = &self.outcome;
        let pct = |x: f64| format!("{:.2}%", 100.0 * x);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| member | model | preprocess | seed | weight | test error |\n|---|---|---|---:|---:|---:|"
        );
        for (m, w) in self.members.iter().zip(self.rule.weights()) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.3} | {} |",
                m.path.display(),
                m.model,
                m.preprocess,
                m.seed,
                w,
                pct(m.test_error)
            );
        }
        let _ = writeln!(
            out,
            "| members' mean ± sd | | | | | {} ± {} |",
            pct(o.mean_error),
            pct(o.std_error)
        );
        let _ = writeln!(
            out,
            "| **committee** ({}) | | | | | **{}** |",
            self.rule.describe(),
            pct(o.committee_error)
        );
        let _ = writeln!(
            out,
            "\n{} test images ({}). Overlap of the members' errors (images both get wrong / images either gets wrong): mean {:.3} over pairs; every member is wrong on {} of the images.",
            o.images,
            self.dataset,
            o.mean_overlap,
            pct(o.all_wrong)
        );
        if self.members.len() > 1 {
            let _ = writeln!(out);
            for row in &o.overlap {
                let cells: Vec<String> = row.iter().map(|j| format!("{j:.2}")).collect();
                let _ = writeln!(out, "    {}", cells.join("  "));
            }
        }
        out
    }

    /// Writes [`REPORT_FILE`] and [`TABLE_FILE`] into `dir`.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        for (name, bytes) in [(REPORT_FILE, json), (TABLE_FILE, self.table().into_bytes())] {
            let path = dir.join(name);
            ember_engine::fsutil::write_atomic(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}
