//! The learner's callbacks and logs as a user meets them through `train`: early stopping on a
//! run that overfits, checkpoint selection, the config file, JSON console output, TensorBoard
//! files and plots.

mod common;

use burn::tensor::Device;
use common::*;
use ember::config::TrainConfig;
use ember::learner::EVAL_BATCH_SIZE;
use ember::learner::checkpoint::load_weights;
use ember::learner::step::evaluate;
use ember::metrics::read_csv;
use ember_datasets::{BatchSource, ImageBatcher};

/// A deep MLP at a high learning rate on 2,000 images overfits within a few epochs: early
/// stopping on val_loss with patience 2 ends the run before its 30 epochs, and the saved final
/// model is the best epoch's (its validation loss, recomputed from model.bpk, equals the best
/// epoch's logged val_loss).
#[test]
fn early_stopping_stops_an_overfitting_run_and_keeps_the_best_weights() {
    let tmp = TempDir::new("early-stop");
    let run = tmp.join("run");
    let out = train(&[
        "--model",
        "deep-mlp",
        "--opt",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "30",
        "--limit-train",
        "2000",
        "--batch-size",
        "32",
        "--early-stopping",
        "--monitor",
        "val_loss",
        "--patience",
        "2",
        "--restore-best-weights",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = read_csv(&run.join("metrics.csv")).unwrap();
    assert!(
        history.len() < 30,
        "did not stop early: {} epochs",
        history.len()
    );
    let best = history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .unwrap();
    // Keras: stop once `patience` epochs in a row fail to improve on the best.
    assert_eq!(history.len(), best.epoch + 2, "{history:?}");
    let text = stdout(&out);
    assert!(
        text.contains(&format!("at epoch {}", history.len())),
        "{text}"
    );
    assert!(text.contains(&format!("epoch {}", best.epoch)), "{text}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["restored_epoch"], best.epoch);
    assert!(summary["stopped_early"].is_string(), "{summary}");

    // The final weights, evaluated afresh on the validation split, give the best epoch's loss.
    let config: TrainConfig =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    let data = ember::data::load_run_data(&config).unwrap();
    let device = Device::flex();
    let model = load_weights(
        &run.join("model.bpk"),
        config.model,
        &config.regularization.model_options(),
        &device,
    )
    .unwrap();
    let val_source = BatchSource::on_host(data.val.clone(), ImageBatcher::new(data.kind));
    let val = evaluate(&model, &val_source, EVAL_BATCH_SIZE, &device, |_, _| {});
    let rel = (val.mean_loss() - best.val_loss).abs() / best.val_loss;
    assert!(
        rel < 1e-6,
        "final model val_loss {} vs best epoch {} ({})",
        val.mean_loss(),
        best.val_loss,
        best.epoch
    );
}

/// `--config run.toml` supplies the settings, flags override it, and the run's resolved
/// config.toml repeats the run when passed back as `--config`.
#[test]
fn config_file_flags_override_and_resolved_config_repeats_the_run() {
    let tmp = TempDir::new("config-file");
    let file = tmp.join("run.toml");
    std::fs::write(
        &file,
        "model = \"mlp\"\nepochs = 1\nlimit_train = 600\nseed = 7\n\n[optimizer]\nname = \"sgd\"\nmomentum = 0.9\n\n[early_stopping]\npatience = 3\n\n[logging]\ntensorboard = false\nplots = false\n",
    )
    .unwrap();
    let first = tmp.join("first");
    let out = train(&[
        "--config",
        file.to_str().unwrap(),
        "--epochs",
        "2",
        "--quiet",
        "--run-dir",
        first.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: TrainConfig =
        toml::from_str(&std::fs::read_to_string(first.join("config.toml")).unwrap()).unwrap();
    assert_eq!(config.model.name(), "mlp");
    assert_eq!(config.epochs, 2, "the flag overrides the file");
    assert_eq!(config.seed, 7);
    assert_eq!(config.lr, 0.01, "sgd's default learning rate");
    assert_eq!(config.early_stopping.as_ref().unwrap().patience, 3);
    assert!(!first.join("tensorboard").exists());

    let second = tmp.join("second");
    let out = train(&[
        "--config",
        first.join("config.toml").to_str().unwrap(),
        "--quiet",
        "--run-dir",
        second.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_csv(&second.join("metrics.csv"))
            .unwrap()
            .iter()
            .map(|m| m.val_loss)
            .collect::<Vec<_>>(),
        read_csv(&first.join("metrics.csv"))
            .unwrap()
            .iter()
            .map(|m| m.val_loss)
            .collect::<Vec<_>>()
    );

    std::fs::write(&file, "modle = \"mlp\"\n").unwrap();
    let out = train(&["--config", file.to_str().unwrap()]);
    assert_clean_error(&out, &["run.toml", "modle"]);
}

/// `--log-format json` prints one JSON object per line (epoch ends with every metric, the run
/// end with the test result); metrics.jsonl holds the same epochs; TensorBoard files exist
/// for train and validation; the end-of-run plot is drawn.
#[test]
fn json_console_jsonl_tensorboard_and_plots() {
    let tmp = TempDir::new("json-log");
    let run = tmp.join("run");
    let out = train(&[
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--limit-train",
        "600",
        "--log-format",
        "json",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let epochs: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "epoch_end")
        .collect();
    assert_eq!(epochs.len(), 2);
    let history = read_csv(&run.join("metrics.csv")).unwrap();
    assert_eq!(epochs[1]["val_loss"].as_f64().unwrap(), history[1].val_loss);
    let end = events.iter().find(|e| e["event"] == "run_end").unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(end["test_accuracy"], summary["test_accuracy"]);
    assert!(end["test_accuracy"].as_f64().unwrap() > 0.1);

    let jsonl = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["loss"].as_f64().unwrap(), history[0].loss);

    for sub in ["train", "validation"] {
        let dir = run.join("tensorboard").join(sub);
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1, "{}", dir.display());
    }
    let scalars = ember_engine::tensorboard::scalars(&run.join("tensorboard/validation")).unwrap();
    let val_loss = &scalars["epoch_loss"];
    assert_eq!(val_loss.len(), 2);
    assert_eq!(val_loss[1].1, history[1].val_loss as f32);
    for ext in ["png", "svg"] {
        let plot = run.join("plots").join(format!("curves.{ext}"));
        assert!(
            std::fs::metadata(&plot)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{}",
            plot.display()
        );
    }
}

/// Checkpoint selection keeps the top 2 epochs by val_loss (names from the template, epochs
/// 1-based) plus `last`, weights only.
#[test]
fn save_top_k_keeps_the_best_epochs() {
    let tmp = TempDir::new("top-k");
    let run = tmp.join("run");
    let out = train(&[
        "--model",
        "mlp",
        "--epochs",
        "4",
        "--limit-train",
        "600",
        "--quiet",
        "--save-top-k",
        "2",
        "--checkpoint-monitor",
        "val_loss",
        "--checkpoint-filename",
        "epoch{epoch:03}-{val_loss:.4f}",
        "--save-weights-only",
        "--save-last",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = read_csv(&run.join("metrics.csv")).unwrap();
    let mut by_loss = history.clone();
    by_loss.sort_by(|a, b| a.val_loss.total_cmp(&b.val_loss));
    let mut want: Vec<String> = by_loss[..2]
        .iter()
        .map(|m| format!("epoch{:03}-{:.4}.bpk", m.epoch, m.val_loss))
        .collect();
    want.push("last.bpk".into());
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(run.join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, want);
}

/// Bad callback settings are one-line errors naming the flag.
#[test]
fn bad_callback_flags_are_rejected() {
    let out = train(&[
        "--early-stopping",
        "--monitor",
        "val_perplexity",
        "--epochs",
        "1",
        "--limit-train",
        "200",
        "--model",
        "mlp",
    ]);
    assert_clean_error(&out, &["val_perplexity"]);
    let out = train(&["--lr-schedule", "cosine:max_update=-3"]);
    assert_clean_error(&out, &["--lr-schedule"]);
    let out = train(&[
        "--reduce-lr-on-plateau",
        "--lr-schedule",
        "exponential:gamma=0.9",
    ]);
    assert_clean_error(&out, &["--reduce-lr-on-plateau", "--lr-schedule"]);
    let out = train(&["--save-freq", "sometimes"]);
    assert_clean_error(&out, &["--save-freq"]);
}

/// On resume, settings that may change (epochs, callbacks, logging) are applied and each change
/// is printed; the resolved config.toml records them.
#[test]
fn resume_prints_changed_settings() {
    let tmp = TempDir::new("resume-changes");
    let run = tmp.join("run");
    let dir = run.to_str().unwrap();
    let out = train(&[
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--limit-train",
        "300",
        "--early-stopping",
        "--patience",
        "1",
        "--quiet",
        "--run-dir",
        dir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = train(&[
        "--resume",
        "latest",
        "--run-dir",
        dir,
        "--epochs",
        "2",
        "--patience",
        "3",
        "--no-tensorboard",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for change in [
        "early_stopping.patience: 1 -> 3",
        "epochs: 1 -> 2",
        "logging.tensorboard: true -> false",
    ] {
        assert!(text.contains(change), "{text}");
    }
    let config: TrainConfig =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    assert_eq!(config.early_stopping.unwrap().patience, 3);
    assert_eq!(read_csv(&run.join("metrics.csv")).unwrap().len(), 2);
}
