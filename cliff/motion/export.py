"""Animation files from results: ``cliff.export_glb`` and ``cliff.export_bvh`` (docs/motion.md)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["export_glb", "export_bvh", "tracks_of"]


def _smpl(smpl: Any):
    """(cliff.SMPL, arrays) from a path or a mapping of the body model's arrays."""
    from ..io.smpl import load_smpl
    from ..smpl import SMPL

    if isinstance(smpl, SMPL):
        raise TypeError("smpl: expected the SMPL file path or its arrays (cliff.io.load_smpl): the "
                        "files need the skinning weights, which a cliff.SMPL does not keep")
    if isinstance(smpl, Mapping):
        arrays = smpl
    elif isinstance(smpl, (str, os.PathLike)):
        arrays = load_smpl(smpl)
    else:
        raise TypeError(f"smpl: expected a path to an SMPL file or a mapping of arrays, got {type(smpl).__name__}")
    return SMPL(arrays), arrays


def _get(results: Mapping, *names: str) -> np.ndarray:
    for n in names:
        if n in results:
            return np.asarray(results[n])
    raise KeyError(f"results: missing {' or '.join(repr(n) for n in names)}")


def tracks_of(results: Mapping) -> dict[int, dict[str, np.ndarray]]:
    """Group result rows by track: {track_id: {"rotmat" (T,24,3,3), "transl" (T,3),
    "betas" (T,B), "frames" (T,)}} ordered by frame. Without ``track_id``/``frame`` (one image),
    each row is its own one-frame track (ids 0..N-1, frame 0)."""
    from ..camera import axis_angle_to_rotmat

    pose = np.asarray(_get(results, "pose", "rotmat"), np.float64)
    N = len(pose)
    if pose.ndim == 2 and pose.shape[1] == 72:
        R = axis_angle_to_rotmat(pose.reshape(-1, 3)).reshape(N, 24, 3, 3)
    elif pose.ndim == 4 and pose.shape[1:] == (24, 3, 3):
        R = pose
    else:
        raise ValueError(f"results: pose must be (N, 72) axis-angle or (N, 24, 3, 3), got {pose.shape}")
    t = np.asarray(_get(results, "global_t", "t_full"), np.float64).reshape(N, 3)
    b = np.asarray(_get(results, "shape", "betas"), np.float64).reshape(N, -1)
    if "track_id" in results and "frame" in results:
        tid = np.asarray(results["track_id"]).astype(np.int64).reshape(-1)
        fr = np.asarray(results["frame"]).astype(np.int64).reshape(-1)
        if len(tid) != N or len(fr) != N:
            raise ValueError("results: track_id and frame need one entry per body")
    else:
        tid, fr = np.arange(N), np.zeros(N, np.int64)
    out = {}
    for k in np.unique(tid[tid >= 0]):
        rows = np.nonzero(tid == k)[0]
        rows = rows[np.argsort(fr[rows], kind="stable")]
        if len(np.unique(fr[rows])) != len(rows):
            raise ValueError(f"results: track {k} has two bodies in one frame")
        out[int(k)] = {"rotmat": R[rows], "transl": t[rows], "betas": b[rows], "frames": fr[rows]}
    return out


def _track_betas(b: np.ndarray) -> np.ndarray:
    return np.median(b, axis=0)


def _rest(model, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    body = model(rotmat=np.tile(np.eye(3), (1, 24, 1, 1)), betas=betas[None, :model.num_betas])
    return body["vertices"][0].astype(np.float64), body["joints_rest"][0].astype(np.float64)


def _paths(path: str, ids: list[int], per: str) -> list[str]:
    if per == "scene":
        return [path]
    root, ext = os.path.splitext(path)
    return [f"{root}_track{k}{ext}" for k in ids]


def export_glb(results: Mapping, smpl: Any, path: str | os.PathLike, *, per: str = "track",
               fps: float = 30.0, correctives: bool = False) -> list[str]:
    """Write glTF 2.0 binary files from results (the npz keys of ``cliff predict --track``, or
    the same from Python: ``pose``, ``global_t``, ``shape``, ``track_id``, ``frame``).

    Tracked results: an animated, skinned body per track (β = the track's median), per track
    (``<path stem>_track<id>.glb``) or all tracks in one file (``per="scene"``). Results without
    ``track_id`` (one image): the posed meshes of all people in ``path``, exactly SMPL's output
    (corrective shapes included). ``smpl``: the SMPL file or its arrays. Returns the paths."""
    from ..io.gltf import write_glb, write_glb_meshes

    if per not in ("track", "scene"):
        raise ValueError(f"per: expected 'track' or 'scene', got {per!r}")
    path = os.fspath(path)
    model, arrays = _smpl(smpl)
    tracks = tracks_of(results)
    if "track_id" not in results:
        if not tracks:
            raise ValueError("results: no bodies to export")
        R = np.concatenate([tr["rotmat"] for tr in tracks.values()])
        body = model(rotmat=R, betas=np.concatenate([tr["betas"] for tr in tracks.values()])[:, :model.num_betas],
                     transl=np.concatenate([tr["transl"] for tr in tracks.values()]))
        write_glb_meshes(path, body["vertices"], model.faces)
        return [path]
    if not tracks:
        raise ValueError("results: no tracked bodies to export")
    ids = sorted(tracks)
    people = []
    for k in ids:
        tr = tracks[k]
        rv, rj = _rest(model, _track_betas(tr["betas"]))
        people.append({"rest_vertices": rv, "rest_joints": rj, "rotmat": tr["rotmat"],
                       "transl": tr["transl"], "frames": tr["frames"]})
    colors = _track_colors(ids)
    out = _paths(path, ids, per)
    if per == "scene":
        write_glb(path, arrays, people, fps=fps, correctives=correctives,
                  names=[f"track_{k}" for k in ids], colors=colors)
    else:
        for p, k, person, c in zip(out, ids, people, colors):
            write_glb(p, arrays, [person], fps=fps, correctives=correctives, names=[f"track_{k}"],
                      colors=c[None])
    return out


def export_bvh(results: Mapping, smpl: Any, path: str | os.PathLike, *, fps: float = 30.0) -> list[str]:
    """Write one BVH per track (``<path stem>_track<id>.bvh``; one body without tracks:
    ``path``). Offsets from the track's shaped rest joints (β = the track's median).
    ``smpl``: the SMPL file or its arrays. Returns the paths."""
    from ..io.bvh import write_bvh

    path = os.fspath(path)
    model, arrays = _smpl(smpl)
    tracks = tracks_of(results)
    if not tracks:
        raise ValueError("results: no bodies to export")
    ids = sorted(tracks)
    out = [path] if len(ids) == 1 and "track_id" not in results else _paths(path, ids, "track")
    for p, k in zip(out, ids):
        tr = tracks[k]
        _, rj = _rest(model, _track_betas(tr["betas"]))
        write_bvh(p, rj, model.parents, tr["rotmat"], tr["transl"], tr["frames"], fps=fps)
    return out


def _track_colors(ids: list[int]) -> np.ndarray:
    """A stable colour per track id (golden-ratio hues), RGB floats in [0, 1]."""
    import colorsys
    return np.array([colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.5, 1.0) for k in ids],
                    np.float32).reshape(-1, 3)
