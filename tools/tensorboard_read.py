#!/usr/bin/env python3
"""Print every scalar, histogram and image TensorBoard reads from an ember run, one line each.

Reads with TensorBoard's own loader,
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator` (every event kept:
size guidance 0 for all kinds), so what prints here is what TensorBoard displays. Lines,
tab-separated:

    scalar     RUN  TAG  STEP  VALUE
    histogram  RUN  TAG  STEP  MIN  MAX  NUM  SUM  BUCKETS
    image      RUN  TAG  STEP  WIDTH  HEIGHT

Usage:

    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements.txt
    .venv/bin/python tools/tensorboard_read.py RUN_DIR   # or RUN_DIR/tensorboard

Runs are the directories holding event files (`train`, `validation`), named relative to the
log directory as TensorBoard names them. Exits with status 1 if nothing is found.
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


def log_dir(run_dir):
    """The TensorBoard log directory of an ember run directory (or the directory itself)."""
    logdir = run_dir
    if os.path.isdir(os.path.join(logdir, "tensorboard")):
        logdir = os.path.join(logdir, "tensorboard")
    if not os.path.isdir(logdir):
        sys.exit(f"error: {run_dir} is not a directory; pass an ember run directory")
    return logdir


def accumulators(logdir):
    """(run name, loaded EventAccumulator) for every run under `logdir`, keeping every event."""
    keep_all = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    for run_dir in event_dirs(logdir):
        accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance=keep_all)
        accumulator.Reload()
        yield os.path.relpath(run_dir, logdir), accumulator


def lines(run, accumulator, kinds):
    """The printed lines of one run, for the `kinds` asked for."""
    tags = accumulator.Tags()
    if "scalars" in kinds:
        for tag in sorted(tags["scalars"]):
            for s in accumulator.Scalars(tag):
                yield f"scalar\t{run}\t{tag}\t{s.step}\t{s.value!r}"
    if "histograms" in kinds:
        for tag in sorted(tags["histograms"]):
            for h in accumulator.Histograms(tag):
                v = h.histogram_value
                yield (
                    f"histogram\t{run}\t{tag}\t{h.step}\t{v.min!r}\t{v.max!r}\t{v.num!r}"
                    f"\t{v.sum!r}\t{len(v.bucket)}"
                )
    if "images" in kinds:
        for tag in sorted(tags["images"]):
            for i in accumulator.Images(tag):
                yield f"image\t{run}\t{tag}\t{i.step}\t{i.width}\t{i.height}"


def main(kinds=("scalars", "histograms", "images"), with_kind=True, doc=__doc__):
    """Prints the `kinds` of every run under the log directory named on the command line, each
    line with its kind in front (`with_kind`) or without it; exits with status 1 if none."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run_dir", help="an ember run directory, or its tensorboard/ directory")
    args = parser.parse_args()
    logdir = log_dir(args.run_dir)
    count = 0
    for run, accumulator in accumulators(logdir):
        for line in lines(run, accumulator, set(kinds)):
            print(line if with_kind else line.split("\t", 1)[1])
            count += 1
    if count == 0:
        sys.exit(f"error: no {' or '.join(kinds)} in the event files under {logdir}")


if __name__ == "__main__":
    main()
