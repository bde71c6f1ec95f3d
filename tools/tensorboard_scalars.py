#!/usr/bin/env python3
"""Print every scalar TensorBoard reads from an ember run, one `run<TAB>tag<TAB>step<TAB>value` line each.

Reads with TensorBoard's own loader,
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator`, so a file that prints
here is one TensorBoard displays. Usage:

    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements.txt
    .venv/bin/python tools/tensorboard_scalars.py RUN_DIR   # or RUN_DIR/tensorboard

Runs are the directories holding event files (`train`, `validation`), named relative to the
log directory as TensorBoard names them. Exits with status 1 if no scalar is found.
"""

import argparse
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def event_dirs(logdir):
    """Directories under `logdir` holding event files (TensorBoard's rule: name contains `tfevents`)."""
    for root, _dirs, files in sorted(os.walk(logdir)):
        if any("tfevents" in name for name in files):
            yield root


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="an ember run directory, or its tensorboard/ directory")
    args = parser.parse_args()
    logdir = args.run_dir
    if os.path.isdir(os.path.join(logdir, "tensorboard")):
        logdir = os.path.join(logdir, "tensorboard")
    if not os.path.isdir(logdir):
        sys.exit(f"error: {args.run_dir} is not a directory; pass an ember run directory")

    count = 0
    for run_dir in event_dirs(logdir):
        run = os.path.relpath(run_dir, logdir)
        # size_guidance 0 keeps every scalar instead of a reservoir sample.
        accumulator = event_accumulator.EventAccumulator(
            run_dir, size_guidance={event_accumulator.SCALARS: 0}
        )
        accumulator.Reload()
        for tag in sorted(accumulator.Tags()["scalars"]):
            for scalar in accumulator.Scalars(tag):
                print(f"{run}\t{tag}\t{scalar.step}\t{scalar.value!r}")
                count += 1
    if count == 0:
        sys.exit(f"error: no scalars in the event files under {logdir}")


if __name__ == "__main__":
    main()
