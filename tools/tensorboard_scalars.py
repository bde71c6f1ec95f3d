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

# The sibling script, found through the script's own directory (sys.path[0]).
import tensorboard_read

if __name__ == "__main__":
    tensorboard_read.main(kinds=("scalars",), with_kind=False, doc=__doc__)
