"""Float64 NumPy reference for the collapsed CLIFF regressor (test-only).

The official regressor iterates ``s <- s + Wdec (W2 (W1 [x, s] + b1) + b2) + bdec`` with
x = [features (2048), bbox_info (3)] and s = [pose6d (144), betas (10), cam (3)]; it has no
nonlinearity (dropout is the identity at inference), so one iteration is the affine map
``s <- s + M [x, s] + c`` with M = Wdec W2 W1 and c = Wdec (W2 b1 + b2) + bdec. This is the
NumPy computation cliff's fine-tuner used before the core exposed its own (csrc/nn/regressor.c,
``cliff_net_regressor`` / ``cliff_regressor_collapse``); tests compare the two.
"""
from __future__ import annotations

import numpy as np

NPOSE, NSHAPE, NCAM, NFEAT, HIDDEN = 144, 10, 3, 2048, 1024


def collapse(sd) -> dict:
    """{'Mx': (157, 2051), 'Ms': (157, 157), 'c': (157,), 'init': (157,)} float64 from a state
    dict with the official fc1, fc2, decpose, decshape, deccam and init_* entries."""
    g = lambda k: np.asarray(sd[k], np.float64)  # noqa: E731
    parts = (("pose", NPOSE), ("shape", NSHAPE), ("cam", NCAM))
    Wd = np.concatenate([g(f"dec{k}.weight") for k, _ in parts])
    bd = np.concatenate([g(f"dec{k}.bias") for k, _ in parts])
    init = np.concatenate([g(f"init_{k}")[0] for k, _ in parts])
    A = Wd @ g("fc2.weight")
    M = A @ g("fc1.weight")
    c = A @ g("fc1.bias") + Wd @ g("fc2.bias") + bd
    return {"Mx": M[:, :NFEAT + 3], "Ms": M[:, NFEAT + 3:], "c": c, "init": init}
