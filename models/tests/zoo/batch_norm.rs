//! Batch normalization in the zoo (`--batch-norm`): running statistics against PyTorch's
//! `nn.BatchNorm1d` formulas (momentum 0.1, eps 1e-5, unbiased running variance), used at
//! evaluation, and kept by the weights file.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use ember_models::{BatchNorm, DropoutKind, ModelKind, ModelOptions};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

/// One training batch of 4 examples with 2 features: feature 0 = [1, 2, 3, 6] (mean 3, biased
/// variance 3.5, unbiased 14/3), feature 1 = [0, 0, 4, 4] (mean 2, biased 4, unbiased 16/3).
/// PyTorch: running_mean = 0.9·0 + 0.1·mean, running_var = 0.9·1 + 0.1·(unbiased variance);
/// the output is normalized with the biased variance.
#[test]
fn running_statistics_follow_pytorch() {
    let device = Device::flex().autodiff();
    let norm = BatchNorm::new(2, &device);
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 2.0, 0.0, 3.0, 4.0, 6.0, 4.0], [4, 2]),
        &device,
    );
    let y = values(norm.forward(x));
    // (1 - 3) / sqrt(3.5 + 1e-5)
    assert!(
        (f64::from(y[0]) - (-2.0 / (3.5f64 + 1e-5).sqrt())).abs() < 1e-5,
        "{y:?}"
    );
    let mean = values(norm.running_mean.value_sync());
    let var = values(norm.running_var.value_sync());
    assert!(
        (mean[0] - 0.3).abs() < 1e-6 && (mean[1] - 0.2).abs() < 1e-6,
        "{mean:?}"
    );
    let torch = [0.9 + 0.1 * 14.0 / 3.0, 0.9 + 0.1 * 16.0 / 3.0];
    assert!(
        (f64::from(var[0]) - torch[0]).abs() < 1e-5 && (f64::from(var[1]) - torch[1]).abs() < 1e-5,
        "running variance {var:?}, PyTorch's (unbiased) {torch:?}"
    );
}

struct Count(usize);

impl ModuleVisitor for Count {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0 += param.val().shape().num_elements();
    }
}

fn parameters(kind: ModelKind, options: &ModelOptions) -> usize {
    let mut count = Count(0);
    kind.init_with(options, &Device::flex()).visit(&mut count);
    count.0
}

/// Batch norm adds a scale and a shift per normalized channel or unit (d2l's LeNet with batch
/// normalization: 6 + 16 + 120 + 84 of each), and the running mean and variance, which Burn's
/// module visitor counts as float tensors too; dropout adds none.
#[test]
fn options_add_the_expected_parameters() {
    let bn = ModelOptions {
        batch_norm: true,
        ..Default::default()
    };
    let dropout = ModelOptions {
        dropout: vec![0.5],
        dropout_kind: DropoutKind::Gaussian,
        ..Default::default()
    };
    assert_eq!(
        parameters(ModelKind::Lenet, &ModelOptions::default()),
        61_706
    );
    assert_eq!(
        parameters(ModelKind::Lenet, &bn),
        61_706 + 4 * (6 + 16 + 120 + 84)
    );
    assert_eq!(
        parameters(ModelKind::DeepMlp, &bn),
        111_514 + 4 * (128 + 64 + 32 + 16)
    );
    assert_eq!(parameters(ModelKind::Mlp, &dropout), 79_510);
}

/// Dropout rates: one for all, or one per hidden layer; anything else is refused by name.
#[test]
fn dropout_rates_are_checked() {
    let with = |dropout: Vec<f64>| ModelOptions {
        dropout,
        ..Default::default()
    };
    assert!(with(vec![0.5]).check(ModelKind::DeepMlp).is_ok());
    assert!(
        with(vec![0.1, 0.2, 0.3, 0.4])
            .check(ModelKind::DeepMlp)
            .is_ok()
    );
    let err = with(vec![0.1, 0.2]).check(ModelKind::DeepMlp).unwrap_err();
    assert!(err.contains("--dropout takes one rate or 4"), "{err}");
    let err = with(vec![1.0]).check(ModelKind::Lenet).unwrap_err();
    assert!(err.contains("--dropout must be in [0, 1)"), "{err}");
}

/// After training steps the running statistics differ from their initial 0 and 1, evaluation
/// (`valid`) uses them (its output does not depend on the rest of the batch), and they come
/// back from a weights file.
#[test]
fn running_statistics_are_used_at_evaluation_and_saved() {
    let options = ModelOptions {
        batch_norm: true,
        dropout: vec![0.5],
        ..Default::default()
    };
    let device = Device::flex().autodiff();
    let model = ModelKind::Lenet
        .init_with(&options, &Device::flex())
        .to_device(&device)
        .train();
    let plain = Tensor::<4>::random(
        [8, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &Device::flex(),
    );
    let images = Tensor::<4>::from_data(plain.to_data(), &device);
    let _ = ember_engine::noise::scope(1, || model.forward(images));
    let eval = model.valid();
    let one = values(eval.forward(plain.clone().slice(0..1)));
    let all = values(eval.forward(plain));
    // Equal up to float rounding, not bit for bit: ember's CPU kernels multiply a batch's
    // images in one GEMM whose blocking, and so whose order of additions, depends on the batch
    // size (as PyTorch's do). Batch statistics in evaluation would differ by far more.
    for (one, all) in one.iter().zip(&all[..10]) {
        assert!(
            (one - all).abs() <= 1e-5 * all.abs().max(1.0),
            "evaluation depends on the batch: {one} against {all}"
        );
    }
    let path = std::env::temp_dir().join(format!("ember-bn-{}.bpk", std::process::id()));
    ember_engine::checkpoint::save_weights(&eval, &path).unwrap();
    let loaded = ember_engine::checkpoint::load_weights(
        ModelKind::Lenet.init_with(&options, &Device::flex()),
        &path,
    )
    .unwrap();
    let x = Tensor::<4>::ones([2, 1, 28, 28], &Device::flex());
    // (Burn reads the file's tensors when first used: remove it afterwards.)
    assert_eq!(
        values(loaded.forward(x.clone())),
        values(eval.forward(x)),
        "running statistics lost in the file"
    );
    let _ = std::fs::remove_file(&path);
}
