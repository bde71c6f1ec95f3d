//! The backends compute the same thing: from the same seed and initial weights, K LeNet
//! training steps on ndarray and on wgpu follow the flex run's loss trajectory, and a checkpoint
//! written on flex continues on wgpu as it does on flex (and one written on wgpu continues on
//! flex as it does on wgpu).
//!
//! Tolerance: |loss_backend − loss_flex| ≤ 1e-4 · max(1, loss_flex) at every step. The
//! backends sum in different orders (SIMD widths, GPU tree reductions), so f32 rounding differs
//! from the first step and training amplifies it; measured here (2-core Xeon, lavapipe):
//! ndarray 1.0e-7 and wgpu 2.0e-7 at most over the 10 steps, so the bound has a wide margin
//! for other CPUs and GPUs.

mod common;

use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use ember::backend::{self, BackendKind};
use ember::config::TrainConfig;
use ember::learner::checkpoint::{self, CheckpointState, FORMAT_VERSION};
use ember::learner::init_model;
use ember::learner::step::train_step;
use ember_datasets::{DatasetKind, ImageBatcher, MnistData, Split, load, locate};
use ember_models::{Model, ModelKind};
use ember_optim::OptimizerConfig;

const STEPS: usize = 10;
const BATCH: usize = 64;
const TOLERANCE: f64 = 1e-4;

fn mnist_train() -> MnistData {
    let dir = locate(DatasetKind::Mnist, None).unwrap();
    load(&dir, Split::Train).unwrap()
}

/// Runs steps `steps` (batches of the training split in order) and returns their losses.
fn run_steps(
    model: &mut Option<Model>,
    optimizer: &mut ModuleOptimizer,
    train: &MnistData,
    steps: std::ops::Range<usize>,
    device: &Device,
) -> Vec<f64> {
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let mut losses = Vec::with_capacity(steps.len());
    for i in steps {
        let batch = batcher.batch_raw(
            &train.images[i * BATCH * 784..(i + 1) * BATCH * 784],
            &train.labels[i * BATCH..(i + 1) * BATCH],
            device,
        );
        let current = model.take().expect("model");
        let (next, out) = train_step(current, optimizer, &batch, 1e-3);
        *model = Some(next);
        losses.push(out.loss.into_scalar::<f64>());
    }
    losses
}

fn trajectory(device: &Device) -> Vec<f64> {
    let device = device.clone().autodiff();
    let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
    let mut model = Some(init_model(ModelKind::Lenet, 3, &device));
    run_steps(
        &mut model,
        &mut optimizer,
        &mnist_train(),
        0..STEPS,
        &device,
    )
}

fn assert_close(name: &str, got: &[f64], reference: &[f64]) {
    let worst = got
        .iter()
        .zip(reference)
        .map(|(g, r)| (g - r).abs() / r.abs().max(1.0))
        .fold(0.0, f64::max);
    println!(
        "{name}: max relative loss difference to flex over {} steps: {worst:.2e}",
        got.len()
    );
    for (i, (g, r)) in got.iter().zip(reference).enumerate() {
        assert!(
            (g - r).abs() <= TOLERANCE * r.abs().max(1.0),
            "{name} step {i}: loss {g} vs flex {r}\n{got:?}\n{reference:?}"
        );
    }
}

#[test]
fn ndarray_and_wgpu_follow_flex() {
    let flex = trajectory(&Device::flex());
    assert!(
        flex[STEPS - 1] < flex[0],
        "training did not progress: {flex:?}"
    );
    let ndarray = backend::select(BackendKind::Ndarray, None).unwrap();
    assert_close("ndarray", &trajectory(&ndarray.device), &flex);

    // wgpu needs an adapter: a GPU, or lavapipe on CI (mesa-vulkan-drivers). Bounded
    // autotuning keeps the first run short on a software adapter.
    // SAFETY: this test binary holds this single test, so no other thread reads the environment.
    unsafe { std::env::set_var(backend::AUTOTUNE_ENV, "minimal") };
    match backend::select(BackendKind::Wgpu, None) {
        Ok(wgpu) => {
            println!("wgpu device: {}", wgpu.device_name);
            assert_close("wgpu", &trajectory(&wgpu.device), &flex);
            checkpoint_resumes_across("flex", &Device::flex(), "wgpu", &wgpu.device);
            checkpoint_resumes_across("wgpu", &wgpu.device, "flex", &Device::flex());
        }
        Err(e) if !common::wgpu_required() => {
            println!("wgpu skipped: {e} (on CI, or with EMBER_REQUIRE_WGPU=1, this is an error)");
        }
        Err(e) => panic!("wgpu required but unavailable: {e}"),
    }
}

/// A checkpoint written on `from` after 5 steps, loaded on `to` (weights and AdaBelief state),
/// continues with the losses `from` itself gets for steps 5-9, within the tolerance.
fn checkpoint_resumes_across(from_name: &str, from: &Device, to_name: &str, to: &Device) {
    let train = mnist_train();
    let cpu = from.clone().autodiff();
    let config = TrainConfig::new(
        ModelKind::Lenet,
        OptimizerConfig::AdaBelief(Default::default()),
    );
    let mut optimizer = config.optimizer.init();
    let mut model = Some(init_model(ModelKind::Lenet, 3, &cpu));
    run_steps(&mut model, &mut optimizer, &train, 0..5, &cpu);
    let run_dir = std::env::temp_dir().join(format!("ember-xdev-{}", std::process::id()));
    let record = checkpoint::RunRecord {
        config: config.clone(),
        data_fingerprint: String::new(),
    };
    let state = CheckpointState {
        format_version: FORMAT_VERSION,
        epoch: 0,
        global_step: 5,
        epoch_step: 5,
        partial: Default::default(),
        learning_rate: config.lr,
        callbacks: Default::default(),
        app: serde_json::to_value(record).unwrap(),
        stopped: None,
        history: Vec::new(),
    };
    let dir = ember_engine::checkpoint::save_as(
        &run_dir
            .join(checkpoint::CHECKPOINTS_DIR)
            .join(state.dir_name()),
        &state,
        model.as_ref().unwrap(),
        &optimizer,
        |_| Ok(()),
    )
    .unwrap();
    let on_cpu = run_steps(&mut model, &mut optimizer, &train, 5..STEPS, &cpu);

    let ck = checkpoint::read(&dir).unwrap();
    let device = to.clone().autodiff();
    let weights = dir.join(checkpoint::MODEL_FILE);
    let mut resumed = Some(
        checkpoint::load_weights(&weights, ModelKind::Lenet, &Default::default(), &device).unwrap(),
    );
    let mut resumed_optimizer = ember_engine::checkpoint::load_optimizer(
        ck.config.optimizer.init(),
        &ck.clone().into_engine(),
    )
    .unwrap();
    let on_device = run_steps(
        &mut resumed,
        &mut resumed_optimizer,
        &train,
        5..STEPS,
        &device,
    );
    std::fs::remove_dir_all(&run_dir).unwrap();
    assert_close(
        &format!("{from_name} checkpoint resumed on {to_name}"),
        &on_device,
        &on_cpu,
    );
}
