"""Loads Lightning 2.6's real ModelCheckpoint / EarlyStopping source with tiny fakes for torch
and the Lightning modules they import, so their selection logic can be driven directly."""
import math, operator, os, sys, types

class Tensor(float):
    device = None
    def item(self): return float(self)
    def int(self): return int(self)
    def squeeze(self): return self
    def to(self, d): return self
    def __neg__(self): return Tensor(-float(self))

torch = types.ModuleType("torch")
torch.Tensor = Tensor
torch.tensor = lambda x, device=None: Tensor(x)
torch.inf = math.inf
torch.lt = operator.lt
torch.gt = operator.gt
torch.isnan = lambda x: math.isnan(x)
torch.isfinite = lambda x: math.isfinite(x)
sys.modules["torch"] = torch

def mod(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m

class Misconf(Exception): pass
class WarningCache:
    def warn(self, *a, **k): pass
class Checkpoint: pass
class Callback: pass

FILES = set()
class FS:
    def exists(self, p): return p in FILES
    def ls(self, p, detail=False): return []

mod("yaml")
mod("typing_extensions", override=lambda f: f)
pl = mod("lightning"); mod("lightning.pytorch", Trainer=object, LightningModule=object)
mod("lightning.fabric"); mod("lightning.fabric.utilities")
mod("lightning.fabric.utilities.cloud_io", _is_dir=lambda *a, **k: False,
    _is_local_file_protocol=lambda p: True, get_filesystem=lambda p: FS())
mod("lightning.fabric.utilities.types", _PATH=str)
mod("lightning.pytorch.callbacks", Checkpoint=Checkpoint)
mod("lightning.pytorch.callbacks.callback", Callback=Callback)
mod("lightning.pytorch.utilities")
mod("lightning.pytorch.utilities.exceptions", MisconfigurationException=Misconf)
mod("lightning.pytorch.utilities.rank_zero", WarningCache=WarningCache,
    rank_zero_info=lambda *a, **k: None, rank_zero_warn=lambda *a, **k: None,
    rank_prefixed_message=lambda m, r: m)
mod("lightning.pytorch.utilities.types", STEP_OUTPUT=object)
class TrainerFn: FITTING = "fit"
mod("lightning.pytorch.trainer"); mod("lightning.pytorch.trainer.states", TrainerFn=TrainerFn)

def load(path, name):
    m = types.ModuleType(name)
    m.__file__ = path
    exec(compile(open(path).read(), path, "exec"), m.__dict__)
    return m

class Strategy:
    def __init__(self): self.removed = []
    def reduce_boolean_decision(self, x, all=True): return bool(x)
    def remove_checkpoint(self, p):
        self.removed.append(p); FILES.discard(p)
    def broadcast(self, x): return x
    def barrier(self): pass

class Trainer:
    def __init__(self):
        self.strategy = Strategy()
        self.saved = []
        self.global_step = 0
        self.current_epoch = 0
        self.callback_metrics = {}
        self.fast_dev_run = False
        self.sanity_checking = False
        self.state = types.SimpleNamespace(fn=TrainerFn.FITTING)
        self.ckpt_path = None
        self.loggers = []
        self.is_global_zero = True
        self.should_stop = False
        self.world_size = 1
        self.fit_loop = types.SimpleNamespace(epoch_loop=types.SimpleNamespace(val_loop=types.SimpleNamespace(_has_run=True)))
    def save_checkpoint(self, path, weights_only=False):
        self.saved.append(path); FILES.add(path)
