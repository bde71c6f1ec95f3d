//! The zoo's summaries (`train summary`): each layer's output shape and parameters against
//! counts worked out by hand from the layer sizes (a linear layer `n -> m` has `n·m + m`, a
//! `k x k` convolution `c -> d` has `d·c·k² + d`, a batch normalization over `c` channels
//! `2c` trainable and `2c` running statistics).

use burn::module::Module;
use burn::tensor::Device;
use ember_engine::summary::{ParamCount, Summary};
use ember_models::mlp::MlpConfig;
use ember_models::{Model, ModelKind, ModelOptions};

fn linear(n: usize, m: usize) -> usize {
    n * m + m
}

/// (name, kind, shape without the batch, parameters) of each row.
fn rows(summary: &Summary) -> Vec<(String, String, Vec<usize>, usize)> {
    summary
        .layers
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                l.kind.clone(),
                l.output_shape.clone().expect("a traced summary has shapes"),
                l.params.total(),
            )
        })
        .collect()
}

/// The rows add up to the total, which is Burn's own count.
fn assert_consistent(summary: &Summary, model: &impl Module) {
    let sum: usize = summary.layers.iter().map(|l| l.params.total()).sum();
    assert_eq!(sum, summary.total.total());
    assert_eq!(summary.total.total(), model.num_params());
}

#[test]
fn lenet_has_61706_parameters_in_the_documented_shapes() {
    let model = ModelKind::Lenet.init(&Device::flex());
    let summary = model.summary("lenet");
    let expected: Vec<(&str, &str, Vec<usize>, usize)> = vec![
        ("conv1", "Conv2d", vec![6, 28, 28], 6 * 25 + 6),
        ("pool", "MaxPool2d", vec![6, 14, 14], 0),
        ("conv2", "Conv2d", vec![16, 10, 10], 16 * 6 * 25 + 16),
        ("pool", "MaxPool2d", vec![16, 5, 5], 0),
        ("flatten", "Flatten", vec![400], 0),
        ("fc1", "Linear", vec![120], linear(400, 120)),
        ("fc2", "Linear", vec![84], linear(120, 84)),
        ("fc3", "Linear", vec![10], linear(84, 10)),
    ];
    let got = rows(&summary);
    assert_eq!(got.len(), expected.len(), "{summary}");
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(
            (g.0.as_str(), g.1.as_str(), &g.2, g.3),
            (e.0, e.1, &e.2, e.3)
        );
    }
    assert_eq!(
        summary.total,
        ParamCount {
            trainable: 61_706,
            non_trainable: 0
        }
    );
    assert_consistent(&summary, &model);
    let text = summary.to_string();
    for needle in [
        "Model: \"lenet\"",
        " conv1 (Conv2d) ",
        "(None, 6, 28, 28)",
        "48,120",
        "Total params: 61,706",
        "Trainable params: 61,706",
        "Non-trainable params: 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[test]
fn the_mlps_have_their_documented_counts() {
    let device = Device::flex();
    let mlp = ModelKind::Mlp.init(&device);
    let summary = mlp.summary("mlp");
    assert_eq!(summary.total.total(), 79_510);
    assert_eq!(summary.total.total(), linear(784, 100) + linear(100, 10));
    assert_eq!(
        rows(&summary)[0],
        ("flatten".into(), "Flatten".into(), vec![784], 0)
    );
    assert_consistent(&summary, &mlp);

    let deep = ModelKind::DeepMlp.init(&device);
    let summary = deep.summary("deep-mlp");
    let widths = [784, 128, 64, 32, 16, 10];
    let by_hand: usize = widths.windows(2).map(|w| linear(w[0], w[1])).sum();
    assert_eq!(by_hand, 111_514);
    assert_eq!(summary.total.total(), by_hand);
    let shapes: Vec<Vec<usize>> = rows(&summary).into_iter().skip(1).map(|r| r.2).collect();
    assert_eq!(
        shapes,
        widths[1..].iter().map(|&w| vec![w]).collect::<Vec<_>>()
    );
    assert_consistent(&summary, &deep);
}

/// Seed 004 Q1.4: a 20 -> 5x10 -> 1 ReLU net has 20·10+10 + 4·(10·10+10) + 10·1+1 = 661.
#[test]
fn the_twenty_to_five_tens_to_one_net_has_661_parameters() {
    let config = MlpConfig::dense(&[20, 10, 10, 10, 10, 10, 1], "--layers").unwrap();
    let net = config.init(&Device::flex());
    let summary = net.summary();
    assert_eq!(summary.total.total(), 661);
    assert_eq!(
        summary.total.total(),
        linear(20, 10) + 4 * linear(10, 10) + linear(10, 1)
    );
    let got = rows(&summary);
    assert_eq!(got.len(), 6);
    assert_eq!(got[0], ("layers.0".into(), "Linear".into(), vec![10], 210));
    assert_eq!(got[5], ("layers.5".into(), "Linear".into(), vec![1], 11));
    assert_consistent(&summary, &net);
    assert!(summary.to_string().contains("Total params: 661"));
}

#[test]
fn bad_widths_are_one_line_errors() {
    let err = MlpConfig::dense(&[20], "--layers").unwrap_err();
    assert!(
        err.contains("--layers") && err.contains("at least two"),
        "{err}"
    );
    let err = MlpConfig::dense(&[20, 0, 1], "--layers").unwrap_err();
    assert!(
        err.contains("--layers") && err.contains("position 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

/// Batch normalization: gamma and beta train, the running mean and variance do not (Keras'
/// non-trainable parameters); dropout layers appear with no parameters.
#[test]
fn batch_norm_statistics_are_non_trainable() {
    let options = ModelOptions {
        batch_norm: true,
        dropout: vec![0.5],
        ..Default::default()
    };
    // On an autodiff device, where a training pass would update the running statistics.
    let model = ModelKind::Lenet.init_with(&options, &Device::flex().autodiff());
    let summary = model.summary("lenet");
    let channels = 6 + 16 + 120 + 84;
    assert_eq!(
        summary.total,
        ParamCount {
            trainable: 61_706 + 2 * channels,
            non_trainable: 2 * channels
        }
    );
    assert_consistent(&summary, &model);
    let names: Vec<String> = summary.layers.iter().map(|l| l.name.clone()).collect();
    assert_eq!(
        names,
        [
            "conv1",
            "norms.0",
            "pool",
            "conv2",
            "norms.1",
            "pool",
            "flatten",
            "fc1",
            "norms.2",
            "dropouts.0",
            "fc2",
            "norms.3",
            "dropouts.1",
            "fc3"
        ]
    );
    let norm = &summary.layers[1];
    assert_eq!(
        (
            norm.kind.as_str(),
            norm.params.trainable,
            norm.params.non_trainable
        ),
        ("BatchNorm", 12, 12)
    );
    assert_eq!(summary.layers[9].params.total(), 0);
    // The summary ran on a validation copy: the running statistics are still the initial
    // ones (a training-mode pass on the zero image would have moved the variance off 1).
    let Model::LeNet(lenet) = &model else {
        unreachable!("lenet is a LeNet")
    };
    let var: Vec<f32> = lenet.norms[2]
        .running_var
        .value()
        .into_data()
        .try_to_vec()
        .unwrap();
    assert!(var.iter().all(|&v| v == 1.0), "{var:?}");
}

/// The generic summary (any module, no shapes) finds the same layers and counts.
#[test]
fn the_generic_summary_agrees_on_counts() {
    let model = ModelKind::Lenet.init(&Device::flex());
    let generic = Summary::of(&model);
    let counts: Vec<(String, usize)> = generic
        .layers
        .iter()
        .map(|l| (l.name.clone(), l.params.total()))
        .collect();
    assert_eq!(
        counts,
        [
            ("LeNet.conv1".to_string(), 156),
            ("LeNet.conv2".into(), 2416),
            ("LeNet.fc1".into(), 48_120),
            ("LeNet.fc2".into(), 10_164),
            ("LeNet.fc3".into(), 850),
        ]
    );
    assert!(generic.layers.iter().all(|l| l.output_shape.is_none()));
    assert_eq!(generic.total.total(), 61_706);
    assert!(generic.to_string().contains(" LeNet.conv1 (Conv2d)  "));
}
