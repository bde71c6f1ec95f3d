//! The backends compute the same thing: from the same seed and initial weights, K LeNet
//! training steps on ndarray and on wgpu follow the flex run's loss trajectory.
//!
//! Tolerance: |loss_backend − loss_flex| ≤ 1e-4 · max(1, loss_flex) at every step. The
//! backends sum in different orders (SIMD widths, GPU tree reductions), so f32 rounding differs
//! from the first step and training amplifies it; measured here (2-core Xeon, lavapipe):
//! ndarray 1.0e-7 and wgpu 2.0e-7 at most over the 10 steps, so the bound has a wide margin
//! for other CPUs and GPUs.

use burn::tensor::Device;
use ember::backend::{self, BackendKind};
use ember::learner::init_model;
use ember::learner::step::{loss_fn, train_step};
use ember::optim::OptimizerConfig;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;

const STEPS: usize = 10;
const BATCH: usize = 64;
const TOLERANCE: f64 = 1e-4;

fn trajectory(device: &Device) -> Vec<f64> {
    let dir = locate(DatasetKind::Mnist, None).unwrap();
    let train = load(&dir, Split::Train).unwrap();
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let device = device.clone().autodiff();
    let optimizer_config = OptimizerConfig::AdaBelief(Default::default());
    let mut optimizer = optimizer_config.init();
    let mut model = init_model(ModelKind::Lenet, 3, &device);
    let loss = loss_fn(&device);
    let mut losses = Vec::with_capacity(STEPS);
    for i in 0..STEPS {
        let batch = batcher.batch_raw(
            &train.images[i * BATCH * 784..(i + 1) * BATCH * 784],
            &train.labels[i * BATCH..(i + 1) * BATCH],
            &device,
        );
        let (next, out) = train_step(model, &mut optimizer, &loss, &batch, 1e-3);
        model = next;
        losses.push(out.loss.into_scalar::<f64>());
    }
    losses
}

fn assert_close(name: &str, got: &[f64], reference: &[f64]) {
    let worst = got
        .iter()
        .zip(reference)
        .map(|(g, r)| (g - r).abs() / r.abs().max(1.0))
        .fold(0.0, f64::max);
    println!("{name}: max relative loss difference to flex over {STEPS} steps: {worst:.2e}");
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
        }
        Err(e)
            if std::env::var_os("EMBER_REQUIRE_WGPU").is_none()
                && std::env::var_os("CI").is_none() =>
        {
            println!("wgpu skipped: {e} (on CI, or with EMBER_REQUIRE_WGPU=1, this is an error)");
        }
        Err(e) => panic!("wgpu required but unavailable: {e}"),
    }
}
