"""Drives Keras 3.15.1's real EarlyStopping, ReduceLROnPlateau and ModelCheckpoint on the
scripted cases of ember's Rust tests and asserts the same per-epoch outcomes."""
import os, tempfile, warnings
os.environ["KERAS_BACKEND"] = "numpy"
import keras

OUT = tempfile.mkdtemp()

nan = float("nan")

class Opt:
    def __init__(self, lr): self.learning_rate = lr
class Model:
    metrics = []
    stop_training = False
    def __init__(self): self.saved = []; self.optimizer = Opt(1.0)
    def get_weights(self): return []
    def set_weights(self, w): pass
    def save(self, path, overwrite=True): self.saved.append(path)
    save_weights = save

def es(monitor, values, **cfg):
    cb = keras.callbacks.EarlyStopping(monitor=monitor, **cfg)
    m = Model(); cb.set_model(m); cb.on_train_begin()
    new_best, wait, stop = [], [], None
    for i, v in enumerate(values):
        v = v + 0.0  # a fresh float object: `cb.best is v` means "recorded as best"
        cb.on_epoch_end(i, {monitor: v, "loss": 1.0})
        if cb.best is v: new_best.append(i + 1)
        wait.append(cb.wait)
        if m.stop_training: stop = i + 1; break
    return new_best, wait, stop, (cb.best_epoch + 1 if cb.best is not None else None)

# (name, monitor, values, keras kwargs, expected new_best, wait, stop epoch, best epoch): the
# Keras-only rows of early_stopping.rs `cases()`.
ES = [
    ("patience 3, flat", "val_loss", [1.0]*5, dict(patience=3), [1], [0,1,2,3], 4, 1),
    ("patience 0", "val_loss", [1.0,0.9,0.95,0.8], dict(patience=0), [1,2], [0,0,1], 3, 2),
    ("improvements reset wait", "val_loss", [1.0,1.1,0.9,0.95,0.92,0.5], dict(patience=2), [1,3], [0,1,0,1,2], 5, 3),
    ("never stops", "val_loss", [1.0,0.9,0.8,0.7], dict(patience=1), [1,2,3,4], [0,0,0,0], None, 4),
    ("min_delta", "val_loss", [1.0,0.95,0.85,0.8,0.79,0.76], dict(patience=3, min_delta=0.1), [1,3], [0,1,0,1,2,3], 6, 3),
    ("negative min_delta", "val_loss", [1.0,0.95,0.85,0.8,0.79,0.76], dict(patience=3, min_delta=-0.1), [1,3], [0,1,0,1,2,3], 6, 3),
    ("accuracy (max)", "val_accuracy", [0.5,0.8,0.805,0.9,0.9,0.95], dict(patience=2, min_delta=0.01, mode="max"), [1,2,4,6], [0,0,1,0,1,0], None, 6),
    ("baseline not beaten", "val_loss", [1.0,0.9,0.8,0.7,0.75], dict(patience=3, baseline=0.5), [1,2,3,4], [1,2,3,4,5], 5, 4),
    ("baseline beaten", "val_loss", [1.0,0.9,0.4,0.45,0.3,0.35,0.36], dict(patience=2, baseline=0.5), [1,2,3,5], [1,2,0,1,0,1,2], 7, 5),
    ("start_from_epoch", "val_loss", [0.1,5.0,1.0,1.0,1.0], dict(patience=1, start_from_epoch=2), [3], [0,0,0,1], 4, 3),
    ("NaN without check_finite", "val_loss", [1.0,nan,nan], dict(patience=2), [1], [0,1,2], 3, 1),
]
for name, monitor, values, cfg, *expected in ES:
    got = es(monitor, values, **cfg)
    assert list(got) == expected, (name, got, expected)
    print("EarlyStopping ok:", name, got)

def rop(monitor, values, **cfg):
    cb = keras.callbacks.ReduceLROnPlateau(monitor=monitor, **cfg)
    m = Model(); cb.set_model(m); cb.on_train_begin()
    lrs = [m.optimizer.learning_rate]
    for i, v in enumerate(values):
        cb.on_epoch_end(i, {monitor: v})
        lrs.append(m.optimizer.learning_rate)
    return lrs

# The rows of plateau.rs `cases()`.
ROP = [
    ("patience 2", "val_loss", [1.0,0.9,0.95,0.91,0.92,0.93], dict(patience=2, factor=0.5, min_delta=0), [1,1,1,1,0.5,0.5,0.25]),
    ("cooldown 2", "val_loss", [1.0]*6, dict(patience=1, cooldown=2, factor=0.5, min_delta=0), [1,1,0.5,0.5,0.25,0.25,0.125]),
    ("improvement as cooldown ends", "val_loss", [1.0,1.0,0.5,0.6,0.4], dict(patience=1, cooldown=1, factor=0.5, min_delta=0), [1,1,0.5,0.5,0.25,0.25]),
    ("min_lr floor", "val_loss", [1.0]*5, dict(patience=1, factor=0.5, min_delta=0, min_lr=0.3), [1,1,0.5,0.3,0.3,0.3]),
    ("min_delta", "val_loss", [1.0,0.99995,0.9], dict(patience=1, factor=0.5), [1,1,0.5,0.5]),
    ("max mode", "val_accuracy", [0.5,0.6,0.6,0.7], dict(patience=1, factor=0.5, min_delta=0, mode="max"), [1,1,1,0.5,0.5]),
]
for name, monitor, values, cfg, expected in ROP:
    got = rop(monitor, values, **cfg)
    assert got == expected, (name, got, expected)
    print("ReduceLROnPlateau ok:", name, got)

def mc(template, points, monitor="val_loss", **cfg):
    cb = keras.callbacks.ModelCheckpoint(os.path.join(OUT, template + ".keras"), monitor=monitor, **cfg)
    m = Model(); cb.set_model(m); cb.on_train_begin()
    out = []
    for epoch, v in points:
        n = len(m.saved)
        cb.on_epoch_begin(epoch - 1)
        cb.on_epoch_end(epoch - 1, {monitor: v, "loss_other": 1.0})
        out.append(os.path.basename(m.saved[-1])[:-6] if len(m.saved) > n else None)
    return out

# The Keras rows of model_checkpoint.rs `cases()`.
MC = [
    ("every epoch", "epoch{epoch:03d}", [(1,0.5),(2,0.6),(3,0.4)], {}, ["epoch001","epoch002","epoch003"]),
    ("save_best_only", "best", [(1,0.5),(2,0.6),(3,0.4),(4,0.4),(5,0.3)], dict(save_best_only=True), ["best",None,"best",None,"best"]),
    ("save_best_only accuracy", "e{epoch}-{val_accuracy:.2f}", [(1,0.8),(2,0.9),(3,0.85),(4,0.95)], dict(save_best_only=True, monitor="val_accuracy", mode="max"), ["e1-0.80","e2-0.90",None,"e4-0.95"]),
    ("initial_value_threshold", "e{epoch}", [(1,0.5),(2,0.45),(3,0.4)], dict(save_best_only=True, initial_value_threshold=0.45), [None,None,"e3"]),
]
for name, template, points, cfg, expected in MC:
    got = mc(template, points, **cfg)
    assert got == expected, (name, got, expected)
    print("ModelCheckpoint ok:", name, got)

# Keras saves (with a warning) when the monitored metric is missing at a step save point.
cb = keras.callbacks.ModelCheckpoint(os.path.join(OUT, "s{batch}.keras"), save_best_only=True, save_freq=10)
m = Model(); cb.set_model(m); cb.on_train_begin(); cb.on_epoch_begin(0)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    for b in range(10):
        cb.on_train_batch_end(b, {"loss": 0.5})
print("ModelCheckpoint missing monitor:", [os.path.basename(p) for p in m.saved], [str(x.message) for x in w])
assert [os.path.basename(p) for p in m.saved] == ["s10.keras"]
print("all Keras cross-checks passed")
