"""Motion and tracking metrics (the benchmark's and the tests' definitions, docs/motion.md)."""
from __future__ import annotations

import numpy as np

__all__ = ["accel_error", "mpjpe", "id_errors"]


def accel_error(pred, gt) -> float:
    """Mean joint acceleration error, in the unit of the inputs per frame²: the second
    difference x[t+1] - 2 x[t] + x[t-1] of predicted and true joints (T, J, 3), compared by
    Euclidean norm, averaged over joints and the T - 2 inner frames."""
    p, g = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[0] < 3:
        raise ValueError(f"pred, gt: expected equal shapes (T >= 3, J, 3), got {p.shape}, {g.shape}")
    acc = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    return float(np.linalg.norm(acc(p) - acc(g), axis=-1).mean())


def mpjpe(pred, gt) -> float:
    """Mean per-joint position error: Euclidean distance averaged over frames and joints
    (T, J, 3), in the unit of the inputs. No alignment (the camera-frame error)."""
    p, g = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if p.shape != g.shape:
        raise ValueError(f"pred, gt: expected equal shapes, got {p.shape}, {g.shape}")
    return float(np.linalg.norm(p - g, axis=-1).mean())


def id_errors(gt_ids, pred_ids) -> dict:
    """Identity errors of a tracker against ground truth, from per-detection pairs.

    gt_ids, pred_ids: per frame, the true person and the track id of each detection (lists of
    (N_t,) int arrays in the same order; pred -1 = untracked). Counts:

    * ``id_switches`` - times a person's track id differs from the id it had at its previous
      tracked detection (CLEAR-MOT's IDSW);
    * ``fragmentations`` - extra ids per person: a person seen under k distinct ids adds k - 1;
    * ``merged`` - track ids given to more than one person (an id reused or stolen);
    * ``untracked`` - detections left without a track.
    """
    last: dict[int, int] = {}
    seen: dict[int, set] = {}
    owners: dict[int, set] = {}
    switches = untracked = 0
    for g, p in zip(gt_ids, pred_ids):
        for gi, pi in zip(np.asarray(g).tolist(), np.asarray(p).tolist()):
            if pi < 0:
                untracked += 1
                continue
            if gi in last and last[gi] != pi:
                switches += 1
            last[gi] = pi
            seen.setdefault(gi, set()).add(pi)
            owners.setdefault(pi, set()).add(gi)
    return {"id_switches": switches,
            "fragmentations": sum(len(s) - 1 for s in seen.values()),
            "merged": sum(1 for o in owners.values() if len(o) > 1),
            "untracked": untracked,
            "people": len(seen), "tracks": len(owners)}
