//! Combining a committee's members from their class probabilities on the same images, and the
//! statistics that say how much the combination gains: each member's error, their mean and
//! spread, the committee's error, and how much the members' errors overlap.
//!
//! Ciresan et al. (2011, 2012) average the members' outputs, y(x) = Σ_n w_n y_n(x) with equal
//! weights; a majority vote of the predicted classes is the other common rule.

use serde::{Deserialize, Serialize};

use crate::evaluation::argmax;

/// How the members' outputs are combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum Rule {
    /// The weighted average of the members' softmax outputs; the class is its argmax.
    Average {
        /// One non-negative weight per member (equal by default); normalized to sum 1.
        weights: Vec<f64>,
    },
    /// Each member votes its argmax with its weight; ties go to the larger averaged output.
    Vote {
        /// One non-negative weight per member.
        weights: Vec<f64>,
    },
}

impl Rule {
    /// `weights` (equal when `None`) checked against `members`, as an average or a vote.
    ///
    /// # Errors
    /// A count other than `members`, a negative weight, or weights summing to 0: one line
    /// naming `--weights`.
    pub fn new(members: usize, weights: Option<&[f64]>, vote: bool) -> Result<Self, String> {
        let weights = match weights {
            None => vec![1.0 / members as f64; members],
            Some(w) if w.len() != members => {
                return Err(format!(
                    "--weights gives {} weights for {members} members; give one per member",
                    w.len()
                ));
            }
            Some(w) if w.iter().any(|&x| x.is_nan() || x < 0.0) || w.iter().sum::<f64>() <= 0.0 => {
                return Err(
                    "--weights must be non-negative numbers with a positive sum".to_string()
                );
            }
            Some(w) => {
                let sum: f64 = w.iter().sum();
                w.iter().map(|x| x / sum).collect()
            }
        };
        Ok(if vote {
            Rule::Vote { weights }
        } else {
            Rule::Average { weights }
        })
    }

    /// The normalized weights.
    pub fn weights(&self) -> &[f64] {
        match self {
            Rule::Average { weights } | Rule::Vote { weights } => weights,
        }
    }

    /// A short description for reports: "average of softmax outputs" or "majority vote",
    /// with "weighted" when the weights differ.
    pub fn describe(&self) -> String {
        let w = self.weights();
        let weighted = if w.iter().all(|&x| (x - w[0]).abs() < 1e-12) {
            ""
        } else {
            "weighted "
        };
        match self {
            Rule::Average { .. } => format!("{weighted}average of softmax outputs"),
            Rule::Vote { .. } => format!("{weighted}majority vote"),
        }
    }

    /// The committee's class for each image. `outputs[n]` holds member n's probabilities,
    /// `images × classes` row-major.
    ///
    /// # Panics
    /// If the members' outputs differ in length or there are fewer members than weights.
    pub fn predict(&self, outputs: &[Vec<f32>], classes: usize) -> Vec<usize> {
        let images = outputs[0].len() / classes;
        let weights = self.weights();
        (0..images)
            .map(|i| {
                let row = |n: usize| &outputs[n][i * classes..(i + 1) * classes];
                let mut average = vec![0.0f64; classes];
                for (n, &w) in weights.iter().enumerate() {
                    for (a, &p) in average.iter_mut().zip(row(n)) {
                        *a += w * f64::from(p);
                    }
                }
                match self {
                    Rule::Average { .. } => argmax(&average),
                    Rule::Vote { .. } => {
                        let mut votes = vec![0.0f64; classes];
                        for (n, &w) in weights.iter().enumerate() {
                            votes[argmax(row(n))] += w;
                        }
                        let best = votes.iter().cloned().fold(f64::MIN, f64::max);
                        // Among the classes with the most votes, the larger average output.
                        (0..classes)
                            .filter(|&c| votes[c] >= best - 1e-12)
                            .max_by(|&a, &b| average[a].total_cmp(&average[b]))
                            .unwrap_or(0)
                    }
                }
            })
            .collect()
    }
}

/// The committee's outcome on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Each member's test error, a fraction.
    pub member_errors: Vec<f64>,
    /// Their mean.
    pub mean_error: f64,
    /// Their sample standard deviation (n − 1; 0 for one member).
    pub std_error: f64,
    /// The combination's test error.
    pub committee_error: f64,
    /// `overlap[a][b]`: images both members a and b get wrong, over the images either gets
    /// wrong (the Jaccard index of their error sets; 1 on the diagonal). Low overlap is what
    /// makes a committee gain.
    pub overlap: Vec<Vec<f64>>,
    /// Mean of the overlaps of distinct pairs.
    pub mean_overlap: f64,
    /// Fraction of images every member gets wrong (no combination of their votes can be right
    /// on these).
    pub all_wrong: f64,
    /// Images evaluated.
    pub images: usize,
}

/// Member and committee errors from the members' predicted classes, the committee's, and the
/// labels.
pub fn outcome(member_predictions: &[Vec<usize>], committee: &[usize], labels: &[u8]) -> Outcome {
    let images = labels.len();
    let wrong: Vec<Vec<bool>> = member_predictions
        .iter()
        .map(|p| {
            p.iter()
                .zip(labels)
                .map(|(&p, &l)| p != usize::from(l))
                .collect()
        })
        .collect();
    let rate = |count: usize| count as f64 / images.max(1) as f64;
    let member_errors: Vec<f64> = wrong
        .iter()
        .map(|w| rate(w.iter().filter(|&&x| x).count()))
        .collect();
    let n = member_errors.len();
    let mean_error = member_errors.iter().sum::<f64>() / n as f64;
    let std_error = if n > 1 {
        (member_errors
            .iter()
            .map(|e| (e - mean_error).powi(2))
            .sum::<f64>()
            / (n - 1) as f64)
            .sqrt()
    } else {
        0.0
    };
    let committee_error = rate(
        committee
            .iter()
            .zip(labels)
            .filter(|&(&p, &l)| p != usize::from(l))
            .count(),
    );
    let mut overlap = vec![vec![1.0; n]; n];
    let mut pairs = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let both = (0..images).filter(|&i| wrong[a][i] && wrong[b][i]).count();
            let either = (0..images).filter(|&i| wrong[a][i] || wrong[b][i]).count();
            let j = if either == 0 {
                1.0
            } else {
                both as f64 / either as f64
            };
            overlap[a][b] = j;
            overlap[b][a] = j;
            pairs.push(j);
        }
    }
    let mean_overlap = if pairs.is_empty() {
        1.0
    } else {
        pairs.iter().sum::<f64>() / pairs.len() as f64
    };
    let all_wrong = rate((0..images).filter(|&i| wrong.iter().all(|w| w[i])).count());
    Outcome {
        member_errors,
        mean_error,
        std_error,
        committee_error,
        overlap,
        mean_overlap,
        all_wrong,
        images,
    }
}

/// Each member's predicted classes from its probabilities.
pub fn member_predictions(outputs: &[Vec<f32>], classes: usize) -> Vec<Vec<usize>> {
    outputs
        .iter()
        .map(|o| o.chunks(classes).map(argmax).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three members, four images, two classes; labels 0, 1, 0, 1.
    fn members() -> Vec<Vec<f32>> {
        vec![
            vec![0.9, 0.1, 0.4, 0.6, 0.45, 0.55, 0.3, 0.7], // wrong on image 2
            vec![0.6, 0.4, 0.55, 0.45, 0.8, 0.2, 0.2, 0.8], // wrong on image 1
            vec![0.4, 0.6, 0.1, 0.9, 0.7, 0.3, 0.45, 0.55], // wrong on image 0
        ]
    }
    const LABELS: [u8; 4] = [0, 1, 0, 1];

    #[test]
    fn the_average_corrects_errors_the_members_do_not_share() {
        let outputs = members();
        let rule = Rule::new(3, None, false).unwrap();
        let committee = rule.predict(&outputs, 2);
        // Image 0: (0.9 + 0.6 + 0.4)/3 = 0.633 for class 0; image 1: 0.35 for class 0, so 1;
        // image 2: 0.65 for class 0; image 3: 0.317 for class 0, so 1.
        assert_eq!(committee, vec![0, 1, 0, 1]);
        let result = outcome(&member_predictions(&outputs, 2), &committee, &LABELS);
        assert_eq!(result.member_errors, vec![0.25, 0.25, 0.25]);
        assert_eq!(result.committee_error, 0.0);
        assert_eq!(result.std_error, 0.0);
        // No two members share an error: every overlap between distinct members is 0.
        assert_eq!(result.mean_overlap, 0.0);
        assert_eq!(result.all_wrong, 0.0);
    }

    #[test]
    fn the_vote_and_weights_decide_as_defined() {
        let outputs = members();
        let vote = Rule::new(3, None, true).unwrap();
        assert_eq!(vote.predict(&outputs, 2), vec![0, 1, 0, 1]);
        assert_eq!(vote.describe(), "majority vote");
        // All the weight on member 3: its own predictions, errors included.
        let third = Rule::new(3, Some(&[0.0, 0.0, 2.0]), false).unwrap();
        assert_eq!(third.predict(&outputs, 2), vec![1, 1, 0, 1]);
        assert_eq!(third.weights(), &[0.0, 0.0, 1.0]);
        assert_eq!(third.describe(), "weighted average of softmax outputs");
        // A tied vote (two members, weights equal) goes to the larger average.
        let two = &outputs[..2];
        let tie = Rule::new(2, None, true).unwrap().predict(two, 2);
        // Image 1: member 1 votes 1 (0.6), member 2 votes 0 (0.55); average 0.475 vs 0.525.
        assert_eq!(tie[1], 1);
    }

    #[test]
    fn shared_errors_show_in_the_overlap() {
        let labels = [0u8, 0, 0, 0];
        let a = vec![1, 1, 0, 0];
        let b = vec![1, 0, 1, 0];
        let result = outcome(&[a.clone(), b], &a, &labels);
        // Both wrong on image 0; either wrong on images 0, 1, 2.
        assert!((result.overlap[0][1] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(result.all_wrong, 0.25);
        assert!((result.std_error - 0.0).abs() < 1e-12);
    }

    #[test]
    fn bad_weights_are_refused() {
        assert!(
            Rule::new(3, Some(&[1.0, 2.0]), false)
                .unwrap_err()
                .contains("2 weights for 3 members")
        );
        assert!(Rule::new(2, Some(&[1.0, -1.0]), false).is_err());
        assert!(Rule::new(2, Some(&[0.0, 0.0]), true).is_err());
    }
}
