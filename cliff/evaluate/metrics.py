"""Pose and shape error metrics of the human mesh recovery benchmarks, in NumPy (float64).

Every function takes batched arrays, ``(N, J, 3)`` joints or ``(N, V, 3)`` vertices, in any
unit, and returns errors in that unit: pass metres and multiply by 1000 for millimetres (the
protocols in :mod:`cliff.evaluate.protocols` do). Per-sample functions return ``(N,)``.

- :func:`mpjpe` - mean per-joint position error: mean over joints of the Euclidean distance.
- :func:`procrustes` / :func:`pa_mpjpe` - the same after the similarity transform (scale,
  rotation, translation) that best maps the prediction onto the ground truth in the
  least-squares sense (Umeyama's solution, reflections excluded).
- :func:`pve` - mean per-vertex error (also called MVE / MPVPE).
- :func:`center_on` / :func:`hip_midpoint` - root alignment.
- :func:`jitter` - EMDB's jerk magnitude; :func:`acceleration_error` - HMMR/VIBE's
  acceleration error.

Sources (read, not copied): SPIN's ``utils/pose_utils.py`` and EMDB's
``evaluation_metrics.py``; see docs/evaluate.md.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["mpjpe", "pa_mpjpe", "procrustes", "pve", "center_on", "hip_midpoint", "jitter",
           "acceleration_error", "EMDB_JITTER_IGNORED"]

#: SMPL joints EMDB sets to zero before its jitter (pelvis, ankles, feet, wrists, hands): they
#: still count in the mean over 24 joints, as in EMDB's public evaluation.
EMDB_JITTER_IGNORED = (0, 7, 8, 10, 11, 20, 21, 22, 23)


def _points(x: Any, name: str, ndim: int = 3) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of real numbers ({exc})") from None
    if a.ndim != ndim or a.shape[-1] != 3:
        want = "(N, J, 3)" if ndim == 3 else "(T, J, 3)"
        raise ValueError(f"{name}: expected shape {want}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def _pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    p, g = _points(pred, "pred"), _points(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt: shapes differ, {p.shape} vs {g.shape}")
    return p, g


def mpjpe(pred: Any, gt: Any) -> np.ndarray:
    """Mean per-joint position error of each sample: (N, J, 3), (N, J, 3) -> (N,).

    No alignment is done here: centre both sets first (:func:`center_on`)."""
    p, g = _pair(pred, gt)
    return np.linalg.norm(p - g, axis=-1).mean(axis=-1)


def pve(pred: Any, gt: Any) -> np.ndarray:
    """Mean per-vertex error of each sample: (N, V, 3), (N, V, 3) -> (N,)."""
    return mpjpe(pred, gt)


def procrustes(pred: Any, gt: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Similarity-align each predicted point set onto its ground truth.

    Finds, per sample, the scale s, rotation R (det +1) and translation t minimising sum_j |s R p_j + t - g_j|^2 (Umeyama 1991): with
    centred sets X (pred) and Y (gt), K = X^T Y, K = U S V^T, R = V D U^T with
    D = diag(1, 1, sign det(V U^T)), s = trace(R K) / |X|^2, t = mean(g) - s R mean(p).

    Returns (aligned (N, J, 3), {"scale": (N,), "R": (N, 3, 3), "t": (N, 3)}); apply the same
    transform to other points of the sample as ``s * p @ R.T + t``.
    """
    p, g = _pair(pred, gt)
    mp, mg = p.mean(axis=1, keepdims=True), g.mean(axis=1, keepdims=True)
    x, y = p - mp, g - mg
    k = np.einsum("nji,njk->nik", x, y)             # (N, 3, 3) = X^T Y
    u, _, vt = np.linalg.svd(k)
    v = np.swapaxes(vt, 1, 2)
    d = np.sign(np.linalg.det(v @ np.swapaxes(u, 1, 2)))
    d[d == 0] = 1.0
    z = np.broadcast_to(np.eye(3), k.shape).copy()
    z[:, 2, 2] = d
    r = v @ z @ np.swapaxes(u, 1, 2)
    var = np.einsum("nji,nji->n", x, x)
    tr = np.einsum("nij,nji->n", r, k)
    s = np.divide(tr, var, out=np.zeros_like(tr), where=var > 0)
    t = mg[:, 0] - s[:, None] * np.einsum("nij,nj->ni", r, mp[:, 0])
    aligned = s[:, None, None] * np.einsum("nij,nkj->nki", r, p) + t[:, None, :]
    return aligned, {"scale": s, "R": r, "t": t}


def pa_mpjpe(pred: Any, gt: Any) -> np.ndarray:
    """MPJPE after :func:`procrustes` alignment (PA-MPJPE, "reconstruction error"): (N,)."""
    aligned, _ = procrustes(pred, gt)
    return mpjpe(aligned, gt)


def hip_midpoint(joints: Any, left: int, right: int) -> np.ndarray:
    """(N, J, 3) -> (N, 3): the midpoint of two joints (the pelvis of most protocols)."""
    j = _points(joints, "joints")
    return 0.5 * (j[:, left] + j[:, right])


def center_on(points: Any, root: Any) -> np.ndarray:
    """Subtract a per-sample root: (N, P, 3) - (N, 3) -> (N, P, 3)."""
    p = _points(points, "points")
    r = np.asarray(root, dtype=np.float64)
    if r.shape != (p.shape[0], 3):
        raise ValueError(f"root: expected shape ({p.shape[0]}, 3), got {r.shape}")
    return p - r[:, None, :]


def jitter(joints: Any, fps: float = 30.0, ignored: Sequence[int] | None = EMDB_JITTER_IGNORED
           ) -> float:
    """EMDB's jitter of one sequence: mean magnitude of the jerk (third time derivative).

    joints: (T, J, 3) positions of consecutive frames; fps: frame rate (Hz). The jerk of frame
    t is (x[t+3] - 3 x[t+2] + 3 x[t+1] - x[t]) * fps^3; ``ignored`` joints are set to zero
    first and still count in the mean over all J joints (EMDB's definition, which follows PIP).
    Returns the mean over the T-3 frames and J joints, in the unit of ``joints`` per s^3
    (EMDB reports metres / s^3 divided by 10). Fewer than 4 frames give NaN.
    """
    j = _points(joints, "joints").copy()
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
    if ignored:
        j[:, list(ignored)] = 0.0
    if j.shape[0] < 4:
        return float("nan")
    jerk = (j[3:] - 3.0 * j[2:-1] + 3.0 * j[1:-2] - j[:-3]) * fps ** 3
    return float(np.linalg.norm(jerk, axis=-1).mean())


def acceleration_error(pred: Any, gt: Any) -> np.ndarray:
    """Acceleration error per inner frame (HMMR/VIBE): (T, J, 3) x2 -> (T-2,).

    The acceleration of frame t is x[t-1] - 2 x[t] + x[t+1] (per frame^2, no fps); the error
    is the mean over joints of the distance between predicted and true accelerations."""
    p, g = _pair(pred, gt)
    if p.shape[0] < 3:
        return np.zeros(0)
    acc = lambda x: x[:-2] - 2.0 * x[1:-1] + x[2:]  # noqa: E731
    return np.linalg.norm(acc(p) - acc(g), axis=-1).mean(axis=-1)
