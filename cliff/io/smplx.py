"""SMPL-X model files (the official ``SMPLX_*.npz`` and ``SMPLX_*.pkl``) and smplx's
SMPL-X -> SMPL deformation-transfer file, read without SciPy, chumpy or ``pickle.load``;
writers for both model layouts (used by the stand-in).

Contract of :func:`load_smplx` (docs/smplx.md#files): the :func:`cliff.io.load_smpl` keys
with SMPL-X sizes, plus the landmark embedding and the hands' mean pose:

================ ================ ======= =============================================
key              shape            dtype   meaning
================ ================ ======= =============================================
v_template       (10475, 3)       float64 template vertices, metres
shapedirs        (10475, 3, K)    float64 the SHAPE components only (K = 300 when the file
                                          has >= 300 components, else min(10, stored),
                                          smplx's rule); expression components are dropped
posedirs         (10475, 3, 486)  float64 pose blend shapes, 54 joints x 9
J_regressor      (55, 10475)      float64 dense joint regressor
weights          (10475, 55)      float64 skinning weights
parents          (55,)            int64   kinematic tree, parents[0] == -1
faces            (20908, 3)       int32   triangles
lmk_faces_idx    (L,)             int32   triangle of each static face landmark (L = 51)
lmk_bary_coords  (L, 3)           float64 its barycentric weights
hands_meanl/r    (45,)            float64 mean finger pose (axis-angle), for flat_hand_mean=False
================ ================ ======= =============================================
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping

import numpy as np

from . import pickle_writer as pw
from .budget import guarded
from .smpl import _array, _csc_node, _err, _kintree, _validate, csc_node, read_model_dict
from .unpickle import SparseMatrix

__all__ = ["load_smplx", "save_smplx_npz", "save_smplx_pkl", "load_smplx2smpl",
           "save_smplx2smpl_pkl", "SMPLX_KEYS",
           "NUM_VERTICES", "NUM_JOINTS", "NUM_FACES"]

NUM_VERTICES, NUM_JOINTS, NUM_FACES = 10475, 55, 20908
SHAPE_SPACE_DIM = 300  # smplx: shape components come first, expression from 300 (or from 10)
SMPLX_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "parents", "faces",
              "lmk_faces_idx", "lmk_bary_coords", "hands_meanl", "hands_meanr")
_EXPECTED = "an SMPL-X model (official SMPLX_*.npz or .pkl)"
_FILE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
              "f", "lmk_faces_idx", "lmk_bary_coords", "hands_meanl", "hands_meanr")
_MAX_LANDMARKS = 256


def num_shape_components(stored: int) -> int:
    """Shape components of an SMPL-X file whose shapedirs holds ``stored`` components (shape
    then expression): 300 when stored >= 300 (the 400-component releases), else at most 10
    (the 10 + 10 releases), as smplx decides (body_models.py, SMPL.__init__)."""
    return SHAPE_SPACE_DIM if stored >= SHAPE_SPACE_DIM else min(10, stored)


def _validate_smplx(where: Any, raw: Mapping[str, Any], meter: Any = None) -> Dict[str, np.ndarray]:
    m = _validate(where, raw, meter)
    V, J = m["v_template"].shape[0], m["weights"].shape[1]
    if V != NUM_VERTICES or J != NUM_JOINTS:
        raise _err(where, f"{V} vertices and {J} joints, expected SMPL-X's {NUM_VERTICES} and "
                   f"{NUM_JOINTS} (an SMPL file? use cliff.SMPL)")
    if m["faces"].shape[0] != NUM_FACES:
        raise _err(where, f"'f' has {m['faces'].shape[0]} triangles, expected {NUM_FACES}")
    k = num_shape_components(m["shapedirs"].shape[2])
    m["shapedirs"] = np.ascontiguousarray(m["shapedirs"][:, :, :k])
    for key in ("lmk_faces_idx", "lmk_bary_coords"):
        if key not in raw:
            raise _err(where, f"missing key {key!r}; expected {_EXPECTED}")
    idx = _array(where, "lmk_faces_idx", raw["lmk_faces_idx"], meter)
    bary = _array(where, "lmk_bary_coords", raw["lmk_bary_coords"], meter)
    if idx.ndim != 1 or idx.dtype.kind not in "iu" or not 0 < idx.shape[0] <= _MAX_LANDMARKS:
        raise _err(where, f"'lmk_faces_idx' has shape {idx.shape} dtype {idx.dtype}, expected "
                   f"(L,) integers with 1 <= L <= {_MAX_LANDMARKS}")
    if idx.min() < 0 or idx.max() >= NUM_FACES:
        raise _err(where, f"'lmk_faces_idx' has triangle indices outside [0, {NUM_FACES})")
    if bary.shape != (idx.shape[0], 3) or bary.dtype.kind != "f" or not np.isfinite(bary).all():
        raise _err(where, f"'lmk_bary_coords' has shape {bary.shape} dtype {bary.dtype}, expected "
                   f"({idx.shape[0]}, 3) finite floats")
    m["lmk_faces_idx"] = np.ascontiguousarray(idx, dtype=np.int32)
    m["lmk_bary_coords"] = np.ascontiguousarray(bary, dtype=np.float64)
    for key in ("hands_meanl", "hands_meanr"):
        if key in raw:
            h = _array(where, key, raw[key], meter).astype(np.float64).reshape(-1)
            if h.shape != (45,) or not np.isfinite(h).all():
                raise _err(where, f"{key!r} has {h.size} values, expected 45 finite (15 joints x 3)")
        else:
            h = np.zeros(45)
        m[key] = h
    return m


def load_smplx(path: Any) -> Dict[str, np.ndarray]:
    """Read an SMPL-X model file into the contract dict (see the module docstring).

    ``.npz`` (content-detected): the official archive; only the keys above are read (its
    pickled ``joint2num``/``part2num`` members are skipped, never unpickled). ``.pkl``: the
    official Python-2 pickle read by the restricted unpickler (numpy arrays; chumpy ``Ch``
    and SciPy CSC/CSR matrices are accepted too). Loading is pure and bounded
    (docs/security.md).

    Raises TypeError if ``path`` is not a path; FileNotFoundError / OSError if it cannot be
    opened; ValueError naming the path and the offending key (an SMPL file, a wrong size, a
    missing landmark array; UnsafePickleError for a refused class, BudgetError for a file
    asking for more than its budget).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected an SMPL-X file path, got {type(path).__name__}")
    return guarded(path, _EXPECTED, _load_smplx, path)


def _load_smplx(path: Any) -> Dict[str, np.ndarray]:
    raw, meter = read_model_dict(path, _EXPECTED, keys=_FILE_KEYS)
    return _validate_smplx(path, raw, meter)


def _file_arrays(arrays: Mapping[str, Any], dtype: Any) -> dict:
    m = _validate_smplx("arrays", arrays)
    sd = m["shapedirs"]
    if sd.shape[2] < SHAPE_SPACE_DIM:  # the 10 + 10 layout: pad the shape part to 10
        sd = np.concatenate([sd, np.zeros((NUM_VERTICES, 3, 10 - sd.shape[2]))], axis=2)
    expression = 100 if sd.shape[2] == SHAPE_SPACE_DIM else 10
    ex = _array("arrays", "expression_dirs", arrays.get(
        "expression_dirs", np.zeros((NUM_VERTICES, 3, expression))))
    if ex.shape != (NUM_VERTICES, 3, expression):
        raise ValueError(f"arrays['expression_dirs']: expected shape ({NUM_VERTICES}, 3, {expression})")
    hands_components = arrays.get("hands_components", np.eye(45))
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    return {"v_template": m["v_template"],
            "shapedirs": np.concatenate([sd, ex], axis=2).astype(dtype),
            "posedirs": m["posedirs"].astype(dtype), "J_regressor": m["J_regressor"], "weights": m["weights"],
            "kintree_table": _kintree(m["parents"]), "f": m["faces"].astype(np.uint32),
            "lmk_faces_idx": m["lmk_faces_idx"].astype(np.int64),
            "lmk_bary_coords": m["lmk_bary_coords"], "hands_meanl": m["hands_meanl"],
            "hands_meanr": m["hands_meanr"],
            "hands_componentsl": np.asarray(hands_components, dtype=np.float64),
            "hands_componentsr": np.asarray(hands_components, dtype=np.float64)}


def save_smplx_npz(path: Any, arrays: Mapping[str, Any], dtype: Any = np.float64) -> None:
    """Write an SMPL-X model with the official ``.npz`` keys (v_template, shapedirs = shape
    then expression components (300 + 100, or 10 + 10 when the model has fewer than 300 shape
    components), posedirs (V,3,486), J_regressor dense,
    weights, kintree_table, f uint32, lmk_faces_idx, lmk_bary_coords, hands_meanl/r,
    hands_componentsl/r; shapedirs and posedirs in ``dtype``, float32 halves the file). ``arrays``: the :func:`load_smplx` contract, plus optionally
    ``expression_dirs`` (V,3,100 or 10) and ``hands_components`` (45,45). smplx reads it
    with ``smplx.SMPLX(path, ext='npz')``. The file is written to ``path`` exactly."""
    d = _file_arrays(arrays, dtype)
    with open(path, "wb") as f:
        np.savez(f, **d)


def save_smplx_pkl(path: Any, arrays: Mapping[str, Any], dtype: Any = np.float64) -> None:
    """Write an SMPL-X model as a Python-2 style protocol-2 pickle of a dict with the official
    keys (as :func:`save_smplx_npz`), ``J_regressor`` as a ``scipy.sparse.csc.csc_matrix``,
    written without SciPy. smplx reads it with ``smplx.SMPLX(path, ext='pkl')``."""
    d = _file_arrays(arrays, dtype)
    nd = pw.ndarray_node
    top = {k: (_csc_node(v) if k == "J_regressor" else nd(np.ascontiguousarray(v), py2=True))
           for k, v in d.items()}
    with open(path, "wb") as f:
        pw.dump(top, f, py2=True)


# --------------------------------------------------------------------------------------------
# SMPL-X -> SMPL vertex mapping (smplx transfer_model)

_MAP_EXPECTED = ("smplx's SMPL-X -> SMPL deformation transfer (smplx2smpl_deftrafo_setup.pkl: "
                 "a dict with 'mtx' (6890, 2 x 10475) or 'matrix' (6890, 10475))")
_MAX_ROW_ENTRIES = 64


def load_smplx2smpl(path: Any) -> Dict[str, np.ndarray]:
    """Read smplx's SMPL-X -> SMPL deformation-transfer file into per-SMPL-vertex rows:
    ``{'index': (6890, m) int64, 'weight': (6890, m) float64}`` so that SMPL vertex i is
    ``sum_k weight[i, k] * smplx_vertices[index[i, k]]`` (m = the most entries of a row;
    unused slots have weight 0).

    The file (transfer_model/utils/def_transfer.py, read_deformation_transfer) is a pickle
    of a dict with ``'mtx'``: a sparse (SciPy CSC/CSR) or dense matrix of shape
    (6890, 2 x 10475) whose first 10475 columns act on vertices (the rest on normals, unused),
    or ``'matrix'``: dense (6890, 10475). ``.npz`` with the same keys is accepted too.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a deformation-transfer file path, got {type(path).__name__}")
    return guarded(path, _MAP_EXPECTED, _load_map, path)


def save_smplx2smpl_pkl(path: Any, shape: tuple, rows: Any, cols: Any, values: Any) -> None:
    """Write a deformation transfer like smplx's file: a protocol-2 pickle of ``{'mtx': a
    scipy.sparse.csc.csc_matrix}`` with the given entries (written without SciPy)."""
    with open(path, "wb") as f:
        pw.dump({"mtx": csc_node(tuple(shape), np.asarray(rows), np.asarray(cols),
                                 np.asarray(values))}, f, py2=True)


def _load_map(path: Any) -> Dict[str, np.ndarray]:
    raw, meter = read_model_dict(path, _MAP_EXPECTED, keys=("mtx", "matrix"))
    if not isinstance(raw, Mapping) or not ("mtx" in raw or "matrix" in raw):
        raise _err(path, f"no 'mtx' or 'matrix' entry; expected {_MAP_EXPECTED}")
    key = "mtx" if "mtx" in raw else "matrix"
    m = raw[key]
    if isinstance(m, SparseMatrix):
        try:
            shape, rows, cols, vals = m.triplets()
        except ValueError as exc:
            raise _err(path, f"{key!r}: {exc}") from None
    else:
        a = _array(path, key, m, meter)
        if a.ndim != 2:
            raise _err(path, f"{key!r} has shape {a.shape}, expected a matrix")
        shape = a.shape
        rows, cols = np.nonzero(a)
        vals = a[rows, cols]
    nrows, ncols = shape
    want = (2 * NUM_VERTICES, NUM_VERTICES) if key == "mtx" else (NUM_VERTICES,)
    if nrows != 6890 or ncols not in want:
        raise _err(path, f"{key!r} has shape {tuple(shape)}, expected (6890, "
                   f"{' or '.join(map(str, want))})")
    vals = np.asarray(vals, dtype=np.float64)
    keep = cols < NUM_VERTICES  # the columns acting on vertices (not normals)
    rows, cols, vals = rows[keep].astype(np.int64), cols[keep].astype(np.int64), vals[keep]
    if not np.isfinite(vals).all():
        raise _err(path, f"{key!r} contains NaN or infinite values")
    counts = np.bincount(rows, minlength=6890)
    width = max(int(counts.max()) if counts.size else 0, 1)
    if width > _MAX_ROW_ENTRIES:
        raise _err(path, f"{key!r}: an SMPL vertex depends on {width} SMPL-X vertices (at most "
                   f"{_MAX_ROW_ENTRIES} expected: the transfer is barycentric)")
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(rows.shape[0]) - start[rows]
    index = np.zeros((6890, width), np.int64)
    weight = np.zeros((6890, width), np.float64)
    index[rows, slot] = cols
    weight[rows, slot] = vals
    return {"index": index, "weight": weight}
