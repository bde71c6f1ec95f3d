#!/usr/bin/env python3
"""Reference optimizer trajectories from PyTorch, for optim/tests/optim_reference.rs.

Writes optim/tests/fixtures/ (relative to the repository root):

* problems/<problem>.json: the problem's fixed data and initial parameters;
* <problem>-<optimizer>-<option set>.json: one trajectory: the ember optimizer config (exactly
  as ember's `OptimizerConfig` serializes, serde tag "name"), the learning rate, the loss at
  every step (computed before that step's update) and the parameters after the steps listed.

Everything runs in float32 on the CPU, one thread, with
`torch.use_deterministic_algorithms(True)` and the optimizers' single-tensor code path
(`foreach=False`); running it twice gives identical files.

Usage (from the repository root): `python tools/reference/generate.py [--out DIR]`.
"""

import argparse
import contextlib
import io
import json
import math
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from adabelief_pytorch import AdaBelief

SMALL_STEPS = 200  # linear regression and Rosenbrock: every step's parameters stored
MLP_STEPS = 100  # MLP: every step's loss, parameters every MLP_EVERY steps and at the end
MLP_EVERY = 10


def f32(x):
    """A float32 value as the shortest decimal that reads back to the same float32."""
    return float(str(np.float32(x)))


def flat(t):
    values = t.detach().reshape(-1).tolist()
    if not t.dtype.is_floating_point:
        return [int(v) for v in values]
    return [f32(v) for v in values]


# ---------------------------------------------------------------------------------------------
# Problems. Each has named parameters (shape, initial values), fixed data and a loss function
# written with the same operations ember's test uses.
# ---------------------------------------------------------------------------------------------


def as_dtype(tensors, dtype):
    """Floating tensors converted to `dtype` (the values are generated in float32 either way)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


def linear_problem(dtype=torch.float32):
    """y = X·w + b, 32 samples, 3 features, mean squared error, full batch."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 3, generator=g)
    true_w = torch.tensor([[1.5], [-2.0], [0.5]])
    y = x @ true_w + 0.3 + 0.1 * torch.randn(32, 1, generator=g)
    params = {
        "w": 0.5 * torch.randn(3, 1, generator=g),
        "b": 0.5 * torch.randn(1, generator=g),
    }
    params, data = as_dtype(params, dtype), as_dtype({"x": x, "y": y}, dtype)

    def loss(p, _step):
        pred = data["x"] @ p["w"] + p["b"]
        return ((pred - data["y"]) ** 2).mean()

    return params, data, loss, SMALL_STEPS, 1


def rosenbrock_problem(dtype=torch.float32):
    """f(x, y) = (1 − x)² + 100·(y − x²)², from (−1.2, 1); one parameter of shape [2]."""
    params = as_dtype({"xy": torch.tensor([-1.2, 1.0])}, dtype)

    def loss(p, _step):
        x, y = p["xy"][0:1], p["xy"][1:2]
        return ((1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2).sum()

    return params, {}, loss, SMALL_STEPS, 1


def mlp_problem(dtype=torch.float32):
    """8-16-3 MLP, tanh, cross-entropy; 4 fixed batches of 16 used in turn (step k: batch k % 4).

    Parameters are stored as `x @ w + b` weights ([in, out]), Burn's layout.
    """
    g = torch.Generator().manual_seed(3)
    batches, n = 4, 16
    x = torch.randn(batches, n, 8, generator=g)
    teacher = torch.randn(8, 3, generator=g)
    labels = (x @ teacher).argmax(dim=-1)
    params = {
        "w1": torch.randn(8, 16, generator=g) / math.sqrt(8),
        "b1": 0.1 * torch.randn(16, generator=g),
        "w2": torch.randn(16, 3, generator=g) / math.sqrt(16),
        "b2": 0.1 * torch.randn(3, generator=g),
    }
    params, data = as_dtype(params, dtype), as_dtype({"x": x, "labels": labels}, dtype)

    def loss(p, step):
        xb = data["x"][step % batches]
        hidden = torch.tanh(xb @ p["w1"] + p["b1"])
        logits = hidden @ p["w2"] + p["b2"]
        return torch.nn.functional.cross_entropy(logits, data["labels"][step % batches])

    return params, data, loss, MLP_STEPS, MLP_EVERY


PROBLEMS = {
    "linear": linear_problem,
    "rosenbrock": rosenbrock_problem,
    "mlp": mlp_problem,
}

# ---------------------------------------------------------------------------------------------
# Optimizers: ember's config fields with the reference defaults, and the reference constructor.
# ---------------------------------------------------------------------------------------------

DEFAULTS = {
    "adabelief": dict(
        beta1=0.9,
        beta2=0.999,
        eps=1e-16,
        weight_decay=0.0,
        weight_decouple=True,
        fixed_decay=False,
        amsgrad=False,
        rectify=True,
        degenerated_to_sgd=True,
    ),
    "rprop": dict(etas=[0.5, 1.2], step_sizes=[1e-6, 50.0], variant="irprop-minus"),
    "adadelta": dict(rho=0.9, eps=1e-6, weight_decay=0.0),
    "sgd": dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0),
    "adam": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False),
    "adamw": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=False),
    "adagrad": dict(lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10),
    "rmsprop": dict(alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False),
    "adamax": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
    "nadam": dict(
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
    ),
}


def make_optimizer(name, c, params, lr):
    """The reference optimizer for ember config `c` (single-tensor path where torch has one)."""
    o = torch.optim
    betas = (c.get("beta1"), c.get("beta2"))
    if name == "adabelief":
        # The constructor prints its settings; the fixtures' log stays one line per case.
        with contextlib.redirect_stdout(io.StringIO()):
            return AdaBelief(
                params,
                lr=lr,
                betas=betas,
                eps=c["eps"],
                weight_decay=c["weight_decay"],
                amsgrad=c["amsgrad"],
                weight_decouple=c["weight_decouple"],
                fixed_decay=c["fixed_decay"],
                rectify=c["rectify"],
                degenerated_to_sgd=c["degenerated_to_sgd"],
                print_change_log=False,
            )
    if name == "rprop":
        assert c["variant"] == "irprop-minus"
        return o.Rprop(
            params, lr=lr, etas=tuple(c["etas"]), step_sizes=tuple(c["step_sizes"]), foreach=False
        )
    if name == "adadelta":
        return o.Adadelta(
            params, lr=lr, rho=c["rho"], eps=c["eps"], weight_decay=c["weight_decay"], foreach=False
        )
    if name == "sgd":
        return o.SGD(params, lr=lr, foreach=False, **c)
    if name in ("adam", "adamw"):
        cls = o.Adam if name == "adam" else o.AdamW
        return cls(
            params,
            lr=lr,
            betas=betas,
            eps=c["eps"],
            weight_decay=c["weight_decay"],
            amsgrad=c["amsgrad"],
            foreach=False,
        )
    if name == "adagrad":
        return o.Adagrad(params, lr=lr, foreach=False, **c)
    if name == "rmsprop":
        return o.RMSprop(params, lr=lr, foreach=False, **c)
    if name == "adamax":
        return o.Adamax(
            params, lr=lr, betas=betas, eps=c["eps"], weight_decay=c["weight_decay"], foreach=False
        )
    if name == "nadam":
        return o.NAdam(
            params,
            lr=lr,
            betas=betas,
            eps=c["eps"],
            weight_decay=c["weight_decay"],
            momentum_decay=c["momentum_decay"],
            decoupled_weight_decay=c["decoupled_weight_decay"],
            foreach=False,
        )
    raise ValueError(name)


# (optimizer, option-set label, overrides of the defaults, lr per problem)
LR_ADAPTIVE = {"linear": 0.05, "rosenbrock": 0.01, "mlp": 0.01}
# Rectified AdaBelief takes SGD-with-momentum steps for its first five steps: on Rosenbrock
# (gradient ~200 at the start) that needs an SGD-sized learning rate.
LR_RECTIFY = {"linear": 0.05, "rosenbrock": 5e-4, "mlp": 0.01}
CASES = [
    ("adabelief", "default", {}, LR_RECTIFY),
    ("adabelief", "eps1e-8-norectify", dict(eps=1e-8, rectify=False), LR_ADAPTIVE),
    (
        "adabelief",
        "amsgrad-l2",
        dict(amsgrad=True, rectify=False, weight_decay=1e-2, weight_decouple=False),
        LR_ADAPTIVE,
    ),
    (
        "adabelief",
        "fixed-decay-nosgd",
        dict(beta1=0.8, beta2=0.99, weight_decay=1e-2, fixed_decay=True, degenerated_to_sgd=False),
        LR_RECTIFY,
    ),
    (
        "adabelief",
        "amsgrad-rectify-decoupled",
        dict(amsgrad=True, weight_decay=0.1, eps=1e-12),
        LR_RECTIFY,
    ),
    ("rprop", "default", {}, {"linear": 0.01, "rosenbrock": 1e-3, "mlp": 1e-3}),
    (
        "rprop",
        "etas-steps",
        dict(etas=[0.3, 1.5], step_sizes=[1e-5, 1.0]),
        {"linear": 0.01, "rosenbrock": 1e-3, "mlp": 1e-3},
    ),
    (
        "rprop",
        "tight-bounds",
        dict(etas=[0.6, 1.1], step_sizes=[1e-4, 0.05]),
        {"linear": 0.02, "rosenbrock": 1e-2, "mlp": 1e-2},
    ),
    ("adadelta", "default", {}, {"linear": 1.0, "rosenbrock": 1.0, "mlp": 1.0}),
    (
        "adadelta",
        "rho95-l2",
        dict(rho=0.95, eps=1e-7, weight_decay=1e-2),
        {"linear": 1.0, "rosenbrock": 1.0, "mlp": 1.0},
    ),
    ("adadelta", "rho50", dict(rho=0.5, eps=1e-4), {"linear": 0.5, "rosenbrock": 1.0, "mlp": 0.5}),
    ("sgd", "plain", {}, {"linear": 0.05, "rosenbrock": 5e-4, "mlp": 0.1}),
    ("sgd", "momentum", dict(momentum=0.9), {"linear": 0.02, "rosenbrock": 1e-4, "mlp": 0.05}),
    (
        "sgd",
        "nesterov-l2",
        dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
        {"linear": 0.02, "rosenbrock": 1e-4, "mlp": 0.05},
    ),
    (
        "sgd",
        "dampening-l2",
        dict(momentum=0.5, dampening=0.3, weight_decay=1e-2),
        {"linear": 0.05, "rosenbrock": 2e-4, "mlp": 0.1},
    ),
    ("adam", "default", {}, LR_ADAPTIVE),
    ("adam", "amsgrad", dict(amsgrad=True), LR_ADAPTIVE),
    ("adam", "betas-eps-l2", dict(beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=1e-2), LR_ADAPTIVE),
    ("adam", "amsgrad-l2", dict(amsgrad=True, weight_decay=0.1), LR_ADAPTIVE),
    ("adamw", "default", {}, LR_ADAPTIVE),
    ("adamw", "amsgrad-wd", dict(amsgrad=True, weight_decay=0.1), LR_ADAPTIVE),
    (
        "adamw",
        "betas-eps-nowd",
        dict(beta1=0.85, beta2=0.95, eps=1e-7, weight_decay=0.0),
        {"linear": 0.01, "rosenbrock": 0.01, "mlp": 0.01},
    ),
    ("adagrad", "default", {}, {"linear": 0.1, "rosenbrock": 0.1, "mlp": 0.1}),
    (
        "adagrad",
        "lr-decay-l2",
        dict(lr_decay=0.01, weight_decay=1e-2),
        {"linear": 0.1, "rosenbrock": 0.1, "mlp": 0.1},
    ),
    (
        "adagrad",
        "initial-accumulator",
        dict(initial_accumulator_value=0.1, eps=1e-6),
        {"linear": 0.1, "rosenbrock": 0.1, "mlp": 0.1},
    ),
    ("rmsprop", "default", {}, {"linear": 0.01, "rosenbrock": 1e-3, "mlp": 1e-3}),
    ("rmsprop", "centered", dict(centered=True), {"linear": 0.01, "rosenbrock": 1e-3, "mlp": 1e-3}),
    ("rmsprop", "momentum", dict(momentum=0.9, alpha=0.9), {"linear": 5e-4, "rosenbrock": 5e-4, "mlp": 1e-3}),
    (
        "rmsprop",
        "centered-momentum-l2",
        dict(centered=True, momentum=0.5, weight_decay=1e-2, eps=1e-6),
        {"linear": 0.005, "rosenbrock": 5e-4, "mlp": 1e-3},
    ),
    ("adamax", "default", {}, LR_ADAPTIVE),
    ("adamax", "betas-eps-l2", dict(beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=1e-2), LR_ADAPTIVE),
    ("nadam", "default", {}, LR_ADAPTIVE),
    ("nadam", "l2", dict(weight_decay=1e-2), LR_ADAPTIVE),
    (
        "nadam",
        "decoupled-betas",
        dict(weight_decay=1e-2, decoupled_weight_decay=True, momentum_decay=1e-2, beta1=0.8, beta2=0.99),
        LR_ADAPTIVE,
    ),
]


def tensor_json(t):
    return {"shape": list(t.shape), "values": flat(t)}


def write_json(path, obj):
    # One number per element, no indentation: the folder stays small.
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")


def trajectory(problem, name, config, lr, dtype):
    """Losses and parameters after every step of one case, computed in `dtype`."""
    params0, _data, loss_fn, steps, _every = PROBLEMS[problem](dtype)
    params = {k: v.clone().requires_grad_(True) for k, v in params0.items()}
    optimizer = make_optimizer(name, config, list(params.values()), lr)
    losses, after = [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(params, step)
        loss.backward()
        optimizer.step()
        assert math.isfinite(loss.item()), (problem, name, config, step)
        losses.append(loss.item())
        after.append({k: v.detach().clone() for k, v in params.items()})
    return losses, after


def float64_deviation(f32, f64):
    """Largest |f32 − f64| of a parameter over the run, relative to the parameter's largest
    |value|: how far float32 rounding alone moves this trajectory (the test's own rule)."""
    worst = 0.0
    for name in f32[0]:
        scale = max(max(s[name].abs().max().item() for s in f64), 1e-6)
        diff = max((a[name].double() - b[name]).abs().max().item() for a, b in zip(f32, f64))
        worst = max(worst, diff / scale)
    return worst


def run_case(problem, name, label, overrides, lr, out):
    _params, _data, _loss, steps, every = PROBLEMS[problem]()
    config = dict(DEFAULTS[name])
    config.update(overrides)
    losses, after = trajectory(problem, name, config, lr, torch.float32)
    _, after64 = trajectory(problem, name, config, lr, torch.float64)
    snapshots = [
        {"step": step, "values": {k: flat(v) for k, v in after[step - 1].items()}}
        for step in range(1, steps + 1)
        if step % every == 0 or step == steps
    ]
    deviation = float64_deviation(after, after64)
    fixture = {
        "problem": problem,
        "optimizer": {"name": name, **config},
        "lr": lr,
        "steps": steps,
        "reference": reference_name(name),
        "float64_deviation": float(f"{deviation:.3g}"),
        "loss": [f32(v) for v in losses],
        "params": snapshots,
    }
    write_json(out / f"{problem}-{name}-{label}.json", fixture)
    return losses[0], losses[-1], deviation


def reference_name(name):
    if name == "adabelief":
        return f"adabelief_pytorch.AdaBelief {version('adabelief-pytorch')}"
    cls = {
        "rprop": "Rprop",
        "adadelta": "Adadelta",
        "sgd": "SGD",
        "adam": "Adam",
        "adamw": "AdamW",
        "adagrad": "Adagrad",
        "rmsprop": "RMSprop",
        "adamax": "Adamax",
        "nadam": "NAdam",
    }[name]
    return f"torch.optim.{cls} (foreach=False) torch {torch.__version__}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[2]
    parser.add_argument("--out", type=Path, default=root / "optim" / "tests" / "fixtures")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)

    out = args.out
    if out.exists():
        shutil.rmtree(out)
    (out / "problems").mkdir(parents=True)
    for problem, build in PROBLEMS.items():
        params, data, _loss, steps, every = build()
        write_json(
            out / "problems" / f"{problem}.json",
            {
                "problem": problem,
                "doc": build.__doc__.strip(),
                "steps": steps,
                "snapshot_every": every,
                "params": {k: tensor_json(v) for k, v in params.items()},
                "data": {k: tensor_json(v) for k, v in data.items()},
                "torch": torch.__version__,
            },
        )
    for name, label, overrides, lrs in CASES:
        for problem in PROBLEMS:
            first, last, dev = run_case(problem, name, label, overrides, lrs[problem], out)
            print(
                f"{problem:10} {name:9} {label:26} loss {first:.4g} -> {last:.4g}"
                f"  float64 deviation {dev:.1e}"
            )


if __name__ == "__main__":
    main()
