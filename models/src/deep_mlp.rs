//! The deep MLP of the zoo: 784-128-64-32-16-10, ReLU between layers.
//!
//! It is an [`Mlp`] with four hidden layers; only the widths differ, so the module is shared.

use crate::mlp::MlpConfig;

/// Hidden-layer widths of the deep MLP, input side first.
pub const HIDDEN: [usize; 4] = [128, 64, 32, 16];

/// The deep MLP's configuration: 784-128-64-32-16-10.
pub fn config() -> MlpConfig {
    MlpConfig::new(HIDDEN.to_vec())
}
