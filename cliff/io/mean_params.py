"""``smpl_mean_params.npz`` (docs/official.md#mean-params): the regressor's initial pose, shape and camera."""
from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np

from .budget import Meter, guarded
from .npz import read_npz

__all__ = ["load_mean_params"]

_SIZES = {"pose": 144, "shape": 10, "cam": 3}


def load_mean_params(path: Any) -> Dict[str, np.ndarray]:
    """Read ``smpl_mean_params.npz``: returns ``{'pose': (144,), 'shape': (10,), 'cam': (3,)}``,
    float32, C-contiguous. ``pose`` is 24 rotations in the 6D representation (first 6 values
    ~ [1, 0, 0, -1, 0, 0]: a 180-degree turn about x), ``shape`` the mean betas, ``cam`` the
    crop camera [s, tx, ty] = [0.9, 0, 0]. Stored arrays of shape (1, n) are accepted.
    Other members of the archive are ignored.

    Raises TypeError if ``path`` is not a path, FileNotFoundError / OSError if it cannot be
    opened, or ValueError naming the path and the key for a file that is not an npz, a
    missing key, a wrong size or non-finite values (BudgetError, a ValueError, for a file
    asking for more memory than its budget; loading is pure and bounded, docs/security.md).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a .npz file path, got {type(path).__name__}")
    return guarded(path, _WHAT, _load_mean_params, path)


_WHAT = "smpl_mean_params.npz with 'pose' (144,), 'shape' (10,), 'cam' (3,)"


def _load_mean_params(path: Any) -> Dict[str, np.ndarray]:
    what = _WHAT
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"{os.fspath(path)!s}: not an .npz archive; expected {what}")
    z = read_npz(data, Meter(path, len(data)), os.fspath(path), keys=set(_SIZES))
    out = {}
    for key, n in _SIZES.items():
        if key not in z:
            raise ValueError(f"{os.fspath(path)!s}: missing key {key!r}; expected {what}")
        a = z[key]
        if a.dtype.kind not in "fiu" or a.shape not in ((n,), (1, n)):
            raise ValueError(f"{os.fspath(path)!s}: {key!r} has shape {a.shape} dtype "
                             f"{a.dtype}, expected ({n},) floats")
        a = np.ascontiguousarray(a.reshape(n), dtype=np.float32)
        if not np.isfinite(a).all():
            raise ValueError(f"{os.fspath(path)!s}: {key!r} contains NaN or infinite values")
        out[key] = a
    return out
