//! `train sweep`: a grid (and/or a list) of training runs over any of `train`'s flags, each
//! point an ordinary run directory `<sweep>/<NNN>_<key>=<value>...`, and the report that
//! collects them ([`report`]).
//!
//! A sweep is described by flags, a TOML file, or both (the command line wins):
//!
//! - every `train` flag may be given; a value with several items is an axis of the grid:
//!   `--opt adam,sgd --lr 1e-3,1e-2` is four points. Items are separated by commas, except for
//!   the flags whose own values hold commas ([`SEMICOLON_LISTS`]: `--lr-schedule`, `--augment`,
//!   `--dropout`, ...), whose items are separated by `;`. A switch is swept as
//!   `--batch-norm=true,false`.
//! - `--seeds N`: every point N times, with seeds `--seed` (default 42), +1, ...
//! - a file (`--file sweep.toml`): `seeds`, `jobs` and `sort_by` at the top; a `[train]` table of
//!   flags (names without dashes; an array is an axis); and optional `[[runs]]` entries, each a
//!   named variant with flags of its own, crossed with the grid (a list, where a grid does not
//!   fit: "no schedule", "cosine", "cosine with warm-up").
//!
//! Points are ordered variant, then axes in the order given, then seed (fastest), and numbered
//! from 001. Each point's run is the `train` command line `train <flags> --run-dir <dir>
//! --resume auto` ([`Point::command`]): `--print-commands` prints exactly these, and the sweep
//! itself runs them, so a scheduler's runs and the sweep's own are the same runs.

pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, bail};
use clap::CommandFactory;
use serde::{Deserialize, Serialize};

use crate::cli::Cli;

/// The file describing a sweep's points, written into the sweep directory before any run.
pub const SWEEP_FILE: &str = "sweep.json";

/// The flags whose own values contain commas: their sweep items are separated by `;`.
pub const SEMICOLON_LISTS: [&str; 6] = [
    "lr-schedule",
    "augment",
    "dropout",
    "etas",
    "step-sizes",
    "preprocess",
];

/// The flags a sweep sets for each run itself.
const RESERVED: [&str; 2] = ["run-dir", "resume"];

/// The seed of a run without `--seed` (as `train`'s default).
const DEFAULT_SEED: u64 = 42;

/// One flag of a point: its long name (without dashes) and value (`None` for a switch given).
pub type Flag = (String, Option<String>);

/// An axis of the grid: a flag and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The flag's long name.
    pub flag: String,
    /// Its values as `train` parses them (`true`/`false` for a switch).
    pub values: Vec<String>,
}

/// A named variant (`[[runs]]`): flags set together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    /// Its name (`cosine`), the report's `variant` column.
    pub name: String,
    /// Its flags.
    pub flags: Vec<(String, String)>,
}

/// A sweep as given: fixed flags, axes, variants and seeds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepSpec {
    /// Flags every run gets.
    pub fixed: Vec<(String, String)>,
    /// The grid's axes.
    pub axes: Vec<Axis>,
    /// The variants; none means one unnamed.
    pub variants: Vec<Variant>,
    /// `--seeds N`: each point N times from the base seed.
    pub seeds: Option<usize>,
    /// Runs at once (`--jobs`, default 1).
    pub jobs: usize,
    /// The metric the report sorts by (default `val_accuracy`).
    pub sort_by: Option<String>,
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Its directory's name inside the sweep directory (`003_opt=adam_lr=0.001_seed=42`).
    pub dir: String,
    /// The swept keys' values (`opt`, `lr`, `variant`, ...; not the seed), for the report.
    pub values: Vec<(String, String)>,
    /// The run's seed.
    pub seed: u64,
    /// `train`'s flags for the run, without `--run-dir` and `--resume`.
    pub flags: Vec<String>,
}

impl Point {
    /// The command that brings this run to its end in `sweep_dir`: `exe <flags> --run-dir
    /// <sweep_dir>/<dir> --resume auto`.
    pub fn command(&self, exe: &str, sweep_dir: &Path) -> Vec<String> {
        let mut words = vec![exe.to_string()];
        words.extend(self.flags.iter().cloned());
        words.push("--run-dir".into());
        words.push(sweep_dir.join(&self.dir).display().to_string());
        words.push("--resume".into());
        words.push(crate::training::RESUME_AUTO.into());
        words
    }
}

/// What `sweep.json` holds: the swept keys and the points, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepFile {
    /// The swept keys (the report's first columns), in order; `seed` is not one.
    pub keys: Vec<String>,
    /// The metric the report sorts by (`monitor` in the first sweep files).
    #[serde(alias = "monitor")]
    pub sort_by: String,
    /// Every run.
    pub points: Vec<Point>,
}

/// Every long flag of `train`, and whether it takes a value: read once from clap's definition
/// (a whole `Command` is built for it), then asked for every flag of every point.
static TRAIN_FLAGS: LazyLock<BTreeMap<String, bool>> = LazyLock::new(|| {
    Cli::command()
        .get_arguments()
        .filter_map(|a| Some((a.get_long()?.to_string(), a.get_action().takes_values())))
        .collect()
});

/// Whether `train` has the flag `--name`, and whether it takes a value; `None` if it has none.
fn flag_takes_value(name: &str) -> Option<bool> {
    TRAIN_FLAGS.get(name).copied()
}

/// `name` as `train`'s flag: dashes for underscores, `optimizer` for `opt`.
fn flag_name(name: &str) -> String {
    match name.replace('_', "-").as_str() {
        "optimizer" => "opt".into(),
        other => other.to_string(),
    }
}

/// Checks that `--name` is a flag of `train` that a sweep may set.
fn check_flag(name: &str, origin: &str) -> anyhow::Result<bool> {
    if RESERVED.contains(&name) {
        bail!(
            "{origin}: --{name} is set by the sweep for each run; give the sweep's directory with train sweep --run-dir"
        );
    }
    match flag_takes_value(name) {
        Some(takes) => Ok(takes),
        None => bail!("{origin}: --{name} is not a flag of train (see train --help)"),
    }
}

/// The items of a command-line value: split on `;` for [`SEMICOLON_LISTS`] flags, else on `,`.
fn items(flag: &str, value: &str) -> anyhow::Result<Vec<String>> {
    let separator = if SEMICOLON_LISTS.contains(&flag) {
        ';'
    } else {
        ','
    };
    let items: Vec<String> = value
        .split(separator)
        .map(|s| s.trim().to_string())
        .collect();
    if items.iter().any(String::is_empty) {
        bail!(
            "--{flag} '{value}': an empty item; separate the values with '{separator}', e.g. --{flag} A{separator}B"
        );
    }
    Ok(items)
}

/// A TOML value as flag items: an array is several, anything else one.
fn toml_items(key: &str, value: &toml::Value, file: &Path) -> anyhow::Result<Vec<String>> {
    let one = |v: &toml::Value| -> anyhow::Result<String> {
        Ok(match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            // Debug prints the shortest round-trip form: 1e-7, 0.001, 1.0.
            toml::Value::Float(f) => format!("{f:?}"),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "{}: {key} = {other}: expected a string, number or boolean (or an array of them)",
                file.display()
            ),
        })
    };
    match value {
        toml::Value::Array(list) if list.is_empty() => bail!(
            "{}: {key} = []: an empty list sweeps nothing; give at least one value",
            file.display()
        ),
        toml::Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// The file's top level: the sweep's own settings, the `[train]` flags and the `[[runs]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    seeds: Option<usize>,
    jobs: Option<usize>,
    sort_by: Option<String>,
    #[serde(default)]
    train: toml::Table,
    #[serde(default)]
    runs: Vec<toml::Table>,
}

impl SweepSpec {
    /// Reads a sweep file (see the module documentation).
    ///
    /// # Errors
    /// One line naming the file and the key: unreadable, not TOML, an unknown setting or flag,
    /// an empty list, a `[[runs]]` entry without a name.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the sweep file {}", path.display()))?;
        let file: FileSpec = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {} (expected seeds, jobs, sort_by, a [train] table of flags and [[runs]] entries)",
                path.display(),
                ember_engine::text::one_line(&e.to_string())
            )
        })?;
        let origin = path.display().to_string();
        let mut spec = SweepSpec {
            seeds: file.seeds,
            jobs: file.jobs.unwrap_or(1),
            sort_by: file.sort_by,
            ..Default::default()
        };
        for (key, value) in &file.train {
            let flag = flag_name(key);
            check_flag(&flag, &origin)?;
            let values = toml_items(key, value, path)?;
            spec.set(flag, values, value.is_array());
        }
        for (i, run) in file.runs.iter().enumerate() {
            let name = match run.get("name") {
                Some(toml::Value::String(name)) if !name.trim().is_empty() => name.clone(),
                _ => bail!(
                    "{}: [[runs]] entry {} has no name = \"...\"; name each variant (it labels the report)",
                    path.display(),
                    i + 1
                ),
            };
            let mut flags = Vec::new();
            for (key, value) in run.iter().filter(|(k, _)| k.as_str() != "name") {
                let flag = flag_name(key);
                check_flag(&flag, &origin)?;
                match toml_items(key, value, path)?.as_slice() {
                    [one] if !value.is_array() => flags.push((flag, one.clone())),
                    _ => bail!(
                        "{}: [[runs]] '{name}': {key} is a list; a variant sets one value per flag (sweep lists in [train])",
                        path.display()
                    ),
                }
            }
            spec.variants.push(Variant { name, flags });
        }
        Ok(spec)
    }

    /// Sets `flag` to `values`: an axis when there are several (or `axis` says so), a fixed
    /// flag otherwise; a flag set before is replaced (the command line over the file).
    fn set(&mut self, flag: String, values: Vec<String>, axis: bool) {
        self.fixed.retain(|(f, _)| *f != flag);
        self.axes.retain(|a| a.flag != flag);
        if values.len() > 1 || axis {
            self.axes.push(Axis { flag, values });
        } else if let Some(value) = values.into_iter().next() {
            self.fixed.push((flag, value));
        }
    }

    /// Adds the command line's words (after `train sweep`) to this spec: the sweep's own flags
    /// (`--seeds`, `--jobs`, `--sort-by`, `--file`, `--run-dir`, `--print-commands`, taken out
    /// by [`SweepCommand::parse`]) and `train`'s flags.
    ///
    /// # Errors
    /// One line: an unknown flag, a flag without its value, a flag given twice, an empty item.
    pub fn add_words(&mut self, words: &[String]) -> anyhow::Result<()> {
        let mut seen: Vec<String> = Vec::new();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            let Some(long) = word.strip_prefix("--") else {
                bail!(
                    "train sweep: unexpected '{word}'; give train's flags as --flag value (see train sweep --help)"
                );
            };
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (long.to_string(), None),
            };
            let takes_value = check_flag(&name, "train sweep")?;
            if seen.contains(&name) {
                bail!(
                    "train sweep: --{name} is given twice; give its values once, separated by '{}'",
                    if SEMICOLON_LISTS.contains(&name.as_str()) {
                        ';'
                    } else {
                        ','
                    }
                );
            }
            seen.push(name.clone());
            let value = match (inline, takes_value) {
                (Some(value), _) => value,
                (None, true) => match words.next() {
                    Some(value) => value.clone(),
                    None => bail!("train sweep: --{name} needs a value"),
                },
                (None, false) => "true".into(),
            };
            let values = items(&name, &value)?;
            self.set(name, values, false);
        }
        Ok(())
    }

    /// Every run of the sweep, in order.
    ///
    /// # Errors
    /// One line: nothing to sweep, `--seeds` beside a swept `--seed`, a switch given a value
    /// other than true/false.
    pub fn points(&self) -> anyhow::Result<Vec<Point>> {
        let seed_axis = self.axes.iter().any(|a| a.flag == "seed");
        if self.seeds == Some(0) {
            bail!("train sweep: --seeds must be at least 1");
        }
        if seed_axis && self.seeds.is_some() {
            bail!("train sweep: give either --seeds N or a list of --seed values, not both");
        }
        let base_seed = match self.fixed.iter().find(|(f, _)| f == "seed") {
            Some((_, s)) => s.parse::<u64>().map_err(|_| {
                anyhow::anyhow!("train sweep: --seed {s}: expected a non-negative integer")
            })?,
            None => DEFAULT_SEED,
        };
        let seeds: Vec<Option<u64>> = match self.seeds {
            Some(n) => (0..n as u64).map(|k| Some(base_seed + k)).collect(),
            None => vec![None],
        };
        let variants = if self.variants.is_empty() {
            vec![Variant::default()]
        } else {
            self.variants.clone()
        };
        let grid = cartesian(&self.axes);
        let count = variants.len() * grid.len() * seeds.len();
        if count <= 1 {
            bail!(
                "train sweep: nothing to sweep (one run); give a flag several values (--lr 1e-3,1e-2), --seeds N, or [[runs]] in a --file"
            );
        }
        let width = count.to_string().len().max(3);
        let mut points = Vec::with_capacity(count);
        for variant in &variants {
            for combination in &grid {
                for seed in &seeds {
                    let mut flags: Vec<(String, String)> = self
                        .fixed
                        .iter()
                        .filter(|(f, _)| seed.is_none() || f != "seed")
                        .cloned()
                        .collect();
                    flags.extend(variant.flags.iter().cloned());
                    let mut values = Vec::new();
                    if !variant.name.is_empty() {
                        values.push(("variant".to_string(), variant.name.clone()));
                    }
                    for (flag, value) in combination {
                        flags.push((flag.clone(), value.clone()));
                        if flag != "seed" {
                            values.push((flag.clone(), value.clone()));
                        }
                    }
                    if let Some(seed) = seed {
                        flags.push(("seed".into(), seed.to_string()));
                    }
                    let seed = flags
                        .iter()
                        .find(|(f, _)| f == "seed")
                        .map_or(Ok(DEFAULT_SEED), |(_, s)| s.parse::<u64>())
                        .map_err(|_| anyhow::anyhow!("train sweep: --seed: expected an integer"))?;
                    let mut words = Vec::new();
                    for (flag, value) in &flags {
                        push_flag(&mut words, flag, value)?;
                    }
                    let mut label: Vec<String> =
                        values.iter().map(|(k, v)| value_label(k, v)).collect();
                    label.push(format!("seed={seed}"));
                    let dir = format!(
                        "{:0width$}_{}",
                        points.len() + 1,
                        sanitize(&label.join("_"))
                    );
                    points.push(Point {
                        dir,
                        values,
                        seed,
                        flags: words,
                    });
                }
            }
        }
        Ok(points)
    }

    /// The swept keys, in the report's order: `variant` (when named), then the axes but the
    /// seed.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if !self.variants.is_empty() {
            keys.push("variant".to_string());
        }
        keys.extend(
            self.axes
                .iter()
                .filter(|a| a.flag != "seed")
                .map(|a| a.flag.clone()),
        );
        keys
    }
}

/// One swept value as the labels show it: `key=value`, or a variant's name alone.
pub fn value_label(key: &str, value: &str) -> String {
    if key == "variant" {
        value.to_string()
    } else {
        format!("{key}={value}")
    }
}

/// Every combination of the axes' values, in order (the last axis fastest).
fn cartesian(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((axis.flag.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// Appends `--flag value` (a switch: `--flag` when true, nothing when false).
fn push_flag(words: &mut Vec<String>, flag: &str, value: &str) -> anyhow::Result<()> {
    if flag_takes_value(flag) == Some(false) {
        match value {
            "true" => words.push(format!("--{flag}")),
            "false" => {}
            other => {
                bail!("train sweep: --{flag} is a switch; sweep it as true,false, not '{other}'")
            }
        }
    } else {
        words.push(format!("--{flag}"));
        words.push(value.to_string());
    }
    Ok(())
}

/// A directory name from a label: letters, digits and `.=+-_` kept, anything else `-`, at most
/// 120 bytes (the number in front keeps names unique).
fn sanitize(label: &str) -> String {
    let mut name: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".=+-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(120);
    name
}

/// `train sweep`'s own flags, and the rest for [`SweepSpec::add_words`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepCommand {
    /// `--file FILE`.
    pub file: Option<PathBuf>,
    /// `--run-dir DIR`: the sweep's directory.
    pub run_dir: Option<PathBuf>,
    /// `--print-commands`.
    pub print_commands: bool,
    /// `--seeds N`.
    pub seeds: Option<usize>,
    /// `--jobs N`.
    pub jobs: Option<usize>,
    /// `--sort-by METRIC`.
    pub sort_by: Option<String>,
    /// `train`'s flags.
    pub train_words: Vec<String>,
}

impl SweepCommand {
    /// Splits the words after `train sweep`.
    ///
    /// # Errors
    /// A sweep flag without its value, or a count that is not a positive integer.
    pub fn parse(words: &[String]) -> anyhow::Result<Self> {
        let mut command = Self::default();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            let (name, inline) = match word.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (word.as_str(), None),
            };
            let mut value = |name: &str| -> anyhow::Result<String> {
                match inline.clone().or_else(|| words.next().cloned()) {
                    Some(v) => Ok(v),
                    None => bail!("train sweep: {name} needs a value"),
                }
            };
            let count = |name: &str, v: String| -> anyhow::Result<usize> {
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => bail!("train sweep: {name} must be a positive integer, got '{v}'"),
                }
            };
            match name {
                "--file" => command.file = Some(PathBuf::from(value(name)?)),
                "--run-dir" => command.run_dir = Some(PathBuf::from(value(name)?)),
                "--print-commands" => command.print_commands = true,
                "--seeds" => command.seeds = Some(count(name, value(name)?)?),
                "--jobs" => command.jobs = Some(count(name, value(name)?)?),
                "--sort-by" => command.sort_by = Some(value(name)?),
                _ => command.train_words.push(word.clone()),
            }
        }
        Ok(command)
    }

    /// The sweep these flags (and their file) describe.
    ///
    /// # Errors
    /// As [`SweepSpec::from_file`] and [`SweepSpec::add_words`].
    pub fn spec(&self) -> anyhow::Result<SweepSpec> {
        let mut spec = match &self.file {
            Some(file) => SweepSpec::from_file(file)?,
            None => SweepSpec {
                jobs: 1,
                ..Default::default()
            },
        };
        spec.add_words(&self.train_words)?;
        if let Some(seeds) = self.seeds {
            spec.seeds = Some(seeds);
        }
        if let Some(jobs) = self.jobs {
            spec.jobs = jobs;
        }
        if self.sort_by.is_some() {
            spec.sort_by.clone_from(&self.sort_by);
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests;
