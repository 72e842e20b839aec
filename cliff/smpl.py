"""The SMPL body model on the C core: the same numbers as smplx's SMPL layer, batched.

Units and frame: metres, SMPL's own model frame (y up, the body faces +z). CLIFF's predicted
global orientation turns it into the OpenCV camera frame (x right, y down, z forward).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

from . import _core
from .constants import JOINT_NAMES

_MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "parents", "faces")


def _dense(x: Any, name: str) -> np.ndarray:
    """An ndarray from a dense array-like or a scipy-like sparse matrix (has .toarray())."""
    if not isinstance(x, np.ndarray) and hasattr(x, "toarray"):
        x = x.toarray()
    try:
        a = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - report which argument it was
        raise TypeError(f"{name}: expected an array or a sparse matrix, got {type(x).__name__}") from exc
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    return a


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def core_model(arrays: Mapping, num_betas: int, name: str = "model"):
    """The core's SMPL model (``_core.SMPL``) from the arrays of the cliff.io.load_smpl contract
    (v_template, shapedirs, posedirs, J_regressor (dense or sparse), weights, parents; faces is
    not needed), keeping the first ``num_betas`` shape components. The core copies the arrays
    (float64) and checks their shapes, values and kinematic tree."""
    missing = [k for k in _MODEL_KEYS[:-1] if k not in arrays]
    if missing:
        raise ValueError(f"{name}: missing arrays {missing}; expected keys {list(_MODEL_KEYS[:-1])}")
    if isinstance(num_betas, bool) or not isinstance(num_betas, (int, np.integer)):
        raise TypeError(f"num_betas: expected an int, got {type(num_betas).__name__}")
    shapedirs = _dense(arrays["shapedirs"], "shapedirs")
    if shapedirs.ndim != 3:
        raise ValueError(f"shapedirs: expected shape (6890, 3, K), got {shapedirs.shape}")
    available = shapedirs.shape[2]
    if not 0 <= num_betas <= available:
        raise ValueError(f"num_betas: expected 0..{available} (the model has {available} shape "
                         f"components), got {num_betas}")
    return _core.SMPL(
        _dense(arrays["v_template"], "v_template"),
        shapedirs[:, :, :num_betas],
        _dense(arrays["posedirs"], "posedirs"),
        _dense(arrays["J_regressor"], "J_regressor"),
        _dense(arrays["weights"], "weights"),
        _dense(arrays["parents"], "parents"),
    )


class SMPL:
    """SMPL body model (C core, float32), smplx semantics (docs/official.md#smpl-forward, #joints).

    ``SMPL(path_or_arrays, num_betas=10)``

    - ``path_or_arrays``: an official SMPL ``.pkl`` or an smplx-style ``.npz`` (read by
      ``cliff.io.load_smpl``), or a mapping with the arrays ``load_smpl`` returns
      (e.g. ``cliff._standin.smpl_arrays()``).
    - ``num_betas``: shape components to use (the first ``num_betas`` of the file; 10 or 300 in
      the official releases). More than the file has is an error.

    Attributes: ``faces`` (13776,3) int32; ``parents`` (24,) int64 (-1 for the root);
    ``num_betas``; ``joint_names`` (45 names); ``vertex_joint_ids`` (21,) the SMPL vertex behind
    each of joints 24..44; ``v_template`` (6890,3) float32 metres. All read-only.

    Calls are thread-safe (a model serializes its own calls) and release the GIL.
    """

    def __init__(self, model: Union[str, os.PathLike, Mapping], num_betas: int = 10, *,
                 threads: Optional[int] = None):
        from ._threads import check_threads
        nthreads = check_threads(threads)
        if isinstance(model, Mapping):
            arrays = model
        elif isinstance(model, (str, os.PathLike)):
            from .io import load_smpl

            arrays = load_smpl(model)
        else:
            raise TypeError("model: expected a path to an SMPL .pkl/.npz or a mapping of arrays, "
                            f"got {type(model).__name__}")
        missing = [k for k in _MODEL_KEYS if k not in arrays]
        if missing:
            raise ValueError(f"model: missing arrays {missing}; expected keys {list(_MODEL_KEYS)}")
        faces = _dense(arrays["faces"], "faces")
        if faces.shape != (13776, 3) or faces.dtype.kind not in "iu":
            raise ValueError(f"faces: expected integer shape (13776, 3), got {faces.dtype} {faces.shape}")
        n_vertices = np.shape(arrays["v_template"])[0]
        if faces.min() < 0 or faces.max() >= n_vertices:
            raise ValueError(f"faces: vertex indices must be in [0, {n_vertices}), "
                             f"got [{faces.min()}, {faces.max()}]")
        self._model = core_model(arrays, num_betas)
        parents = _dense(arrays["parents"], "parents")
        if nthreads:
            self._model.threads = nthreads
        self.faces: np.ndarray = _readonly(faces.astype(np.int32))
        self.parents: np.ndarray = _readonly(parents.astype(np.int64))
        self.v_template: np.ndarray = _readonly(
            _dense(arrays["v_template"], "v_template").astype(np.float32))
        self.num_betas: int = int(num_betas)
        self.joint_names: tuple = JOINT_NAMES
        self.vertex_joint_ids: np.ndarray = _readonly(_core.smpl_vertex_joint_ids())

    @property
    def threads(self) -> int:
        """Threads this body model's calls use: its own count when set (``threads=`` or
        assigning here), else the process-wide ``cliff.set_num_threads`` count."""
        return self._model.threads

    @threads.setter
    def threads(self, n: Optional[int]) -> None:
        from ._threads import check_threads
        self._model.threads = check_threads(n)

    def __repr__(self) -> str:
        return f"cliff.SMPL(num_betas={self.num_betas})"

    def fit_body(self, num_betas: Optional[int] = None):
        """The annotator fitter's body of this model (:class:`cliff.annotate.fit.FitBody`,
        float64, computed by the core) with the first ``num_betas`` shape components (default:
        all of the model's)."""
        from .annotate.fit import FitBody
        return FitBody.from_smpl(self, num_betas)

    def __call__(self, rotmat: Optional[Any] = None, pose: Optional[Any] = None,
                 betas: Optional[Any] = None, transl: Optional[Any] = None, *,
                 vertices: bool = True) -> dict:
        """Pose and shape N bodies.

        - ``rotmat`` (N,24,3,3) joint rotation matrices (root first: the global orientation),
          or ``pose`` (N,72) axis-angle radians, joint-major; exactly one of them.
        - ``betas`` (N,k), k <= num_betas; missing components are zero (default: all zero).
        - ``transl`` (N,3) metres, added to vertices and joints (default: zero).
        - ``vertices=False`` skips the mesh: only the 21 vertices behind joints 24..44 are
          skinned (much faster).

        Returns a dict of float32 arrays: ``vertices`` (N,6890,3) (unless vertices=False),
        ``joints`` (N,45,3) in ``joint_names`` order with ``transl``, and ``joints_rest``
        (N,24,3) the shaped joints before posing (no ``transl``). Metres, SMPL frame.
        Inputs may be float32/float64 arrays or anything with ``__array__`` (e.g. CPU tensors).
        """
        return self._model.forward(rotmat, pose, betas, transl, vertices=bool(vertices))

    def regress(self, vertices: Any, J_regressor: Any) -> np.ndarray:
        """Joints from vertices with a user regressor (e.g. Human3.6M-17 or SPIN's extra 9).

        ``vertices`` (N,V,3) or (V,3); ``J_regressor`` (J,V) dense array, or a sparse matrix
        with ``.toarray()`` (scipy is not required). Returns (N,J,3) (or (J,3)) in the
        floating type of ``vertices`` (float32 unless it is float64).
        """
        v = _dense(vertices, "vertices")
        if v.ndim not in (2, 3) or v.shape[-1] != 3:
            raise ValueError(f"vertices: expected shape (N, V, 3) or (V, 3), got {v.shape}")
        r = _dense(J_regressor, "J_regressor")
        if r.ndim != 2 or r.shape[1] != v.shape[-2]:
            raise ValueError(f"J_regressor: expected shape (J, {v.shape[-2]}) to match vertices, "
                             f"got {r.shape}")
        dtype = np.float64 if v.dtype == np.float64 else np.float32
        v = v.astype(dtype, copy=False)
        r = r.astype(dtype, copy=False)
        for a, name in ((v, "vertices"), (r, "J_regressor")):
            if not np.isfinite(a).all():
                raise ValueError(f"{name}: contains NaN or infinite values")
        return np.matmul(r, v)
