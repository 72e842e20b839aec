"""Rotations and CLIFF's camera geometry: NumPy functions over the C core (csrc/geometry.c).

Conventions (all functions)
---------------------------
- Units: pixels for image quantities, metres for 3D, radians for angles.
- Camera frame: OpenCV (x right, y down, z forward).
- Batching: any number of leading dimensions ``...``; the arguments of one call are broadcast
  against each other by NumPy rules (a scalar focal or a ``(2,)`` image size applies to every
  item).
- Precision: the *main* argument (named in each docstring) decides. float32 (or float16) in ->
  computed in float32 -> float32 out, with the official order of operations (so the numbers
  match the official float32 demo); anything else real (float64, integers, Python numbers,
  lists) -> computed in float64 -> float64 out. The other arguments are converted to that
  precision. ``boxes_to_center_scale`` and ``estimate_focal_length`` always return float64,
  like the official code.
- Inputs may be any array-like of real numbers: non-contiguous, read-only and big-endian arrays
  and objects with ``__array__`` (e.g. PyTorch CPU tensors) are accepted. Wrong shapes, non-real
  dtypes, NaN/inf and non-positive sizes, focal lengths or box heights raise ``ValueError`` or
  ``TypeError`` naming the argument and the expected shape.

Intrinsics
----------
CLIFF assumes square pixels (fx = fy = f), the principal point at the image centre
(W/2, H/2, as floats) and, without calibration, f = sqrt(W^2 + H^2) (the image diagonal,
``estimate_focal_length``). Where you know the intrinsics, pass ``K`` instead of
``img_size``/``focal``, either as a 3x3 matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (no
skew) or as ``(fx, fy, cx, cy)``, batched as ``(..., 3, 3)`` or ``(..., 4)``. Then:

- the principal point (cx, cy) of K replaces (W/2, H/2) everywhere;
- ``bbox_info`` and ``cam_crop_to_full`` use one focal length f = (fx + fy) / 2, as the
  official evaluation protocol does with known intrinsics (the model was trained with a single
  f); when fx != fy this is an approximation;
- ``project_points`` uses fx and fy separately.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _core
from .constants import BOX_RESCALE

ArrayLike = npt.ArrayLike
_FORMS = {"released": 0, "paper": 1}


# ---- argument helpers -------------------------------------------------------------------

def _real(x: Any, name: str) -> np.ndarray:
    """x as an ndarray of real numbers (no copy when possible); TypeError/ValueError naming it."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected an array of real numbers, got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name}: expected a rectangular array of real numbers ({exc})") from exc
    except Exception as exc:
        raise TypeError(f"{name}: expected an array of real numbers, got {type(x).__name__} "
                        f"({exc})") from exc
    if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
        raise TypeError(f"{name}: expected real numbers (float32 or float64), got dtype {a.dtype}")
    return a


def _float_dtype(a: np.ndarray) -> type:
    return np.float32 if a.dtype.kind == "f" and a.dtype.itemsize <= 4 else np.float64


def _trailing(a: np.ndarray, name: str, tail: Tuple[int, ...], expect: str) -> None:
    if a.ndim < len(tail) or a.shape[a.ndim - len(tail):] != tail:
        raise ValueError(f"{name}: expected shape {expect}, got {a.shape}")


def _finite(a: np.ndarray, name: str) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")


def _positive(a: np.ndarray, name: str, what: str) -> None:
    _finite(a, name)
    if not (a > 0).all():
        raise ValueError(f"{name}: expected {what} > 0, got {a.min()!r}")


def _broadcast(named: dict, core: dict) -> tuple:
    """Broadcast the leading dims (shape minus `core[name]` trailing dims) of the arrays."""
    leads = {k: v.shape[: v.ndim - core[k]] for k, v in named.items()}
    try:
        lead = np.broadcast_shapes(*leads.values())
    except ValueError:
        desc = ", ".join(f"{k} {v}" for k, v in leads.items())
        raise ValueError(f"leading dims do not broadcast: {desc}") from None
    return tuple(np.broadcast_to(v, lead + v.shape[v.ndim - core[k]:]) for k, v in named.items())


def _parse_K(K: ArrayLike):
    """(fx, fy, cx, cy) float64 arrays of K's leading shape, validated."""
    a = _real(K, "K")
    if a.ndim >= 2 and a.shape[-2:] == (3, 3):
        a = a.astype(np.float64)
        _finite(a, "K")
        off = (a[..., 0, 1], a[..., 1, 0], a[..., 2, 0], a[..., 2, 1], a[..., 2, 2] - 1)
        if any(np.any(o != 0) for o in off):
            raise ValueError("K: expected [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew, last row "
                             "0 0 1)")
        fx, fy, cx, cy = a[..., 0, 0], a[..., 1, 1], a[..., 0, 2], a[..., 1, 2]
    elif a.ndim >= 1 and a.shape[-1] == 4:
        a = a.astype(np.float64)
        _finite(a, "K")
        fx, fy, cx, cy = np.moveaxis(a, -1, 0)
    else:
        raise ValueError(f"K: expected shape (..., 3, 3) or (..., 4) = [fx, fy, cx, cy], got {a.shape}")
    if not ((fx > 0).all() and (fy > 0).all()):
        raise ValueError("K: expected focal lengths fx > 0 and fy > 0")
    return fx, fy, cx, cy


def _pp_focal(img_size, focal, K, dt):
    """Principal point (..., 2) and single focal length (...) in dtype dt (see module doc)."""
    if K is not None:
        if img_size is not None or focal is not None:
            raise ValueError("K: give either K or img_size (and focal), not both")
        fx, fy, cx, cy = _parse_K(K)
        return np.stack([cx, cy], axis=-1).astype(dt), ((fx + fy) / 2).astype(dt)
    if img_size is None:
        raise TypeError("img_size: required unless K is given; expected (..., 2) = [W, H] pixels")
    s = _real(img_size, "img_size")
    _trailing(s, "img_size", (2,), "(..., 2) = [W, H] (width, height in pixels)")
    _positive(s, "img_size", "image width and height")
    pp = s.astype(dt) / dt(2)
    if focal is None:
        f = estimate_focal_length(s[..., 0], s[..., 1])
        f = np.asarray(f).astype(dt)
    else:
        f = _real(focal, "focal").astype(dt, copy=False)
        _positive(f, "focal", "focal length")
    return pp, f


def _center_b(center, b, dt=None):
    c = _real(center, "center")
    _trailing(c, "center", (2,), "(..., 2) = [cx, cy] pixels")
    dt = dt or _float_dtype(c)
    bb = _real(b, "b").astype(dt, copy=False)
    _positive(bb, "b", "box height b")
    return c.astype(dt, copy=False), bb, dt


# ---- rotations -------------------------------------------------------------------------

def rot6d_to_rotmat(x: ArrayLike) -> np.ndarray:
    """6D rotation representation -> rotation matrices, official CLIFF convention.

    Each 6-vector (x0..x5) is read as the row-major 3x2 matrix [[x0, x1], [x2, x3], [x4, x5]];
    its two columns are orthonormalised (Gram-Schmidt, norms clamped at 1e-12 as
    ``F.normalize``) into b1, b2 and b3 = b1 x b2; R = [b1 | b2 | b3] (columns).

    Args:
        x: (..., 6), or (..., 144) = 24 SMPL joints x 6 (the network's pose vector, joint-major).
            Main argument (decides float32/float64).
    Returns:
        (..., 3, 3) for (..., 6) input, (..., 24, 3, 3) for (..., 144) input.
    """
    a = _real(x, "x")
    if a.ndim >= 1 and a.shape[-1] == 144:
        return _core.rot6d_to_rotmat(a.reshape(a.shape[:-1] + (24, 6)))
    _trailing(a, "x", (6,), "(..., 6) or (..., 144)")
    return _core.rot6d_to_rotmat(a)


def rotmat_to_axis_angle(R: ArrayLike) -> np.ndarray:
    """Rotation matrices -> axis-angle vectors (radians), the official demo's numbers.

    Reproduces torchgeometry 0.1.2 ``rotation_matrix_to_angle_axis`` (used by the demo's
    default ``--pose_format aa``): quaternion by the four-case formula with eps = 1e-6 on R[2,2],
    not re-normalised, then angle-axis with the angle folded into [-pi, pi]. So it also gives
    the official numbers for non-orthonormal input (the branch choice keeps the square root's
    argument above 1 - 1e-6, so any finite matrix gives finite numbers; far from a rotation they
    mean little).

    Args:
        R: (..., 3, 3). Main argument.
    Returns:
        (..., 3). For the official demo's (N, 72) ``pose`` layout, pass (N, 24, 3, 3) and
        ``.reshape(N, 72)`` the result (joint-major).
    """
    a = _real(R, "R")
    _trailing(a, "R", (3, 3), "(..., 3, 3)")
    return _core.rotmat_to_axis_angle(a)


def axis_angle_to_rotmat(aa: ArrayLike) -> np.ndarray:
    """Axis-angle vectors (radians) -> rotation matrices (Rodrigues' formula).

    R = cos(t) I + sin(t)/t [a]x + (1 - cos(t))/t^2 a a^T with t = |a|, evaluated without
    cancellation (1 - cos t = 2 sin^2(t/2); Taylor series for t^2 < 1e-6), so tiny angles give
    I + [a]x to full precision. Note: smplx's ``batch_rodrigues`` adds 1e-8 inside the norm and
    differs from this by up to ~1e-8.

    Args:
        aa: (..., 3). Main argument. For the demo's (N, 72) layout use ``aa.reshape(N, 24, 3)``.
    Returns:
        (..., 3, 3).
    """
    a = _real(aa, "aa")
    _trailing(a, "aa", (3,), "(..., 3)")
    return _core.axis_angle_to_rotmat(a)


# ---- boxes and cameras -------------------------------------------------------------------

def estimate_focal_length(img_w: ArrayLike, img_h: ArrayLike) -> Union[float, np.ndarray]:
    """CLIFF's focal length without calibration: the image diagonal sqrt(W^2 + H^2), pixels.

    Args:
        img_w, img_h: image width and height in pixels (> 0), scalars or broadcastable arrays.
    Returns:
        A Python float for scalar inputs, else a float64 array (the official code computes it as
        a Python float and casts to float32 only when batching for the network).
    """
    w, h = _real(img_w, "img_w"), _real(img_h, "img_h")
    w, h = _broadcast({"img_w": w, "img_h": h}, {"img_w": 0, "img_h": 0})
    out = _core.estimate_focal_length(w, h)
    return float(out) if out.ndim == 0 else out


def boxes_to_center_scale(xyxy: ArrayLike, rescale: float = BOX_RESCALE) -> Tuple[np.ndarray, np.ndarray]:
    """Person boxes -> crop centre and scale, official ``bbox_from_detector``.

    center = ((x1 + x2)/2, (y1 + y2)/2); box = max(1.3333333333333333 * (x2 - x1), y2 - y1)
    (padded to 3:4 width:height); scale = (box / 200) * rescale. The crop height in pixels is
    b = 200 * scale, its width 0.75 * b.

    Precision: float32 boxes (the detector's output) are handled like the official code under
    NumPy 1.x: x1 + x2 and the width/height in float32, everything after in float64. float64
    boxes are computed in float64. Both return float64 (the crop uses these values; the network
    inputs cast them to float32).

    Args:
        xyxy: (..., 4) = [x1, y1, x2, y2] pixels, x2 >= x1, y2 >= y1, not both sizes zero.
        rescale: box enlargement factor (> 0). The official default is 1.1 (not 1.2).
    Returns:
        (center (..., 2) float64 pixels, scale (...) float64).
    """
    a = _real(xyxy, "xyxy")
    _trailing(a, "xyxy", (4,), "(..., 4) = [x1, y1, x2, y2]")
    if isinstance(rescale, bool) or not isinstance(rescale, (int, float, np.integer, np.floating)):
        raise TypeError(f"rescale: expected a number, got {type(rescale).__name__}")
    return _core.boxes_to_center_scale(a, float(rescale))


def bbox_info(center: ArrayLike, b: ArrayLike, img_size: Optional[ArrayLike] = None,
              focal: Optional[ArrayLike] = None, form: str = "released",
              K: Optional[ArrayLike] = None) -> np.ndarray:
    """CLIFF's bounding-box input to the regressor (3 numbers per person).

    With (px, py) the principal point and f the focal length:

    - ``form="released"`` (what the released checkpoints expect; the official demo):
      [((cx - px)/f) * 2.8, ((cy - py)/f) * 2.8, (b - 0.24 f) / (0.06 f)]
    - ``form="paper"`` (Equation 5 of the paper): [(cx - px)/f, (cy - py)/f, b/f]

    Args:
        center: (..., 2) box centre [cx, cy], pixels. Main argument: pass float32 (as the demo
            does) to get the official float32 numbers.
        b: (...) crop height in pixels, b = 200 * scale (> 0). For bit parity with the demo
            compute it in float32: ``np.float32(scale) * 200``.
        img_size: (..., 2) = [W, H] image width and height in pixels; principal point W/2, H/2.
        focal: (...) focal length in pixels (> 0). Default: ``estimate_focal_length(W, H)``.
        form: "released" or "paper".
        K: intrinsics instead of img_size/focal: (..., 3, 3) or (..., 4) = [fx, fy, cx, cy];
            uses (cx, cy) and f = (fx + fy)/2 (see the module docstring).
    Returns:
        (..., 3), dtype of ``center``'s precision.
    """
    if form not in _FORMS:
        raise ValueError(f"form: expected 'released' or 'paper', got {form!r}")
    c, bb, dt = _center_b(center, b)
    pp, f = _pp_focal(img_size, focal, K, dt)
    c, bb, pp, f = _broadcast({"center": c, "b": bb, "principal_point": pp, "focal": f},
                              {"center": 1, "b": 0, "principal_point": 1, "focal": 0})
    return _core.bbox_info(c, bb, pp, f, _FORMS[form])


def cam_crop_to_full(cam_crop: ArrayLike, center: ArrayLike, b: ArrayLike,
                     img_size: Optional[ArrayLike] = None, focal: Optional[ArrayLike] = None,
                     K: Optional[ArrayLike] = None) -> np.ndarray:
    """Crop camera (s, tx, ty) -> full-frame SMPL translation (metres), official cam_crop2full.

    With bs = b*s + 1e-9, (px, py) the principal point and f the focal length:
    t = [2 (cx - px)/bs + tx, 2 (cy - py)/bs + ty, 2 f/bs]. This is the ``transl`` given to SMPL
    (added to every vertex and joint), not the pelvis position. The model's points X then project
    with ``project_points(X + t, f, (px, py))`` where the weak-perspective crop camera put them.
    s <= 0 (not produced by a sane network) gives a non-physical t (behind the camera or huge).

    Args:
        cam_crop: (..., 3) = [s, tx, ty] from the network. Main argument (float32 in the demo).
        center: (..., 2) box centre [cx, cy], pixels.
        b: (...) crop height in pixels, b = 200 * scale (> 0).
        img_size: (..., 2) = [W, H] pixels; principal point W/2, H/2.
        focal: (...) focal length in pixels (> 0). Default: ``estimate_focal_length(W, H)``.
        K: intrinsics instead of img_size/focal, as in :func:`bbox_info`.
    Returns:
        (..., 3) translation [tx, ty, tz] in metres, OpenCV camera frame.
    """
    cam = _real(cam_crop, "cam_crop")
    _trailing(cam, "cam_crop", (3,), "(..., 3) = [s, tx, ty]")
    dt = _float_dtype(cam)
    c, bb, _ = _center_b(center, b, dt)
    pp, f = _pp_focal(img_size, focal, K, dt)
    cam, c, bb, pp, f = _broadcast(
        {"cam_crop": cam, "center": c, "b": bb, "principal_point": pp, "focal": f},
        {"cam_crop": 1, "center": 1, "b": 0, "principal_point": 1, "focal": 0})
    return _core.cam_crop_to_full(cam, c, bb, pp, f)


def project_points(points: ArrayLike, focal: Optional[ArrayLike] = None,
                   principal_point: Optional[ArrayLike] = None,
                   K: Optional[ArrayLike] = None) -> np.ndarray:
    """Full-frame perspective projection, OpenCV convention: u = fx X/Z + cx, v = fy Y/Z + cy.

    No distortion. Points must be in front of the camera (Z > 0) for a meaningful result;
    Z = 0 gives inf/NaN, Z < 0 a mirrored point (not checked, as in OpenCV).

    Args:
        points: (..., 3) camera-frame points in metres. Main argument.
        focal: f in pixels (> 0), fx = fy = f (CLIFF's square pixels); a scalar or an array
            broadcastable against ``points.shape[:-1]`` (per person for (N, J, 3) points: (N, 1)).
        principal_point: (..., 2) = [cx, cy] pixels, broadcastable likewise (e.g. (2,) or
            (N, 1, 2)). CLIFF uses (W/2, H/2).
        K: instead of focal/principal_point: (..., 3, 3) or (..., 4) = [fx, fy, cx, cy]; fx and fy
            are used separately. Batched K for (N, J, 3) points: (N, 1, 3, 3) or (N, 1, 4).
    Returns:
        (..., 2) pixel coordinates [u, v].
    """
    p = _real(points, "points")
    _trailing(p, "points", (3,), "(..., 3) = [X, Y, Z] metres")
    dt = _float_dtype(p)
    if K is not None:
        if focal is not None or principal_point is not None:
            raise ValueError("K: give either K or focal and principal_point, not both")
        fx, fy, cx, cy = _parse_K(K)
        fxfy = np.stack([fx, fy], axis=-1).astype(dt)
        pp = np.stack([cx, cy], axis=-1).astype(dt)
    else:
        if focal is None or principal_point is None:
            raise TypeError("focal, principal_point: both required unless K is given")
        f = _real(focal, "focal")
        _positive(f, "focal", "focal length")
        fxfy = np.stack([f, f], axis=-1).astype(dt)
        pp = _real(principal_point, "principal_point")
        _trailing(pp, "principal_point", (2,), "(..., 2) = [cx, cy] pixels")
        _finite(pp, "principal_point")
        pp = pp.astype(dt, copy=False)
    if fxfy.ndim == 1 and pp.ndim == 1:  # one camera for all points
        return _core.project_points(p, fxfy, pp)
    p, fxfy, pp = _broadcast({"points": p, "focal": fxfy, "principal_point": pp},
                             {"points": 1, "focal": 1, "principal_point": 1})
    return _core.project_points(p, fxfy, pp)


__all__ = [
    "rot6d_to_rotmat", "rotmat_to_axis_angle", "axis_angle_to_rotmat", "estimate_focal_length",
    "boxes_to_center_scale", "bbox_info", "cam_crop_to_full", "project_points",
]
