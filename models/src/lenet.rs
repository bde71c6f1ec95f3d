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

use crate::kernels::{conv, pool};

/// Features entering the first fully connected layer: 16 channels of 5x5.
const FLAT_FEATURES: usize = 16 * 5 * 5;

/// Configuration of [`LeNet`].
#[derive(Config, Debug)]
pub struct LeNetConfig {
    /// Output logits; default 10.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// LeNet-5 with ReLU and max pooling; 61,706 parameters for 10 classes.
#[derive(Module, Debug)]
pub struct LeNet {
    /// 1 -> 6 channels, 5x5, padding 2 (keeps 28x28).
    pub conv1: Conv2d,
    /// 6 -> 16 channels, 5x5, no padding (14x14 -> 10x10).
    pub conv2: Conv2d,
    /// 2x2 max pooling with stride 2, used after each convolution; run through
    /// [`pool::forward`], which gives the same values and gradients faster on flex.
    pub pool: MaxPool2d,
    /// 400 -> 120.
    pub fc1: Linear,
    /// 120 -> 84.
    pub fc2: Linear,
    /// 84 -> num_classes.
    pub fc3: Linear,
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
        }
    }
}

impl LeNet {
    /// Logits for a batch of images.
    ///
    /// - `images`: `[batch, 1, 28, 28]`
    /// - returns: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let x = pool::forward(&self.pool, relu(conv::forward(&self.conv1, images)));
        let x = pool::forward(&self.pool, relu(conv::forward(&self.conv2, x)));
        let x: Tensor<2> = x.reshape([batch, FLAT_FEATURES]);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}
