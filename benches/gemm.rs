//! The machine's single-precision matrix-product rate on flex, for BENCHMARKS.md's FLOP/s
//! table: how far each model's step is from what the hardware does on the same GEMM library.
//!
//! `cargo bench --bench gemm [-- FILTER]`: criterion's report per `gemm/MxKxN`, then each case's
//! rate in GFLOP/s (2·M·K·N floating-point operations per product over criterion's median). The
//! square products (512 to 2048) give the peak reached with both cores (burn-flex's matmul: the
//! `gemm` crate, parallel over rayon's threads); the others are the models' own products at
//! batch 64 and 256 (LeNet's fc1, the MLP's first layer), where the size, not the hardware,
//! limits the rate. PyTorch's figure for the same products on the same machine:
//! `python benches/reference/torch_reference.py --gemm`.

#[allow(dead_code)] // This bench reports rates, not ratios to a baseline (`print_ratios`).
mod common;

use std::time::SystemTime;

use burn::tensor::{Device, Distribution, Tensor};
use criterion::BenchmarkId;

/// `[M, K, N]`: `[M, K] @ [K, N]`.
const SHAPES: [[usize; 3]; 7] = [
    [512, 512, 512],
    [1024, 1024, 1024],
    [2048, 2048, 2048],
    [64, 784, 100],
    [256, 784, 100],
    [64, 400, 120],
    [256, 400, 120],
];

fn main() {
    let start = SystemTime::now();
    let mut criterion = common::criterion();
    let device = Device::flex();
    let mut group = criterion.benchmark_group("gemm");
    for [m, k, n] in SHAPES {
        let lhs = Tensor::<2>::random([m, k], Distribution::Default, &device);
        let rhs = Tensor::<2>::random([k, n], Distribution::Default, &device);
        let id = BenchmarkId::from_parameter(format!("{m}x{k}x{n}"));
        group.bench_function(id, |b| {
            // The product is read back so that a lazy backend could not skip it.
            b.iter(|| lhs.clone().matmul(rhs.clone()).into_data())
        });
    }
    group.finish();
    criterion.final_summary();
    println!("\nrate (2·M·K·N / median):");
    for [m, k, n] in SHAPES {
        let id = format!("{m}x{k}x{n}");
        if let Some(ms) = common::median_ms("gemm", &id, start) {
            let gflops = 2.0 * (m * k * n) as f64 / (ms * 1e-3) / 1e9;
            println!("{id:>16}  {ms:9.3} ms  {gflops:7.1} GFLOP/s");
        }
    }
}
