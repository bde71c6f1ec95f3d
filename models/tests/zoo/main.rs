//! The zoo's layers and models from outside the crate: batch normalization against PyTorch's
//! definitions (`batch_norm`) and the model summary's counts and shapes (`summary`). One test
//! binary with a module per subject.

mod batch_norm;
mod summary;
