//! A model summary like Keras' `model.summary()`: one row per layer with its output shape and
//! parameter count, then the totals (total, trainable, non-trainable).
//!
//! - [`Summary::of`] summarizes **any** Burn module from its parameters alone: one row per
//!   module that holds parameters itself (a `Linear`, a `Conv2d`, a `BatchNorm`), named by its
//!   path in the module (`layers.0`, the record path) and typed by its struct, in declaration
//!   order. Burn has no forward hooks, so these rows have no output shape (`?`).
//! - A model that knows its layers gives the shapes too: its forward pass, written once over a
//!   [`LayerObserver`], reports each layer's output as it goes; [`Summary::traced`] runs it on a
//!   batch-1 input with a [`Recorder`]. The zoo's `Mlp` and `LeNet` do this
//!   (`ember_models::Model::summary`); the training forward pass uses the observer `()`, which
//!   does nothing and compiles away.
//!
//! Parameters are counted as Keras counts them: every element of every float tensor the module
//! holds. **Trainable** ones require gradients in training (what an optimizer updates);
//! **non-trainable** ones are frozen parameters (`Module::no_grad`) and running statistics:
//! Burn 0.22 visits a `RunningState` (batch normalization's running mean and variance) as a
//! float tensor, and `Module::num_params` counts it, so a batch normalization over `c`
//! channels has `4c` parameters, `2c` trainable, as Keras' `BatchNormalization` has.
//!
//! ```
//! use burn::nn::LinearConfig;
//! use burn::tensor::Device;
//! use ember_engine::summary::Summary;
//! let layer = LinearConfig::new(20, 10).init(&Device::flex());
//! let summary = Summary::of(&layer);
//! assert_eq!(summary.total.total(), 210);
//! assert!(summary.to_string().contains("Total params: 210"));
//! ```
//!
//! The table lives here rather than in the zoo (`ember-models`) because it serves any module a
//! user trains with the engine, and needs nothing but Burn; the zoo, which depends on the
//! engine, implements the shapes through [`LayerObserver`].

use std::collections::HashMap;
use std::fmt;
use std::ops::{Add, AddAssign};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

/// Elements of a module's float tensors, split as Keras splits them (see the module
/// documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamCount {
    /// Elements of the parameters that require gradients in training.
    pub trainable: usize,
    /// Elements of the other float tensors: frozen parameters and running statistics.
    pub non_trainable: usize,
}

impl ParamCount {
    /// Trainable plus non-trainable: what `Module::num_params` counts.
    pub fn total(&self) -> usize {
        self.trainable + self.non_trainable
    }
}

impl Add for ParamCount {
    type Output = ParamCount;

    fn add(self, other: ParamCount) -> ParamCount {
        ParamCount {
            trainable: self.trainable + other.trainable,
            non_trainable: self.non_trainable + other.non_trainable,
        }
    }
}

impl AddAssign for ParamCount {
    fn add_assign(&mut self, other: ParamCount) {
        *self = *self + other;
    }
}

/// The parameters of `module` and all its submodules.
///
/// Parameters not initialized yet (Burn initializes lazily) are initialized here, in
/// declaration order (as `ember_engine::init::seeded` and the zoo do anyway): Burn tells
/// whether a parameter trains only through its value.
pub fn count_params<M: Module>(module: &M) -> ParamCount {
    let mut counter = ByOwner::default();
    module.visit(&mut counter);
    counter
        .rows
        .iter()
        .map(|row| row.params)
        .fold(ParamCount::default(), Add::add)
}

/// One row of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer's path in the model (`layers.0`, `conv1`), or an operation's name
    /// (`flatten`); `self` for parameters the model holds directly.
    pub name: String,
    /// Its type (`Linear`, `Conv2d`, `BatchNorm`, `Flatten`).
    pub kind: String,
    /// Its output's shape without the batch axis (`[6, 28, 28]`), when known.
    pub output_shape: Option<Vec<usize>>,
    /// Its parameters.
    pub params: ParamCount,
}

/// A model's layers and parameter totals; [`fmt::Display`] writes Keras' table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The model's name (its type, or what the caller calls it).
    pub model: String,
    /// The rows, input side first.
    pub layers: Vec<Layer>,
    /// Every parameter of the model.
    pub total: ParamCount,
}

impl Summary {
    /// The summary of any module, from its parameters alone: one row per module holding
    /// parameters itself, without output shapes (see the module documentation). Initializes
    /// parameters not initialized yet, as [`count_params`] does.
    pub fn of<M: Module>(model: &M) -> Summary {
        let mut owners = ByOwner::default();
        model.visit(&mut owners);
        let total = owners
            .rows
            .iter()
            .map(|row| row.params)
            .fold(ParamCount::default(), Add::add);
        Summary {
            model: type_name::<M>(),
            layers: owners.rows,
            total,
        }
    }

    /// The summary of a model whose forward pass reports its layers: `run` is given the
    /// model's validation copy ([`Module::valid`]: dropout off, batch normalization reading
    /// its running statistics, which stay as they are), the device without autodiff its
    /// parameters are on (where to make the batch-1 input), and a [`Recorder`] to pass to
    /// the forward pass. The totals are `model`'s own, so a parameter no row reports still
    /// counts.
    pub fn traced<M: Module>(
        name: &str,
        model: &M,
        run: impl FnOnce(&M, &Device, &mut Recorder),
    ) -> Summary {
        let valid = model.valid();
        let device = valid
            .devices()
            .into_iter()
            .next()
            .unwrap_or_else(Device::flex)
            .without_autodiff();
        let mut recorder = Recorder::default();
        run(&valid, &device, &mut recorder);
        Summary {
            model: name.to_string(),
            layers: recorder.layers,
            total: count_params(model),
        }
    }
}

/// What a forward pass tells as it runs: each layer's output. `()` ignores everything, for
/// training; a [`Recorder`] keeps rows for a [`Summary`].
pub trait LayerObserver {
    /// Layer `module`, at path `name` in the model, produced `output` (`[batch, ...]`).
    fn layer<M: Module, const D: usize>(
        &mut self,
        name: impl fmt::Display,
        module: &M,
        output: &Tensor<D>,
    );

    /// An operation without parameters and without a module of its own (a reshape), named
    /// `name`, of type `kind`, produced `output`.
    fn op<const D: usize>(&mut self, name: impl fmt::Display, kind: &str, output: &Tensor<D>);

    /// Whether this observer looks at the outputs it is given (default true). A model may fuse
    /// layers whose outputs an observer that does not would never see (LeNet's convolution,
    /// ReLU and pool) and skip those reports; the values it computes are the same either way.
    fn sees_outputs(&self) -> bool {
        true
    }
}

impl LayerObserver for () {
    fn layer<M: Module, const D: usize>(&mut self, _: impl fmt::Display, _: &M, _: &Tensor<D>) {}

    fn op<const D: usize>(&mut self, _: impl fmt::Display, _: &str, _: &Tensor<D>) {}

    fn sees_outputs(&self) -> bool {
        false
    }
}

/// A [`LayerObserver`] that keeps one [`Layer`] row per report.
#[derive(Debug, Default)]
pub struct Recorder {
    /// The rows so far.
    pub layers: Vec<Layer>,
}

impl LayerObserver for Recorder {
    fn layer<M: Module, const D: usize>(
        &mut self,
        name: impl fmt::Display,
        module: &M,
        output: &Tensor<D>,
    ) {
        self.layers.push(Layer {
            name: name.to_string(),
            kind: type_name::<M>(),
            output_shape: Some(output.dims()[1..].to_vec()),
            params: count_params(module),
        });
    }

    fn op<const D: usize>(&mut self, name: impl fmt::Display, kind: &str, output: &Tensor<D>) {
        self.layers.push(Layer {
            name: name.to_string(),
            kind: kind.to_string(),
            output_shape: Some(output.dims()[1..].to_vec()),
            params: ParamCount::default(),
        });
    }
}

/// `M`'s name without its module path and generic arguments (`Linear`).
fn type_name<M>() -> String {
    let full = std::any::type_name::<M>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// One row per module that holds float tensors directly, in visiting (declaration) order.
#[derive(Default)]
struct ByOwner {
    /// The names entered so far and the type of the module each belongs to (Burn passes the
    /// *containing* struct's type with each field: `("weight", "Struct:Linear")`).
    path: Vec<(String, String)>,
    rows: Vec<Layer>,
    index: HashMap<String, usize>,
}

impl ModuleVisitor for ByOwner {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let elements = param.lazy_shape().num_elements();
        // Burn keeps whether a parameter trains apart from its value (a validation copy's
        // values never require gradients), and shows it only through the value `train`
        // restores; running statistics restore none.
        let trainable = Module::train(param.clone()).val().is_require_grad();
        // The last name is the tensor's own field; the module holding it is the path above,
        // of the type given with that field.
        let (owner, kind) = match self.path.split_last() {
            Some(((_, container), above)) => (
                above
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                container
                    .split(':')
                    .next_back()
                    .unwrap_or(container)
                    .to_string(),
            ),
            None => (String::new(), String::from("Param")),
        };
        let owner = if owner.is_empty() {
            "self".to_string()
        } else {
            owner
        };
        let i = *self.index.entry(owner.clone()).or_insert_with(|| {
            self.rows.push(Layer {
                name: owner,
                kind,
                output_shape: None,
                params: ParamCount::default(),
            });
            self.rows.len() - 1
        });
        let params = &mut self.rows[i].params;
        if trainable {
            params.trainable += elements;
        } else {
            params.non_trainable += elements;
        }
    }
}

/// `n` with a comma between groups of three digits (`61,706`), as Keras writes totals.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `(None, 6, 28, 28)`: Keras' notation, the batch axis as `None`; `?` when unknown.
fn shape_text(shape: Option<&[usize]>) -> String {
    match shape {
        Some(dims) => {
            let mut parts = vec!["None".to_string()];
            parts.extend(dims.iter().map(usize::to_string));
            format!("({})", parts.join(", "))
        }
        None => "?".to_string(),
    }
}

impl fmt::Display for Summary {
    /// Keras 2's text table: `Layer (type)`, `Output Shape`, `Param #`, then `Total params`,
    /// `Trainable params` and `Non-trainable params` with thousands separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 3]> = self
            .layers
            .iter()
            .map(|layer| {
                [
                    format!("{} ({})", layer.name, layer.kind),
                    shape_text(layer.output_shape.as_deref()),
                    thousands(layer.params.total()),
                ]
            })
            .collect();
        let header = ["Layer (type)", "Output Shape", "Param #"];
        // Keras' widths (29, 26, 10) at least, wider when a cell needs it.
        let mut widths = [28, 25, 10];
        for row in rows
            .iter()
            .chain(std::iter::once(&header.map(String::from)))
        {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let rule = widths.iter().sum::<usize>() + 7;
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 3]| {
            writeln!(
                f,
                " {:<w0$}  {:<w1$}  {:>w2$}",
                cells[0],
                cells[1],
                cells[2],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        };
        writeln!(f, "Model: \"{}\"", self.model)?;
        writeln!(f, "{}", "_".repeat(rule))?;
        line(f, header)?;
        writeln!(f, "{}", "=".repeat(rule))?;
        for row in &rows {
            line(f, [&row[0], &row[1], &row[2]])?;
        }
        writeln!(f, "{}", "=".repeat(rule))?;
        writeln!(f, "Total params: {}", thousands(self.total.total()))?;
        writeln!(f, "Trainable params: {}", thousands(self.total.trainable))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.total.non_trainable)
        )?;
        write!(f, "{}", "_".repeat(rule))
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};

    use super::*;

    #[derive(Module, Debug)]
    struct Net {
        layers: Vec<Linear>,
        scale: Param<Tensor<1>>,
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(661), "661");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(61_706), "61,706");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    /// Rows per owning module, by path and type, and frozen parameters as non-trainable.
    #[test]
    fn any_module_gets_a_row_per_layer() {
        let device = Device::flex();
        let net = Net {
            layers: vec![
                LinearConfig::new(3, 4).init(&device),
                LinearConfig::new(4, 2).init(&device).no_grad(),
            ],
            scale: Param::from_tensor(Tensor::ones([5], &device)),
        };
        let summary = Summary::of(&net);
        let rows: Vec<(&str, &str, usize, usize)> = summary
            .layers
            .iter()
            .map(|l| {
                (
                    l.name.as_str(),
                    l.kind.as_str(),
                    l.params.trainable,
                    l.params.non_trainable,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("layers.0", "Linear", 16, 0),
                ("layers.1", "Linear", 0, 10),
                ("self", "Net", 5, 0),
            ]
        );
        assert_eq!(summary.total.total(), net.num_params());
        assert_eq!(summary.model, "Net");
        let text = summary.to_string();
        assert!(text.contains("Trainable params: 21"), "{text}");
        assert!(text.contains("Non-trainable params: 10"), "{text}");
        assert!(text.contains(" layers.0 (Linear) "), "{text}");
    }
}
