//! [`TargetStopper`]: stops training at the step where a training metric's recent mean reaches
//! a [`Target`], and records where ([`TargetOutcome`]).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{from_state, to_state};
use crate::callback::{Callback, Context};
use crate::callbacks::exact_f64;
use crate::callbacks::target::{RecentMean, Target, TargetOutcome};

/// Checks a [`Target`] after every optimizer step and ends training at the first step that
/// reaches it (the epoch ends there: validation and the epoch-end callbacks run). The checked
/// value is [`RecentMean`] over `window` examples of the step's metric, read from the epoch's
/// running sums (so it waits for the device once per step). Its state (the window, the
/// examples and seconds so far, the outcome) is checkpointed, so a resumed run counts on.
///
/// The outcome is in the run's callback states under `"target"`
/// ([`TargetStopper::outcome`]); a run that ends without reaching the target records its end,
/// `reached: false`.
pub struct TargetStopper {
    target: Target,
    state: TargetState,
    started: Option<Instant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TargetState {
    recent: RecentMean,
    /// The epoch whose running sums `seen`/`seen_sum` are of.
    epoch: usize,
    /// Examples of that epoch already in the window, and the metric's sum over them.
    seen: usize,
    #[serde(with = "exact_f64")]
    seen_sum: f64,
    /// Examples of the whole run.
    examples: usize,
    /// Seconds of earlier parts of the run (before a resume).
    #[serde(with = "exact_f64")]
    seconds: f64,
    outcome: Option<TargetOutcome>,
}

impl TargetStopper {
    /// Stops at `target`, its metric averaged over `window` examples.
    pub fn new(target: Target, window: usize) -> Self {
        Self {
            target,
            state: TargetState {
                recent: RecentMean::new(window),
                epoch: 0,
                seen: 0,
                seen_sum: 0.0,
                examples: 0,
                seconds: 0.0,
                outcome: None,
            },
            started: None,
        }
    }

    /// The outcome recorded in a run's final callback states (`FitResult::callback_states`),
    /// if the run had a target.
    pub fn outcome(
        states: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Option<TargetOutcome> {
        let state: TargetState = serde_json::from_value(states.get("target")?.clone()).ok()?;
        state.outcome
    }

    fn seconds(&self) -> f64 {
        self.state.seconds + self.started.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    fn outcome_now<M>(&self, ctx: &Context<'_, M>, reached: bool) -> TargetOutcome {
        TargetOutcome {
            target: self.target.to_string(),
            reached,
            steps: ctx.global_step,
            // Between epochs (the run's end) the epoch is complete.
            epochs: if ctx.epoch_step == 0 {
                ctx.epoch as f64
            } else {
                (ctx.epoch - 1) as f64 + ctx.epoch_step as f64 / ctx.steps_per_epoch.max(1) as f64
            },
            examples: self.state.examples,
            seconds: self.seconds(),
            value: self.state.recent.mean(),
        }
    }
}

impl<M> Callback<M> for TargetStopper {
    fn name(&self) -> String {
        "target".into()
    }

    fn on_train_begin(&mut self, _ctx: &mut Context<'_, M>) -> Result<(), String> {
        self.started = Some(Instant::now());
        Ok(())
    }

    fn on_epoch_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        // The running sums restart each epoch (a resumed epoch's were restored with it).
        if self.state.epoch != ctx.epoch {
            self.state.epoch = ctx.epoch;
            self.state.seen = 0;
            self.state.seen_sum = 0.0;
        }
        Ok(())
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        if self.state.outcome.is_some() {
            return Ok(());
        }
        let logs = ctx.running_logs();
        let Some(&mean) = logs.get(&self.target.metric) else {
            let logged: Vec<&str> = logs.keys().map(String::as_str).collect();
            return Err(format!(
                "target {}: the training step logs no '{}' (it logs {}); use one of those",
                self.target,
                self.target.metric,
                logged.join(", ")
            ));
        };
        // This step's share: the epoch's running sum now, less what the window already has.
        let seen = ctx.examples();
        let sum = mean * seen as f64;
        let step_examples = seen - self.state.seen;
        let value = self
            .state
            .recent
            .push(step_examples, sum - self.state.seen_sum);
        self.state.seen = seen;
        self.state.seen_sum = sum;
        self.state.examples += step_examples;
        if self.target.reached(value) {
            let outcome = self.outcome_now(ctx, true);
            ctx.stop_training(format!(
                "target {} reached at step {} (epoch {:.2})",
                self.target, outcome.steps, outcome.epochs
            ));
            self.state.outcome = Some(outcome);
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        if self.state.outcome.is_none() {
            self.state.outcome = Some(self.outcome_now(ctx, false));
            ctx.message(format!(
                "target {} not reached in {} steps (last value {:.4})",
                self.target,
                ctx.global_step,
                self.state.recent.mean()
            ));
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        let mut state = self.state.clone();
        state.seconds = self.seconds();
        to_state(&state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.state = from_state("target", state)?;
        Ok(())
    }
}
