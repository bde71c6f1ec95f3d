#!/usr/bin/env python3
"""An independent reference for ember's four Rprop variants, in plain Python (no torch, no numpy).

Writes optim/tests/fixtures/rprop/<problem>-<variant>.json (relative to the repository root),
which optim/tests/rprop_reference.rs replays.

The rules are written per element from the papers' pseudo-code, not from ember's code:

* Rprop+ (weight backtracking): Riedmiller & Braun, "A direct adaptive method for faster
  backpropagation learning: the RPROP algorithm", ICNN 1993; as listed by Igel & Huesken.
* Rprop- (no backtracking, no gradient zeroing) and iRprop- / iRprop+: Igel & Huesken,
  "Improving the Rprop learning algorithm", Proc. NC'2000 (pseudo-code listings), and
  "Empirical evaluation of the improved Rprop learning algorithm", Neurocomputing 50, 2003.
  iRprop- is also torch.optim.Rprop; Shark's Rprop.cpp (written with Igel) implements the four
  the same way (iRprop+ keeps E(t-1) and compares E(t) > E(t-1)).

One documented deviation from the papers, shared with torch and ember: where
g(t-1)*g(t) = 0 the step size is clamped to [step_min, step_max] (the papers leave it
unchanged). It only differs at the first step, when the initial step size (lr) lies outside the
bounds; the quadratic cases below start there on purpose.

float32 is emulated by rounding every result of +, -, * to float32 (struct 'f'). The inputs are
float32 values and float64 has more than twice float32's precision, so each rounded result is
exactly the float32 operation's (no double-rounding error). Comparisons and sign tests need no
rounding.

Problems (gradients analytic, written operation for operation as the Rust test writes them):

* rosenbrock: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.2, 1), 200 steps, lr 1e-3,
  torch's defaults (etas (0.5, 1.2), step_sizes (1e-6, 50));
* quadratic: f(t) = sum_i a_i (t_i - c_i)^2 + k t_0 t_1 (a coupled, badly scaled bowl) from 0,
  80 steps, lr 0.3 above step_max 0.2 (clamped at once), etas (0.5, 1.2), step_sizes
  (1e-3, 0.2): the step sizes overshoot again and again, so signs flip often.

For iRprop+ the script requires that both branches occur (a flip where the error grew: revert;
a flip where it did not: no revert) and records the counts in each fixture. It also checks the
reference itself against the PyTorch fixtures: iRprop- here must follow torch.optim.Rprop's
Rosenbrock trajectories (optim/tests/fixtures/rosenbrock-rprop-*.json, torch's autograd
gradients) to the existing replay's bound (1e-5 of the largest |value|).

Usage (from the repository root): `python3 tools/reference/rprop_reference.py`. Deterministic:
two runs give identical files.
"""

import json
import struct
from pathlib import Path

FIXTURES = Path("optim/tests/fixtures")
OUT = FIXTURES / "rprop"
VARIANTS = ["irprop-minus", "rprop-plus", "rprop-minus", "irprop-plus"]


def f32(x):
    """x rounded to float32 (the result of one float32 operation on float32 inputs)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def shortest(x):
    """The shortest decimal that reads back to the same float32 (as the other fixtures)."""
    for digits in range(1, 18):
        text = f"{x:.{digits}g}"
        if f32(float(text)) == x:
            return float(text)
    raise AssertionError(x)


def sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


# ---------------------------------------------------------------------------------------------
# Problems: (loss, gradient) at float32 parameters, every operation rounded.
# ---------------------------------------------------------------------------------------------


def rosenbrock(p):
    x, y = p
    a = f32(1.0 - x)
    d = f32(y - f32(x * x))
    loss = f32(f32(a * a) + f32(100.0 * f32(d * d)))
    gx = f32(f32(-2.0 * a) - f32(f32(400.0 * x) * d))
    gy = f32(200.0 * d)
    return loss, [gx, gy]


QUADRATIC = {
    "a": [f32(v) for v in (1.0, 10.0, 0.3, 4.0)],
    "c": [f32(v) for v in (1.5, -0.7, 2.0, 0.25)],
    "k": f32(1.5),
}


def quadratic(p):
    a, c, k = QUADRATIC["a"], QUADRATIC["c"], QUADRATIC["k"]
    r = [f32(p[i] - c[i]) for i in range(4)]
    loss = f32(k * f32(p[0] * p[1]))
    for i in range(4):
        loss = f32(loss + f32(a[i] * f32(r[i] * r[i])))
    grad = [f32(f32(2.0 * a[i]) * r[i]) for i in range(4)]
    grad[0] = f32(grad[0] + f32(k * p[1]))
    grad[1] = f32(grad[1] + f32(k * p[0]))
    return loss, grad


PROBLEMS = {
    "rosenbrock": dict(
        function=rosenbrock,
        start=[-1.2, 1.0],
        steps=200,
        lr=1e-3,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50.0),
    ),
    "quadratic": dict(
        function=quadratic,
        start=[0.0, 0.0, 0.0, 0.0],
        steps=80,
        lr=0.3,
        etas=(0.5, 1.2),
        step_sizes=(1e-3, 0.2),
    ),
}


# ---------------------------------------------------------------------------------------------
# The four variants, per element, as the papers list them.
# ---------------------------------------------------------------------------------------------


class Rprop:
    def __init__(self, variant, n, lr, etas, step_sizes):
        assert variant in VARIANTS
        self.variant = variant
        # The hyperparameters as float32, as ember's f32 kernels use them.
        self.eta_minus, self.eta_plus = (f32(e) for e in etas)
        self.step_min, self.step_max = (f32(s) for s in step_sizes)
        self.delta = [f32(lr)] * n  # Delta_ij(0) = Delta_0 (torch: lr)
        self.prev_grad = [0.0] * n  # dE/dw(t-1)
        self.prev_dw = [0.0] * n  # Delta w(t-1), for backtracking
        self.prev_error = None  # E(t-1), iRprop+
        self.counts = {"sign_flips": 0, "reverted": 0, "kept": 0}

    def step(self, w, grad, error):
        """w(t+1) from w(t), dE/dw(t) and E(t)."""
        w = list(w)
        grad = list(grad)
        v = self.variant
        # iRprop+: one comparison per step, E(t) > E(t-1) (none before the second step).
        increased = self.prev_error is not None and error > self.prev_error
        for i in range(len(w)):
            product = f32(self.prev_grad[i] * grad[i])
            if product > 0:
                self.delta[i] = min(f32(self.delta[i] * self.eta_plus), self.step_max)
                self.prev_dw[i] = -sign(grad[i]) * self.delta[i]  # exact: a sign times Delta
                w[i] = f32(w[i] + self.prev_dw[i]) if self.prev_dw[i] != 0 else w[i]
            elif product < 0:
                self.counts["sign_flips"] += 1
                self.delta[i] = max(f32(self.delta[i] * self.eta_minus), self.step_min)
                if v == "rprop-minus":
                    # Rprop-: no backtracking, the gradient is kept, and the step is taken.
                    self.prev_dw[i] = -sign(grad[i]) * self.delta[i]
                    w[i] = f32(w[i] + self.prev_dw[i])
                else:
                    if v == "rprop-plus" or (v == "irprop-plus" and increased):
                        w[i] = f32(w[i] - self.prev_dw[i])  # w(t+1) = w(t) - Delta w(t-1)
                        if v == "irprop-plus":
                            self.counts["reverted"] += 1
                    elif v == "irprop-plus":
                        self.counts["kept"] += 1
                    # iRprop-, Rprop+, iRprop+: dE/dw(t) := 0 (and no own step). Delta w(t)
                    # is never read: the next step sees a zero product.
                    grad[i] = 0.0
                    self.prev_dw[i] = 0.0
            else:
                # torch's (and ember's) clamp at a zero product; see the module docstring.
                self.delta[i] = min(max(self.delta[i], self.step_min), self.step_max)
                self.prev_dw[i] = -sign(grad[i]) * self.delta[i]
                w[i] = f32(w[i] + self.prev_dw[i]) if self.prev_dw[i] != 0 else w[i]
            self.prev_grad[i] = grad[i]
        self.prev_error = error
        return w


def trajectory(problem, variant):
    spec = PROBLEMS[problem]
    w = [f32(v) for v in spec["start"]]
    opt = Rprop(variant, len(w), spec["lr"], spec["etas"], spec["step_sizes"])
    losses, params = [], []
    for _ in range(spec["steps"]):
        loss, grad = spec["function"](w)
        losses.append(loss)
        w = opt.step(w, grad, loss)
        params.append(w)
    return losses, params, opt.counts


def check_against_torch():
    """iRprop- here against torch.optim.Rprop's Rosenbrock fixtures (torch autograd gradients,
    so agreement to the replay's bound, not to the bit)."""
    for path in sorted(FIXTURES.glob("rosenbrock-rprop-*.json")):
        fixture = json.loads(path.read_text())
        config = fixture["optimizer"]
        assert config["variant"] == "irprop-minus"
        w = [f32(-1.2), f32(1.0)]
        opt = Rprop(
            "irprop-minus", 2, fixture["lr"], config["etas"], config["step_sizes"]
        )
        scale = max(
            [1.2] + [abs(v) for s in fixture["params"] for v in s["values"]["xy"]]
        )
        worst = 0.0
        for step in range(fixture["steps"]):
            loss, grad = rosenbrock(w)
            w = opt.step(w, grad, loss)
            want = fixture["params"][step]["values"]["xy"]
            worst = max(worst, max(abs(a - b) for a, b in zip(w, want)) / scale)
        assert worst <= 1e-5, f"{path.name}: reference vs torch {worst:.2e}"
        print(f"{path.name}: reference iRprop- vs torch max rel {worst:.1e}")


def main():
    check_against_torch()
    OUT.mkdir(parents=True, exist_ok=True)
    for problem, spec in PROBLEMS.items():
        for variant in VARIANTS:
            losses, params, counts = trajectory(problem, variant)
            if variant == "irprop-plus":
                assert counts["reverted"] > 0 and counts["kept"] > 0, (problem, counts)
            assert counts["sign_flips"] > 0, (problem, variant, counts)
            if variant != "irprop-plus":
                del counts["reverted"], counts["kept"]
            fixture = {
                "problem": problem,
                "optimizer": {
                    "name": "rprop",
                    "etas": list(spec["etas"]),
                    "step_sizes": list(spec["step_sizes"]),
                    "variant": variant,
                },
                "lr": spec["lr"],
                "steps": spec["steps"],
                "reference": "tools/reference/rprop_reference.py (pure Python, float32 by "
                "rounding after every operation)",
                "start": [shortest(f32(v)) for v in spec["start"]],
                "branches": counts,
                "loss": [shortest(v) for v in losses],
                "params": [[shortest(v) for v in p] for p in params],
            }
            if problem == "quadratic":
                fixture["data"] = {
                    "a": [shortest(v) for v in QUADRATIC["a"]],
                    "c": [shortest(v) for v in QUADRATIC["c"]],
                    "k": shortest(QUADRATIC["k"]),
                }
            path = OUT / f"{problem}-{variant}.json"
            path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
            print(f"{path}: loss {losses[0]} -> {losses[-1]}, {counts}")


if __name__ == "__main__":
    main()
