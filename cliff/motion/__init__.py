"""From video to motion: people tracked across frames and smoothed per track (docs/motion.md).

* :class:`Tracker` / :func:`track_boxes` - Kalman + optimal assignment over person boxes.
* :func:`smooth` / :func:`smooth_sequence` / :class:`OnlineSmoother` - One-Euro (online),
  Savitzky-Golay and Gaussian (offline) filters on rotations (unit quaternions) and translation.
* :mod:`cliff.motion.metrics` - acceleration error, MPJPE, identity switches and fragmentations.
"""
from .track import Tracker, iou_matrix, linear_sum_assignment, track_boxes
from .filters import (DEFAULTS, METHODS, OneEuro, OnlineSmoother, gaussian, quat_to_rotmat,
                     rotmat_to_quat, savgol, smooth, smooth_sequence)
from . import metrics

__all__ = ["Tracker", "track_boxes", "iou_matrix", "linear_sum_assignment", "smooth",
           "smooth_sequence", "OnlineSmoother", "OneEuro", "savgol", "gaussian", "rotmat_to_quat",
           "quat_to_rotmat", "METHODS", "DEFAULTS", "metrics"]
from .export import export_bvh, export_glb, tracks_of  # noqa: E402

__all__ += ["export_glb", "export_bvh", "tracks_of"]
