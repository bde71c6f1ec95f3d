//! The model zoo as one type, so the learner treats every model alike.

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

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
        let model = match self {
            ModelKind::Mlp => Model::Mlp(MlpConfig::zoo().init(device)),
            ModelKind::DeepMlp => Model::Mlp(deep_mlp::config().init(device)),
            ModelKind::Lenet => Model::LeNet(LeNetConfig::new().init(device)),
        };
        model.visit(&mut Materialize);
        model
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
}
