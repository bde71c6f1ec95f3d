//! A split on the GPU stays within the adapter's limits: on wgpu the full 54,000-image MNIST
//! training split is kept on the device as bytes (42 MB, where f32 would take 169 MB, over the
//! 128 MiB that lavapipe and WebGPU's defaults allow one buffer), every batch cut from it
//! equals the host data loader's to the bit, and a device whose largest buffer is smaller than
//! a split gets host-built batches, says so in one line, and trains the same.
//!
//! wgpu needs an adapter (a GPU, or lavapipe on CI): required when `CI` or
//! `EMBER_REQUIRE_WGPU` is set, otherwise the test says it skipped.

mod common;

use ember::backend::{self, Backend, BackendKind};
use ember::config::TrainConfig;
use ember::data::load_run_data;
use ember::learner::progress::Silent;
use ember::learner::{FitOptions, FitOutcome, epoch_seed, fit};
use ember_datasets::{BatchSource, ImageBatch, ImageBatcher};
use ember_models::ModelKind;
use ember_optim::OptimizerConfig;

fn wgpu() -> Option<Backend> {
    // SAFETY: this test binary holds a single test, so no other thread reads the environment.
    unsafe { std::env::set_var(backend::AUTOTUNE_ENV, "minimal") };
    match backend::select(BackendKind::Wgpu, None) {
        Ok(b) => Some(b),
        Err(e) if !common::wgpu_required() => {
            println!("wgpu skipped: {e} (on CI, or with EMBER_REQUIRE_WGPU=1, this is an error)");
            None
        }
        Err(e) => panic!("wgpu required but unavailable: {e}"),
    }
}

fn values(batch: ImageBatch) -> (Vec<u32>, Vec<i64>) {
    let images: Vec<f32> = batch.images.into_data().try_to_vec().unwrap();
    let targets = batch
        .targets
        .into_data()
        .convert::<i64>()
        .try_to_vec()
        .unwrap();
    (images.iter().map(|v| v.to_bits()).collect(), targets)
}

fn mlp_config(limit_train: Option<usize>) -> TrainConfig {
    let mut config = TrainConfig::new(ModelKind::Mlp, OptimizerConfig::Adam(Default::default()));
    config.lr = 1e-3;
    config.epochs = 1;
    config.limit_train = limit_train;
    config.backend = BackendKind::Wgpu;
    config.logging.tensorboard = false;
    config.logging.plots = false;
    config
}

#[test]
fn full_split_on_the_device_as_bytes_and_the_host_fallback() {
    let Some(gpu) = wgpu() else { return };
    println!(
        "wgpu device: {} (largest buffer {:?} bytes)",
        gpu.device_name, gpu.max_buffer_bytes
    );
    let full = mlp_config(None);
    let data = load_run_data(&full).unwrap();
    assert_eq!(data.train.data().len(), 54_000);

    // The byte path: the whole training split is resident and each batch of a shuffled epoch
    // equals the host loader's, value for value (compared as bits).
    let on_device = data.source(&data.train, &gpu, &gpu.device);
    assert!(
        on_device.is_on_device(),
        "the split fits as bytes: {:?}",
        gpu.max_buffer_bytes
    );
    assert_eq!(data.host_fallback_notes(&gpu), Vec::<String>::new());
    let host = BatchSource::on_host(data.train.clone(), ImageBatcher::new(data.kind));
    let shuffle = Some(epoch_seed(full.seed, 1));
    let a = host.epoch(1000, shuffle, &gpu.device).unwrap();
    let b = on_device.epoch(1000, shuffle, &gpu.device).unwrap();
    let mut batches = 0;
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(values(x.unwrap()), values(y.unwrap()), "batch {batches}");
        batches += 1;
    }
    assert_eq!(batches, 54);

    // A device whose largest buffer cannot hold a split: host batches, one note, same training.
    let small = Backend {
        max_buffer_bytes: Some(1000),
        ..gpu.clone()
    };
    let config = mlp_config(Some(2000));
    let data = load_run_data(&config).unwrap();
    assert!(
        !data
            .source(&data.train, &small, &small.device)
            .is_on_device()
    );
    let notes = data.host_fallback_notes(&small);
    assert_eq!(notes.len(), 2, "training and validation: {notes:?}");
    let note = &notes[0];
    assert!(
        note.contains("training split (1800 images")
            && note.contains("1000 bytes")
            && !note.contains('\n'),
        "{note}"
    );
    let train = |backend: &Backend, name: &str| {
        let run_dir =
            std::env::temp_dir().join(format!("ember-gpu-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run_dir);
        let options = FitOptions {
            run_dir: run_dir.clone(),
            ..Default::default()
        };
        let FitOutcome::Finished(summary) =
            fit(&config, backend, &data, options, &mut Silent).unwrap()
        else {
            panic!("not finished")
        };
        std::fs::remove_dir_all(&run_dir).unwrap();
        summary
    };
    let resident = train(&gpu, "resident");
    let fallback = train(&small, "fallback");
    let (r, f) = (resident.last_epoch.unwrap(), fallback.last_epoch.unwrap());
    println!("resident: {r:?}\nhost fallback: {f:?}");
    assert_eq!(
        (r.loss, r.accuracy, r.val_loss, r.val_accuracy),
        (f.loss, f.accuracy, f.val_loss, f.val_accuracy),
        "the same batches train the same on one device"
    );
    assert_eq!(resident.test_accuracy, fallback.test_accuracy);
}
