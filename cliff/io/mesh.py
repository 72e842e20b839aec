"""Triangle mesh export: Wavefront OBJ (text) and binary little-endian PLY.

Pure NumPy. Vertices are written in the units and frame they are given in (cliff uses metres).
"""
from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

PathLike = Union[str, os.PathLike]


def _mesh(vertices: Any, faces: Any) -> tuple:
    v = np.asarray(vertices)
    f = np.asarray(faces)
    if v.dtype.kind not in "fiu" or v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices: expected a real array of shape (V, 3), got {v.dtype} {v.shape}")
    if f.dtype.kind not in "iu" or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces: expected an integer array of shape (F, 3), got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces: vertex indices must be in [0, {len(v)}), got "
                         f"[{f.min()}, {f.max()}]")
    if not np.isfinite(v).all():
        raise ValueError("vertices: contains NaN or infinite values")
    return v, f.astype(np.int64)


def save_obj(path: PathLike, vertices: Any, faces: Any) -> None:
    """Write a triangle mesh as OBJ: ``vertices`` (V,3), ``faces`` (F,3) 0-based indices
    (written 1-based as OBJ requires). Coordinates with 6 decimals (micrometres for metres)."""
    v, f = _mesh(vertices, faces)
    lines = ["# cliff mesh: %d vertices, %d faces\n" % (len(v), len(f))]
    lines += ["v %.6f %.6f %.6f\n" % tuple(p) for p in v.astype(np.float64).tolist()]
    lines += ["f %d %d %d\n" % tuple(t) for t in (f + 1).tolist()]
    with open(path, "w", encoding="ascii") as fh:
        fh.writelines(lines)


def save_ply(path: PathLike, vertices: Any, faces: Any) -> None:
    """Write a triangle mesh as binary little-endian PLY: ``vertices`` (V,3) stored float32,
    ``faces`` (F,3) 0-based indices stored int32 (a uchar count of 3 per face)."""
    v, f = _mesh(vertices, faces)
    header = ("ply\nformat binary_little_endian 1.0\ncomment cliff mesh\n"
              f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
              f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
    face_rec = np.empty(len(f), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["idx"] = f
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(v.astype("<f4").tobytes())
        fh.write(face_rec.tobytes())
