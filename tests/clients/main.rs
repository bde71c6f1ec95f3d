//! The engine's first clients, run as a user runs them: committees and distillation
//! (`committee`), the model summary (`summary`), the seeds' small problems (`seed_problems`),
//! the learning-rate range test (`lr_find`). One test binary with a module per subject, so that
//! CI links one binary, not four.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/png.rs"]
mod png;

mod committee;
mod lr_find;
mod seed_problems;
mod summary;
mod sweep;
