//! Multilayer perceptron: flatten, then `Linear` layers with ReLU between them (optionally
//! batch normalization before each hidden ReLU and dropout after it).
//!
//! The zoo's MLP is 784-100-10 ([`MlpConfig::zoo`]); the deep MLP
//! ([`crate::deep_mlp`]) is the same module with four hidden layers. Any other fully
//! connected ReLU network on `[batch, features]` inputs is one too ([`MlpConfig::dense`],
//! [`Mlp::forward_features`]): seed 004 Q1.4's 20 -> 5x10 -> 1 net (661 parameters), seed 003
//! Q4's 3-3-1 regression net.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use ember_engine::summary::{LayerObserver, Summary};

use crate::batch_norm::BatchNorm;
use crate::dropout::{Dropout, DropoutKind};
use crate::kernels::linear;

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

    /// A plain fully connected ReLU network from all its widths, input first and output last
    /// (`[20, 10, 10, 10, 10, 10, 1]`: 20 inputs, five hidden layers of 10, one output), with
    /// no dropout or batch normalization.
    ///
    /// # Errors
    /// A one-line message naming `what` (the caller's name for the widths, e.g. `--layers`):
    /// fewer than two widths, or a width of 0.
    pub fn dense(widths: &[usize], what: &str) -> Result<Self, String> {
        let [d_input, hidden @ .., num_outputs] = widths else {
            return Err(format!(
                "{what} needs at least two widths, the input and the output (e.g. 20,10,1), got {}",
                widths.len()
            ));
        };
        if let Some(i) = widths.iter().position(|&w| w == 0) {
            return Err(format!(
                "{what} widths must be at least 1, got 0 at position {}",
                i + 1
            ));
        }
        Ok(MlpConfig::new(hidden.to_vec())
            .with_d_input(*d_input)
            .with_num_classes(*num_outputs))
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
    /// The layers, input side first; run through [`linear::forward`], which gives the same
    /// values and gradients faster on the CPU backends.
    pub layers: Vec<Linear>,
    /// Batch normalization of each hidden layer (empty without).
    pub norms: Vec<BatchNorm>,
    /// Dropout after each hidden layer (empty without).
    pub dropouts: Vec<Dropout>,
}

impl Mlp {
    /// Logits for a batch of images, flattened.
    ///
    /// - `images`: `[batch, 1, 28, 28]` (any shape whose trailing dimensions multiply to the
    ///   input width)
    /// - returns: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_observed(images, &mut ())
    }

    /// [`forward`](Self::forward), reporting the flattened input and each layer's output to
    /// `observer` (a `flatten` row, then `layers.i`, `norms.i`, `dropouts.i`; the ReLUs are
    /// functions, not layers, and have no row).
    pub fn forward_observed(
        &self,
        images: Tensor<4>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let features = images.dims()[1..].iter().product::<usize>();
        let x: Tensor<2> = images.reshape([batch, features]);
        observer.op("flatten", "Flatten", &x);
        self.forward_features_observed(x, observer)
    }

    /// The layers on a batch of feature vectors: what a dense network computes.
    ///
    /// - `x`: `[batch, d_input]`
    /// - returns: `[batch, num_classes]` (the last layer's width, no activation after it)
    ///
    /// # Panics
    /// If `x`'s width is not the first layer's input width (Burn's check).
    pub fn forward_features(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_features_observed(x, &mut ())
    }

    /// [`forward_features`](Self::forward_features), reporting each layer's output to
    /// `observer`.
    pub fn forward_features_observed(
        &self,
        mut x: Tensor<2>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let norm = self.norms.get(i).filter(|_| i < last);
            // Without batch normalization between them, the ReLU is fused into the layer
            // (`linear::forward_relu`: the same bits, fewer passes).
            let fused_relu = i < last && norm.is_none();
            x = if fused_relu {
                linear::forward_relu(layer, x)
            } else {
                linear::forward(layer, x)
            };
            observer.layer(format_args!("layers.{i}"), layer, &x);
            if i < last {
                if let Some(norm) = norm {
                    x = norm.forward(x);
                    observer.layer(format_args!("norms.{i}"), norm, &x);
                    x = relu(x);
                }
                if let Some(dropout) = self.dropouts.get(i) {
                    x = dropout.forward(x);
                    observer.layer(format_args!("dropouts.{i}"), dropout, &x);
                }
            }
        }
        x
    }

    /// Input width (the first layer's).
    pub fn d_input(&self) -> usize {
        self.layers[0].weight.lazy_shape()[0]
    }

    /// The network as a dense net on `[batch, d_input]` inputs: a row per layer with its
    /// output shape, traced on one input ([`Summary::traced`]); no `flatten` row.
    pub fn summary(&self) -> Summary {
        Summary::traced("Mlp", self, |mlp, device, recorder| {
            mlp.forward_features_observed(Tensor::zeros([1, mlp.d_input()], device), recorder);
        })
    }
}
