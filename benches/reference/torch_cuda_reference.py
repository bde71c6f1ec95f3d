#!/usr/bin/env python3
"""PyTorch CUDA reference epochs for ember's GPU figures (BENCHMARKS.md, benches/gpu/run.sh).

The models, AdaBelief and the epoch loop are torch_reference.py's (the zoo as models/src/*.rs
defines it; AdaBelief as adabelief-pytorch 0.2.1 computes it), on the GPU. One epoch is 54,000
MNIST-sized images (the training split of `train` with --val-split 0.1) held on the GPU as one
float tensor, a fresh permutation per epoch, each batch indexed there (as ember's wgpu path
cuts batches on the device), forward, cross-entropy, backward and the optimizer step; the
epoch ends with torch.cuda.synchronize(). Reported: the first epoch (CUDA context, cuDNN
autotuning: compare with wgpu's first step) and the median of the timed epochs after it.

Usage: python torch_cuda_reference.py [--models lenet,mlp] [--batches 64,256]
       [--optimizers adabelief,adam] [--epochs 3] [--json OUT]
"""

import argparse
import json
import statistics

import torch

from torch_reference import epoch_times

IMAGES = 54_000


def time_epochs(model_name, opt_name, batch, epochs, device):
    times = epoch_times(model_name, opt_name, IMAGES, batch, epochs, device)
    return times[0], statistics.median(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet,mlp")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--optimizers", default="adabelief,adam")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after the first)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("error: PyTorch sees no CUDA device; run this on the GPU machine")
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {name}")
    results = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": name, "epochs": []}
    for model_name in args.models.split(","):
        for batch in map(int, args.batches.split(",")):
            for opt_name in args.optimizers.split(","):
                first, median = time_epochs(model_name, opt_name, batch, args.epochs, device)
                print(
                    f"epoch  {model_name:8} batch {batch:4} {opt_name:9}  first {first:7.3f} s"
                    f"  median {median:7.3f} s  {IMAGES / median:9.0f} images/s"
                )
                results["epochs"].append(
                    dict(model=model_name, batch=batch, optimizer=opt_name,
                         first_seconds=first, median_seconds=median)
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
