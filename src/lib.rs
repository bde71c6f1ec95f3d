#![warn(missing_docs)]
//! ember: a training engine on Burn 0.22.
//!
//! - [`learner`]: the training loop ([`learner::fit`]), metrics, checkpoints, progress output.
//! - [`backend`]: choosing flex, ndarray or wgpu and the device; [`gpu_error`]: GPU failures
//!   (allocations, lost devices) as one-line errors.
//! - [`config`], [`data`]: the resolved run configuration and the splits it trains on.
//! - [`compare`]: `train compare`, one job on several backends side by side.
//! - [`evaluation`]: test-set evaluation with per-class accuracy and the confusion matrix.
//! - [`plot`]: training-curve plots (`train plot`); [`toy`]: the optimizer playground
//!   (`train toy`).
//! - [`summary`]: `train summary`, a model's layers and parameter counts.
//! - [`sweep`]: `train sweep`, grids of runs and their report (the batch-size study).
//! - [`lr_find`]: the learning-rate range test (`train lr-find`).
//! - [`cli`], [`commands`]: the `train` command line.
//!
//! The optimizers live in the `ember-optim` crate (Burn and serde only), models in
//! `ember-models`, data loading in `ember-datasets`.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod committee;
pub mod compare;
pub mod config;
pub mod data;
pub mod distillation;
pub mod evaluation;
pub mod gpu_error;
pub mod learner;
pub mod lr_find;
pub mod metrics;
pub mod overrides;
pub mod plot;
pub mod regularization;
pub mod run_files;
pub mod summary;
pub mod sweep;
pub mod toy;
pub mod training;
