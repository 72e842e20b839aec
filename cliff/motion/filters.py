"""Temporal smoothing of bodies, per track: rotations as rotations, translation as a vector.

Joint rotations are filtered as **unit quaternions**: each track's sequence is first made
sign-continuous (q and -q are the same rotation; every quaternion is flipped to the side of its
predecessor), the four components are filtered, and the result is normalised back onto the unit
sphere, i.e. onto SO(3). Raw axis-angle is never filtered (it jumps by 2*pi at angle pi and its
components do not interpolate rotations). ``t_full`` (metres) is filtered as a 3-vector. Shape
β gets one robust estimate per track (the per-component median over the track's frames) unless
per-frame β is asked for.

Filters:

* ``"oneeuro"`` - the One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): an exponential
  low-pass whose cutoff rises with the speed of the signal, so slow motion is smoothed hard and
  fast motion lags little. Online: every output uses the past only (works while streaming).
* ``"savgol"`` - Savitzky-Golay: a least-squares polynomial of degree ``order`` fitted over a
  centred window of ``window`` frames (at the ends, the polynomial of the first/last full window).
  Offline: needs ``window // 2`` frames of look-ahead.
* ``"gaussian"`` - a Gaussian kernel of ``sigma`` frames, truncated at 4 sigma, edges repeated.
  Offline: ``ceil(4 * sigma)`` frames of look-ahead.
* ``"none"`` - the input unchanged.

Defaults (chosen with benchmarks/bench_motion.py, see docs/motion.md): oneeuro
``min_cutoff=1.5`` Hz, ``beta=1.0``, ``d_cutoff=1.0`` Hz; savgol ``window=15``, ``order=2``;
gaussian ``sigma=2``. A track's frames are filtered in order as one sequence; frames the track
missed are not filled in (the offline filters treat the samples as evenly spaced, the One-Euro
filter uses the real time between them).

Conversions between axis-angle and rotation matrices go through the C core
(:func:`cliff.axis_angle_to_rotmat`, :func:`cliff.rotmat_to_axis_angle`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np

__all__ = ["METHODS", "DEFAULTS", "rotmat_to_quat", "quat_to_rotmat", "quat_continuous",
           "OneEuro", "savgol", "gaussian", "smooth_sequence", "OnlineSmoother", "smooth"]

METHODS = ("oneeuro", "savgol", "gaussian", "none")
DEFAULTS: dict[str, dict[str, float]] = {
    "oneeuro": {"min_cutoff": 1.5, "beta": 1.0, "d_cutoff": 1.0},
    "savgol": {"window": 15, "order": 2},
    "gaussian": {"sigma": 2.0},
    "none": {},
}


# -- quaternions (w, x, y, z), NumPy: the core has no quaternion functions ------------------

def rotmat_to_quat(R) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) as (w, x, y, z), w >= 0.
    Shepperd's method: the largest of 4w², 4x², 4y², 4z² picks the stable formula."""
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"R: expected shape (..., 3, 3), got {R.shape}")
    m = R.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], 1)
    k = np.argmax(cand, 1)
    q = np.empty((len(m), 4))
    for case in range(4):
        s = k == case
        if not s.any():
            continue
        a = m[s]
        if case == 0:
            r = np.sqrt(np.maximum(1.0 + tr[s], 1e-300)) * 2  # 4w
            q[s] = np.stack([r / 4, (a[:, 2, 1] - a[:, 1, 2]) / r, (a[:, 0, 2] - a[:, 2, 0]) / r,
                             (a[:, 1, 0] - a[:, 0, 1]) / r], 1)
        elif case == 1:
            r = np.sqrt(np.maximum(1.0 + a[:, 0, 0] - a[:, 1, 1] - a[:, 2, 2], 1e-300)) * 2  # 4x
            q[s] = np.stack([(a[:, 2, 1] - a[:, 1, 2]) / r, r / 4, (a[:, 0, 1] + a[:, 1, 0]) / r,
                             (a[:, 0, 2] + a[:, 2, 0]) / r], 1)
        elif case == 2:
            r = np.sqrt(np.maximum(1.0 + a[:, 1, 1] - a[:, 0, 0] - a[:, 2, 2], 1e-300)) * 2  # 4y
            q[s] = np.stack([(a[:, 0, 2] - a[:, 2, 0]) / r, (a[:, 0, 1] + a[:, 1, 0]) / r, r / 4,
                             (a[:, 1, 2] + a[:, 2, 1]) / r], 1)
        else:
            r = np.sqrt(np.maximum(1.0 + a[:, 2, 2] - a[:, 0, 0] - a[:, 1, 1], 1e-300)) * 2  # 4z
            q[s] = np.stack([(a[:, 1, 0] - a[:, 0, 1]) / r, (a[:, 0, 2] + a[:, 2, 0]) / r,
                             (a[:, 1, 2] + a[:, 2, 1]) / r, r / 4], 1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q.reshape(*R.shape[:-2], 4)


def quat_to_rotmat(q) -> np.ndarray:
    """Quaternions (..., 4) as (w, x, y, z), any non-zero norm (normalised here) -> (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"q: expected shape (..., 4), got {q.shape}")
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n == 0) or not np.isfinite(q).all():
        raise ValueError("q: expected finite quaternions of non-zero norm")
    w, x, y, z = np.moveaxis(q / n, -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*q.shape[:-1], 3, 3)


def quat_continuous(q, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (time) so each quaternion is on the side of its predecessor
    (non-negative dot product). The rotations are unchanged."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1, keepdims=True) < 0
        q[t] = np.where(flip, -q[t], q[t])
    return np.moveaxis(q, 0, axis)


# -- filters on arrays (time on axis 0) ------------------------------------------------------

def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """One-Euro filter of arrays of shape ``(..., D)``: each row of D numbers (a quaternion, a
    translation) gets its own speed-dependent cutoff from the norm of its derivative.

    min_cutoff (Hz): cutoff at rest (lower = smoother, more lag when slow).
    beta (s/unit): how fast the cutoff rises with speed (higher = less lag when fast).
    d_cutoff (Hz): cutoff of the low-pass on the derivative.
    ``f(x, t)`` with t in seconds, increasing, returns the filtered array (the first call
    returns x)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        for name, v in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff)):
            if not (isinstance(v, (int, float, np.integer, np.floating)) and v > 0 and math.isfinite(v)):
                raise ValueError(f"{name}: expected a positive frequency in Hz, got {v!r}")
        if not (isinstance(beta, (int, float, np.integer, np.floating)) and beta >= 0 and math.isfinite(beta)):
            raise ValueError(f"beta: expected a non-negative number, got {beta!r}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.x: Optional[np.ndarray] = None
        self.dx: Optional[np.ndarray] = None
        self.t: Optional[float] = None

    def __call__(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.x is None:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self.t
        if not dt > 0:
            raise ValueError(f"t: expected increasing times, got {t} after {self.t}")
        dx = (x - self.x) / dt
        self.dx = self.dx + _alpha(self.d_cutoff, dt) * (dx - self.dx)
        cutoff = self.min_cutoff + self.beta * np.linalg.norm(self.dx, axis=-1, keepdims=True)
        self.x = self.x + _alpha(cutoff, dt) * (x - self.x)
        self.t = float(t)
        return self.x.copy()


def savgol(x, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0 of ``x`` (T, ...). The window is odd; at the ends
    the polynomial fitted to the first/last full window is evaluated (scipy's ``mode="interp"``).
    A sequence shorter than the window uses the longest odd window that fits (order lowered
    below it)."""
    x = np.asarray(x, dtype=np.float64)
    window, order = int(window), int(order)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window: expected an odd number of frames >= 1, got {window}")
    if order < 0 or order >= window:
        raise ValueError(f"order: expected 0 <= order < window ({window}), got {order}")
    T = len(x)
    if T < window:
        window = T if T % 2 else T - 1
        order = min(order, window - 1)
    if window <= 1:
        return x.copy()
    h = window // 2
    # fit matrix: polynomial values at offsets -h..h; rows of the pseudo-inverse give coefficients
    off = np.arange(-h, h + 1, dtype=np.float64)
    V = off[:, None] ** np.arange(order + 1)[None, :]   # (window, order+1)
    pinv = np.linalg.pinv(V)                             # (order+1, window)
    flat = x.reshape(T, -1)
    out = np.empty_like(flat)
    centre = pinv[0]                                     # value at offset 0
    # interior: correlation with the centre row
    for i, c in enumerate(centre):
        sl = flat[i:T - window + 1 + i]
        if i == 0:
            acc = c * sl
        else:
            acc += c * sl
    out[h:T - h] = acc
    # ends: the polynomial of the first / last window evaluated at its own offsets
    out[:h] = (V[:h] @ pinv) @ flat[:window]
    out[T - h:] = (V[window - h:] @ pinv) @ flat[T - window:]
    return out.reshape(x.shape)


def gaussian(x, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 of ``x`` (T, ...), ``sigma`` in frames, kernel truncated
    at 4 sigma, ends extended by repeating the first/last sample (scipy.ndimage's
    ``gaussian_filter1d(mode="nearest")``)."""
    x = np.asarray(x, dtype=np.float64)
    sigma = float(sigma)
    if not sigma >= 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma: expected a non-negative number of frames, got {sigma}")
    if sigma == 0 or len(x) < 2:
        return x.copy()
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    flat = x.reshape(len(x), -1)
    pad = np.concatenate([np.repeat(flat[:1], r, 0), flat, np.repeat(flat[-1:], r, 0)])
    out = np.zeros_like(flat)
    for i, c in enumerate(k):
        out += c * pad[i:i + len(x)]
    return out.reshape(x.shape)


# -- bodies -----------------------------------------------------------------------------------

def _params(method: str, params: Mapping) -> dict:
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    unknown = set(params) - set(DEFAULTS[method])
    if unknown:
        raise TypeError(f"unexpected parameters for {method!r}: {sorted(unknown)}; "
                        f"expected {sorted(DEFAULTS[method]) or 'none'}")
    return {**DEFAULTS[method], **params}


def _robust_betas(betas: np.ndarray) -> np.ndarray:
    return np.median(betas, axis=0)


def smooth_sequence(rotmat, t_full, betas, *, method: str = "savgol", frames=None,
                    fps: float = 30.0, per_frame_betas: bool = False, **params: Any) -> dict:
    """Smooth one track.

    rotmat: (T, J, 3, 3) joint rotations (J = 24 for SMPL); t_full: (T, 3) metres;
    betas: (T, B); frames: (T,) increasing frame indices (default 0..T-1; the One-Euro filter
    uses their spacing, time = frame / fps seconds). ``params`` override :data:`DEFAULTS`.
    Returns {"rotmat": (T, J, 3, 3), "t_full": (T, 3), "betas": (T, B)} float64.
    """
    p = _params(method, params)
    R = np.asarray(rotmat, dtype=np.float64)
    t = np.asarray(t_full, dtype=np.float64)
    b = np.asarray(betas, dtype=np.float64)
    if R.ndim != 4 or R.shape[-2:] != (3, 3):
        raise ValueError(f"rotmat: expected shape (T, J, 3, 3), got {R.shape}")
    T = len(R)
    if t.shape != (T, 3):
        raise ValueError(f"t_full: expected shape ({T}, 3) metres, got {t.shape}")
    if b.ndim != 2 or len(b) != T:
        raise ValueError(f"betas: expected shape ({T}, B), got {b.shape}")
    for name, a in (("rotmat", R), ("t_full", t), ("betas", b)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
    f = np.arange(T, dtype=np.float64) if frames is None else np.asarray(frames, dtype=np.float64)
    if f.shape != (T,) or (T > 1 and not np.all(np.diff(f) > 0)):
        raise ValueError(f"frames: expected ({T},) strictly increasing frame indices")
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
    out_b = b.copy() if per_frame_betas or T == 0 else np.broadcast_to(_robust_betas(b), b.shape).copy()
    if method == "none" or T < 2:
        return {"rotmat": R.copy(), "t_full": t.copy(), "betas": out_b}
    q = quat_continuous(rotmat_to_quat(R), axis=0)       # (T, J, 4)
    if method == "oneeuro":
        fq = OneEuro(p["min_cutoff"], p["beta"], p["d_cutoff"])
        ft = OneEuro(p["min_cutoff"], p["beta"], p["d_cutoff"])
        qs = np.empty_like(q)
        ts = np.empty_like(t)
        for i in range(T):
            qs[i] = fq(q[i], f[i] / fps)
            ts[i] = ft(t[i], f[i] / fps)
    elif method == "savgol":
        qs = savgol(q, p["window"], p["order"])
        ts = savgol(t, p["window"], p["order"])
    else:
        qs = gaussian(q, p["sigma"])
        ts = gaussian(t, p["sigma"])
    return {"rotmat": quat_to_rotmat(qs), "t_full": ts, "betas": out_b}


class OnlineSmoother:
    """Streaming One-Euro smoothing of many tracks, one frame at a time (no look-ahead).

    >>> sm = OnlineSmoother(fps=30)
    >>> R, t, b = sm.update(track_id, frame, rotmat, t_full, betas)

    β per track is the median of the β seen so far on that track (per-frame with
    ``per_frame_betas=True``)."""

    def __init__(self, *, fps: float = 30.0, per_frame_betas: bool = False, **params: Any):
        self.p = _params("oneeuro", params)
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
        self.fps = float(fps)
        self.per_frame_betas = bool(per_frame_betas)
        self._state: dict[int, tuple] = {}

    def update(self, track_id: int, frame: int, rotmat, t_full, betas):
        """One body: rotmat (J, 3, 3), t_full (3,), betas (B,) -> smoothed (rotmat, t_full, betas)."""
        tid = int(track_id)
        if tid not in self._state:
            mk = lambda: OneEuro(self.p["min_cutoff"], self.p["beta"], self.p["d_cutoff"])  # noqa: E731
            self._state[tid] = (mk(), mk(), None, [])
        fq, ft, qprev, bs = self._state[tid]
        q = rotmat_to_quat(rotmat)
        if qprev is not None:
            q = np.where(np.sum(q * qprev, -1, keepdims=True) < 0, -q, q)
        tsec = float(frame) / self.fps
        qs = fq(q, tsec)
        ts = ft(np.asarray(t_full, np.float64), tsec)
        b = np.asarray(betas, np.float64)
        bs.append(b)
        self._state[tid] = (fq, ft, qs, bs)
        return quat_to_rotmat(qs), ts, (b.copy() if self.per_frame_betas else _robust_betas(np.array(bs)))

    def drop(self, track_id: int) -> None:
        """Forget a finished track."""
        self._state.pop(int(track_id), None)


def smooth(results: Mapping, method: str = "savgol", *, fps: float = 30.0,
           per_frame_betas: bool = False, **params: Any) -> dict:
    """Smooth every track of a result set (as ``cliff predict --track`` writes it, or the same
    keys from Python).

    results: a mapping with ``track_id`` (N,), ``frame`` (N,), ``pose`` (N, 72) axis-angle or
    (N, 24, 3, 3) rotation matrices, ``global_t`` (N, 3) metres and ``shape`` (N, B) (the npz
    keys; ``rotmat``/``t_full``/``betas`` are accepted too). Rows may come in any order.
    Returns a new dict with every input key, the pose, translation and shape replaced by their
    smoothed values (float32, in the input's pose format); rows keep their order. Rows with
    ``track_id`` < 0 (untracked) are left as they are.
    """
    from ..camera import axis_angle_to_rotmat, rotmat_to_axis_angle

    _params(method, params)
    def pick(*names):
        for n in names:
            if n in results:
                return n
        raise KeyError(f"results: missing {' or '.join(names)}")
    kp, kt, kb = pick("pose", "rotmat"), pick("global_t", "t_full"), pick("shape", "betas")
    for k in ("track_id", "frame"):
        if k not in results:
            raise KeyError(f"results: missing {k!r} (track the people first: cliff.motion.Tracker)")
    tid = np.asarray(results["track_id"]).astype(np.int64).reshape(-1)
    frame = np.asarray(results["frame"]).astype(np.int64).reshape(-1)
    pose = np.asarray(results[kp], dtype=np.float64)
    N = len(tid)
    aa = pose.ndim == 2
    if aa:
        if pose.shape[1] % 3:
            raise ValueError(f"{kp}: expected (N, 72) axis-angle or (N, 24, 3, 3), got {pose.shape}")
        R = axis_angle_to_rotmat(pose.reshape(-1, 3)).reshape(N, -1, 3, 3)
    else:
        R = pose
    t = np.asarray(results[kt], dtype=np.float64)
    b = np.asarray(results[kb], dtype=np.float64)
    if len(R) != N or len(t) != N or len(b) != N or len(frame) != N:
        raise ValueError("results: track_id, frame, pose, translation and shape need the same number of rows")
    outR, outt, outb = R.copy(), t.copy(), b.copy()
    for k in np.unique(tid[tid >= 0]):
        rows = np.nonzero(tid == k)[0]
        rows = rows[np.argsort(frame[rows], kind="stable")]
        if len(np.unique(frame[rows])) != len(rows):
            raise ValueError(f"results: track {k} has two bodies in one frame")
        s = smooth_sequence(R[rows], t[rows], b[rows], method=method, frames=frame[rows], fps=fps,
                            per_frame_betas=per_frame_betas, **params)
        outR[rows], outt[rows], outb[rows] = s["rotmat"], s["t_full"], s["betas"]
    out = dict(results)
    out[kp] = (rotmat_to_axis_angle(outR.reshape(-1, 3, 3)).reshape(N, -1) if aa else outR).astype(np.float32)
    out[kt] = outt.astype(np.float32)
    out[kb] = outb.astype(np.float32)
    return out
