#!/usr/bin/env python3
"""Print every scalar TensorBoard reads from an ember run, one `run<TAB>tag<TAB>step<TAB>value` line each.

Reads with TensorBoard's own loader,
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator`, so a file that prints
here is one TensorBoard displays (`tools/tensorboard_read.py` prints histograms and images too). Usage:

    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements.txt
    .venv/bin/python tools/tensorboard_scalars.py RUN_DIR   # or RUN_DIR/tensorboard

Runs are the directories holding event files (`train`, `validation`), named relative to the
log directory as TensorBoard names them. Exits with status 1 if no scalar is found.
"""

import argparse
import sys

# The sibling script, found through the script's own directory (sys.path[0]).
from tensorboard_read import accumulators, log_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="an ember run directory, or its tensorboard/ directory")
    args = parser.parse_args()
    logdir = log_dir(args.run_dir)
    count = 0
    for run, accumulator in accumulators(logdir):
        for tag in sorted(accumulator.Tags()["scalars"]):
            for scalar in accumulator.Scalars(tag):
                print(f"{run}\t{tag}\t{scalar.step}\t{scalar.value!r}")
                count += 1
    if count == 0:
        sys.exit(f"error: no scalars in the event files under {logdir}")


if __name__ == "__main__":
    main()
