//! ember as a library, through `examples/library.rs` (included here as a module, so the test
//! runs exactly the code a user reads): a user-defined network on data of its own, with early
//! stopping, top-k checkpoint selection, TensorBoard and CSV logs, a schedule and a callback
//! with state. A run interrupted in the middle of an epoch and resumed from its checkpoint
//! must end with the same weights and the same logs, bit for bit, as the run that was not.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/library.rs"]
mod library;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use ember_engine::checkpoint::load_weights;
use ember_engine::tensorboard::scalars;
use ember_engine::{Callback, Context, FitOutcome, FitResult};
use library::{Run, SpiralNet, train};

/// Every float parameter of a module, in visiting order.
struct Parameters(Vec<TensorData>);

impl ModuleVisitor for Parameters {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().into_data());
    }
}

fn parameters(net: &SpiralNet) -> Vec<TensorData> {
    let mut visitor = Parameters(Vec::new());
    net.visit(&mut visitor);
    visitor.0
}

/// A fresh directory under the test target's temporary directory.
fn run_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Sets the learner's stop flag after global step `at`, as a SIGINT handler would.
struct Interrupt {
    at: usize,
    flag: Arc<AtomicBool>,
}

impl<M> Callback<M> for Interrupt {
    fn name(&self) -> String {
        "interrupt".into()
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        if ctx.global_step == self.at {
            self.flag.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn finished(outcome: FitOutcome<SpiralNet>) -> FitResult<SpiralNet> {
    match outcome {
        FitOutcome::Finished(result) => *result,
        FitOutcome::Interrupted { .. } => panic!("the run was interrupted"),
    }
}

fn run(dir: &Path, resume: bool, interrupt_at: Option<usize>) -> FitOutcome<SpiralNet> {
    let flag = Arc::new(AtomicBool::new(false));
    let extra: Vec<Box<dyn Callback<SpiralNet>>> = match interrupt_at {
        Some(at) => vec![Box::new(Interrupt {
            at,
            flag: flag.clone(),
        })],
        None => Vec::new(),
    };
    train(Run {
        dir: dir.to_path_buf(),
        resume,
        extra,
        stop: Some(flag),
        verbose: false,
    })
    .unwrap()
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_resumed_mid_epoch_ends_bit_identical() {
    let whole_dir = run_dir("library-whole");
    let whole = finished(run(&whole_dir, false, None));

    // 19 steps an epoch: step 45 is the 7th of epoch 3, between two of the every-8-steps
    // checkpoints.
    let cut_dir = run_dir("library-cut");
    let FitOutcome::Interrupted {
        checkpoint,
        global_step,
        ..
    } = run(&cut_dir, false, Some(45))
    else {
        panic!("the interrupt did not stop the run");
    };
    assert_eq!(global_step, 45);
    assert!(
        checkpoint.ends_with("checkpoints/epoch-0003-step-000000045"),
        "{}",
        checkpoint.display()
    );
    let resumed = finished(run(&cut_dir, true, None));

    // The run is long enough for early stopping to end it, and it restored the best weights.
    assert!(
        whole.stopped.is_some(),
        "early stopping never stopped the run"
    );
    assert_eq!(resumed.stopped, whole.stopped);
    assert_eq!(resumed.global_step, whole.global_step);
    assert_eq!(parameters(&resumed.model), parameters(&whole.model));
    let last = &whole.history.last().unwrap().logs;
    assert!(
        last["val_accuracy"] > 0.9,
        "the spiral was not learned: {last:?}"
    );
    assert!(last.contains_key("record_epochs") && last.contains_key("val_top2_accuracy"));

    for file in ["metrics.csv", "metrics.jsonl"] {
        let a = std::fs::read(whole_dir.join(file)).unwrap();
        let b = std::fs::read(cut_dir.join(file)).unwrap();
        assert!(a == b, "{file} differs after the resume");
    }
    // The same two checkpoints selected, with the same weights.
    let models = sorted_names(&whole_dir.join("models"));
    assert_eq!(models.len(), 2, "{models:?}");
    assert_eq!(sorted_names(&cut_dir.join("models")), models);
    let device = Device::flex();
    for name in &models {
        let load = |dir: &Path| {
            let template = SpiralNet::new(0, &device);
            parameters(&load_weights(template, &dir.join("models").join(name)).unwrap())
        };
        assert_eq!(load(&whole_dir), load(&cut_dir), "{name}");
    }
    // TensorBoard: the resumed run adds event files; merged, the scalars are the same.
    for sub in ["tensorboard/train", "tensorboard/validation"] {
        let a = scalars(&whole_dir.join(sub)).unwrap();
        let b = scalars(&cut_dir.join(sub)).unwrap();
        assert!(a.contains_key("epoch_loss") || a.contains_key("epoch_accuracy"));
        assert_eq!(a, b, "{sub}");
    }
    assert!(scalars(&whole_dir.join("tensorboard/train")).unwrap()["batch_loss"].len() > 10);
}

/// A checkpoint's callback state that does not parse is refused with one line naming the
/// callback, and the checkpoint is left as it was.
#[test]
fn a_damaged_callback_state_is_a_one_line_error() {
    let dir = run_dir("library-bad-state");
    let FitOutcome::Interrupted { checkpoint, .. } = run(&dir, false, Some(10)) else {
        panic!("the interrupt did not stop the run");
    };
    let state_path = checkpoint.join("state.json");
    let text = std::fs::read_to_string(&state_path).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["callbacks"]["records"] = serde_json::json!({"count": "many"});
    // Under a matching checksum, as a callback with a bug would have written it: the state
    // itself, not the checksum, is what must be refused.
    let bytes = serde_json::to_vec_pretty(&state).unwrap();
    std::fs::write(&state_path, &bytes).unwrap();
    let sum = ember_engine::checksum::sha256_parts(&[&bytes]);
    std::fs::write(
        checkpoint.join("state.json.sha256"),
        format!("{sum}  state.json\n"),
    )
    .unwrap();
    let err = train(Run {
        dir: dir.clone(),
        resume: true,
        extra: Vec::new(),
        stop: None,
        verbose: false,
    })
    .err()
    .expect("a bad state must be refused");
    let message = err.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("records"), "{message}");
    assert!(checkpoint.join("model.bpk").is_file());
}

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/regression.rs"]
mod regression;

/// `examples/regression.rs`: the same learner fits a curve with MSE; the validation error
/// falls by an order of magnitude and the logs carry the regression metrics.
#[test]
fn the_regression_example_fits_its_curve() {
    let history = regression::fit(40, false).unwrap();
    assert_eq!(history.len(), 40);
    let (first, last) = (&history[0].logs, &history[39].logs);
    for name in ["loss", "mae", "val_loss", "val_mae", "learning_rate"] {
        assert!(last.contains_key(name), "{name} not logged: {last:?}");
    }
    assert!(
        last["val_loss"] < first["val_loss"] / 10.0,
        "val_loss {} -> {}",
        first["val_loss"],
        last["val_loss"]
    );
    // MSE ≥ MAE² (Jensen): a check that the two are what they claim to be.
    assert!(last["val_loss"] >= last["val_mae"] * last["val_mae"] * (1.0 - 1e-6));
}
