//! `train summary` as a user runs it: the zoo's parameter counts and seed 004 Q1.4's dense net
//! in Keras' table, and bad `--layers` values as one clean error line.

use crate::common::*;

fn summary(args: &[&str]) -> String {
    let mut all = vec!["summary"];
    all.extend_from_slice(args);
    let out = train(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// Counts by hand: a linear layer n -> m has n·m + m parameters, a k x k convolution c -> d
/// has d·c·k² + d.
#[test]
fn zoo_models_print_their_parameter_counts() {
    let lenet = summary(&["--model", "lenet"]);
    assert_eq!(
        6 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10,
        61_706
    );
    for needle in [
        "Total params: 61,706",
        "conv1 (Conv2d)",
        "(None, 16, 5, 5)",
        "fc3 (Linear)",
    ] {
        assert!(lenet.contains(needle), "{needle} missing from\n{lenet}");
    }
    let mlp = summary(&["--model", "mlp"]);
    assert!(mlp.contains("Total params: 79,510"), "{mlp}");
    let deep = summary(&["--model", "deep-mlp"]);
    assert!(deep.contains("Total params: 111,514"), "{deep}");
    let normalized = summary(&["--model", "lenet", "--batch-norm"]);
    // 2 x (6 + 16 + 120 + 84) scales and shifts train; as many running statistics do not.
    assert!(
        normalized.contains("Trainable params: 62,158"),
        "{normalized}"
    );
    assert!(
        normalized.contains("Non-trainable params: 452"),
        "{normalized}"
    );
}

/// Seed 004 Q1.4: 20 -> five hidden layers of 10 -> 1 is 210 + 4·110 + 11 = 661.
#[test]
fn a_dense_net_from_its_widths() {
    let text = summary(&["--layers", "20,10,10,10,10,10,1"]);
    assert!(
        text.contains("Model: \"dense 20-10-10-10-10-10-1\""),
        "{text}"
    );
    assert!(text.contains("Total params: 661"), "{text}");
    assert!(text.contains("layers.5 (Linear)"), "{text}");
    assert_eq!(text.matches("(Linear)").count(), 6, "{text}");
}

#[test]
fn bad_layers_are_one_line_errors() {
    assert_clean_error(
        &train(&["summary", "--layers", "20"]),
        &["--layers", "at least two"],
    );
    assert_clean_error(
        &train(&["summary", "--layers", "20,0,1"]),
        &["--layers", "at least 1"],
    );
    assert_clean_error(
        &train(&["summary", "--layers", "20,x,1"]),
        &["--layers", "x"],
    );
    assert_clean_error(&train(&["summary"]), &["--model", "--layers"]);
    assert_clean_error(
        &train(&["summary", "--layers", "3,1", "--model", "mlp"]),
        &["--model", "--layers"],
    );
}
