#![warn(missing_docs)]
//! ember's optimizers, as Burn [`burn::optim::Optimizer`] implementations.
//!
//! | name | type | reference | default lr |
//! |---|---|---|---|
//! | `adabelief` | [`AdaBelief`] | adabelief-pytorch 0.2.1 | 1e-3 |
//! | `rprop` | [`Rprop`] | torch.optim.Rprop (iRprop⁻); Rprop⁺, Rprop⁻, iRprop⁺ ([`RpropVariant`]; Riedmiller & Braun 1993, Igel & Hüsken 2000) | 1e-2 (initial step size) |
//! | `adadelta` | [`Adadelta`] | torch.optim.Adadelta | 1.0 |
//! | `sgd` | Burn's SGD, torch defaults ([`SgdConfig`]) | torch.optim.SGD | 1e-2 |
//! | `adam` (`amsgrad`) | [`Adam`] | torch.optim.Adam | 1e-3 |
//! | `adamw` | [`Adam`] with decoupled decay ([`AdamWConfig`]) | torch.optim.AdamW | 1e-3 |
//! | `adagrad` | [`Adagrad`] | torch.optim.Adagrad | 1e-2 |
//! | `rmsprop` | [`RmsProp`] | torch.optim.RMSprop | 1e-2 |
//! | `adamax` | [`Adamax`] | torch.optim.Adamax | 2e-3 |
//! | `nadam` | [`NAdam`] | torch.optim.NAdam | 2e-3 |
//!
//! The torch references are PyTorch 2.x's `_single_tensor_*` functions, followed operation by
//! operation (see `common` for what can still differ in the last bit). docs/optimizers.md has
//! the papers, defaults and `train` flags.
//!
//! This crate depends on Burn and serde only, and each configuration follows Burn's
//! convention: `XConfig::init()` gives the [`burn::optim::ModuleOptimizer`] that updates a
//! whole module, `XConfig::build()` the bare optimizer (one parameter tensor at a time, for
//! `ModuleOptimizer::with_group`). Every one is usable in any Burn training loop:
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//! use ember_optim::OptimizerConfig;
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     layer: Linear,
//! }
//!
//! let device = Device::flex().autodiff();
//! let mut net = Net { layer: LinearConfig::new(4, 2).init(&device) };
//! let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
//! let x = Tensor::<2>::ones([8, 4], &device);
//! let loss = net.layer.forward(x).powf_scalar(2.0).mean();
//! let grads = GradientsParams::from_grads(loss.backward(), &net);
//! net = optimizer.step(1e-3, net, grads);
//! ```
//!
//! One optimizer reads the loss as well as the gradients: Rprop's `irprop-plus` variant
//! (iRprop⁺), which takes an update back only where the loss grew. Burn's `step` has no loss
//! argument, so the loop sets it in a [`LossCell`] before each step
//! ([`OptimizerConfig::init_with_loss`], [`OptimizerConfig::needs_loss`]).

// `#[derive(RecordState)]` expands to paths under the crate root.
pub use burn::optim::{RecordState, StateSink, StateSource, join_index, join_path};

mod adabelief;
mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod common;
mod error;
mod flex;
mod loss;
mod nadam;
mod rmsprop;
mod rprop;
mod sgd;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::str::FromStr;

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

pub use adabelief::{AdaBelief, AdaBeliefConfig, AdaBeliefState};
pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaState};
pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use adamw::AdamWConfig;
pub use error::OptimizerError;
pub use loss::LossCell;
pub use nadam::{NAdam, NAdamConfig, NAdamState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use rprop::{Rprop, RpropConfig, RpropState, RpropVariant};
pub use sgd::SgdConfig;

/// An optimizer and its hyperparameters (the learning rate is passed per step, as Burn does).
///
/// Serialized with the optimizer's name in the `name` field, e.g.
/// `{"name": "adabelief", "beta1": 0.9, ...}`; the other fields are the configuration's, named
/// as in [`OptimizerConfig::parameters`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum OptimizerConfig {
    /// AdaBelief (adabelief-pytorch 0.2.1).
    #[serde(rename = "adabelief")]
    AdaBelief(AdaBeliefConfig),
    /// Rprop (torch.optim.Rprop, or Rprop⁺, Rprop⁻, iRprop⁺).
    Rprop(RpropConfig),
    /// Adadelta (torch.optim.Adadelta).
    Adadelta(AdadeltaConfig),
    /// SGD with optional momentum/Nesterov (torch.optim.SGD).
    Sgd(SgdConfig),
    /// Adam / AMSGrad (torch.optim.Adam).
    Adam(AdamConfig),
    /// AdamW (torch.optim.AdamW).
    #[serde(rename = "adamw")]
    AdamW(AdamWConfig),
    /// Adagrad (torch.optim.Adagrad).
    Adagrad(AdagradConfig),
    /// RMSprop (torch.optim.RMSprop).
    #[serde(rename = "rmsprop")]
    RmsProp(RmsPropConfig),
    /// Adamax (torch.optim.Adamax).
    Adamax(AdamaxConfig),
    /// NAdam (torch.optim.NAdam).
    #[serde(rename = "nadam")]
    NAdam(NAdamConfig),
}

impl OptimizerConfig {
    /// Every optimizer name the CLI accepts; `amsgrad` is `adam` with `amsgrad = true`.
    pub const NAMES: [&'static str; 11] = [
        "adabelief",
        "rprop",
        "adadelta",
        "sgd",
        "adam",
        "amsgrad",
        "adamw",
        "adagrad",
        "rmsprop",
        "adamax",
        "nadam",
    ];

    /// The optimizer's name (`adabelief`, `rprop`, ...), as serialized; `adam` for AMSGrad.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::AdaBelief(_) => "adabelief",
            OptimizerConfig::Rprop(_) => "rprop",
            OptimizerConfig::Adadelta(_) => "adadelta",
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Adam(_) => "adam",
            OptimizerConfig::AdamW(_) => "adamw",
            OptimizerConfig::Adagrad(_) => "adagrad",
            OptimizerConfig::RmsProp(_) => "rmsprop",
            OptimizerConfig::Adamax(_) => "adamax",
            OptimizerConfig::NAdam(_) => "nadam",
        }
    }

    /// The names of the optimizer's hyperparameters: its configuration's serialized fields
    /// (the `name` tag aside), sorted; `train` flags replace `_` by `-`. Read from serde, so
    /// that they cannot drift from the configurations.
    pub fn parameters(&self) -> Vec<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k != "name")
                .collect(),
            // An internally tagged enum of plain structs always serializes to an object.
            _ => Vec::new(),
        }
    }

    /// The reference implementation's default learning rate (for SGD, which has none in
    /// torch, Keras' 0.01; for Rprop, torch's initial step size).
    pub fn default_lr(&self) -> f64 {
        match self {
            OptimizerConfig::AdaBelief(_)
            | OptimizerConfig::Adam(_)
            | OptimizerConfig::AdamW(_) => 1e-3,
            OptimizerConfig::Rprop(_)
            | OptimizerConfig::Sgd(_)
            | OptimizerConfig::Adagrad(_)
            | OptimizerConfig::RmsProp(_) => 1e-2,
            OptimizerConfig::Adamax(_) | OptimizerConfig::NAdam(_) => 2e-3,
            OptimizerConfig::Adadelta(_) => 1.0,
        }
    }

    /// Checks the hyperparameters against the reference's own range checks.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range, e.g.
    /// "rho must be in [0, 1], got 1.5".
    pub fn validate(&self) -> Result<(), OptimizerError> {
        match self {
            OptimizerConfig::AdaBelief(c) => c.validate(),
            OptimizerConfig::Rprop(c) => c.validate(),
            OptimizerConfig::Adadelta(c) => c.validate(),
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
            OptimizerConfig::AdamW(c) => c.validate(),
            OptimizerConfig::Adagrad(c) => c.validate(),
            OptimizerConfig::RmsProp(c) => c.validate(),
            OptimizerConfig::Adamax(c) => c.validate(),
            OptimizerConfig::NAdam(c) => c.validate(),
        }
    }

    /// Whether the optimizer reads the loss of each step from a [`LossCell`]: Rprop's
    /// `irprop-plus` only. Such an optimizer must be made with [`Self::init_with_loss`], and
    /// the loop must set the cell before every step (or the step panics).
    pub fn needs_loss(&self) -> bool {
        matches!(self, OptimizerConfig::Rprop(c) if c.variant.needs_loss())
    }

    /// A fresh module optimizer that reads the loss of each step from `loss` (if it
    /// [`needs_loss`](Self::needs_loss); the others ignore the cell and equal [`Self::init`]'s).
    pub fn init_with_loss(&self, loss: &LossCell) -> ModuleOptimizer {
        match self {
            OptimizerConfig::Rprop(c) => c.init_with_loss(loss),
            _ => self.init(),
        }
    }

    /// A fresh module optimizer (no state yet), as each configuration's `init`. Panics at the
    /// first step for an optimizer that [`needs_loss`](Self::needs_loss): use
    /// [`Self::init_with_loss`] for those.
    pub fn init(&self) -> ModuleOptimizer {
        match self {
            OptimizerConfig::AdaBelief(c) => c.init(),
            OptimizerConfig::Rprop(c) => c.init(),
            OptimizerConfig::Adadelta(c) => c.init(),
            OptimizerConfig::Sgd(c) => c.init(),
            OptimizerConfig::Adam(c) => c.init(),
            OptimizerConfig::AdamW(c) => c.init(),
            OptimizerConfig::Adagrad(c) => c.init(),
            OptimizerConfig::RmsProp(c) => c.init(),
            OptimizerConfig::Adamax(c) => c.init(),
            OptimizerConfig::NAdam(c) => c.init(),
        }
    }

    /// This configuration with the named hyperparameters set to the given (JSON) values, e.g.
    /// `[("rho", 0.95.into())]`. Nothing is validated beyond the value's type; call
    /// [`OptimizerConfig::validate`] on the result.
    ///
    /// # Errors
    /// [`OptimizerError::UnknownParameter`] for a name the optimizer lacks,
    /// [`OptimizerError::InvalidValue`] for a value of the wrong type.
    pub fn with_parameters<S: AsRef<str>>(
        &self,
        values: &[(S, serde_json::Value)],
    ) -> Result<Self, OptimizerError> {
        let invalid = |reason: String| OptimizerError::InvalidValue {
            optimizer: self.name(),
            reason,
        };
        // An internally tagged enum of plain structs always serializes to an object.
        let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(self) else {
            return Err(invalid("cannot represent the configuration".into()));
        };
        for (name, value) in values {
            let name = name.as_ref();
            // The serialized fields are the parameters, besides the `name` tag.
            if name == "name" || !fields.contains_key(name) {
                return Err(OptimizerError::UnknownParameter {
                    parameter: name.to_string(),
                    optimizer: self.name(),
                    parameters: self.parameters().join(", "),
                });
            }
            fields.insert(name.to_string(), value.clone());
        }
        serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| invalid(e.to_string()))
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerConfig {
    type Err = OptimizerError;

    /// The named optimizer with its reference defaults (`amsgrad`: Adam with amsgrad on).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "adabelief" => OptimizerConfig::AdaBelief(Default::default()),
            "rprop" => OptimizerConfig::Rprop(Default::default()),
            "adadelta" => OptimizerConfig::Adadelta(Default::default()),
            "sgd" => OptimizerConfig::Sgd(Default::default()),
            "adam" => OptimizerConfig::Adam(Default::default()),
            "amsgrad" => OptimizerConfig::Adam(AdamConfig {
                amsgrad: true,
                ..Default::default()
            }),
            "adamw" => OptimizerConfig::AdamW(Default::default()),
            "adagrad" => OptimizerConfig::Adagrad(Default::default()),
            "rmsprop" => OptimizerConfig::RmsProp(Default::default()),
            "adamax" => OptimizerConfig::Adamax(Default::default()),
            "nadam" => OptimizerConfig::NAdam(Default::default()),
            other => {
                return Err(OptimizerError::UnknownOptimizer {
                    name: other.to_string(),
                    expected: Self::NAMES.join(", "),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor, TensorData};

    fn grads(model: &Linear, scale: f32, device: &Device) -> GradientsParams {
        let input = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75, 0.1, 3.0], [2, 4]),
            device,
        );
        let loss = model
            .forward(input)
            .mul_scalar(scale)
            .powf_scalar(2.0)
            .sum();
        GradientsParams::from_grads(loss.backward(), model)
    }

    /// Every optimizer at its defaults, plus the settings that add optional state.
    fn every_state() -> Vec<(String, OptimizerConfig)> {
        let mut configs: Vec<(String, OptimizerConfig)> = OptimizerConfig::NAMES
            .iter()
            .map(|name| (name.to_string(), name.parse().unwrap()))
            .collect();
        let extra = [
            OptimizerConfig::Rprop(RpropConfig {
                variant: RpropVariant::RpropPlus,
                ..Default::default()
            }),
            OptimizerConfig::Rprop(RpropConfig {
                variant: RpropVariant::RpropMinus,
                ..Default::default()
            }),
            OptimizerConfig::Rprop(RpropConfig {
                variant: RpropVariant::IrpropPlus,
                ..Default::default()
            }),
            OptimizerConfig::RmsProp(RmsPropConfig {
                centered: true,
                momentum: 0.9,
                ..Default::default()
            }),
            OptimizerConfig::AdamW(AdamWConfig {
                amsgrad: true,
                ..Default::default()
            }),
            OptimizerConfig::AdaBelief(AdaBeliefConfig {
                amsgrad: true,
                rectify: false,
                ..Default::default()
            }),
            OptimizerConfig::NAdam(NAdamConfig {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..Default::default()
            }),
        ];
        configs.extend(extra.into_iter().map(|c| (format!("{c:?}"), c)));
        configs
    }

    /// Every optimizer's state survives a burnpack round trip (what a checkpoint stores): the
    /// step after restoring equals, bit for bit, the step of the optimizer that never stopped.
    /// (iRprop⁺'s E(t−1) included: the losses given make its last step revert or not
    /// depending on the one restored.)
    #[test]
    fn state_round_trips_through_burnpack() {
        let device = Device::flex().autodiff();
        for (name, config) in every_state() {
            let lr = config.default_lr() * 0.1;
            let mut model = LinearConfig::new(4, 3).init(&device);
            let loss = LossCell::new();
            let mut optimizer = config.init_with_loss(&loss);
            for (scale, value) in [(1.0, 3.0), (-0.5, 2.0), (0.25, 1.0)] {
                let g = grads(&model, scale, &device);
                loss.set(value);
                model = optimizer.step(lr, model, g);
            }
            let bytes = optimizer.into_bytes().unwrap();
            let restored_loss = LossCell::new();
            let mut restored = config
                .init_with_loss(&restored_loss)
                .from_bytes(bytes)
                .unwrap();
            loss.set(1.5);
            restored_loss.set(1.5);
            let kept = optimizer.step(lr, model.clone(), grads(&model, 0.3, &device));
            let back = restored.step(lr, model.clone(), grads(&model, 0.3, &device));
            assert_eq!(
                kept.weight.val().into_data(),
                back.weight.val().into_data(),
                "{name}"
            );
            let before: Vec<f32> = model.weight.val().try_into_vec_as().unwrap();
            let after: Vec<f32> = kept.weight.val().try_into_vec_as().unwrap();
            assert_ne!(before, after, "{name}: the step did not move the weights");
        }
    }

    #[test]
    fn names_parse_and_serialize_as_themselves() {
        for name in OptimizerConfig::NAMES {
            let config: OptimizerConfig = name.parse().unwrap();
            let json = serde_json::to_value(config).unwrap();
            let expected = if name == "amsgrad" { "adam" } else { name };
            assert_eq!(json["name"], expected);
            assert_eq!(config.name(), expected);
            assert!(config.validate().is_ok(), "{name}");
        }
        assert_eq!(
            "amsgrad".parse::<OptimizerConfig>().unwrap(),
            OptimizerConfig::Adam(AdamConfig {
                amsgrad: true,
                ..Default::default()
            })
        );
    }

    /// torch's default learning rates (torch.optim.*'s `lr=` defaults).
    #[test]
    fn default_lrs_are_torchs() {
        let lr = |name: &str| name.parse::<OptimizerConfig>().unwrap().default_lr();
        assert_eq!(lr("adagrad"), 1e-2);
        assert_eq!(lr("rmsprop"), 1e-2);
        assert_eq!(lr("adamw"), 1e-3);
        assert_eq!(lr("adamax"), 2e-3);
        assert_eq!(lr("nadam"), 2e-3);
        assert_eq!(lr("adadelta"), 1.0);
    }

    #[test]
    fn with_parameters_sets_known_and_refuses_unknown() {
        let adam: OptimizerConfig = "adam".parse().unwrap();
        let set = adam
            .with_parameters(&[("weight_decay", 0.5.into()), ("amsgrad", true.into())])
            .unwrap();
        assert_eq!(
            set,
            OptimizerConfig::Adam(AdamConfig {
                weight_decay: 0.5,
                amsgrad: true,
                ..Default::default()
            })
        );
        assert_eq!(
            adam.with_parameters(&[("rho", 0.9.into())])
                .unwrap_err()
                .to_string(),
            "rho is not a parameter of adam (its parameters: amsgrad, beta1, beta2, eps, weight_decay)"
        );
        let rprop: OptimizerConfig = "rprop".parse().unwrap();
        let plus = rprop
            .with_parameters(&[
                ("variant", "rprop-plus".into()),
                ("etas", serde_json::json!([0.4, 1.3])),
            ])
            .unwrap();
        assert_eq!(
            plus,
            OptimizerConfig::Rprop(RpropConfig {
                variant: RpropVariant::RpropPlus,
                etas: (0.4, 1.3),
                ..Default::default()
            })
        );
    }
}
