//! `train summary`: Keras' `model.summary()` for a zoo model (`--model lenet`) or a plain dense
//! ReLU network (`--layers 20,10,10,10,10,10,1`): each layer's output shape for one input and
//! its parameters, then the totals ([`ember_engine::summary`]).

use burn::tensor::Device;
use clap::Args;
use ember_models::mlp::MlpConfig;
use ember_models::{ModelKind, ModelOptions};

use crate::cli::model_parser;

/// Flags of `train summary`: exactly one of `--model` and `--layers`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("network").args(["model", "layers"]).required(true)))]
pub struct SummaryArgs {
    /// A zoo model, on one 28x28 image.
    #[arg(long, value_parser = model_parser())]
    pub model: Option<ModelKind>,
    /// A dense ReLU network on [batch, features] inputs, by all its widths, input first and
    /// output last (20,10,10,10,10,10,1: 20 inputs, five hidden layers of 10, one output).
    #[arg(long, value_name = "W,W[,W...]", value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// With --model: dropout after each hidden fully connected layer (as for training; the
    /// rows show where it goes).
    #[arg(
        long,
        value_name = "P[,P...]",
        value_delimiter = ',',
        requires = "model"
    )]
    pub dropout: Option<Vec<f64>>,
    /// With --model: batch normalization after each convolution and hidden linear layer
    /// (its running statistics count as non-trainable parameters).
    #[arg(long, requires = "model")]
    pub batch_norm: bool,
}

/// Prints the summary the flags ask for on stdout.
///
/// # Errors
/// A one-line message: widths `--layers` cannot build (fewer than two, or a 0), or a
/// `--dropout` that does not fit the model.
pub fn command(args: &SummaryArgs) -> anyhow::Result<()> {
    let device = Device::flex();
    let summary = match (args.model, &args.layers) {
        (Some(kind), _) => {
            let options = ModelOptions {
                dropout: args.dropout.clone().unwrap_or_default(),
                batch_norm: args.batch_norm,
                ..Default::default()
            };
            options.check(kind).map_err(anyhow::Error::msg)?;
            kind.init_with(&options, &device).summary(kind.name())
        }
        (None, Some(widths)) => {
            let config = MlpConfig::dense(widths, "--layers").map_err(anyhow::Error::msg)?;
            let mut summary = config.init(&device).summary();
            let names: Vec<String> = widths.iter().map(usize::to_string).collect();
            summary.model = format!("dense {}", names.join("-"));
            summary
        }
        (None, None) => unreachable!("clap requires --model or --layers"),
    };
    ember_engine::console::out(&summary.to_string());
    Ok(())
}
