"""Import paths of cliff 0.1 that moved in the package regrouping; kept for one release.

``import cliff.losses`` (and the other old paths below) still works: it returns the module at
its new place and emits a DeprecationWarning naming that place.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "cliff.fit": "cliff.annotate.fit",
    "cliff.finetune": "cliff.annotate.finetune",
    "cliff.losses": "cliff.annotate.losses",
    "cliff.keypoints": "cliff.annotate.keypoints",
    "cliff.torch": "cliff.annotate.losses_torch",
    "cliff.cli_annotate": "cliff.cli.annotate",
    "cliff.images": "cliff.io.images",
    "cliff.mesh": "cliff.io.mesh",
    "cliff.results": "cliff.io.results",
    "cliff.standin": "cliff._standin",
    # expected_keys, detect_backbone, BACKBONES (now read from the core's layer tables); the
    # mean parameters moved to cliff.constants, random_state_dict to cliff._standin
    "cliff.arch": "cliff.model",
}


def warn_moved(old: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{old} moved to {MOVED[old]}; the old name will be removed in the next "
                  "release", DeprecationWarning, stacklevel=stacklevel)


class _Alias(importlib.abc.Loader):
    def __init__(self, old: str):
        self.old = old

    def create_module(self, spec):
        warn_moved(self.old, stacklevel=6)
        return importlib.import_module(MOVED[self.old])

    def exec_module(self, module):  # the target module is already executed
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, _Alias(fullname))
        return None


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
