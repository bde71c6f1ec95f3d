//! The seeds' small problems through ember's engine (`examples/polynomial.rs`,
//! `examples/sigmoid_neuron.rs`, `examples/relu_net.rs`; docs/seed-problems.md), checked
//! against numbers worked out by hand, not by the engine.

#[allow(dead_code)] // the examples' `main`s are not called here
#[path = "../../examples/polynomial.rs"]
mod polynomial;

#[allow(dead_code)]
#[path = "../../examples/sigmoid_neuron.rs"]
mod sigmoid_neuron;

#[allow(dead_code)]
#[path = "../../examples/relu_net.rs"]
mod relu_net;

use crate::png;

/// `a` and `b` agree to within `tol` each.
fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Seed 000 Q5, worked by hand: predictions 1 − 1 + 1 + 1 = 2 and 4 + 0 + 0 + 1 = 5, errors
/// −8 and −8, loss ½(64 + 64) = 64; gradients Σ e·x1² = −8 − 32 = −40, Σ e·x2² = −8,
/// Σ e·x1·x2 = 8, Σ e = −16; torch's first momentum step is w − 0.1·g.
#[test]
fn polynomial_first_step_matches_the_seed() {
    let first = polynomial::first_step();
    assert_eq!(first.loss, 64.0);
    assert_eq!(first.gradients, [-40.0, -8.0, 8.0, -16.0]);
    // 0.2, 1.8 and 2.6 have no exact f32; one rounding of each operand and result.
    assert!(
        close(&first.weights, &[5.0, -0.2, -1.8, 2.6], 1e-6),
        "{:?}",
        first.weights
    );
    assert_eq!(first.weights[0], 5.0);
}

/// The learner takes the same first step, and its second applies torch's momentum:
/// b₂ = 0.9·g₁ + g₂, w₂ = w₁ − 0.1·b₂, with g₂ worked out from w₁ by hand.
#[test]
fn polynomial_learner_steps_follow_torch_momentum() {
    let steps = polynomial::train(2).unwrap();
    assert_eq!(steps[0].0, 64.0, "the loss logged before the first update");
    assert!(
        close(&steps[0].1, &[5.0, -0.2, -1.8, 2.6], 1e-6),
        "{:?}",
        steps[0].1
    );
    // At w₁ = (5, −0.2, −1.8, 2.6): predictions 5 − 0.2 + 1.8 + 2.6 = 9.2 and 20 + 2.6 = 22.6,
    // errors −0.8 and 9.6.
    let (e1, e2) = (-0.8f64, 9.6f64);
    assert!(
        (steps[1].0 - 0.5 * (e1 * e1 + e2 * e2)).abs() < 1e-4,
        "{}",
        steps[1].0
    );
    let g2 = [e1 + 4.0 * e2, e1, -e1, e1 + e2];
    let g1 = [-40.0, -8.0, 8.0, -16.0];
    let w1 = [5.0, -0.2, -1.8, 2.6];
    let w2: Vec<f32> = (0..4)
        .map(|i| (w1[i] - 0.1 * (0.9 * g1[i] + g2[i])) as f32)
        .collect();
    assert!(close(&steps[1].1, &w2, 1e-5), "{:?} vs {w2:?}", steps[1].1);
}

/// Seeds 002/004 Q3: autodiff through the engine's step and penalty against the hand-derived
/// gradient (y − t)·σ'(z)·x + λw, for one example and for the mean over a batch.
#[test]
fn sigmoid_neuron_gradient_matches_the_formula() {
    let (w, b, lambda) = ([0.5f32, -0.3], 0.1f32, 0.1);
    for (x, t) in [
        (vec![vec![2.0f32, 1.0]], vec![1.0f32]),
        (
            vec![vec![2.0, 1.0], vec![-1.0, 0.5], vec![0.0, -2.0]],
            vec![1.0, 0.0, 0.0],
        ),
    ] {
        let (dw, db) = sigmoid_neuron::gradient_by_autodiff(&w, b, lambda, &x, &t);
        let to64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<_>>();
        let (hw, hb) = sigmoid_neuron::gradient_by_hand(
            &to64(&w),
            f64::from(b),
            lambda,
            &x.iter().map(|r| to64(r)).collect::<Vec<_>>(),
            &to64(&t),
        );
        let hw: Vec<f32> = hw.iter().map(|&v| v as f32).collect();
        assert!(close(&dw, &hw, 1e-6), "{dw:?} vs {hw:?}");
        assert!((db - hb as f32).abs() < 1e-6, "{db} vs {hb}");
    }
    // One example by hand: z = 1 − 0.3 + 0.1 = 0.8, y = σ(0.8), δ = (y − 1)·y·(1 − y).
    let y = 1.0 / (1.0 + (-0.8f64).exp());
    let delta = (y - 1.0) * y * (1.0 - y);
    let (dw, _) = sigmoid_neuron::gradient_by_autodiff(&w, b, lambda, &[vec![2.0, 1.0]], &[1.0]);
    assert!((f64::from(dw[0]) - (2.0 * delta + 0.1 * 0.5)).abs() < 1e-6);
}

/// Trained by the learner, the neuron separates the eight points, checked on the final weights
/// without Burn: w·x + b > 0 exactly for class 1.
#[test]
fn sigmoid_neuron_separates_the_points() {
    let sigmoid_neuron::Trained { history, w, b } =
        sigmoid_neuron::train(200, 1.0, 0.01, 1).unwrap();
    assert_eq!(history.last().unwrap().logs["val_accuracy"], 1.0);
    for (p, &class) in sigmoid_neuron::POINTS.iter().zip(&sigmoid_neuron::CLASSES) {
        let z = w[0] * p[0] + w[1] * p[1] + b;
        assert_eq!(z > 0.0, class == 1.0, "{p:?}: z = {z}");
    }
}

/// Seed 003 Q4: the labels by hand, the net's 3·3 + 3 + 3·1 + 1 = 16 parameters, lr 1 with
/// momentum 1 − lr = 0 is plain SGD, and a run stops at the first step whose loss is below 0.1.
#[test]
fn relu_net_trains_until_the_target() {
    let labels = relu_net::SAMPLES.map(relu_net::label);
    assert!(
        close(&labels, &[3.7, 4.9, 3.9, 5.9, 11.0], 1e-6),
        "{labels:?}"
    );
    use burn::module::Module;
    let device = burn::tensor::Device::flex();
    assert_eq!(relu_net::net(1, &device).num_params(), 16);
    assert_eq!(relu_net::momentum_for(1.0), 0.0);

    let plain = relu_net::run(1.0, 0.0, 1, 50).unwrap();
    let seed_momentum = relu_net::run(1.0, relu_net::momentum_for(1.0), 1, 50).unwrap();
    assert_eq!(plain.losses, seed_momentum.losses);

    let run = relu_net::run(0.01, 0.0, 1, relu_net::MAX_STEPS).unwrap();
    let relu_net::Outcome::Reached(steps) = run.outcome else {
        panic!("SGD at lr 0.01 reaches 0.1 from seed 1: {:?}", run.outcome)
    };
    assert_eq!(run.losses.len(), steps);
    assert!(run.losses[steps - 1] < relu_net::TARGET_LOSS);
    assert!(
        run.losses[..steps - 1]
            .iter()
            .all(|&l| l >= relu_net::TARGET_LOSS)
    );

    // With momentum 1 − lr = 0.99 the ReLUs die and the net predicts a constant: the loss ends
    // at the labels' variance, the error of predicting their mean 29.4 / 5 = 5.88:
    // (2.18² + 0.98² + 1.98² + 0.02² + 5.12²) / 5 = 35.848 / 5.
    let momentum = relu_net::run(0.01, 0.99, 1, relu_net::MAX_STEPS).unwrap();
    let relu_net::Outcome::NotReached(loss) = momentum.outcome else {
        panic!("{:?}", momentum.outcome)
    };
    assert!((loss - 35.848 / 5.0).abs() < 1e-3, "{loss}");

    let dir = std::env::temp_dir().join(format!("ember-relu-net-{}", std::process::id()));
    let path = dir.join("loss.png");
    relu_net::plot(&[plain, run], 1, &path).unwrap();
    let image = png::read(&path);
    assert_eq!((image.width, image.height), (1200, 520));
    assert!(image.distinct_colors() > 10);
    std::fs::remove_dir_all(&dir).unwrap();
}
