//! What the engine's integration tests share: a one-input linear model (`Line`) fitted to
//! y = 2x + 1 at 16 points (`Data`), with the MSE step.

#![allow(dead_code)] // each test binary uses a different subset

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ember_engine::data::{Batches, DataError, batch_order};
use ember_engine::{EpochSource, Regression, StepOutput};

#[derive(Module, Debug)]
pub struct Line {
    pub linear: Linear,
}

pub struct Points {
    pub x: Tensor<2>,
    pub y: Tensor<2>,
}

/// y = 2x + 1 at 16 points.
pub struct Data;

impl EpochSource for Data {
    type Batch = Points;

    fn len(&self) -> usize {
        16
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, Points>, DataError> {
        let xs: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
        let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(xs, [16, 1]), device);
        let y = Tensor::<2>::from_data(TensorData::new(ys, [16, 1]), device);
        let device = device.clone();
        Ok(Box::new(
            batch_order(16, batch_size, shuffle)
                .into_iter()
                .skip(skip)
                .map(move |rows| {
                    let k = rows.len();
                    let rows: Vec<i64> = rows.into_iter().map(|i| i as i64).collect();
                    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [k]), &device);
                    Ok(Points {
                        x: x.clone().select(0, rows.clone()),
                        y: y.clone().select(0, rows),
                    })
                }),
        ))
    }
}

pub fn device() -> Device {
    Device::flex().autodiff()
}

pub fn model() -> Line {
    ember_engine::init::seeded(1, |cpu| Line {
        linear: LinearConfig::new(1, 1).init(cpu),
    })
    .to_device(&device())
    .train()
}

pub fn step(line: &Line, batch: Points) -> StepOutput {
    Regression.output(line.linear.forward(batch.x), batch.y)
}
