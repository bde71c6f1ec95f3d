//! Optimizer hyperparameter flags as a user gives them: accepted values reach the run's
//! config.toml, a flag the optimizer lacks and an out-of-range value are one clean error line,
//! and a resumed run refuses changed hyperparameters.

mod common;

use common::*;
use ember::config::TrainConfig;
use ember_optim::{AdamConfig, OptimizerConfig};

/// Flags of the chosen optimizer are written to config.toml; `--opt amsgrad` is Adam with
/// AMSGrad; resuming with another value of a hyperparameter is refused and names it.
#[test]
fn flags_reach_config_toml_and_resume_refuses_changes() {
    let tmp = TempDir::new("optflags");
    let run = tmp.str("run");
    let out = train(&[
        "--model",
        "mlp",
        "--opt",
        "amsgrad",
        "--weight-decay",
        "0.01",
        "--beta2",
        "0.99",
        "--epochs",
        "1",
        "--limit-train",
        "500",
        "--run-dir",
        &run,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(tmp.join("run/config.toml")).unwrap();
    let config: TrainConfig = toml::from_str(&text).unwrap();
    assert_eq!(
        config.optimizer,
        OptimizerConfig::Adam(AdamConfig {
            beta2: 0.99,
            weight_decay: 0.01,
            amsgrad: true,
            ..Default::default()
        }),
        "{text}"
    );
    assert_eq!(config.lr, 1e-3, "torch's default lr for Adam");

    let out = train(&[
        "--resume",
        "latest",
        "--run-dir",
        &run,
        "--epochs",
        "2",
        "--weight-decay",
        "0.02",
    ]);
    assert_clean_error(&out, &["--weight-decay 0.01 (checkpoint) vs 0.02"]);
    let out = train(&["--resume", "latest", "--run-dir", &run, "--opt", "adam"]);
    assert_clean_error(&out, &["--amsgrad true (checkpoint) vs false"]);
}

#[test]
fn a_flag_the_optimizer_lacks_is_refused() {
    let out = train(&["--model", "mlp", "--opt", "adam", "--rho", "0.9"]);
    assert_clean_error(
        &out,
        &[
            "--rho is not a parameter of adam (its parameters: amsgrad, beta1, beta2, eps, weight_decay)",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // The default optimizer is AdaBelief, which has no momentum.
    let out = train(&["--model", "mlp", "--momentum", "0.9"]);
    assert_clean_error(&out, &["--momentum is not a parameter of adabelief"]);
}

#[test]
fn out_of_range_values_are_refused() {
    let out = train(&["--model", "mlp", "--opt", "adadelta", "--rho", "1.5"]);
    assert_clean_error(&out, &["rho must be in [0, 1], got 1.5"]);
    assert_eq!(out.status.code(), Some(1));
    let out = train(&["--model", "mlp", "--opt", "rprop", "--etas", "1.5,1.2"]);
    assert_clean_error(&out, &["etas must satisfy 0 < eta_minus < 1 < eta_plus"]);
    let out = train(&["--model", "mlp", "--opt", "sgd", "--nesterov"]);
    assert_clean_error(&out, &["nesterov", "momentum > 0"]);
    let out = train(&["--model", "mlp", "--opt", "adagrad", "--eps", "-1"]);
    assert_clean_error(&out, &["eps must be >= 0, got -1"]);
}

/// Malformed values are clap's usage errors: exit status 2, one line.
#[test]
fn malformed_values_are_usage_errors() {
    let out = train(&["--opt", "rprop", "--etas", "0.5"]);
    assert_clean_error(&out, &["--etas", "A,B"]);
    assert_eq!(out.status.code(), Some(2));
    let out = train(&["--opt", "rprop", "--variant", "irprop"]);
    assert_clean_error(
        &out,
        &[
            "irprop",
            "irprop-minus",
            "rprop-plus",
            "rprop-minus",
            "irprop-plus",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = train(&["--opt", "adabelief", "--rectify", "maybe"]);
    assert_clean_error(&out, &["--rectify"]);
    assert_eq!(out.status.code(), Some(2));
}
