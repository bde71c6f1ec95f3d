"""Drives Lightning 2.6's real ModelCheckpoint selection (and EarlyStopping thresholds) through
lightning_shim on the scripted cases of ember's Rust tests."""
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import lightning_shim as S

# The directory of Lightning's callbacks sources: src/lightning/pytorch/callbacks of a
# pytorch-lightning checkout (2.6, commit 7f0c3436 when these cases were checked).
SRC = os.environ["LIGHTNING_CALLBACKS"]
MC = S.load(os.path.join(SRC, "model_checkpoint.py"), "lt_mc").ModelCheckpoint
ES = S.load(os.path.join(SRC, "early_stopping.py"), "lt_es").EarlyStopping
nan = float("nan")

def name(p): return os.path.basename(p)[:-5]

def run_mc(template, k, monitor, points, metric, mode="min", save_last=False):
    S.FILES.clear()
    d = os.path.join(tempfile.gettempdir(), "ember-lightning-check")
    cb = MC(dirpath=d, filename=template, monitor=monitor, save_top_k=k, mode=mode,
            auto_insert_metric_name=False, save_on_train_epoch_end=False, save_last=save_last)
    tr = S.Trainer()
    out = []
    for epoch, step, v in points:
        tr.global_step = step
        tr.current_epoch = epoch - 1
        tr.callback_metrics = {metric: S.Tensor(v), "loss_other": S.Tensor(1.0), "epoch": S.Tensor(epoch)}
        n_saved, n_removed = len(tr.saved), len(tr.strategy.removed)
        cb.on_validation_end(tr, None)
        saved = [name(p) for p in tr.saved[n_saved:]]
        removed = [name(p) for p in tr.strategy.removed[n_removed:]]
        out.append((saved, removed))
    kept = [name(p) for p in cb.best_k_models] if monitor else sorted(name(p) for p in S.FILES)
    return out, kept

def e(values): return [(i + 1, (i + 1) * 100, v) for i, v in enumerate(values)]

# (name, template, k, monitor, metric, mode, points, expected [(saved, removed)], kept)
CASES = [
    ("top-2", "e{epoch}", 2, "val_loss", "val_loss", "min", e([0.5,0.4,0.45,0.3,0.6,0.35]),
     [(["e1"],[]),(["e2"],[]),(["e3"],["e1"]),(["e4"],["e3"]),([],[]),(["e6"],["e2"])], ["e4","e6"]),
    ("ties", "e{epoch}", 2, "val_loss", "val_loss", "min", e([0.5,0.5,0.5,0.4]),
     [(["e1"],[]),(["e2"],[]),([],[]),(["e4"],["e1"])], ["e2","e4"]),
    ("top-1 max, NaN", "e{epoch}", 1, "val_accuracy", "val_accuracy", "max", e([0.8,0.9,0.85,nan]),
     [(["e1"],[]),(["e2"],["e1"]),([],[]),([],[])], ["e2"]),
    ("NaN ranks worst", "e{epoch}", 2, "val_loss", "val_loss", "min", e([nan,0.5,0.6]),
     [(["e1"],[]),(["e2"],[]),(["e3"],["e1"])], ["e2","e3"]),
    ("-1 keeps all", "e{epoch}", -1, "val_loss", "val_loss", "min", e([0.5,0.6,0.4]),
     [(["e1"],[]),(["e2"],[]),(["e3"],[])], ["e1","e2","e3"]),
    ("0 none", "e{epoch}", 0, "val_loss", "val_loss", "min", e([0.5,0.4]), [([],[]),([],[])], []),
    ("latest 1", "e{epoch}", 1, None, "val_loss", "min", e([0.5,0.4,0.6]),
     [(["e1"],[]),(["e2"],["e1"]),(["e3"],["e2"])], ["e3"]),
    ("latest 1 fixed name", "model", 1, None, "val_loss", "min", e([0.5,0.4]),
     [(["model"],[]),(["model"],[])], ["model"]),
    ("latest -1 step saves", "e{epoch}", -1, None, "loss", "min", [(1,2,0.9),(1,4,0.8),(2,6,0.7)],
     [(["e1"],[]),(["e1"],[]),(["e2"],[])], ["e1","e2"]),
    ("versions", "e{epoch}", 3, "loss", "loss", "min", [(1,2,0.9),(1,4,0.8),(1,6,0.7),(1,8,0.6)],
     [(["e1"],[]),(["e1-v1"],[]),(["e1-v2"],[]),(["e1"],[])], ["e1-v1","e1-v2","e1"]),
    ("same step twice", "epoch{epoch:03d}", -1, None, "loss", "min", [(1,100,0.5),(1,100,0.5),(2,200,0.4)],
     [(["epoch001"],[]),([],[]),(["epoch002"],[])], ["epoch001","epoch002"]),
]
for case_name, template, k, monitor, metric, mode, points, expected, kept in CASES:
    got, got_kept = run_mc(template, k, monitor, points, metric, mode)
    assert got == expected, (case_name, got, expected)
    assert got_kept == kept, (case_name, got_kept, kept)
    print("ModelCheckpoint ok:", case_name, got, got_kept)

# save_last (2.6): last is written only with a saved checkpoint.
got, _ = run_mc("e{epoch}", 1, "val_loss", e([0.5,0.6,0.4]), "val_loss", save_last=True)
assert got == [(["e1","last"],[]),([],[]),(["e3","last"],["e1"])], got
print("ModelCheckpoint ok: save_last", got)

def run_es(values, monitor="val_loss", mode="min", **cfg):
    cb = ES(monitor=monitor, mode=mode, patience=10, **cfg)
    tr = S.Trainer()
    for i, v in enumerate(values):
        tr.current_epoch = i
        tr.callback_metrics = {monitor: S.Tensor(v)}
        cb._run_early_stopping_check(tr)
        if tr.should_stop:
            return i + 1, cb.stopping_reason.name
    return None, None

ESC = [
    ("NaN", [1.0,0.9,nan], {}, (3, "NON_FINITE_METRIC")),
    ("stopping_threshold", [1.0,0.5,0.49,0.1], dict(stopping_threshold=0.5), (3, "STOPPING_THRESHOLD")),
    ("divergence_threshold", [2.0,3.0,3.5,1.0], dict(divergence_threshold=3.0), (3, "DIVERGENCE_THRESHOLD")),
    ("max mode", [0.5,0.99,0.3,0.1], dict(monitor="val_accuracy", mode="max", stopping_threshold=0.99, divergence_threshold=0.2), (4, "DIVERGENCE_THRESHOLD")),
    ("stopping before divergence", [0.3], dict(stopping_threshold=0.5, divergence_threshold=0.1), (1, "STOPPING_THRESHOLD")),
]
for case_name, values, cfg, expected in ESC:
    got = run_es(values, **cfg)
    assert got == expected, (case_name, got, expected)
    print("EarlyStopping ok:", case_name, got)
print("all Lightning cross-checks passed")
