//! Multilayer perceptron: flatten, then `Linear` layers with ReLU between them (optionally
//! batch normalization before each hidden ReLU and dropout after it).
//!
//! The zoo's MLP is 784-100-10 ([`MlpConfig::zoo`]); the deep MLP
//! ([`crate::deep_mlp`]) is the same module with four hidden layers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use crate::batch_norm::BatchNorm;
use crate::dropout::{Dropout, DropoutKind};
use crate::{IMAGE_PIXELS, NUM_CLASSES};

/// Layer sizes of an [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Widths of the hidden layers, input side first (e.g. `[100]`).
    pub hidden: Vec<usize>,
    /// Input features; default 784 (a flattened 28x28 image).
    #[config(default = 784)]
    pub d_input: usize,
    /// Output logits; default 10.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Dropout after each hidden layer's activation, one probability per hidden layer; empty
    /// (default) for none.
    #[config(default = "Vec::new()")]
    pub dropout: Vec<f64>,
    /// Bernoulli (default) or Gaussian dropout.
    #[config(default = "DropoutKind::Bernoulli")]
    pub dropout_kind: DropoutKind,
    /// Batch normalization after each hidden linear layer, before its activation; default
    /// false.
    #[config(default = false)]
    pub batch_norm: bool,
}

impl MlpConfig {
    /// The zoo's MLP: 784-100-10.
    pub fn zoo() -> Self {
        MlpConfig::new(vec![100])
    }

    /// Builds the module. Weights and biases use Burn's `Linear` default, Kaiming-uniform with
    /// bound `1/sqrt(fan_in)`, the same distribution as PyTorch's `nn.Linear`.
    pub fn init(&self, device: &Device) -> Mlp {
        let widths: Vec<usize> = std::iter::once(self.d_input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.num_classes))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let norms = if self.batch_norm {
            self.hidden
                .iter()
                .map(|&width| BatchNorm::new(width, device))
                .collect()
        } else {
            Vec::new()
        };
        let dropouts = self
            .dropout
            .iter()
            .map(|&p| Dropout::new(p, self.dropout_kind))
            .collect();
        Mlp {
            layers,
            norms,
            dropouts,
        }
    }
}

/// A stack of fully connected layers with ReLU between them (none after the last).
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, input side first.
    pub layers: Vec<Linear>,
    /// Batch normalization of each hidden layer (empty without).
    pub norms: Vec<BatchNorm>,
    /// Dropout after each hidden layer (empty without).
    pub dropouts: Vec<Dropout>,
}

impl Mlp {
    /// Logits for a batch of images.
    ///
    /// - `images`: `[batch, 1, 28, 28]` (any shape whose trailing dimensions multiply to the
    ///   input width)
    /// - returns: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let mut x: Tensor<2> = images.reshape([batch, IMAGE_PIXELS]);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                if let Some(norm) = self.norms.get(i) {
                    x = norm.forward(x);
                }
                x = relu(x);
                if let Some(dropout) = self.dropouts.get(i) {
                    x = dropout.forward(x);
                }
            }
        }
        debug_assert_eq!(x.dims()[1], NUM_CLASSES);
        x
    }
}
