//! The zoo's step for the engine's learner ([`classify`]: cross-entropy and accuracy), and one
//! optimizer step and one evaluation pass outside it (`train evaluate` with its confusion
//! matrix, the backend comparison, the benchmarks), with the same loss.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor};
use ember_datasets::{BatchSource, ImageBatch};
use ember_models::Model;

use crate::metrics::MetricSums;

/// The learner's step for the zoo: logits of `batch.images` against `batch.targets`, mean
/// cross-entropy as the loss and `accuracy` ([`ember_engine::Classification`]).
pub fn classify(model: &Model, batch: ImageBatch) -> ember_engine::StepOutput {
    ember_engine::Classification::new().output(model.forward(batch.images), batch.targets)
}

/// The loss of every model of the zoo, on `device`: mean cross-entropy between logits
/// `[batch, classes]` and class indices `[batch]` (log-softmax + negative log-likelihood, as
/// `torch.nn.CrossEntropyLoss`).
pub fn loss_fn(device: &Device) -> CrossEntropyLoss {
    CrossEntropyLossConfig::new().init(device)
}

/// Forward, backward and one update of `model` on `batch` with learning rate `lr`: the
/// learner's own step ([`ember_engine::optimize`] with [`classify`]), for the benchmarks and
/// tests that run single steps. The output's loss is the batch's mean cross-entropy before
/// the update.
pub fn train_step(
    model: Model,
    optimizer: &mut ModuleOptimizer,
    batch: &ImageBatch,
    lr: f64,
) -> (Model, ember_engine::StepOutput) {
    ember_engine::optimize(&classify, model, optimizer, batch.clone(), lr)
}

/// Loss and accuracy of `model` over the batches of `source` (in order, `batch_size` images),
/// without gradients. Returns the sums; read them with [`MetricSums::mean_loss`] and
/// [`MetricSums::accuracy`].
///
/// `model` may be on an autodiff device: evaluation runs on its validation copy
/// ([`Module::valid`]) on `device` without autodiff, where a device `source` must live.
pub fn evaluate(
    model: &Model,
    source: &BatchSource,
    batch_size: usize,
    device: &Device,
    mut on_batch: impl FnMut(&ImageBatch, &Tensor<2>),
) -> MetricSums {
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let loss = loss_fn(&device);
    let mut sums = MetricSums::default();
    // Only a device source can fail here (reading its index order), and it cannot in practice:
    // its indices are in memory.
    let Ok(batches) = source.epoch(batch_size, None, &device) else {
        return sums;
    };
    for batch in batches.iter().flatten() {
        let logits = model.forward(batch.images.clone());
        let value = loss.forward(logits.clone(), batch.targets.clone());
        on_batch(&batch, &logits);
        sums.add(value, logits, batch.targets);
    }
    sums
}
