"""Full-frame supervision (CLIFF's idea 2) and the crop-based HMR-style counterpart, NumPy.

Frames and units: OpenCV camera (x right, y down, z forward), metres for 3D, pixels for 2D.

* Full frame: J_2D = Pi(J_3D + t_full) with the original camera (focal f, principal point at the
  image centre by default); t_full from cliff.camera.cam_crop_to_full (docs/official.md#camera).
* Crop (HMR / SPIN style, paper "Background"): a perspective camera with a large focal
  f_crop = 5000 crop pixels centred on the crop, t_crop = (t_x, t_y, 2 f_crop / (r s)). In
  full-image pixels it is the camera with focal 5000 * b / r and principal point at the box
  centre (b the box height in pixels, r the crop height in pixels), which is what
  :func:`crop_camera` returns; the loss then compares keypoints in the same pixels as the
  full-frame loss, so the two differ only by the camera model.

The per-person fitter using these cameras is cliff.annotate.fit; differentiable torch versions are in
cliff.torch.
"""
from __future__ import annotations

import numpy as np

from ..constants import CROP_FOCAL, CROP_SIZE


def _f64(x, name):
    a = np.asarray(x, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def project(points, focal, principal_point):
    """Perspective projection. points (..., J, 3) metres, focal (...) pixels (scalar or one per
    leading index), principal_point (..., 2) pixels -> (..., J, 2) pixels. Points must be in
    front of the camera (Z > 0): ValueError otherwise."""
    p = _f64(points, "points")
    if p.shape[-1] != 3:
        raise ValueError(f"points: expected shape (..., J, 3), got {p.shape}")
    if not (p[..., 2] > 0).all():
        raise ValueError("points: all points must be in front of the camera (Z > 0)")
    f = _f64(focal, "focal")[..., None, None]
    c = _f64(principal_point, "principal_point")[..., None, :]
    return f * p[..., :2] / p[..., 2:3] + c


def crop_camera(center, box_size, crop_size: float = CROP_SIZE, crop_focal: float = CROP_FOCAL):
    """The HMR-style crop camera expressed in full-image pixels.

    center (..., 2) box centre pixels, box_size (...) crop height b pixels (200 * scale)
    -> focal (...) = crop_focal * b / crop_size, principal_point (..., 2) = center."""
    b = _f64(box_size, "box_size")
    if not (b > 0).all():
        raise ValueError("box_size: must be > 0")
    return crop_focal * b / crop_size, _f64(center, "center").copy()


def cam_full_to_crop(t_full, center, box_size, focal, principal_point,
                     crop_size: float = CROP_SIZE, crop_focal: float = CROP_FOCAL):
    """Translation in the crop camera that puts the body at the same place and apparent size as
    t_full does in the full camera (the inverse of cam_crop_to_full, docs/official.md#camera):
    z_c = t_z f_c / f, x_c = t_x - (c_x - p_x) t_z / f, y_c = t_y - (c_y - p_y) t_z / f,
    f_c = crop_focal * b / crop_size. All (..., 3) metres / (..., 2) pixels / (...) pixels."""
    t = _f64(t_full, "t_full")
    fc, c = crop_camera(center, box_size, crop_size, crop_focal)
    f = _f64(focal, "focal")
    pp = _f64(principal_point, "principal_point")
    out = np.empty(np.broadcast_shapes(t.shape, c.shape[:-1] + (3,)))
    out[..., 2] = t[..., 2] * fc / f
    out[..., :2] = t[..., :2] - (c - pp) * (t[..., 2:3] / f[..., None])
    return out


def _rho(sq, robust, scale):
    if robust in (None, "none", "l2"):
        return sq
    c2 = scale * scale
    if robust in ("gm", "geman-mcclure"):
        return c2 * sq / (sq + c2)
    if robust == "huber":
        r = np.sqrt(sq)
        return np.where(r <= scale, sq, 2 * scale * r - c2)
    raise ValueError(f"robust: expected None, 'gm' or 'huber', got {robust!r}")


def loss_2d(pred_uv, keypoints, norm=1.0, robust=None, robust_scale: float = 3.0,
            reduction: str = "mean"):
    """Confidence-weighted 2D keypoint loss (L_2D^full with full-frame projections, L_2D^crop
    with crop-camera projections).

    pred_uv (N, J, 2) pixels, keypoints (N, J, 3) [u, v, conf] pixels, norm (N,) or scalar pixels
    (residual scale, e.g. the box height times 0.01). Per person:
        L_i = sum_j c_ij rho(|pred_ij - kp_ij|^2 / norm_i^2) / max(sum_j c_ij, 1e-9)
    rho = identity (L2), Geman-McClure c^2 s/(s + c^2) or Huber on the norm, c = robust_scale.
    reduction 'mean' -> float, 'none' -> (N,). A person with all confidences 0 contributes 0.
    """
    u = _f64(pred_uv, "pred_uv")
    kp = _f64(keypoints, "keypoints")
    if u.ndim != 3 or u.shape[-1] != 2 or kp.shape != u.shape[:2] + (3,):
        raise ValueError(f"pred_uv (N,J,2) and keypoints (N,J,3) expected, got {u.shape} and {kp.shape}")
    conf = kp[..., 2]
    if (conf < 0).any():
        raise ValueError("keypoints: confidences must be >= 0")
    s = np.broadcast_to(_f64(norm, "norm"), u.shape[:1])
    if not (s > 0).all():
        raise ValueError("norm: must be > 0")
    sq = ((u - kp[..., :2]) ** 2).sum(-1) / s[:, None] ** 2
    per = (conf * _rho(sq, robust, robust_scale)).sum(-1) / np.maximum(conf.sum(-1), 1e-9)
    return _reduce(per, reduction)


def _reduce(per, reduction):
    if reduction == "none":
        return per
    if reduction == "mean":
        return float(per.mean()) if per.size else 0.0
    raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")


def pelvis_align(joints, pelvis=0):
    """Subtract the pelvis: joints (..., J, 3+) -> same shape with xyz relative to joint
    `pelvis` (an index, or a tuple of indices whose mean is the pelvis, e.g. the two hips)."""
    j = _f64(joints, "joints").copy()
    idx = np.atleast_1d(np.asarray(pelvis))
    j[..., :3] -= j[..., idx, :3].mean(-2, keepdims=True)
    return j


def loss_3d(pred_joints, gt_joints, pelvis=0, reduction: str = "mean"):
    """Pelvis-aligned 3D joint loss. pred (N, J, 3), gt (N, J, 3) or (N, J, 4) [x, y, z, conf]
    metres. Per person: sum_j c_j |(p_j - p_pelvis) - (g_j - g_pelvis)|^2 / max(sum c_j, 1e-9)."""
    p = pelvis_align(pred_joints, pelvis)
    g = pelvis_align(gt_joints, pelvis)
    if p.ndim != 3 or p.shape[-1] != 3 or g.shape[:2] != p.shape[:2] or g.shape[-1] not in (3, 4):
        raise ValueError(f"pred_joints (N,J,3) and gt_joints (N,J,3|4) expected, got {p.shape}, {g.shape}")
    conf = g[..., 3] if g.shape[-1] == 4 else np.ones(g.shape[:2])
    per = (conf * ((p - g[..., :3]) ** 2).sum(-1)).sum(-1) / np.maximum(conf.sum(-1), 1e-9)
    return _reduce(per, reduction)


def loss_smpl(pred_rotmat, gt_rotmat, pred_betas, gt_betas, reduction: str = "mean"):
    """SMPL parameter loss (SPIN/CLIFF form): mean squared error of the 24 rotation matrices plus
    mean squared error of the betas. rotmat (N,24,3,3), betas (N,K) -> float or (N,)."""
    pr, gr = _f64(pred_rotmat, "pred_rotmat"), _f64(gt_rotmat, "gt_rotmat")
    pb, gb = _f64(pred_betas, "pred_betas"), _f64(gt_betas, "gt_betas")
    if pr.shape != gr.shape or pr.shape[-2:] != (3, 3) or pb.shape != gb.shape:
        raise ValueError("pred/gt rotmat (N,24,3,3) and betas (N,K) must have matching shapes")
    per = ((pr - gr) ** 2).reshape(len(pr), -1).mean(-1) + ((pb - gb) ** 2).mean(-1)
    return _reduce(per, reduction)


# ---- evaluation metrics used by the annotator's report ----

def rotation_angle_deg(Ra, Rb):
    """Geodesic angle between rotation matrices (..., 3, 3), degrees."""
    d = np.swapaxes(_f64(Ra, "Ra"), -1, -2) @ _f64(Rb, "Rb")
    return np.degrees(np.arccos(np.clip((np.trace(d, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))


def pa_mpjpe(pred, gt):
    """Procrustes-aligned mean per-joint position error: pred, gt (N, J, 3) -> (N,) in the input
    unit (similarity transform: rotation, uniform scale, translation; Umeyama)."""
    X, Y = _f64(pred, "pred"), _f64(gt, "gt")
    X = X - X.mean(1, keepdims=True)
    Y = Y - Y.mean(1, keepdims=True)
    U, s, Vt = np.linalg.svd(np.swapaxes(X, 1, 2) @ Y)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(s)
    D[:, 2] = d
    R = U @ (D[..., None] * Vt)  # maps rows of X onto Y: X @ R
    scale = (s * D).sum(-1) / (X ** 2).sum((1, 2))
    return np.linalg.norm(scale[:, None, None] * X @ R - Y, axis=-1).mean(-1)
