//! LeNet-5 (LeCun et al. 1998), in the modern form used by d2l and most tutorials, with ReLU
//! activations and max pooling in place of the original sigmoid and average pooling:
//!
//! ```text
//! [b,1,28,28] conv 6@5x5 pad 2 -> ReLU -> maxpool 2x2  -> [b,6,14,14]
//!             conv 16@5x5      -> ReLU -> maxpool 2x2  -> [b,16,5,5]
//!             flatten 400 -> Linear 120 -> ReLU -> Linear 84 -> ReLU -> Linear 10 (logits)
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use ember_engine::summary::LayerObserver;

use crate::batch_norm::BatchNorm;
use crate::dropout::{Dropout, DropoutKind};
use crate::kernels::{conv, conv_pool, linear, pool};

/// Features entering the first fully connected layer: 16 channels of 5x5.
const FLAT_FEATURES: usize = 16 * 5 * 5;

/// Configuration of [`LeNet`].
#[derive(Config, Debug)]
pub struct LeNetConfig {
    /// Output logits; default 10.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Dropout after fc1's and fc2's activations: empty (default) for none, else two
    /// probabilities.
    #[config(default = "Vec::new()")]
    pub dropout: Vec<f64>,
    /// Bernoulli (default) or Gaussian dropout.
    #[config(default = "DropoutKind::Bernoulli")]
    pub dropout_kind: DropoutKind,
    /// Batch normalization after conv1, conv2, fc1 and fc2, before each ReLU (d2l's "LeNet
    /// with batch normalization", section 8.5.4); default false.
    #[config(default = false)]
    pub batch_norm: bool,
}

/// LeNet-5 with ReLU and max pooling; 61,706 parameters for 10 classes.
#[derive(Module, Debug)]
pub struct LeNet {
    /// 1 -> 6 channels, 5x5, padding 2 (keeps 28x28).
    pub conv1: Conv2d,
    /// 6 -> 16 channels, 5x5, no padding (14x14 -> 10x10).
    pub conv2: Conv2d,
    /// 2x2 max pooling with stride 2, used after each convolution's ReLU; run through
    /// [`pool::forward_relu`] (the ReLU fused in), which gives the same values and gradients
    /// faster on the CPU backends.
    pub pool: MaxPool2d,
    /// 400 -> 120.
    pub fc1: Linear,
    /// 120 -> 84.
    pub fc2: Linear,
    /// 84 -> num_classes.
    pub fc3: Linear,
    /// Batch normalization of conv1, conv2, fc1, fc2 (empty without).
    pub norms: Vec<BatchNorm>,
    /// Dropout after fc1 and fc2 (empty without).
    pub dropouts: Vec<Dropout>,
}

impl LeNetConfig {
    /// Builds the module with Burn's default (PyTorch-equivalent Kaiming-uniform) initialization.
    pub fn init(&self, device: &Device) -> LeNet {
        LeNet {
            conv1: Conv2dConfig::new([1, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(FLAT_FEATURES, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, self.num_classes).init(device),
            norms: if self.batch_norm {
                [6, 16, 120, 84].map(|n| BatchNorm::new(n, device)).into()
            } else {
                Vec::new()
            },
            dropouts: self
                .dropout
                .iter()
                .map(|&p| Dropout::new(p, self.dropout_kind))
                .collect(),
        }
    }
}

impl LeNet {
    /// Logits for a batch of images.
    ///
    /// - `images`: `[batch, 1, 28, 28]`
    /// - returns: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_observed(images, &mut ())
    }

    /// [`forward`](Self::forward), reporting each layer's output to `observer`: `conv1`,
    /// `pool`, `conv2`, `pool`, `flatten`, `fc1`, `fc2`, `fc3`, with `norms.i` and
    /// `dropouts.i` where the model has them (the ReLUs are functions and have no row).
    pub fn forward_observed(
        &self,
        images: Tensor<4>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let x = self.block(0, "conv1", &self.conv1, images, observer);
        let x = self.block(1, "conv2", &self.conv2, x, observer);
        let x: Tensor<2> = x.reshape([batch, FLAT_FEATURES]);
        observer.op("flatten", "Flatten", &x);
        let x = self.hidden(0, "fc1", &self.fc1, x, observer);
        let x = self.hidden(1, "fc2", &self.fc2, x, observer);
        let x = linear::forward(&self.fc3, x);
        observer.layer("fc3", &self.fc3, &x);
        x
    }

    /// Convolution `i` (conv1, conv2), its batch normalization (when the model has it), ReLU
    /// and max pool; one fused operation ([`conv_pool::forward`]: the same bits, no full-size
    /// output) when there is no batch normalization in between and `observer` does not look at
    /// the convolution's output.
    fn block(
        &self,
        i: usize,
        name: &str,
        conv: &Conv2d,
        x: Tensor<4>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<4> {
        if self.norms.is_empty() && !observer.sees_outputs() {
            return conv_pool::forward(conv, &self.pool, x);
        }
        let x = conv::forward(conv, x);
        observer.layer(name, conv, &x);
        let x = pool::forward_relu(&self.pool, self.norm(i, x, observer));
        observer.layer("pool", &self.pool, &x);
        x
    }

    /// Fully connected layer `i` (fc1, fc2) with its ReLU, batch normalization (between the
    /// two, when the model has it) and dropout; the ReLU fused into the layer without batch
    /// normalization ([`linear::forward_relu`]: the same bits, fewer passes).
    fn hidden(
        &self,
        i: usize,
        name: &str,
        layer: &Linear,
        x: Tensor<2>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<2> {
        let x = if self.norms.is_empty() {
            let x = linear::forward_relu(layer, x);
            observer.layer(name, layer, &x);
            x
        } else {
            let x = linear::forward(layer, x);
            observer.layer(name, layer, &x);
            relu(self.norm(i + 2, x, observer))
        };
        self.drop(i, x, observer)
    }

    /// Batch normalization `i`, when the model has it.
    fn norm<const D: usize>(
        &self,
        i: usize,
        x: Tensor<D>,
        observer: &mut impl LayerObserver,
    ) -> Tensor<D> {
        match self.norms.get(i) {
            Some(norm) => {
                let x = norm.forward(x);
                observer.layer(format_args!("norms.{i}"), norm, &x);
                x
            }
            None => x,
        }
    }

    /// Dropout `i`, when the model has it.
    fn drop(&self, i: usize, x: Tensor<2>, observer: &mut impl LayerObserver) -> Tensor<2> {
        match self.dropouts.get(i) {
            Some(dropout) => {
                let x = dropout.forward(x);
                observer.layer(format_args!("dropouts.{i}"), dropout, &x);
                x
            }
            None => x,
        }
    }
}
