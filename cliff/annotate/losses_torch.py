"""Differentiable torch versions of the full-frame supervision (optional: pip install
".[torch]" in a cliff clone). torch is imported inside the functions only, so importing this module
never needs torch. Same conventions, shapes and formulas as cliff.annotate.losses (NumPy) and the
official cam_crop2full (docs/official.md#camera); tensors keep their dtype and device.
"""
from __future__ import annotations

from ..constants import CROP_FOCAL, CROP_SIZE


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError('cliff.torch needs PyTorch: pip install ".[torch]" in a cliff clone') from exc
    return torch


def cam_crop_to_full(cam, center, box_size, img_size, focal):
    """Crop camera (s, tx, ty) (N,3) -> full-frame translation (N,3) metres, official form:
    bs = b s + 1e-9, t = (2 (cx - W/2) / bs + tx, 2 (cy - H/2) / bs + ty, 2 f / bs).
    center (N,2) pixels, box_size (N,) b = 200 * scale pixels, img_size (N,2) (W, H), focal (N,)."""
    torch = _torch()
    bs = box_size * cam[:, 0] + 1e-9
    tz = 2 * focal / bs
    tx = 2 * (center[:, 0] - img_size[:, 0] / 2) / bs + cam[:, 1]
    ty = 2 * (center[:, 1] - img_size[:, 1] / 2) / bs + cam[:, 2]
    return torch.stack([tx, ty, tz], -1)


def project(points, focal, principal_point):
    """points (N,J,3) metres, focal (N,), principal_point (N,2) pixels -> (N,J,2) pixels."""
    return focal[:, None, None] * points[..., :2] / points[..., 2:3] + principal_point[:, None, :]


def crop_camera(center, box_size, crop_size: float = CROP_SIZE, crop_focal: float = CROP_FOCAL):
    """HMR-style crop camera in full-image pixels: focal crop_focal * b / crop_size, principal
    point = box centre (see cliff.annotate.losses.crop_camera)."""
    return crop_focal * box_size / crop_size, center


def _rho(sq, robust, scale):
    torch = _torch()
    if robust in (None, "none", "l2"):
        return sq
    c2 = scale * scale
    if robust in ("gm", "geman-mcclure"):
        return c2 * sq / (sq + c2)
    if robust == "huber":
        r = torch.sqrt(sq.clamp_min(1e-30))
        return torch.where(r <= scale, sq, 2 * scale * r - c2)
    raise ValueError(f"robust: expected None, 'gm' or 'huber', got {robust!r}")


def _reduce(per, reduction):
    if reduction == "none":
        return per
    if reduction == "mean":
        return per.mean()
    raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")


def loss_2d(pred_uv, keypoints, norm=1.0, robust=None, robust_scale: float = 3.0,
            reduction: str = "mean"):
    """Confidence-weighted 2D loss, as cliff.annotate.losses.loss_2d. pred_uv (N,J,2), keypoints (N,J,3),
    norm scalar or (N,) pixels."""
    torch = _torch()
    norm = torch.as_tensor(norm, dtype=pred_uv.dtype, device=pred_uv.device).expand(pred_uv.shape[0])
    conf = keypoints[..., 2]
    sq = ((pred_uv - keypoints[..., :2]) ** 2).sum(-1) / norm[:, None] ** 2
    per = (conf * _rho(sq, robust, robust_scale)).sum(-1) / conf.sum(-1).clamp_min(1e-9)
    return _reduce(per, reduction)


def loss_3d(pred_joints, gt_joints, pelvis=0, reduction: str = "mean"):
    """Pelvis-aligned 3D loss, as cliff.annotate.losses.loss_3d. gt (N,J,3) or (N,J,4) with confidence."""
    torch = _torch()
    idx = torch.as_tensor([pelvis] if isinstance(pelvis, int) else list(pelvis),
                          device=pred_joints.device)
    p = pred_joints - pred_joints[:, idx].mean(1, keepdim=True)
    g = gt_joints[..., :3] - gt_joints[:, idx, :3].mean(1, keepdim=True)
    conf = gt_joints[..., 3] if gt_joints.shape[-1] == 4 else torch.ones_like(g[..., 0])
    per = (conf * ((p - g) ** 2).sum(-1)).sum(-1) / conf.sum(-1).clamp_min(1e-9)
    return _reduce(per, reduction)


def loss_smpl(pred_rotmat, gt_rotmat, pred_betas, gt_betas, reduction: str = "mean"):
    """SMPL parameter loss: MSE of rotation matrices + MSE of betas (per person)."""
    n = pred_rotmat.shape[0]
    per = ((pred_rotmat - gt_rotmat) ** 2).reshape(n, -1).mean(-1) + \
        ((pred_betas - gt_betas) ** 2).mean(-1)
    return _reduce(per, reduction)


def loss_2d_full(joints, cam, center, box_size, img_size, focal, keypoints, norm=1.0, **kw):
    """CLIFF's full-frame 2D loss end to end: joints (N,J,3) (SMPL output without translation),
    crop camera (N,3) -> t_full -> projection with the original camera (principal point at the
    image centre) -> loss_2d against keypoints (N,J,3) pixels."""
    t = cam_crop_to_full(cam, center, box_size, img_size, focal)
    uv = project(joints + t[:, None], focal, img_size / 2)
    return loss_2d(uv, keypoints, norm, **kw)
