"""Multi-person tracking by boxes: a constant-velocity Kalman filter per person and optimal
assignment, in two passes (confident detections first, then low-score ones for the tracks still
unmatched), in the spirit of SORT (Bewley et al. 2016) and ByteTrack (Zhang et al. 2022).

A pair's cost is ``1 - IoU + 10 * d2 / 9.49`` with ``d2`` the squared Mahalanobis distance of the
detection from the track's predicted box (gated at 9.49, chi-square 95 % with 4 dof): motion tells
apart people whose boxes overlap while they cross. Boxes are pixels ``[x1, y1, x2, y2]``. Every confident detection that matches no track starts a
new track with a new id; ids count up from 0 and are never reused. A track survives up to
``max_missed`` frames without a detection (its box keeps moving with the Kalman prediction) and
is then dropped for good.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["linear_sum_assignment", "iou_matrix", "Tracker", "track_boxes"]


def linear_sum_assignment(cost) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of rows to columns (the Hungarian method with potentials, a
    shortest augmenting path per row, O(n^2 m)).

    cost: (n, m) finite real matrix. Returns (rows, cols), int64 arrays of length min(n, m),
    rows increasing, such that ``cost[rows, cols].sum()`` is minimal (the contract of
    ``scipy.optimize.linear_sum_assignment``).
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"cost: expected a 2-D matrix, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("cost: contains NaN or infinite values")
    n, m = c.shape
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transposed = n > m
    if transposed:
        c = c.T
        n, m = m, n
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, np.int64)     # p[j]: row (1-based) assigned to column j; 0 = free
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            cur = c[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            masked = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[~used] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.nonzero(p[1:])[0]
    rows = p[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order].astype(np.int64), cols[order].astype(np.int64)


def iou_matrix(a, b) -> np.ndarray:
    """Intersection over union of every box of ``a`` (N, 4) with every box of ``b`` (M, 4),
    ``[x1, y1, x2, y2]`` pixels. Returns (N, M) float64 in [0, 1]."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


# Kalman filter on [cx, cy, w, h, vcx, vcy, vw, vh] (pixels, pixels/frame); measurement
# [cx, cy, w, h]. Noise scales with the box height, as in DeepSORT/ByteTrack.
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)
_STD_POS = 1.0 / 20
_STD_VEL = 1.0 / 160


def _xyxy_to_z(b: np.ndarray) -> np.ndarray:
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]])


def _z_to_xyxy(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = z[:4]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class _Track:
    __slots__ = ("id", "x", "P", "missed", "hits", "score")

    def __init__(self, tid: int, box: np.ndarray, score: float):
        z = _xyxy_to_z(box)
        h = max(z[3], 1.0)
        self.id = tid
        self.x = np.concatenate([z, np.zeros(4)])
        std = np.array([2 * _STD_POS * h] * 4 + [10 * _STD_VEL * h] * 4)
        self.P = np.diag(std ** 2)
        self.missed = 0
        self.hits = 1
        self.score = score

    def predict(self) -> None:
        h = max(self.x[3], 1.0)
        q = np.array([_STD_POS * h] * 4 + [_STD_VEL * h] * 4) ** 2
        self.x = _F @ self.x
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        self.P = _F @ self.P @ _F.T + np.diag(q)

    def update(self, box: np.ndarray, score: float) -> None:
        h = max(self.x[3], 1.0)
        R = np.diag(np.array([_STD_POS * h] * 4) ** 2)
        S = _H @ self.P @ _H.T + R
        K = np.linalg.solve(S, _H @ self.P).T
        self.x = self.x + K @ (_xyxy_to_z(box) - _H @ self.x)
        self.P = (np.eye(8) - K @ _H) @ self.P
        self.missed = 0
        self.hits += 1
        self.score = score

    def gate(self, boxes: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each box (M, 4) from the predicted measurement."""
        h = max(self.x[3], 1.0)
        S = _H @ self.P @ _H.T + np.diag(np.array([_STD_POS * h] * 4) ** 2)
        y = np.array([_xyxy_to_z(b) for b in boxes]).reshape(-1, 4) - self.x[:4]
        return np.einsum("mi,ij,mj->m", y, np.linalg.inv(S), y)

    @property
    def box(self) -> np.ndarray:
        return _z_to_xyxy(self.x)


# 0.95 quantile of the chi-square distribution with 4 degrees of freedom: a detection farther
# than this (squared Mahalanobis distance) from a track's predicted box is not that person.
_GATE = 9.4877
# weight of the motion term (squared Mahalanobis distance over the gate) against 1 - IoU:
# motion decides between overlapping boxes of people crossing, IoU gates and breaks ties.
_MOTION_WEIGHT = 10.0


def _match(tracks: list, det_boxes: np.ndarray, iou_min: float):
    """Optimal assignment on 1 - IoU + 10 d^2 / 9.49 between predicted and detected boxes
    (d^2: squared Mahalanobis distance of the detection from the track's prediction); pairs
    below iou_min or outside the Kalman gate are refused."""
    if not len(tracks) or not len(det_boxes):
        return []
    iou = iou_matrix(np.array([t.box for t in tracks]), det_boxes)
    d2 = np.array([t.gate(det_boxes) for t in tracks])
    ok = (iou >= iou_min) & (d2 <= _GATE)
    cost = np.where(ok, 1.0 - iou + _MOTION_WEIGHT * d2 / _GATE, 2.0 + _MOTION_WEIGHT)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if ok[r, c]]


class Tracker:
    """Online multi-person tracker over boxes (pixels).

    >>> tr = cliff.motion.Tracker()
    >>> ids = tr.update(xyxy, scores)   # per frame, in order; ids (N,) int64, -1 = not tracked

    high: detections scoring at least this are matched first and may start new tracks.
    low: detections scoring in [low, high) are matched, in a second pass, only to tracks that
        found no confident detection (a partly hidden person); below ``low`` they are ignored.
    iou_min: least IoU between a track's predicted box and a detection to pair them (first
        pass); ``iou_min_low`` for the second pass.
    max_missed: frames a track survives without a detection (default 30, 1 s at 30 fps).
    """

    def __init__(self, *, high: float = 0.5, low: float = 0.1, iou_min: float = 0.2,
                 iou_min_low: float = 0.5, max_missed: int = 30):
        for name, val in (("high", high), ("low", low), ("iou_min", iou_min), ("iou_min_low", iou_min_low)):
            if not isinstance(val, (int, float, np.integer, np.floating)) or not 0 <= float(val) <= 1:
                raise ValueError(f"{name}: expected a number in [0, 1], got {val!r}")
        if low > high:
            raise ValueError(f"low: expected low <= high, got low={low}, high={high}")
        if isinstance(max_missed, bool) or not isinstance(max_missed, (int, np.integer)) or max_missed < 0:
            raise ValueError(f"max_missed: expected a non-negative integer, got {max_missed!r}")
        self.high, self.low = float(high), float(low)
        self.iou_min, self.iou_min_low = float(iou_min), float(iou_min_low)
        self.max_missed = int(max_missed)
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.frame = -1

    def update(self, xyxy, scores=None) -> np.ndarray:
        """Advance one frame with its detections: ``xyxy`` (N, 4) pixels, ``scores`` (N,) in
        [0, 1] (default 1). Returns the track id of each detection (N,) int64, -1 for a
        detection that belongs to no track (a low-score one matching nothing)."""
        boxes = np.asarray(xyxy, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"xyxy: expected shape (N, 4) boxes in pixels, got {boxes.shape}")
        if not np.isfinite(boxes).all():
            raise ValueError("xyxy: contains NaN or infinite values")
        n = len(boxes)
        if scores is None:
            s = np.ones(n)
        else:
            s = np.asarray(scores, dtype=np.float64).reshape(-1)
            if s.shape != (n,) or not np.isfinite(s).all():
                raise ValueError(f"scores: expected ({n},) finite numbers, got shape {s.shape}")
        self.frame += 1
        for t in self.tracks:
            t.predict()
        ids = np.full(n, -1, np.int64)
        high = np.nonzero(s >= self.high)[0]
        low = np.nonzero((s >= self.low) & (s < self.high))[0]
        # pass 1: every live track against confident detections
        taken = set()
        for r, c in _match(self.tracks, boxes[high], self.iou_min):
            d = high[c]
            self.tracks[r].update(boxes[d], float(s[d]))
            ids[d] = self.tracks[r].id
            taken.add(r)
        free_tracks = [i for i in range(len(self.tracks)) if i not in taken]
        # pass 2: tracks seen in the previous frame, still unmatched, against low-score ones
        recent = [i for i in free_tracks if self.tracks[i].missed == 0]
        for r, c in _match([self.tracks[i] for i in recent], boxes[low], self.iou_min_low):
            t, d = self.tracks[recent[r]], low[c]
            t.update(boxes[d], float(s[d]))
            ids[d] = t.id
        matched = set(ids[ids >= 0].tolist())
        for t in self.tracks:
            if t.id not in matched:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for d in high:
            if ids[d] < 0:
                self.tracks.append(_Track(self.next_id, boxes[d], float(s[d])))
                ids[d] = self.next_id
                self.next_id += 1
        return ids


def track_boxes(frames: Iterable, **kwargs) -> list[np.ndarray]:
    """Track a whole sequence: ``frames`` yields (N_t, 4) boxes or (N_t, 5) [x1, y1, x2, y2,
    score] per frame, in order. Returns the ids of each frame's boxes (as ``Tracker.update``);
    keyword arguments go to :class:`Tracker`."""
    tr = Tracker(**kwargs)
    out = []
    for b in frames:
        b = np.asarray(b, np.float64)
        if b.size == 0:
            b = b.reshape(0, 4)
        if b.ndim != 2 or b.shape[1] not in (4, 5):
            raise ValueError(f"frames: expected (N, 4) or (N, 5) boxes per frame, got {b.shape}")
        out.append(tr.update(b[:, :4], b[:, 4] if b.shape[1] == 5 else None))
    return out
