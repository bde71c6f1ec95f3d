#!/usr/bin/env python3
"""PyTorch CPU reference timings for ember's benchmarks (BENCHMARKS.md).

Times, on the CPU, the models of ember's zoo exactly as models/src/*.rs define them:

- mlp:      784-100-10, ReLU
- deep-mlp: 784-128-64-32-16-10, ReLU
- lenet:    conv 6@5x5 pad 2, ReLU, max pool 2x2; conv 16@5x5, ReLU, max pool 2x2;
            flatten 400, 120, ReLU, 84, ReLU, 10

1. One training step (forward, cross-entropy, backward, update) at batch 64 and 256, with
   torch.optim.Adam (PyTorch's own, foreach implementation) and with AdaBelief as
   adabelief-pytorch 0.2.1 defines it (the algorithm ember implements, src/optim/adabelief.rs:
   eps 1e-16 inside s_t, decoupled weight decay, RAdam rectification), written here as a
   torch.optim.Optimizer with the reference's per-parameter loop. Same batch every step, 3
   warm-up steps, median of 20 (as benches/train_step.rs).
2. One epoch of MNIST-sized random data (54,000 images of 28x28, the training split of
   `train` with --val-split 0.1) at each of --batches (default 64) with --optimizer (default
   AdaBelief): a fresh permutation, batches
   indexed from a float tensor held in memory (no DataLoader), median of 3 epochs after one
   warm-up epoch.

3. With --gemm, only torch.mm's rate on benches/gemm.rs's shapes (the machine's peak).

Usage: python torch_reference.py [--threads N] [--json OUT] [--skip-epochs | --skip-steps | --gemm]
       [--models mlp,lenet] [--epochs N] [--optimizer adam|adabelief] [--batches 64,256]
(requirements.txt; ember's side: cargo bench --bench train_step, train compare --epochs 1).
"""

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 100)
        self.fc2 = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class DeepMlp(nn.Module):
    def __init__(self):
        super().__init__()
        sizes = [784, 128, 64, 32, 16, 10]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


MODELS = {"mlp": Mlp, "deep-mlp": DeepMlp, "lenet": LeNet}


class AdaBelief(torch.optim.Optimizer):
    """AdaBelief as adabelief-pytorch 0.2.1 (AdaBelief.py) computes it with its defaults:
    betas (0.9, 0.999), eps 1e-16, weight_decay 0, weight_decouple, rectify,
    degenerated_to_sgd, no amsgrad."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            eps, lr = group["eps"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_var"] = torch.zeros_like(p)
                m, s = state["exp_avg"], state["exp_avg_var"]
                state["step"] += 1
                t = state["step"]
                bias1 = 1 - beta1**t
                bias2 = 1 - beta2**t
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                diff = g - m
                s.mul_(beta2).addcmul_(diff, diff, value=1 - beta2).add_(eps)
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * t * beta2**t / bias2
                if rho_t >= 5:
                    r = math.sqrt(
                        bias2 * (rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    ) / bias1
                    p.addcdiv_(m, s.sqrt().add_(eps), value=-lr * r)
                else:
                    p.add_(m, alpha=-lr / bias1)


def optimizer_for(name, model):
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    return AdaBelief(model.parameters(), lr=1e-3)


def train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def time_steps(model_name, opt_name, batch, warmup=3, steps=20):
    torch.manual_seed(1)
    model = MODELS[model_name]()
    opt = optimizer_for(opt_name, model)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        train_step(model, opt, x, y)
        times.append((time.perf_counter() - start) * 1e3)
    return times[0], statistics.median(times[warmup:])


def epoch_times(model_name, opt_name="adabelief", images=54_000, batch=64, epochs=3, device="cpu"):
    """Wall times of epochs + 1 epochs (the first is the warm-up) on `device`: the data held
    there as one float tensor, a fresh permutation per epoch, each batch indexed from it; on
    CUDA each epoch ends with torch.cuda.synchronize()."""
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    torch.manual_seed(1)
    model = MODELS[model_name]().to(device)
    opt = optimizer_for(opt_name, model)
    data = torch.randn(images, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (images,), device=device)
    times = []
    for _ in range(epochs + 1):
        sync()
        start = time.perf_counter()
        order = torch.randperm(images, device=device)
        for i in range(0, images, batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(data[idx]), labels[idx])
            loss.backward()
            opt.step()
        loss.item()
        sync()
        times.append(time.perf_counter() - start)
    return times


def time_epoch(model_name, opt_name="adabelief", images=54_000, batch=64, epochs=3):
    return statistics.median(epoch_times(model_name, opt_name, images, batch, epochs)[1:])


GEMM_SHAPES = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
               (64, 784, 100), (256, 784, 100), (64, 400, 120), (256, 400, 120)]


def gemm_rates(repeats=50):
    """torch.mm's rate in GFLOP/s (2·M·K·N over the median of `repeats` products after 3 warm-up
    products) for benches/gemm.rs's shapes."""
    rates = []
    for m, k, n in GEMM_SHAPES:
        lhs, rhs = torch.rand(m, k), torch.rand(k, n)
        times = []
        for _ in range(3 + repeats):
            start = time.perf_counter()
            torch.mm(lhs, rhs)
            times.append(time.perf_counter() - start)
        median = statistics.median(times[3:])
        gflops = 2 * m * k * n / median / 1e9
        print(f"gemm   {m}x{k}x{n:<6}  {median * 1e3:9.3f} ms  {gflops:7.1f} GFLOP/s")
        rates.append(dict(shape=[m, k, n], median_ms=median * 1e3, gflops=gflops))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--skip-epochs", action="store_true", help="only the step timings")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up)")
    parser.add_argument("--skip-steps", action="store_true", help="only the epoch timings")
    parser.add_argument("--gemm", action="store_true",
                        help="only the matrix-product rates of benches/gemm.rs's shapes")
    parser.add_argument("--optimizer", default="adabelief", choices=("adam", "adabelief"),
                        help="optimizer of the epoch timings")
    parser.add_argument("--batches", default="64", help="comma-separated batch sizes of the epochs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": [], "epochs": []}
    models = args.models.split(",")
    if args.gemm:
        results["gemm"] = gemm_rates()
        models, args.skip_epochs = [], True
    for model_name in models if not args.skip_steps else []:
        for batch in (64, 256):
            for opt_name in ("adam", "adabelief"):
                first, median = time_steps(model_name, opt_name, batch)
                print(
                    f"step   {model_name:8} batch {batch:3} {opt_name:9}  first {first:8.2f} ms"
                    f"  median {median:8.3f} ms  {batch / median * 1e3:9.0f} images/s"
                )
                results["steps"].append(
                    dict(model=model_name, batch=batch, optimizer=opt_name, first_ms=first, median_ms=median)
                )
    if not args.skip_epochs:
        for model_name in models:
            for batch in map(int, args.batches.split(",")):
                seconds = time_epoch(model_name, args.optimizer, batch=batch, epochs=args.epochs)
                print(
                    f"epoch  {model_name:8} batch {batch:3} {args.optimizer:9}  {seconds:8.2f} s"
                    f"  {54_000 / seconds:9.0f} images/s"
                )
                results["epochs"].append(
                    dict(model=model_name, batch=batch, optimizer=args.optimizer, seconds=seconds)
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
