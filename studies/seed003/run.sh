#!/usr/bin/env bash
# Seed 003 (HW2, Q5): the deep MLP 784-128-64-32-16-10 with SGD lr 0.01, batch 64, 10 epochs,
# without regularization, with L2, augmentation, dropout, and each pair, on MNIST and
# Fashion-MNIST, seeds 1-3. Every run is an ordinary run directory under studies/seed003/runs/
# (a finished run is skipped, so a killed study continues); table.py then writes the table of
# docs/regularization-study.md.
#
#   studies/seed003/run.sh            # 42 runs (7 recipes x 2 datasets x 3 seeds)
#   python3 studies/seed003/table.py  # the Markdown table
set -euo pipefail
cd "$(dirname "$0")/../.."
train=${TRAIN:-target/release/train}
seeds=${SEEDS:-"1 2 3"}
for dataset in mnist fashion-mnist; do
  for recipe in none l2 augment dropout l2-augment l2-dropout augment-dropout; do
    for seed in $seeds; do
      run="studies/seed003/runs/$dataset/$recipe/seed-$seed"
      if [ -f "$run/summary.json" ]; then continue; fi
      if [ -d "$run/checkpoints" ]; then
        "$train" --resume latest --run-dir "$run" --quiet
      else
        "$train" --config "studies/seed003/$recipe.toml" --dataset "$dataset" --seed "$seed" \
          --run-dir "$run" --quiet
      fi
    done
  done
done
