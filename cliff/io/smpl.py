"""SMPL model files: the official Python-2 ``.pkl`` (chumpy ``Ch`` and SciPy CSC matrices
inside) and smplx-style ``.npz``, read without chumpy or SciPy; writers for both layouts.

Contract of :func:`load_smpl` (other modules rely on it): a dict with exactly

============== =============== ========= ===============================================
key            shape           dtype     meaning
============== =============== ========= ===============================================
v_template     (V, 3)          float64   template vertices, metres
shapedirs      (V, 3, K)       float64   shape blend shapes, all K stored (10 or 300)
posedirs       (V, 3, 9(J-1))  float64   pose blend shapes ((6890, 3, 207) for SMPL)
J_regressor    (J, V)          float64   dense joint regressor
weights        (V, J)          float64   LBS skinning weights
parents        (J,)            int64     kinematic tree, parents[0] == -1, parents[i] < i
faces          (F, 3)          int32     triangles, indices in [0, V)
============== =============== ========= ===============================================

SMPL itself has V = 6890, J = 24, F = 13776; other sizes are accepted when consistent.
"""
from __future__ import annotations

import io
import os
from typing import Any, Dict, Mapping

import numpy as np

from . import pickle_writer as pw
from .budget import BudgetError, Meter, describe, guarded
from .npz import read_npz
from .unpickle import ChArray, SparseMatrix, UnsafePickleError, restricted_load

__all__ = ["load_smpl", "save_smpl_pkl", "save_smpl_npz", "SMPL_KEYS"]

SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "parents", "faces")
_EXPECTED = "an SMPL model (official .pkl, or smplx-style .npz)"
_ROOT = 4294967295  # how the official files store the root's parent (uint32 -1)
_F32_MAX = float(np.finfo(np.float32).max)  # the core computes in float32


def _err(where: Any, msg: str) -> ValueError:
    return ValueError(f"{os.fspath(where)!s}: {msg}")


def _array(where: Any, key: str, v: Any, meter: Any = None) -> np.ndarray:
    if isinstance(v, ChArray):
        v = v.x
    if isinstance(v, SparseMatrix):
        try:
            v = v.toarray(meter)
        except BudgetError:
            raise
        except ValueError as exc:
            raise _err(where, f"{key!r}: {exc}") from None
    if meter is not None and not isinstance(v, (np.ndarray, np.generic, int, float)):
        # from a file: only arrays (a nested list could make np.asarray walk 2**40 items)
        raise _err(where, f"{key!r}: expected a numeric array, got {describe(v)}")
    if hasattr(v, "toarray") and not isinstance(v, np.ndarray):  # a real scipy matrix
        v = v.toarray()
    try:
        a = np.asarray(v)
    except Exception:
        a = None
    if a is None or a.dtype.kind not in "biuf":
        raise _err(where, f"{key!r}: expected a numeric array, got {type(v).__name__}")
    return a


def _validate(where: Any, raw: Mapping[str, Any], meter: Any = None) -> Dict[str, np.ndarray]:
    """Turn the raw entries (official or contract names) into the contract dict. Float data
    must be finite in float32, the precision the core computes in (1e300 is finite in
    float64 and infinite in float32: every vertex would be NaN)."""

    def get(*names: str) -> np.ndarray:
        for n in names:
            if n in raw:
                return _array(where, n, raw[n], meter)
        raise _err(where, f"missing key {names[0]!r}; expected {_EXPECTED}")

    def floats(key: str, a: np.ndarray, shape: tuple) -> np.ndarray:
        if a.ndim != len(shape) or any(e is not None and s != e for s, e in zip(a.shape, shape)):
            want = "(" + ", ".join("?" if e is None else str(e) for e in shape) + ")"
            raise _err(where, f"{key!r} has shape {a.shape}, expected {want}")
        a = np.ascontiguousarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise _err(where, f"{key!r} contains NaN or infinite values")
        if a.size and np.abs(a).max() > _F32_MAX:
            raise _err(where, f"{key!r} has values beyond the float32 range (|x| > 3.4e38): "
                       "infinite in the precision the core computes in")
        return a

    v_template = get("v_template")
    if v_template.ndim != 2 or v_template.shape[1] != 3 or v_template.shape[0] < 1:
        raise _err(where, f"'v_template' has shape {v_template.shape}, expected (V, 3)")
    V = v_template.shape[0]
    v_template = floats("v_template", v_template, (V, 3))
    weights = get("weights")
    if weights.ndim != 2 or weights.shape[0] != V or weights.shape[1] < 1:
        raise _err(where, f"'weights' has shape {weights.shape}, expected ({V}, J)")
    J = weights.shape[1]
    weights = floats("weights", weights, (V, J))
    shapedirs = get("shapedirs")
    if shapedirs.ndim != 3 or shapedirs.shape[2] < 1:
        raise _err(where, f"'shapedirs' has shape {shapedirs.shape}, expected ({V}, 3, K)")
    shapedirs = floats("shapedirs", shapedirs, (V, 3, None))
    posedirs = floats("posedirs", get("posedirs"), (V, 3, 9 * (J - 1)))
    J_regressor = floats("J_regressor", get("J_regressor"), (J, V))

    if "kintree_table" in raw or "parents" not in raw:
        kt = get("kintree_table")
        if kt.ndim != 2 or kt.shape != (2, J) or kt.dtype.kind not in "iu":
            raise _err(where, f"'kintree_table' has shape {kt.shape} dtype {kt.dtype}, expected "
                       f"(2, {J}) integers")
        parents = kt[0].astype(np.int64)
    else:
        parents = get("parents")
        if parents.shape != (J,) or parents.dtype.kind not in "iu":
            raise _err(where, f"'parents' has shape {parents.shape} dtype {parents.dtype}, "
                       f"expected ({J},) integers")
        parents = parents.astype(np.int64)
    parents = np.ascontiguousarray(parents)
    parents[0] = -1  # the root's entry is 4294967295 in the official files
    idx = np.arange(J)
    if J > 1 and (np.any(parents[1:] < 0) or np.any(parents[1:] >= idx[1:])):
        raise _err(where, "the kinematic tree is not in parent-before-child order (expected "
                   "0 <= parents[i] < i for i >= 1)")

    faces = get("f", "faces")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise _err(where, f"'f' has shape {faces.shape} dtype {faces.dtype}, expected (F, 3) "
                   "integers")
    if faces.size and (faces.min() < 0 or faces.max() >= V):
        raise _err(where, f"'f' has vertex indices outside [0, {V})")
    faces = np.ascontiguousarray(faces, dtype=np.int32)
    return {"v_template": v_template, "shapedirs": shapedirs, "posedirs": posedirs,
            "J_regressor": J_regressor, "weights": weights, "parents": parents, "faces": faces}


def load_smpl(path: Any) -> Dict[str, np.ndarray]:
    """Read an SMPL model file into the contract dict (see the module docstring).

    ``.pkl``: the official Python-2 pickle (male/female/neutral, v1.0.0 with 10 or v1.1.0
    with 300 shape components, or a "cleaned" one without chumpy objects). chumpy ``Ch``
    objects yield the array under their ``'x'`` state; SciPy CSC/CSR matrices are densified
    from ``data``/``indices``/``indptr`` and ``_shape`` (or ``shape``). Only the allowlisted
    classes are accepted; no code from the file runs.
    ``.npz``: smplx-style keys (v_template, shapedirs, posedirs, J_regressor, weights,
    kintree_table, f), no pickled objects.

    The format is detected from the content. parents = kintree_table[0] with parents[0]
    set to -1 (as smplx does). Float data must be finite in float32 (the core's precision).
    Loading is pure and bounded (docs/security.md).

    Raises TypeError if ``path`` is not a path; FileNotFoundError / OSError if it cannot be
    opened; ValueError naming the path and the offending key (including UnsafePickleError
    naming a refused class, and BudgetError for a file asking for more than its budget).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected an SMPL file path, got {type(path).__name__}")
    return guarded(path, _EXPECTED, _load_smpl, path)


def read_model_dict(path: Any, expected: str, keys: Any = None) -> tuple:
    """``(raw, meter)``: the dict of a model file, an ``.npz`` (content-detected; ``keys``:
    read only these members) or a pickle read by the restricted unpickler (group "smpl":
    chumpy and SciPy sparse stand-ins), with errors naming ``path`` and ``expected``."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise _err(path, f"the file is empty; expected {expected}")
    meter = Meter(path, len(data))
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return read_npz(data, meter, os.fspath(path), keys=keys), meter
    try:
        raw = restricted_load(data, groups=("smpl",), meter=meter)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{os.fspath(path)!s}: {exc}; expected {expected}") from None
    except BudgetError as exc:
        raise BudgetError(f"{os.fspath(path)!s}: {exc}") from None
    except ValueError as exc:  # any malformed pickle
        raise _err(path, f"not a readable pickle ({str(exc)[:200]}); expected "
                   f"{expected}") from None
    if not isinstance(raw, dict):
        raise _err(path, f"the pickle holds a {type(raw).__name__}, expected a dict; "
                   f"expected {expected}")
    return raw, meter


def _load_smpl(path: Any) -> Dict[str, np.ndarray]:
    raw, meter = read_model_dict(path, _EXPECTED)
    return _validate(path, raw, meter)


# --------------------------------------------------------------------------------------------
# Writers

def _csc_node(dense: np.ndarray) -> pw.Build:
    """A ``scipy.sparse.csc.csc_matrix`` as old SciPy pickled it (``_shape``, ``maxprint``,
    ``format`` and the three arrays), written without SciPy."""
    cols, rows = np.nonzero(dense.T)  # column-major order, rows sorted within a column
    return csc_node(dense.shape, rows, cols, dense[rows, cols])


def csc_node(shape: tuple, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> pw.Build:
    """:func:`_csc_node` from the entries (row, column, value) of a sparse matrix."""
    order = np.lexsort((rows, cols))
    rows, cols = np.asarray(rows)[order], np.asarray(cols)[order]
    data = np.asarray(values, dtype=np.float64)[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=shape[1]))])
    state = {"_shape": (int(shape[0]), int(shape[1])), "maxprint": 50,
             "format": "csc",
             "indices": pw.ndarray_node(rows.astype(np.int32), py2=True),
             "indptr": pw.ndarray_node(indptr.astype(np.int32), py2=True),
             "data": pw.ndarray_node(data, py2=True)}
    return pw.Build(pw.NewObj(pw.Global("scipy.sparse.csc", "csc_matrix"), ()), state)


def _ch_node(a: np.ndarray) -> pw.Build:
    """A plain ``chumpy.ch.Ch`` wrapping ``a``, with chumpy's pickled bookkeeping."""
    state = {"_dirty_vars": pw.Reduce(pw.Global("__builtin__", "set"), ([],)),
             "_itr": None, "_depends_on_deps": {}, "_make_dense": False, "_make_sparse": False,
             "x": pw.ndarray_node(np.asarray(a, dtype=np.float64), py2=True)}
    return pw.Build(pw.NewObj(pw.Global("chumpy.ch", "Ch"), ()), state)


def _kintree(parents: np.ndarray) -> np.ndarray:
    kt = np.stack([parents.astype(np.int64), np.arange(parents.shape[0], dtype=np.int64)])
    kt[0, 0] = _ROOT
    return kt


def save_smpl_pkl(path: Any, arrays: Mapping[str, Any]) -> None:
    """Write an SMPL model with the official file's structure (docs/official.md#smpl-file), without chumpy or
    SciPy: a Python-2 style protocol-2 pickle of a dict whose ``shapedirs`` is a
    ``chumpy.ch.Ch`` (state ``{'x': array, ...}``), ``J_regressor`` and ``J_regressor_prior``
    are ``scipy.sparse.csc.csc_matrix``, ``kintree_table`` is int64 with 4294967295 for the
    root, ``f`` is uint32, plus ``J``, ``weights_prior``, ``vert_sym_idxs``,
    ``pose_training_info``, ``bs_style='lbs'``, ``bs_type='lrotmin'``.

    ``arrays``: the contract keys of :func:`load_smpl` (or the official names
    ``kintree_table``/``f``). ``J``, ``J_regressor_prior``, ``weights_prior``,
    ``vert_sym_idxs``, ``pose_training_info`` may be given; otherwise ``J = J_regressor @
    v_template``, the priors repeat the model, ``vert_sym_idxs = arange(V)`` (a placeholder:
    no symmetry information) and ``pose_training_info = {}``.
    """
    m = _validate("arrays", arrays)
    V = m["v_template"].shape[0]
    J_prior = _array("arrays", "J_regressor_prior", arrays.get("J_regressor_prior", m["J_regressor"]))
    w_prior = _array("arrays", "weights_prior", arrays.get("weights_prior", m["weights"]))
    joints = _array("arrays", "J", arrays.get("J", m["J_regressor"] @ m["v_template"]))
    sym = _array("arrays", "vert_sym_idxs", arrays.get("vert_sym_idxs", np.arange(V, dtype=np.int64)))
    info = arrays.get("pose_training_info", {})
    if not isinstance(info, dict):
        raise TypeError("arrays['pose_training_info']: expected a dict")
    nd = pw.ndarray_node
    top = {
        "J_regressor_prior": _csc_node(np.asarray(J_prior, dtype=np.float64)),
        "f": nd(m["faces"].astype(np.uint32), py2=True),
        "J_regressor": _csc_node(m["J_regressor"]),
        "kintree_table": nd(_kintree(m["parents"]), py2=True),
        "J": nd(np.asarray(joints, dtype=np.float64), py2=True),
        "weights_prior": nd(np.asarray(w_prior, dtype=np.float64), py2=True),
        "weights": nd(m["weights"], py2=True),
        "vert_sym_idxs": nd(np.asarray(sym, dtype=np.int64), py2=True),
        "posedirs": nd(m["posedirs"], py2=True),
        "pose_training_info": info,
        "bs_style": "lbs",
        "v_template": nd(m["v_template"], py2=True),
        "shapedirs": _ch_node(m["shapedirs"]),
        "bs_type": "lrotmin",
    }
    with open(path, "wb") as f:
        pw.dump(top, f, py2=True)


def save_smpl_npz(path: Any, arrays: Mapping[str, Any]) -> None:
    """Write an smplx-style ``.npz`` (v_template, shapedirs, posedirs, J_regressor dense,
    weights, kintree_table int64 with 4294967295 root, f uint32; float64 arrays). The file is
    written to ``path`` exactly (no ``.npz`` suffix is added). smplx reads it through
    ``smplx.SMPL(model_path=path, data_struct=Struct(**np.load(path)))``."""
    m = _validate("arrays", arrays)
    with open(path, "wb") as f:
        np.savez(f, v_template=m["v_template"], shapedirs=m["shapedirs"],
                 posedirs=m["posedirs"], J_regressor=m["J_regressor"], weights=m["weights"],
                 kintree_table=_kintree(m["parents"]), f=m["faces"].astype(np.uint32))
