use burn::tensor::{DType, Device, Distribution, TensorData};

use super::super::{Adam, AdamConfig, AdamState};
use super::*;
use crate::AdamWConfig;

/// A small tensor and a large one (34,453 elements, not a multiple of any vector width).
const SHAPES: [[usize; 2]; 2] = [[37, 29], [263, 131]];
const SHAPE: [usize; 2] = SHAPES[0];

/// Normal values with zeros, a few NaN and infinities (in gradients: `special`).
fn tensor(seed: u64, std: f64, special: bool, device: &Device) -> Tensor<2> {
    shaped(SHAPE, seed, std, special, device)
}

fn shaped(shape: [usize; 2], seed: u64, std: f64, special: bool, device: &Device) -> Tensor<2> {
    Device::seed(device, seed);
    let t = Tensor::<2>::random(shape, Distribution::Normal(0.0, std), device);
    let mut values = t.into_data().try_to_vec::<f32>().unwrap();
    if special {
        values.iter_mut().step_by(31).for_each(|v| *v = 0.0);
        values.iter_mut().step_by(97).for_each(|v| *v = f32::NAN);
        values
            .iter_mut()
            .skip(5)
            .step_by(211)
            .for_each(|v| *v = f32::INFINITY);
        values
            .iter_mut()
            .skip(7)
            .step_by(223)
            .for_each(|v| *v = f32::NEG_INFINITY);
    }
    Tensor::<2>::from_data(TensorData::new(values, shape), device)
}

fn bits(t: &Tensor<2>) -> Vec<u32> {
    let values = t.clone().into_data().try_to_vec::<f32>().unwrap();
    values.iter().map(|v| v.to_bits()).collect()
}

/// The state of step 1: zero moments.
fn first_state(param: &Tensor<2>, amsgrad: bool) -> AdamState<2> {
    AdamState {
        step: 1,
        exp_avg: param.zeros_like(),
        exp_avg_sq: param.zeros_like(),
        max_exp_avg_sq: amsgrad.then(|| param.zeros_like()),
    }
}

/// Adam and AdamW, with and without weight decay and AMSGrad, β1 on both sides of `lerp`'s
/// switch (1 − β1 = 0.1 and 0.7), over four steps whose gradients hold zeros, NaN and
/// infinities (the learning rate changes at every step, as under a schedule).
fn optimizers() -> Vec<(String, Adam)> {
    let mut all = Vec::new();
    for amsgrad in [false, true] {
        for beta1 in [0.9, 0.3] {
            for weight_decay in [0.0, 0.05] {
                let adam = AdamConfig {
                    beta1,
                    beta2: 0.99,
                    eps: 1e-6,
                    weight_decay,
                    amsgrad,
                };
                let adamw = AdamWConfig {
                    beta1,
                    beta2: 0.99,
                    eps: 1e-6,
                    weight_decay,
                    amsgrad,
                };
                all.push((format!("{adam:?}"), adam.build()));
                all.push((format!("{adamw:?}"), adamw.build()));
            }
        }
    }
    all
}

/// The backends the kernel runs on.
fn devices() -> [Device; 2] {
    #[allow(deprecated)] // ndarray is one of ember's backends.
    let ndarray = Device::ndarray();
    [Device::flex(), ndarray]
}

#[test]
fn kernel_equals_the_tensor_ops_bit_for_bit() {
    let cases = optimizers().into_iter().flat_map(|(name, adam)| {
        SHAPES.into_iter().flat_map(move |shape| {
            devices().map(|device| {
                (
                    format!("{name} {shape:?} {device:?}"),
                    adam.clone(),
                    shape,
                    device,
                )
            })
        })
    });
    for (name, adam, shape, device) in cases {
        let amsgrad = adam.config.amsgrad;
        let start = shaped(shape, 1, 1.0, false, &device);
        let (mut ours, mut theirs) = (start.clone(), start.clone());
        let mut ours_moments = first_state(&start, amsgrad);
        let mut theirs_moments = first_state(&start, amsgrad);
        for step in 1..=4 {
            let grad = shaped(shape, 10 + step as u64, 0.1, step > 1, &device);
            let lr = 0.01 * step as f64;
            ours_moments.step = step;
            theirs_moments.step = step;
            assert!(applies(&ours, &grad, &ours_moments), "{name}");
            (ours, ours_moments) =
                super::step(ours, grad.clone(), ours_moments, adam.scalars(lr, step));
            (theirs, theirs_moments) = adam.tensor_ops_step(lr, theirs, grad, theirs_moments);
            let case = format!("{name} step {step}");
            assert_eq!(bits(&ours), bits(&theirs), "param {case}");
            let (a, b) = (&ours_moments, &theirs_moments);
            assert_eq!(bits(&a.exp_avg), bits(&b.exp_avg), "exp_avg {case}");
            assert_eq!(
                bits(&a.exp_avg_sq),
                bits(&b.exp_avg_sq),
                "exp_avg_sq {case}"
            );
            let max = |m: &AdamState<2>| m.max_exp_avg_sq.as_ref().map(bits);
            assert_eq!(max(a), max(b), "max_exp_avg_sq {case}");
        }
        // The special values reached the parameters, so the comparison covered them.
        let values = ours.into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().any(|v| v.is_nan()), "{name}");
        assert!(values.iter().any(|v| v.is_finite() && *v != 0.0), "{name}");
    }
}

/// The kernel writes into buffers that only it holds: tensors the caller still holds (the
/// module's parameter, a saved copy of the state) keep their values.
#[test]
fn shared_inputs_are_not_overwritten() {
    for device in devices() {
        shared_inputs_are_not_overwritten_on(&device);
    }
}

fn shared_inputs_are_not_overwritten_on(device: &Device) {
    let adam = AdamConfig {
        amsgrad: true,
        ..Default::default()
    }
    .build();
    let param = tensor(2, 1.0, false, device);
    let grad = tensor(3, 0.1, false, device);
    let moments = AdamState {
        step: 3,
        exp_avg: tensor(4, 0.1, false, device),
        exp_avg_sq: tensor(5, 0.01, false, device).abs(),
        max_exp_avg_sq: Some(tensor(6, 0.01, false, device).abs()),
    };
    let before = [&param, &grad, &moments.exp_avg, &moments.exp_avg_sq].map(bits);
    let max_before = bits(moments.max_exp_avg_sq.as_ref().unwrap());
    let (stepped, stepped_moments) = super::step(
        param.clone(),
        grad.clone(),
        moments.clone(),
        adam.scalars(1e-3, 3),
    );
    assert_ne!(bits(&stepped), before[0]);
    assert_ne!(bits(&stepped_moments.exp_avg), before[2]);
    let after = [&param, &grad, &moments.exp_avg, &moments.exp_avg_sq].map(bits);
    assert_eq!(after, before);
    assert_eq!(bits(moments.max_exp_avg_sq.as_ref().unwrap()), max_before);
}

#[test]
fn other_dtypes_and_mixed_backends_take_the_tensor_ops() {
    let [flex, ndarray] = devices();
    let param = tensor(0, 1.0, false, &flex);
    let grad = tensor(1, 1.0, false, &flex);
    assert!(applies(&param, &grad, &first_state(&param, true)));
    let f64 = param.clone().cast(DType::F64);
    assert!(!applies(
        &f64,
        &grad.clone().cast(DType::F64),
        &first_state(&f64, true)
    ));
    let on_ndarray = grad.to_device(&ndarray);
    assert!(!applies(&param, &on_ndarray, &first_state(&param, true)));
}
