"""``smpl_mean_params.npz`` (docs/official.md#mean-params): the regressor's initial pose, shape and camera."""
from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np

__all__ = ["load_mean_params"]

_SIZES = {"pose": 144, "shape": 10, "cam": 3}


def load_mean_params(path: Any) -> Dict[str, np.ndarray]:
    """Read ``smpl_mean_params.npz``: returns ``{'pose': (144,), 'shape': (10,), 'cam': (3,)}``,
    float32, C-contiguous. ``pose`` is 24 rotations in the 6D representation (first 6 values
    ~ [1, 0, 0, -1, 0, 0]: a 180-degree turn about x), ``shape`` the mean betas, ``cam`` the
    crop camera [s, tx, ty] = [0.9, 0, 0]. Stored arrays of shape (1, n) are accepted.
    Other members of the archive are ignored.

    Raises FileNotFoundError, or ValueError naming the path and the key for a file that is not
    an npz, a missing key, a wrong size or non-finite values.
    """
    what = "smpl_mean_params.npz with 'pose' (144,), 'shape' (10,), 'cam' (3,)"
    try:
        z = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # zipfile/zlib/numpy errors on a damaged or foreign file
        raise ValueError(f"{os.fspath(path)!s}: cannot read as .npz ({exc}); expected {what}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{os.fspath(path)!s}: a single .npy array, expected {what}")
    out = {}
    with z:
        for key, n in _SIZES.items():
            if key not in z.files:
                raise ValueError(f"{os.fspath(path)!s}: missing key {key!r}; expected {what}")
            try:
                a = z[key]
            except Exception as exc:
                raise ValueError(f"{os.fspath(path)!s}: cannot read {key!r} ({exc})") from None
            if a.dtype.kind not in "fiu" or a.shape not in ((n,), (1, n)):
                raise ValueError(f"{os.fspath(path)!s}: {key!r} has shape {a.shape} dtype "
                                 f"{a.dtype}, expected ({n},) floats")
            a = np.ascontiguousarray(a.reshape(n), dtype=np.float32)
            if not np.isfinite(a).all():
                raise ValueError(f"{os.fspath(path)!s}: {key!r} contains NaN or infinite values")
            out[key] = a
    return out
