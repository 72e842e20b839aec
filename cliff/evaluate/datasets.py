"""Readers for the benchmark files users bring (licensed data: cliff never ships or downloads it).

- :func:`read_3dpw` - ``3dpw_test.npz`` in the SPIN/CLIFF layout (SPIN's
  ``datasets/preprocess/pw3d.py``): ``imgname``, ``center``, ``scale``, ``pose`` (72, root already
  in the camera frame), ``shape``, ``gender`` ('m'/'f').
- :func:`read_3dpw_sequence` - one of 3DPW's own ``sequenceFiles/test/*.pkl`` (camera intrinsics,
  per-frame extrinsics, per-person poses and 3D joints), optional.
- :func:`read_h36m` - ``h36m_valid_protocol2.npz`` (SPIN's ``datasets/preprocess/h36m.py``):
  ``imgname``, ``center``, ``scale``, ``S`` (24 joints in SPIN's order, metres, root-centred).
- :func:`read_emdb` - EMDB's per-sequence ``{subject}_{sequence}_data.pkl``.

Every reader checks keys, shapes and values and raises ``ValueError`` naming the file and the
missing key or the wrong shape (``OSError`` for unreadable files). ``.npz`` files are read
without pickle; ``.pkl`` files with :func:`cliff.io.unpickle.restricted_load`, whose NumPy
allowlist already covers everything these pickles hold (dicts, lists, str, bool, numbers,
NumPy arrays and scalars): nothing in them can run code.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

import numpy as np

__all__ = ["read_3dpw", "read_3dpw_sequence", "read_h36m", "read_emdb", "sequence_of",
           "frame_of"]


def _err(path: Any, msg: str) -> ValueError:
    return ValueError(f"{os.fspath(path)}: {msg}")


def _load_npz(path: Any) -> Mapping[str, np.ndarray]:
    """A dataset's arrays through the bounded reader (cliff.io.npz): a damaged or hostile
    archive is a ValueError naming the file, never an allocation its headers ask for."""
    from ..io.budget import Meter
    from ..io.npz import read_npz

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    return read_npz(path, Meter(path, os.path.getsize(path)), path)


def _load_pkl(path: Any) -> Any:
    from ..io.unpickle import restricted_load

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            return restricted_load(f)
    except ValueError as exc:
        raise _err(path, str(exc)) from None
    except (EOFError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise _err(path, f"not a readable pickle ({exc.__class__.__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - pickle.UnpicklingError and friends
        raise _err(path, f"not a readable pickle ({exc})") from None


def _key(d: Mapping, key: str, path: Any, what: str = "") -> Any:
    if not isinstance(d, Mapping):
        raise _err(path, f"expected a dict{' ' + what if what else ''}, got {type(d).__name__}")
    if key not in d:
        where = f"{what}: " if what else ""
        raise _err(path, f"{where}missing key {key!r} (keys: {sorted(map(str, d))})")
    return d[key]


def _array(v: Any, name: str, path: Any, shape: tuple, kind: str = "f") -> np.ndarray:
    """shape: ints, or None for "any size" (the first None is N)."""
    a = np.asarray(v)
    ok = a.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, a.shape))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise _err(path, f"{name} has shape {a.shape}, expected {want}")
    if kind == "f":
        if a.dtype.kind not in "fiu":
            raise _err(path, f"{name} has dtype {a.dtype}, expected numbers")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise _err(path, f"{name} contains NaN or infinite values")
    elif kind == "U" and a.dtype.kind not in "US":
        raise _err(path, f"{name} has dtype {a.dtype}, expected strings")
    return a


def _same_n(path: Any, arrays: dict[str, np.ndarray]) -> int:
    ns = {k: len(v) for k, v in arrays.items()}
    if len(set(ns.values())) != 1:
        raise _err(path, f"arrays have different lengths: {ns}")
    n = next(iter(ns.values()))
    if n == 0:
        raise _err(path, "holds no samples")
    return n


def _boxes(d: Mapping, path: Any) -> dict[str, np.ndarray]:
    out = {"imgname": _array(_key(d, "imgname", path), "imgname", path, (None,), "U").astype(str),
           "center": _array(_key(d, "center", path), "center", path, (None, 2)),
           "scale": _array(_key(d, "scale", path), "scale", path, (None,))}
    if (out["scale"] <= 0).any():
        i = int(np.argmin(out["scale"]))
        raise _err(path, f"scale[{i}] = {out['scale'][i]:g}, expected > 0 (box height / 200)")
    return out


def read_3dpw(path: Any) -> dict[str, np.ndarray]:
    """Read ``3dpw_test.npz`` (SPIN/CLIFF layout).

    Returns imgname (N,) str (relative to the 3DPW folder, e.g.
    ``imageFiles/downtown_arguing_00/image_00000.jpg``), center (N, 2) px, scale (N,) (box
    height / 200 px), pose (N, 72) axis-angle radians (the root already rotated into the
    camera frame), shape (N, 10), gender (N,) uint8: 0 male, 1 female ('m'/'f' in the file;
    'male'/'female' accepted too)."""
    d = _load_npz(path)
    out = _boxes(d, path)
    out["pose"] = _array(_key(d, "pose", path), "pose", path, (None, 72))
    shape = _array(_key(d, "shape", path), "shape", path, (None, None))
    if shape.shape[1] < 10:
        raise _err(path, f"shape has shape {shape.shape}, expected (N, 10)")
    out["shape"] = shape[:, :10]
    g = np.char.lower(np.char.strip(_array(_key(d, "gender", path), "gender", path, (None,), "U")
                                    .astype(str)))
    female = np.isin(g, ("f", "female"))
    bad = ~(female | np.isin(g, ("m", "male")))
    if bad.any():
        i = int(np.argmax(bad))
        raise _err(path, f"gender[{i}] = {str(g[i])!r}, expected 'm' or 'f'")
    out["gender"] = female.astype(np.uint8)
    _same_n(path, out)
    return out


def read_h36m(path: Any) -> dict[str, np.ndarray]:
    """Read ``h36m_valid_protocol2.npz`` (SPIN layout): imgname (N,), center (N, 2) px, scale
    (N,), S (N, 24, 3) metres: SPIN's 24-joint order, root-centred on the H36M pelvis (a 4th
    confidence column, when present, is dropped)."""
    d = _load_npz(path)
    out = _boxes(d, path)
    s = _array(_key(d, "S", path), "S", path, (None, 24, None))
    if s.shape[2] not in (3, 4):
        raise _err(path, f"S has shape {s.shape}, expected (N, 24, 4) or (N, 24, 3)")
    out["S"] = s[:, :, :3]
    _same_n(path, out)
    return out


_FRAME = re.compile(r"(\d+)\.[A-Za-z]+$")


def sequence_of(imgname: str, benchmark: str) -> str:
    """The sequence an image belongs to: its folder for 3DPW
    (``imageFiles/<seq>/image_00000.jpg``), the file name without the frame number for
    Human3.6M (``images/S9_Directions_1.60457274_000001.jpg`` -> ``S9_Directions_1.60457274``)."""
    if benchmark == "3dpw":
        return os.path.basename(os.path.dirname(imgname)) or "all"
    stem = os.path.splitext(os.path.basename(imgname))[0]
    return re.sub(r"_\d+$", "", stem) or stem


def frame_of(imgname: str) -> int:
    """Frame number in an image name (``image_00042.jpg`` -> 42)."""
    m = _FRAME.search(os.path.basename(imgname))
    if not m:
        raise ValueError(f"imgname {imgname!r}: no frame number before the extension")
    return int(m.group(1))


def read_3dpw_sequence(path: Any) -> dict[str, Any]:
    """Read one of 3DPW's ``sequenceFiles/<split>/<seq>.pkl``.

    Returns sequence (str), cam_intrinsics (3, 3) px, cam_poses (F, 4, 4) world-to-camera,
    poses list (people) of (F, 72), jointPositions list of (F, 72) metres (24 SMPL joints in
    the world frame), campose_valid list of (F,) bool."""
    d = _load_pkl(path)
    out: dict[str, Any] = {"sequence": str(_key(d, "sequence", path))}
    out["cam_intrinsics"] = _array(_key(d, "cam_intrinsics", path), "cam_intrinsics", path, (3, 3))
    out["cam_poses"] = _array(_key(d, "cam_poses", path), "cam_poses", path, (None, 4, 4))
    f = out["cam_poses"].shape[0]
    for key in ("poses", "jointPositions"):
        people = _key(d, key, path)
        if not isinstance(people, (list, tuple)) or not people:
            raise _err(path, f"{key}: expected a list with one array per person")
        out[key] = [_array(p, f"{key}[{i}]", path, (f, 72)) for i, p in enumerate(people)]
    valid = d.get("campose_valid")
    if valid is None:
        out["campose_valid"] = [np.ones(f, bool) for _ in out["poses"]]
    else:
        out["campose_valid"] = [_array(v, f"campose_valid[{i}]", path, (f,), "any").astype(bool)
                                for i, v in enumerate(valid)]
    if len(out["jointPositions"]) != len(out["poses"]):
        raise _err(path, f"poses has {len(out['poses'])} people, jointPositions "
                         f"{len(out['jointPositions'])}")
    return out


def read_emdb(path: Any) -> dict[str, Any]:
    """Read an EMDB ``{subject}_{sequence}_data.pkl`` (layout of EMDB's ``dataset.md``).

    Returns name, gender ('male'/'female'/'neutral'), emdb1 (bool), n_frames,
    good_frames_mask (n,) bool, intrinsics (3, 3), extrinsics (n, 4, 4) world-to-camera,
    width, height, poses_root (n, 3), poses_body (n, 69), trans (n, 3), betas (10,), bboxes
    (n, 4) xyxy px."""
    d = _load_pkl(path)
    n = _key(d, "n_frames", path)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise _err(path, f"n_frames = {n!r}, expected a positive integer")
    n = int(n)
    gender = str(_key(d, "gender", path)).lower()
    if gender not in ("male", "female", "neutral"):
        raise _err(path, f"gender = {gender!r}, expected 'male', 'female' or 'neutral'")
    out: dict[str, Any] = {"name": str(d.get("name", os.path.basename(os.fspath(path)))),
                           "gender": gender, "emdb1": bool(_key(d, "emdb1", path)), "n_frames": n}
    out["good_frames_mask"] = _array(_key(d, "good_frames_mask", path), "good_frames_mask", path,
                                     (n,), "any").astype(bool)
    cam = _key(d, "camera", path)
    out["intrinsics"] = _array(_key(cam, "intrinsics", path, "camera"), "camera.intrinsics",
                               path, (3, 3))
    out["extrinsics"] = _array(_key(cam, "extrinsics", path, "camera"), "camera.extrinsics",
                               path, (n, 4, 4))
    out["width"] = int(_key(cam, "width", path, "camera"))
    out["height"] = int(_key(cam, "height", path, "camera"))
    smpl = _key(d, "smpl", path)
    for key, shape in (("poses_root", (n, 3)), ("poses_body", (n, 69)), ("trans", (n, 3))):
        out[key] = _array(_key(smpl, key, path, "smpl"), f"smpl.{key}", path, shape)
    betas = _array(_key(smpl, "betas", path, "smpl"), "smpl.betas", path, (None,))
    if betas.shape[0] < 10:
        raise _err(path, f"smpl.betas has shape {betas.shape}, expected (10,)")
    out["betas"] = betas[:10]
    bb = _key(d, "bboxes", path)
    out["bboxes"] = _array(_key(bb, "bboxes", path, "bboxes"), "bboxes.bboxes", path, (n, 4))
    return out
