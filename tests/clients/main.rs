//! The engine's first clients, run as a user runs them: committees and distillation
//! (`committee`), the model summary (`summary`), the seeds' small problems (`seed_problems`).
//! One test binary with a module per subject, so that CI links one binary, not three.

#[path = "../common/mod.rs"]
mod common;

mod committee;
mod seed_problems;
mod summary;
mod sweep;
