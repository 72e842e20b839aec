"""Float64 NumPy references for the body model and rotations (test-only).

They re-implement, independently of the C core, what the core computes: Rodrigues' formula,
its inverse (robust near pi) and the SMPL forward pass (shape blend, joint regression, pose
blend, forward kinematics, linear blend skinning; the model formulas are in docs/smpl.md).
Tests compare the core with them; the scene generator uses them for ground truth.
"""
from __future__ import annotations

import numpy as np

from cliff.constants import VERTEX_JOINT_IDS


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
    """float64 SMPL forward (docs/smpl.md): rotmat (N,24,3,3), betas (N,K), transl (N,3) ->
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


def fit_body_arrays(arrays: dict, num_betas: int = 10, vertex_ids=VERTEX_JOINT_IDS) -> dict:
    """What the annotator's fitter needs from an SMPL model (cliff_smpl_fit_body in the core),
    computed here in float64 NumPy from the model arrays (the formulas cliff.annotate.fit used
    before the core computed them): J0 = J_regressor @ v_template (24,3), Jdirs = J_regressor @
    shapedirs[..., :num_betas] (24,3,K), parents, and the vertex joints' rows of v_template,
    shapedirs, posedirs and weights."""
    vtmp = np.asarray(arrays["v_template"], np.float64)
    sd = np.asarray(arrays["shapedirs"], np.float64)[..., :num_betas]
    Jr = arrays["J_regressor"]
    Jr = np.asarray(Jr.toarray() if hasattr(Jr, "toarray") else Jr, np.float64)
    ids = np.asarray(vertex_ids, np.int64)
    return {"J0": Jr @ vtmp, "Jdirs": np.einsum("jv,vkl->jkl", Jr, sd),
            "parents": np.asarray(arrays["parents"], np.int64), "vt": vtmp[ids], "vdirs": sd[ids],
            "vpose": np.asarray(arrays["posedirs"], np.float64)[ids],
            "vweights": np.asarray(arrays["weights"], np.float64)[ids]}
