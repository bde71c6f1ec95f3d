//! An exponential moving average of a model's weights (Polyak averaging), as Keras'
//! `use_ema=True, ema_momentum=decay` keeps it: the average starts as the weights at the start
//! of training and, after every optimizer step,
//!
//! ```text
//! average ← decay · average + (1 − decay) · weights
//! ```
//!
//! (Keras 3's `BaseOptimizer._update_model_variables_moving_average`; PyTorch's
//! `AveragedModel` with `get_ema_multi_avg_fn(decay)` is the same except that it starts from
//! the weights after the first step.) Every float tensor of the module is averaged, batch
//! normalization's running mean and variance (Burn's `RunningState`) included, as PyTorch's
//! `AveragedModel(use_buffers=True)` does for Lightning's `WeightAveraging`, so that the
//! averaged weights are evaluated with statistics of the same average (Keras averages only
//! the trainable variables).
//!
//! Parameters are matched by their path in the module (`layers.0.weight`), so an average
//! loaded from a checkpoint fits a model loaded from another file.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// The averaged weights of a model `M`, kept on a device without autodiff.
#[derive(Debug, Clone)]
pub struct Ema<M> {
    /// The decay, in `[0, 1)`.
    pub decay: f64,
    /// A copy of the model holding the averages.
    pub average: M,
}

impl<M: Module> Ema<M> {
    /// An average starting at `model`'s weights.
    pub fn new(model: &M, decay: f64) -> Self {
        Self {
            decay,
            average: model.valid(),
        }
    }

    /// `average ← decay · average + (1 − decay) · model` after an optimizer step.
    pub fn update(&mut self, model: &M) {
        let current = params(&model.valid());
        self.average = self.average.clone().map(&mut Replace {
            path: Vec::new(),
            values: &current,
            decay: Some(self.decay),
        });
    }

    /// `model`'s validation copy with the averaged tensors in place of its own: what
    /// validation and the final model use.
    pub fn apply_to(&self, model: &M) -> M {
        let averages = params(&self.average);
        model.valid().map(&mut Replace {
            path: Vec::new(),
            values: &averages,
            decay: None,
        })
    }
}

/// Every float parameter of `model`, flattened, by path.
fn params<M: Module>(model: &M) -> HashMap<String, Tensor<1>> {
    let mut collect = Collect {
        path: Vec::new(),
        out: HashMap::new(),
    };
    model.visit(&mut collect);
    collect.out
}

struct Collect {
    path: Vec<String>,
    out: HashMap<String, Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        self.out.insert(self.path.join("."), value.reshape([n]));
    }
}

/// Sets each float parameter found in `values` (by path) to `decay · own + (1 − decay) · value`,
/// or to `value` without a decay.
struct Replace<'a> {
    path: Vec<String>,
    values: &'a HashMap<String, Tensor<1>>,
    decay: Option<f64>,
}

impl ModuleMapper for Replace<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(value) = self.values.get(&self.path.join(".")) else {
            return param;
        };
        let decay = self.decay;
        param.map(|own| {
            let value: Tensor<D> = value.clone().to_device(&own.device()).reshape(own.shape());
            match decay {
                Some(d) => own.mul_scalar(d).add(value.mul_scalar(1.0 - d)),
                None => value,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, TensorData};

    use super::*;

    /// Two steps of the recurrence against values computed by hand.
    #[test]
    fn follows_the_recurrence() {
        let device = Device::flex();
        let mut model = LinearConfig::new(1, 1).init(&device);
        let set = |model: burn::nn::Linear, w: f32, b: f32| {
            let mut model = model;
            model.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(vec![w], [1, 1]), &device));
            model.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![b], [1]),
                &device,
            )));
            model
        };
        model = set(model, 1.0, 0.0);
        let mut ema = Ema::new(&model, 0.9);
        model = set(model, 2.0, 1.0);
        ema.update(&model);
        model = set(model, 4.0, 1.0);
        ema.update(&model);
        // w: 0.9 (0.9·1 + 0.1·2) + 0.1·4 = 1.39; b: 0.9 (0.1·1) + 0.1·1 = 0.19.
        let averaged = ema.apply_to(&model);
        let w: Vec<f32> = averaged.weight.val().into_data().try_to_vec().unwrap();
        let b: Vec<f32> = averaged
            .bias
            .unwrap()
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!((w[0] - 1.39).abs() < 1e-6, "{w:?}");
        assert!((b[0] - 0.19).abs() < 1e-6, "{b:?}");
    }
}
