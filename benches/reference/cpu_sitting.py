#!/usr/bin/env python3
"""ember's CPU epochs against PyTorch's, in one sitting (BENCHMARKS.md, "Against PyTorch").

For each model and batch size, in turn: PyTorch's epoch (torch_reference.py's `epoch_times`:
54,000 random MNIST-sized images held in one tensor, a fresh permutation per epoch, training
only), then ember's (`train compare --epochs N --backends flex,ndarray`: 54,000 MNIST training
images through ember's data loader, `epoch_seconds` of compare.json, training only), so that
both see the same machine load. Each figure is the fastest of the timed epochs after a warm-up
epoch (PyTorch) or of the epochs (ember; its first epoch includes a two-step warm-up).

Usage: python cpu_sitting.py --train [LABEL=]target/release/train[,LABEL=OTHER_BUILD...]
       [--models lenet,mlp,deep-mlp] [--batches 64,256] [--optimizer adam] [--epochs 2]
       [--backends flex,ndarray] [--json OUT]
Several builds (e.g. `after=target/release/train,before=/tmp/train_before`, a copy of `train`
built from an earlier commit) are timed in turn after PyTorch, for before/after tables from one
sitting. Needs torch (requirements.txt) and a release build of ember's `train`.
"""

import argparse
import json
import os
import subprocess
import tempfile

import torch

from torch_reference import epoch_times


def ember_epochs(train, model, batch, optimizer, epochs, backend):
    """The wall times of ember's training epochs on `backend` (seconds)."""
    with tempfile.TemporaryDirectory() as run_dir:
        subprocess.run(
            [train, "compare", "--model", model, "--opt", optimizer, "--batch-size", str(batch),
             "--epochs", str(epochs), "--backends", backend, "--run-dir", run_dir],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(os.path.join(run_dir, "compare.json")) as f:
            report = json.load(f)
    return report["backends"][0]["outcome"]["epoch_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True,
                        help="ember's train binaries, LABEL=PATH, comma-separated")
    parser.add_argument("--models", default="lenet,mlp,deep-mlp")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "adabelief"))
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs of each")
    parser.add_argument("--backends", default="flex,ndarray", help="ember's backends")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    builds = [item.split("=", 1) if "=" in item else ["ember", item] for item in args.train.split(",")]
    columns = [f"{label}:{backend}" for label, _ in builds for backend in args.backends.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ember {args.train}")
    print(f"{'model':8} {'batch':>5} {'pytorch':>8} " + " ".join(f"{c:>14} {'/pt':>6}" for c in columns))
    rows = []
    for model in args.models.split(","):
        for batch in map(int, args.batches.split(",")):
            pytorch = min(epoch_times(model, args.optimizer, batch=batch, epochs=args.epochs)[1:])
            row = dict(model=model, batch=batch, optimizer=args.optimizer, pytorch=pytorch)
            for label, path in builds:
                for backend in args.backends.split(","):
                    epochs = ember_epochs(path, model, batch, args.optimizer, args.epochs, backend)
                    row[f"{label}:{backend}"] = min(epochs)
            rows.append(row)
            print(f"{model:8} {batch:5} {pytorch:7.2f}s " + " ".join(
                f"{row[c]:13.2f}s {row[c] / pytorch:5.2f}x" for c in columns), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, threads=torch.get_num_threads(), rows=rows), f, indent=2)


if __name__ == "__main__":
    main()
