//! Knowledge distillation's loss (Hinton, Vinyals and Dean 2015, "Distilling the knowledge in
//! a neural network", section 2): a student learns from a trained teacher's softened outputs
//! as well as from the labels.
//!
//! With student logits `z_s`, teacher logits `z_t` (`[batch, classes]`), the temperature `T`,
//! softmax `σ` and the weight `α` of the labels:
//!
//! ```text
//! p = σ(z_t / T)        q = σ(z_s / T)                       (soft targets, soft predictions)
//! L_student = CE(σ(z_s), y)                                   (cross-entropy at T = 1)
//! L_distill = T² · KL(p ‖ q) = T² · Σ_c p_c (log p_c − log q_c)    (mean over the batch)
//! L = α · L_student + (1 − α) · L_distill
//! ```
//!
//! The factor `T²` is the paper's: the soft term's gradients scale as `1/T²`
//! (∂L_distill/∂z_s = T·(q − p) per example), so multiplying by `T²` keeps the two terms'
//! relative contributions roughly unchanged when the temperature changes. The weighted average
//! is the form of Keras' distillation example (`alpha · student_loss + (1 − alpha) ·
//! distillation_loss`, with `KLDivergence` on the softened outputs times `T²`). A form
//! `L = a · L_student + L_distill` (the seeds' notation, weight 1 on the distillation term)
//! is `(1 + a)` times this one with `α = a / (1 + a)`: the same minimizer, the gradients
//! scaled by `1 + a`.
//!
//! The teacher's logits carry no gradient (the caller computes them from a frozen teacher in
//! evaluation mode and they are detached here).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use crate::metrics::MetricSum;
use crate::step::{Classification, StepOutput};

/// The temperature and label weight of the distillation loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distillation {
    /// `T` > 0: softens both softmaxes (1 is the plain softmax; Hinton et al. use 1 to 20).
    pub temperature: f64,
    /// `α` in [0, 1]: the weight of the cross-entropy with the labels; the distillation term
    /// gets `1 − α`.
    pub alpha: f64,
}

impl Distillation {
    /// Checks `0 < temperature` (finite) and `0 <= alpha <= 1`.
    ///
    /// # Errors
    /// A one-line message naming the flag (`--temperature`, `--alpha`) and the range.
    pub fn new(temperature: f64, alpha: f64) -> Result<Self, String> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(format!(
                "--temperature must be a positive number, got {temperature}"
            ));
        }
        if !(0.0..=1.0).contains(&alpha) {
            return Err(format!("--alpha must be in [0, 1], got {alpha}"));
        }
        Ok(Self { temperature, alpha })
    }

    /// The loss for `student` logits `[batch, classes]` (attached to the graph), `teacher`
    /// logits of the same shape (detached here) and class indices `targets` `[batch]`, with the
    /// metrics `accuracy` (the student's), `student_loss` and `distillation_loss` (the two
    /// terms before weighting).
    ///
    /// # Panics
    /// If the shapes disagree (Burn's checks).
    pub fn output(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> StepOutput {
        let t = self.temperature;
        let mut out = Classification::new().output(student.clone(), targets);
        let batch = out.batch_size;
        let log_p = log_softmax(teacher.detach().div_scalar(t), 1);
        let log_q = log_softmax(student.div_scalar(t), 1);
        let distill = log_p
            .clone()
            .exp()
            .mul(log_p.sub(log_q))
            .sum_dim(1)
            .mean()
            .reshape([1])
            .mul_scalar(t * t);
        let student_loss = out.loss.clone();
        out.metrics.push(MetricSum {
            name: "student_loss".into(),
            sum: student_loss.clone().detach().mul_scalar(batch as f64),
            count: batch,
        });
        out.metrics.push(MetricSum {
            name: "distillation_loss".into(),
            sum: distill.clone().detach().mul_scalar(batch as f64),
            count: batch,
        });
        out.loss = student_loss
            .mul_scalar(self.alpha)
            .add(distill.mul_scalar(1.0 - self.alpha));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// `σ(x / t)` of one row, in f64.
    fn softmax(row: &[f64], t: f64) -> Vec<f64> {
        let max = row.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = row.iter().map(|x| ((x - max) / t).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|x| x / s).collect()
    }

    /// Loss and gradient with respect to the student's logits against the formulas of the
    /// module documentation evaluated in f64 on the host (the gradient from the closed form
    /// `α(σ(z_s) − onehot)/B + (1 − α)·T·(q − p)/B`, independent of autodiff).
    #[test]
    fn loss_and_gradient_match_the_closed_form() {
        let device = Device::flex().autodiff();
        let zs = [
            [1.0, -0.5, 2.0, 0.0],
            [0.3, 0.2, -1.0, 1.5],
            [-2.0, 0.0, 0.5, 0.5],
        ];
        let zt = [
            [3.0, -1.0, 1.0, 0.0],
            [0.0, 0.0, -2.0, 4.0],
            [-1.0, 2.0, 0.0, 1.0],
        ];
        let labels = [2i64, 3, 1];
        for (temperature, alpha) in [(1.0, 0.5), (4.0, 0.1), (10.0, 0.0), (2.0, 1.0)] {
            let student = Tensor::<2>::from_data(
                TensorData::new(zs.concat().iter().map(|&x| x as f32).collect(), [3, 4]),
                &device,
            )
            .require_grad();
            let teacher = Tensor::<2>::from_data(
                TensorData::new(zt.concat().iter().map(|&x| x as f32).collect(), [3, 4]),
                &device,
            );
            let targets =
                Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [3]), &device);
            let out = Distillation::new(temperature, alpha).unwrap().output(
                student.clone(),
                teacher,
                targets,
            );
            let grads = out.loss.backward();
            let grad: Vec<f32> = student
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            let loss = out.loss.detach().into_scalar::<f32>() as f64;

            let (mut expected_loss, mut expected_grad) = (0.0, Vec::new());
            for i in 0..3 {
                let s1 = softmax(&zs[i], 1.0);
                let q = softmax(&zs[i], temperature);
                let p = softmax(&zt[i], temperature);
                let ce = -s1[labels[i] as usize].ln();
                let kl: f64 = (0..4).map(|c| p[c] * (p[c].ln() - q[c].ln())).sum();
                expected_loss +=
                    (alpha * ce + (1.0 - alpha) * temperature * temperature * kl) / 3.0;
                for c in 0..4 {
                    let onehot = if c == labels[i] as usize { 1.0 } else { 0.0 };
                    expected_grad.push(
                        (alpha * (s1[c] - onehot) + (1.0 - alpha) * temperature * (q[c] - p[c]))
                            / 3.0,
                    );
                }
            }
            assert!(
                (loss - expected_loss).abs() < 1e-5 * expected_loss.max(1.0),
                "T {temperature} α {alpha}: loss {loss} vs {expected_loss}"
            );
            for (g, e) in grad.iter().zip(&expected_grad) {
                assert!(
                    (*g as f64 - e).abs() < 1e-5,
                    "T {temperature} α {alpha}: gradient {grad:?} vs {expected_grad:?}"
                );
            }
        }
    }

    #[test]
    fn a_student_equal_to_its_teacher_has_no_distillation_loss() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0], [2, 3]),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0], [2]), &device);
        let out = Distillation::new(3.0, 0.0)
            .unwrap()
            .output(logits.clone(), logits, targets);
        assert!(out.loss.into_scalar::<f32>().abs() < 1e-6);
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        assert!(
            Distillation::new(0.0, 0.5)
                .unwrap_err()
                .contains("--temperature")
        );
        assert!(
            Distillation::new(f64::NAN, 0.5)
                .unwrap_err()
                .contains("--temperature")
        );
        assert!(
            Distillation::new(2.0, 1.5)
                .unwrap_err()
                .contains("--alpha must be in [0, 1]")
        );
        assert!(Distillation::new(2.0, -0.1).is_err());
    }
}
