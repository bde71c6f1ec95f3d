//! A module's float parameters and their gradients read to the host under path names, for
//! histograms and images.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// One float tensor of a module, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The parameter's path: field names joined by `/`, without enum variant names
    /// (`conv1/weight`, `layers/0/bias`), the form TensorBoard groups by its first component.
    pub path: String,
    /// The tensor's shape (Burn's layout: `Linear` weights `[d_input, d_output]`, `Conv2d`
    /// weights `[out_channels, in_channels, height, width]`).
    pub shape: Vec<usize>,
    /// Its values, row-major, as f32.
    pub values: Vec<f32>,
}

/// Every float parameter of `model` (weights, biases, batch normalization's running
/// statistics), in visiting (declaration) order. Reads each tensor off its device.
///
/// # Errors
/// A tensor whose data cannot be read as f32, naming it.
pub fn parameters<M: Module>(model: &M) -> Result<Vec<NamedTensor>, String> {
    collect(model, None)
}

/// The gradient in `grads` of each float parameter of `model` that has one (frozen parameters
/// and running statistics have none), in visiting order, under the parameter's path. Reads
/// each gradient off its device.
///
/// # Errors
/// As [`parameters`].
pub fn gradients<M: Module>(
    model: &M,
    grads: &GradientsParams,
) -> Result<Vec<NamedTensor>, String> {
    collect(model, Some(grads))
}

fn collect<M: Module>(
    model: &M,
    grads: Option<&GradientsParams>,
) -> Result<Vec<NamedTensor>, String> {
    let mut visitor = Collect {
        path: Vec::new(),
        grads,
        out: Vec::new(),
        error: None,
    };
    model.visit(&mut visitor);
    match visitor.error {
        Some(error) => Err(error),
        None => Ok(visitor.out),
    }
}

struct Collect<'a> {
    /// Entered names; `None` for an enum variant (the model's kind, not a layer).
    path: Vec<Option<String>>,
    grads: Option<&'a GradientsParams>,
    out: Vec<NamedTensor>,
    error: Option<String>,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        let layer = !container_type.starts_with("Enum:");
        self.path.push(layer.then(|| name.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let tensor = match self.grads {
            Some(grads) => match grads.get::<D>(param.id) {
                Some(grad) => grad,
                None => return,
            },
            None => param.val(),
        };
        let path = self
            .path
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join("/");
        let shape = tensor.dims().to_vec();
        match tensor.into_data().try_into_vec_as::<f32>() {
            Ok(values) => self.out.push(NamedTensor {
                path,
                shape,
                values,
            }),
            Err(e) => self.error = Some(format!("cannot read {path} as f32: {e:?}")),
        }
    }
}
