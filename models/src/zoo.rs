//! The model zoo as one type, so the learner treats every model alike.

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use ember_engine::summary::Summary;
use serde::{Deserialize, Serialize};

use crate::dropout::DropoutKind;
use crate::lenet::{LeNet, LeNetConfig};
use crate::mlp::{Mlp, MlpConfig};
use crate::{NUM_CLASSES, deep_mlp};

/// The models of the zoo, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// 784-100-10 MLP.
    Mlp,
    /// 784-128-64-32-16-10 MLP.
    DeepMlp,
    /// LeNet-5 (ReLU, max pooling).
    Lenet,
}

impl ModelKind {
    /// Every model, in the order the CLI lists them.
    pub const ALL: [ModelKind; 3] = [ModelKind::Mlp, ModelKind::DeepMlp, ModelKind::Lenet];

    /// The command-line name (`mlp`, `deep-mlp`, `lenet`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::DeepMlp => "deep-mlp",
            ModelKind::Lenet => "lenet",
        }
    }

    /// Builds the model on `device` with fresh random weights.
    ///
    /// Parameters are materialized here, in declaration order, so that the weights depend only
    /// on the device's RNG state at this call (Burn initializes parameters lazily otherwise,
    /// in whatever order they are first used).
    pub fn init(self, device: &Device) -> Model {
        self.init_with(&ModelOptions::default(), device)
    }

    /// [`init`](Self::init) with dropout or batch normalization ([`ModelOptions`]).
    ///
    /// # Panics
    /// If `options` do not fit the model; [`ModelOptions::check`] says why first.
    pub fn init_with(self, options: &ModelOptions, device: &Device) -> Model {
        if let Err(e) = options.check(self) {
            panic!("{e}");
        }
        let dropout = options.dropout_rates(self);
        let model = match self {
            ModelKind::Mlp | ModelKind::DeepMlp => {
                let mut config = match self {
                    ModelKind::Mlp => MlpConfig::zoo(),
                    _ => deep_mlp::config(),
                };
                config.dropout = dropout;
                config.dropout_kind = options.dropout_kind;
                config.batch_norm = options.batch_norm;
                Model::Mlp(config.init(device))
            }
            ModelKind::Lenet => Model::LeNet(
                LeNetConfig::new()
                    .with_dropout(dropout)
                    .with_dropout_kind(options.dropout_kind)
                    .with_batch_norm(options.batch_norm)
                    .init(device),
            ),
        };
        model.visit(&mut Materialize);
        model
    }

    /// Where dropout goes in this model: after the activation of each hidden fully connected
    /// layer (the MLPs' hidden layers; LeNet's fc1 and fc2), as Srivastava et al. (2014) place
    /// it in their MNIST networks and d2l's `dropout` chapter does. Their number.
    pub fn dropout_sites(self) -> usize {
        match self {
            ModelKind::Mlp => 1,
            ModelKind::DeepMlp => deep_mlp::HIDDEN.len(),
            ModelKind::Lenet => 2,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown model '{s}' (expected one of: mlp, deep-mlp, lenet)"))
    }
}

/// Regularizing layers of a zoo model. The default has none (the zoo's plain models).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOptions {
    /// Drop probabilities: empty for no dropout, one value for every site, or one per site
    /// ([`ModelKind::dropout_sites`]), input side first; each in `[0, 1)`.
    pub dropout: Vec<f64>,
    /// Bernoulli or Gaussian dropout.
    pub dropout_kind: DropoutKind,
    /// Batch normalization after each convolution and hidden linear layer, before its
    /// activation (Ioffe and Szegedy 2015; d2l's "LeNet with batch normalization"), with
    /// PyTorch's defaults: momentum 0.1, eps 1e-5.
    pub batch_norm: bool,
}

impl ModelOptions {
    /// Whether the options fit `kind`.
    ///
    /// # Errors
    /// A one-line message: a probability outside `[0, 1)`, or a number of rates that is
    /// neither 1 nor the model's dropout sites.
    pub fn check(&self, kind: ModelKind) -> Result<(), String> {
        if let Some(p) = self.dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(format!("--dropout must be in [0, 1), got {p}"));
        }
        let sites = kind.dropout_sites();
        if self.dropout.len() > 1 && self.dropout.len() != sites {
            return Err(format!(
                "--dropout takes one rate or {sites} (one per hidden layer of {kind}), got {}",
                self.dropout.len()
            ));
        }
        Ok(())
    }

    /// One rate per site of `kind` (none when there is no dropout).
    fn dropout_rates(&self, kind: ModelKind) -> Vec<f64> {
        match self.dropout.as_slice() {
            [] => Vec::new(),
            [p] => vec![*p; kind.dropout_sites()],
            rates => rates.to_vec(),
        }
    }
}

/// Forces every lazily initialized parameter to take its value now.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Any model of the zoo: images `[batch, 1, 28, 28]` in, logits `[batch, 10]` out.
// One model value lives for a whole run, so the size gap between variants costs nothing, and a
// `Box` would change the module's record paths.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// An MLP (the zoo's `mlp` or `deep-mlp`).
    Mlp(Mlp),
    /// LeNet-5.
    LeNet(LeNet),
}

impl Model {
    /// Logits for a batch of images.
    ///
    /// - `images`: `[batch, 1, 28, 28]`, normalized
    /// - returns: `[batch, 10]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let logits = match self {
            Model::Mlp(m) => m.forward(images),
            Model::LeNet(m) => m.forward(images),
        };
        debug_assert_eq!(logits.dims()[1], NUM_CLASSES);
        logits
    }

    /// Keras' `model.summary()` of the model: a row per layer with its output shape for one
    /// image `[1, 1, 28, 28]` (the batch written `None`) and its parameters, then the totals
    /// (batch normalization's running statistics count as non-trainable, as in Keras), under
    /// the title `name` (the zoo's name, say: an `Mlp` does not know whether it is `mlp` or
    /// `deep-mlp`).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use ember_models::ModelKind;
    /// let summary = ModelKind::Lenet.init(&Device::flex()).summary("lenet");
    /// assert_eq!(summary.total.total(), 61_706);
    /// assert_eq!(summary.layers[0].output_shape, Some(vec![6, 28, 28]));
    /// ```
    pub fn summary(&self, name: &str) -> Summary {
        Summary::traced(name, self, |model, device, recorder| {
            let image = Tensor::zeros([1, 1, 28, 28], device);
            match model {
                Model::Mlp(m) => m.forward_observed(image, recorder),
                Model::LeNet(m) => m.forward_observed(image, recorder),
            };
        })
    }
}
