"""Synthetic annotation scenes for the annotator's tests and benchmark (no real data needed).

* :func:`procedural_body` - a stand-in SMPL model in the cliff.io.load_smpl contract (v_template,
  shapedirs, posedirs, J_regressor, weights, parents, faces), built from a rough human
  skeleton: vertices scattered along the bones, the 21 vertex joints (nose, eyes, ears, toes,
  heels, fingertips) placed where they belong, joint regressor rows exact (mean of vertex
  clusters centred on each joint). Used when cliff.standin is not available.
* :func:`smpl_forward` - float64 NumPy SMPL forward (facts 10.3) returning the 45 joints.
* :func:`make_scene` - people with random poses and shapes placed off-centre in a full-frame
  camera, COCO keypoints with pixel noise, occlusions and confidences, and an initial estimate
  perturbed like a regressor's error.
"""
from __future__ import annotations

import numpy as np

from .keypoints import COCO17_TO_SMPLX, VERTEX_JOINT_IDS

PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
                    20, 21], dtype=np.int64)

# Rough rest joints of a neutral body (metres, SMPL frame: x to the body's left, y up, z front).
_REST = np.array([
    [0.0, 0.0, 0.0], [0.06, -0.09, -0.01], [-0.06, -0.09, -0.01], [0.0, 0.11, -0.02],
    [0.10, -0.47, 0.0], [-0.10, -0.47, 0.0], [0.0, 0.24, 0.0], [0.09, -0.87, -0.04],
    [-0.09, -0.87, -0.04], [0.0, 0.30, 0.02], [0.11, -0.93, 0.08], [-0.11, -0.93, 0.08],
    [0.0, 0.51, -0.01], [0.08, 0.41, 0.0], [-0.08, 0.41, 0.0], [0.0, 0.58, 0.04],
    [0.19, 0.43, -0.01], [-0.19, 0.43, -0.01], [0.45, 0.42, -0.03], [-0.45, 0.42, -0.03],
    [0.71, 0.43, -0.03], [-0.71, 0.43, -0.03], [0.79, 0.42, -0.04], [-0.79, 0.42, -0.04],
])

# Vertex joints: (position, attached joint) in the order of VERTEX_JOINT_IDS.
_VJ = [((0.0, 0.60, 0.12), 15), ((-0.03, 0.64, 0.09), 15), ((0.03, 0.64, 0.09), 15),
       ((-0.075, 0.61, 0.0), 15), ((0.075, 0.61, 0.0), 15),
       ((0.12, -0.98, 0.15), 10), ((0.16, -0.98, 0.13), 10), ((0.09, -0.98, -0.08), 7),
       ((-0.12, -0.98, 0.15), 11), ((-0.16, -0.98, 0.13), 11), ((-0.09, -0.98, -0.08), 8),
       ((0.80, 0.40, 0.04), 22), ((0.88, 0.42, 0.0), 22), ((0.89, 0.42, -0.02), 22),
       ((0.88, 0.42, -0.04), 22), ((0.86, 0.42, -0.06), 22),
       ((-0.80, 0.40, 0.04), 23), ((-0.88, 0.42, 0.0), 23), ((-0.89, 0.42, -0.02), 23),
       ((-0.88, 0.42, -0.04), 23), ((-0.86, 0.42, -0.06), 23)]


def procedural_body(seed: int = 0, num_betas: int = 10, num_verts: int = 6890) -> dict:
    """A stand-in SMPL model (float64 arrays in the cliff.io.load_smpl contract)."""
    rng = np.random.default_rng(seed)
    V = num_verts
    v = np.zeros((V, 3))
    owner = np.zeros(V, dtype=np.int64)
    special = np.array(VERTEX_JOINT_IDS)
    taken = np.zeros(V, bool)
    taken[special] = True
    for (pos, j), vid in zip(_VJ, special):
        v[vid], owner[vid] = pos, j
    # joint regressor: 6 vertices per joint at +-offsets along the axes (mean = the joint)
    Jreg = np.zeros((24, V))
    free = np.flatnonzero(~taken)
    k = 0
    for j in range(24):
        ids = free[k:k + 6]
        k += 6
        offs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * 0.03
        v[ids] = _REST[j] + offs
        owner[ids] = j
        Jreg[j, ids] = 1.0 / 6.0
        taken[ids] = True
    rest = np.flatnonzero(~taken)
    for vid in rest:
        j = int(rng.integers(1, 24))
        a = _REST[PARENTS[j]]
        b = _REST[j]
        s = rng.uniform()
        v[vid] = a + s * (b - a) + rng.normal(scale=0.035, size=3)
        owner[vid] = j if s > 0.5 else PARENTS[j]
    W = np.zeros((V, 24))
    for vid in range(V):
        j = owner[vid]
        if j > 0 and vid not in special:
            W[vid, j], W[vid, PARENTS[j]] = 0.8, 0.2
        elif j > 0:
            W[vid, j], W[vid, PARENTS[j]] = 0.9, 0.1
        else:
            W[vid, 0] = 1.0
    # shape space: linear in position so joints follow the surface; beta0 ~ height, beta1 ~ girth
    A = np.zeros((num_betas, 3, 3))
    A[0] = np.diag([0.02, 0.07, 0.02])
    if num_betas > 1:
        A[1] = np.diag([0.06, 0.0, 0.05])
    for l in range(2, num_betas):
        A[l] = rng.normal(scale=0.015, size=(3, 3))
    shapedirs = np.einsum("lab,vb->val", A, v)
    shapedirs += rng.normal(scale=0.002, size=shapedirs.shape)
    posedirs = rng.normal(scale=0.004, size=(V, 3, 207))
    faces = np.stack([np.arange(V - 2), np.arange(1, V - 1), np.arange(2, V)], 1)[:13776]
    faces = np.resize(faces, (13776, 3)).astype(np.int32)
    return {"v_template": v, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": Jreg,
            "weights": W, "parents": PARENTS.copy(), "faces": faces}


def rodrigues(aa: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3), float64."""
    aa = np.asarray(aa, dtype=np.float64)
    th = np.linalg.norm(aa, axis=-1, keepdims=True)[..., None]
    k = aa / np.maximum(th[..., 0], 1e-12)
    K = np.zeros(aa.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K


def rotmat_to_aa(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3), float64 (robust near pi)."""
    R = np.asarray(R, dtype=np.float64)
    cos = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)
    th = np.arccos(cos)
    w = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                  R[..., 1, 0] - R[..., 0, 1]], -1)
    s = np.sin(th)
    out = np.where((s > 1e-6)[..., None], w * (th / (2 * np.maximum(s, 1e-12)))[..., None], w / 2)
    near_pi = th > np.pi - 1e-3
    if near_pi.any():
        B = (R[near_pi] + np.eye(3)) / 2
        axis = np.sqrt(np.clip(np.diagonal(B, axis1=-2, axis2=-1), 0, None))
        i = np.argmax(axis, -1)
        col = B[np.arange(len(i)), :, i]
        axis = col / np.linalg.norm(col, axis=-1, keepdims=True)
        sign = np.sign(np.einsum("ni,ni->n", axis, w[near_pi]))
        sign[sign == 0] = 1
        out[near_pi] = axis * sign[:, None] * th[near_pi][:, None]
    return out


def smpl_forward(body: dict, rotmat: np.ndarray, betas: np.ndarray, transl: np.ndarray,
                 vertex_ids=VERTEX_JOINT_IDS) -> np.ndarray:
    """float64 SMPL forward (facts 10.3): rotmat (N,24,3,3), betas (N,K), transl (N,3) ->
    joints (N, 24 + len(vertex_ids), 3), metres; the vertex joints are full LBS vertices."""
    rotmat, betas, transl = (np.asarray(a, np.float64) for a in (rotmat, betas, transl))
    K = betas.shape[1]
    vs = body["v_template"][None] + np.einsum("vkl,nl->nvk", body["shapedirs"][..., :K], betas)
    J = np.einsum("jv,nvk->njk", body["J_regressor"], vs)
    pf = (rotmat[:, 1:] - np.eye(3)).reshape(len(rotmat), 207)
    vp = vs + np.einsum("vkp,np->nvk", body["posedirs"], pf)
    N = len(rotmat)
    G = np.zeros((N, 24, 4, 4))
    G[:, :, 3, 3] = 1
    par = body["parents"]
    for j in range(24):
        L = np.zeros((N, 4, 4))
        L[:, :3, :3] = rotmat[:, j]
        L[:, :3, 3] = J[:, j] - (J[:, par[j]] if par[j] >= 0 else 0)
        L[:, 3, 3] = 1
        G[:, j] = L if par[j] < 0 else G[:, par[j]] @ L
    joints = G[:, :, :3, 3].copy()
    A = G.copy()
    A[:, :, :3, 3] -= np.einsum("njab,njb->nja", G[:, :, :3, :3], J)
    ids = np.asarray(vertex_ids)
    T = np.einsum("vj,njab->nvab", body["weights"][ids], A)
    x = np.einsum("nvab,nvb->nva", T[..., :3, :3], vp[:, ids]) + T[..., :3, 3]
    return np.concatenate([joints, x], 1) + transl[:, None]


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
    init_transl, keypoints (n,K,3), joints (n,45,3), boxes (n,4) xyxy, focal, img_size (W,H).
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
            "joints": joints, "boxes": boxes, "focal": f, "img_size": (W, H)}
