"""The table of docs/regularization-study.md from studies/seed003/runs/: for each dataset and
recipe, the final epoch's training accuracy (on the augmented images when augmenting, with
dropout on when dropping) and the test accuracy, mean and sample standard deviation over the
seeds, beside seed 003's numbers. Standard library only."""

import json
import pathlib
import statistics

ROOT = pathlib.Path(__file__).resolve().parent
RECIPES = ["none", "l2", "augment", "dropout", "l2-augment", "l2-dropout", "augment-dropout"]
# Seed 003's reported test accuracies (its dataset is not named; its figures match
# Fashion-MNIST's range).
SEED = {"l2": "86% (train 87%)", "l2-augment": "83% (best pair)", "l2-dropout": "80% or 81%",
        "augment-dropout": "80% or 81%"}


def cell(values):
    if not values:
        return "-"
    mean = statistics.mean(values) * 100
    spread = statistics.stdev(values) * 100 if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {spread:.2f}"


for dataset in ["mnist", "fashion-mnist"]:
    print(f"\n### {dataset}\n")
    print("| recipe | runs | train accuracy % | test accuracy % | seed 003 |")
    print("|---|---|---|---|---|")
    for recipe in RECIPES:
        train, test = [], []
        for summary in sorted((ROOT / "runs" / dataset / recipe).glob("seed-*/summary.json")):
            s = json.loads(summary.read_text())
            train.append(s["last_epoch"]["accuracy"])
            test.append(s["test_accuracy"])
        print(f"| {recipe} | {len(test)} | {cell(train)} | {cell(test)} | {SEED.get(recipe, '')} |")
