"""Synthetic annotation scenes for the annotator's tests and benchmark (no real data needed).

:func:`make_scene` - people with random poses and shapes placed off-centre in a full-frame
camera, COCO keypoints with pixel noise, occlusions and confidences, and an initial estimate
perturbed like a regressor's error; :func:`poor_person` - one person of such a scene with the
annotator benchmark's poor starts. Ground truth comes from the float64 NumPy body model of
:mod:`reference.numpy_body`.
"""
from __future__ import annotations

import numpy as np

from cliff._standin import procedural_body  # noqa: F401  (the scenes' usual body)
from cliff.annotate.keypoints import COCO17_TO_SMPLX
from reference.numpy_body import rodrigues, rotmat_to_aa, smpl_forward  # noqa: F401


def make_scene(body: dict, n: int, seed: int = 0, img_size=(1920, 1080), focal=None,
               pixel_noise: float = 2.0, occlusion: float = 0.15, outliers: float = 0.0,
               rot_noise_deg: float = 10.0, root_noise_deg: float = 10.0,
               beta_noise: float = 0.5, transl_noise: float = 0.05, offcentre: float = 0.8,
               keypoint_index=COCO17_TO_SMPLX) -> dict:
    """People with random poses/shapes in a full-frame camera and their 2D keypoints.

    Each person stands upright (global orientation = 180 deg about x, i.e. SMPL y-up turned into
    the camera's y-down, times a random yaw and a small tilt), at depth 4-12 m, placed so that its
    pelvis projects anywhere within `offcentre` of the half-image from the centre. Keypoints are
    the projections of the model joints `keypoint_index` plus N(0, pixel_noise) px, a fraction
    `occlusion` get confidence 0 (occluded, coordinates still noisy) and the rest a confidence in
    [0.5, 1]; a fraction `outliers` are moved by 10-30 % of the person's size (kept with their
    confidence). The initial estimate is the truth perturbed like a regressor's error: body
    joints by N(0, rot_noise_deg), root by N(0, root_noise_deg) about a random axis, betas by
    N(0, beta_noise) and the translation by a relative N(0, transl_noise) (mostly in depth).

    Returns a dict of float64 arrays: rotmat, betas, transl (truth), init_rotmat, init_betas,
    init_transl, keypoints (n,K,3), joints (n,45,3), boxes (n,4) xyxy, focal, img_size (W,H),
    and outlier (n,K) bool: the keypoints moved as gross outliers (the ones the true body itself
    does not fit).
    """
    rng = np.random.default_rng(seed)
    W, H = img_size
    f = float(focal) if focal is not None else float(np.hypot(W, H))
    K = body["shapedirs"].shape[-1]
    aa = rng.normal(scale=0.25, size=(n, 24, 3))
    aa[:, [13, 14, 10, 11, 22, 23]] *= 0.3
    aa[:, [16, 17]] += np.array([0, 0, -1.1]) * np.array([[1], [-1]])  # arms down-ish
    yaw = rng.uniform(-np.pi, np.pi, n)
    tilt = rng.normal(scale=0.1, size=(n, 2))
    Rroot = (rodrigues(np.array([np.pi, 0, 0]))[None]
             @ rodrigues(np.stack([tilt[:, 0], yaw, tilt[:, 1]], -1)))
    rot = rodrigues(aa)
    rot[:, 0] = Rroot
    betas = rng.normal(scale=1.0, size=(n, K)).clip(-2.5, 2.5)
    depth = rng.uniform(4.0, 12.0, n)
    u = rng.uniform(-offcentre, offcentre, (n, 2)) * np.array([W / 2, H / 2])
    transl = np.stack([u[:, 0] * depth / f, u[:, 1] * depth / f, depth], -1)
    joints = smpl_forward(body, rot, betas, np.zeros((n, 3)))
    transl = transl - joints[:, 0]  # pelvis at the chosen ray
    joints = joints + transl[:, None]
    idx = np.asarray(keypoint_index)
    sel = joints[:, np.maximum(idx, 0)]
    uv = f * sel[..., :2] / sel[..., 2:3] + np.array([W / 2, H / 2])
    uv = uv + rng.normal(scale=pixel_noise, size=uv.shape)
    conf = rng.uniform(0.5, 1.0, uv.shape[:2])
    conf[rng.uniform(size=conf.shape) < occlusion] = 0.0
    conf[:, idx < 0] = 0.0
    size = uv.max(1) - uv.min(1)
    out = rng.uniform(size=conf.shape) < outliers
    if out.any():
        d = rng.normal(size=uv.shape)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        uv = np.where(out[..., None], uv + d * rng.uniform(0.1, 0.3, conf.shape + (1,))
                      * size.max(-1)[:, None, None], uv)
    kp = np.concatenate([uv, conf[..., None]], -1)
    # initial estimate
    noise = rng.normal(scale=np.deg2rad(rot_noise_deg), size=(n, 24, 3))
    ax = rng.normal(size=(n, 3))
    ax /= np.linalg.norm(ax, axis=-1, keepdims=True)
    noise[:, 0] = ax * rng.normal(scale=np.deg2rad(root_noise_deg), size=(n, 1))
    init_rot = rot @ rodrigues(noise)
    init_betas = betas + rng.normal(scale=beta_noise, size=betas.shape)
    init_transl = transl * (1 + rng.normal(scale=transl_noise, size=(n, 1)))
    vis = kp[..., 2] > 0
    boxes = np.zeros((n, 4))
    for i in range(n):
        p = uv[i][vis[i]] if vis[i].sum() >= 2 else uv[i]
        lo, hi = p.min(0), p.max(0)
        pad = 0.1 * (hi - lo)
        boxes[i] = np.r_[lo - pad, hi + pad]
    return {"rotmat": rot, "betas": betas, "transl": transl, "init_rotmat": init_rot,
            "init_betas": init_betas, "init_transl": init_transl, "keypoints": kp,
            "joints": joints, "boxes": boxes, "focal": f, "img_size": (W, H), "outlier": out}


def poor_person(body: dict, fb, seed: int, i: int, people: int = 200):
    """Person i of a scene of `people` with the annotator benchmark's poor starts (joints 15 deg,
    root 30 deg, shape 1.0 and depth 10 % off, 5 % gross outliers, up to 95 % off-centre) ->
    (the scene, slice(i, i + 1), cliff.annotate.refine()'s positional arguments for that person
    with the fitter body fb)."""
    sc = make_scene(body, people, seed=seed, outliers=0.05, offcentre=0.95, rot_noise_deg=15,
                    root_noise_deg=30, beta_noise=1.0, transl_noise=0.10)
    one = slice(i, i + 1)
    return sc, one, (fb, sc["init_rotmat"][one], sc["init_betas"][one], sc["init_transl"][one],
                     sc["keypoints"][one], sc["boxes"][one], sc["img_size"], sc["focal"])
