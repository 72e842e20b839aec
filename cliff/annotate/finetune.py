"""Step 3 of the CLIFF annotator as in the paper: fine-tune the regressor on the target set with
the 2D keypoints as weak supervision and the full-frame reprojection loss (docs/annotate.md).

CPU edition: the backbone is frozen, its (N, 2048) features and bbox_info are computed once, and
only the regressor is fine-tuned. The released regressor has no nonlinearity, so 3 iterations of
it are an affine map (docs/model.md "Regressor"):

    s_{k+1} = s_k + Ms s_k + Mx [feat, bbox] + c,   s_0 = init,   s = [pose6d (144), betas (10), cam (3)]
    s_3 = A^3 init + G (Mx x + c),   A = I + Ms,   G = I + A + A^2

:class:`Regressor` holds that map in float64, as the C core computes it from the checkpoint's
fc1/fc2/dec*/init_* arrays (the same map cliff.Model runs; ``Model.regressor()``).

What is trained (the update stays small and the prior strong): the bias c (157), the bbox block
of Mx (157 x 3) and a rank-r update U V^T of the feature block (157 x 2048), with V fixed to the
target set's top-r principal feature directions (scaled to unit variance) and U trained; Ms and
the rest of Mx stay as released. Loss, mean over people:

    sum_m conf_m rho(|Pi(J_m(s)) - kp_m|^2 / (sigma_rel b)^2)            full-frame camera (or crop)
    + w_root |s6_root - s6_root^0|^2 + w_pose sum_j |s6_j - s6_j^0|^2      near the initial CLIFF prediction
    + w_betas_init |beta - beta^0|^2 + w_shape |beta|^2
    + w_decay (|dc|^2 + |dMb|^2 + |U V^T|_F^2)                             towards the released weights

Gradients are analytic: the fitter's joint Jacobians (cliff.annotate.fit.fit_jacobian, d uv / d(phi, beta,
t) with R = R0 Exp(phi)) chained through rot6d -> rotmat (closed form below), the camera
(cam_crop_to_full, or the crop camera for the ablation) and the linear regressor. Adam on
mini-batches, float64 NumPy, a fixed number of epochs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .fit import FitBody, fit_jacobian
from .. import _core
from ..constants import CROP_FOCAL, CROP_SIZE
from ..constants import NUM_BETAS as NSHAPE, NUM_CAM as NCAM, NUM_FEATURES as NFEAT
from ..constants import NUM_POSE6D as NPOSE, NUM_STATE as NSTATE


@dataclass
class Regressor:
    """The collapsed regressor, float64: Mx (157, 2051) on [feat, bbox_info], Ms (157, 157) on
    the state, c (157,), init (157,)."""
    Mx: np.ndarray
    Ms: np.ndarray
    c: np.ndarray
    init: np.ndarray

    @classmethod
    def from_state_dict(cls, sd) -> "Regressor":
        """From a CLIFF state dict (cliff.io.load_checkpoint; a 'module.' prefix is ignored): the
        core collapses its fc1, fc2, decpose, decshape, deccam weights/biases and
        init_pose/init_shape/init_cam (other entries are ignored). ValueError naming the key when
        one is missing or misshapen."""
        if not hasattr(sd, "keys"):
            raise TypeError(f"sd: expected a state dict, got {type(sd).__name__}")
        names = [k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in sd.keys()]
        return cls._from_core(_core.regressor_collapse(names, [sd[k] for k in sd.keys()]))

    @classmethod
    def from_model(cls, model) -> "Regressor":
        """The map a loaded cliff.Model runs (``Model.regressor()``)."""
        return cls._from_core(model.regressor())

    @classmethod
    def _from_core(cls, d) -> "Regressor":
        return cls(Mx=d["Mx"], Ms=d["Ms"], c=d["c"], init=d["init"])

    @classmethod
    def from_checkpoint(cls, path) -> "Regressor":
        from ..io import load_checkpoint
        return cls.from_state_dict(load_checkpoint(path))

    def copy(self) -> "Regressor":
        return Regressor(self.Mx.copy(), self.Ms.copy(), self.c.copy(), self.init.copy())

    def _maps(self, n_iter):
        A = np.eye(NSTATE) + self.Ms
        G, P = np.zeros((NSTATE, NSTATE)), np.eye(NSTATE)
        for _ in range(n_iter):
            G += P
            P = A @ P
        return P @ self.init, G  # s_n = P init + G base

    def run(self, features, bbox_info, n_iter: int = 3) -> np.ndarray:
        """Final states (N, 157) for features (N, 2048) and bbox_info (N, 3)."""
        x = _inputs(features, bbox_info)
        p0, G = self._maps(n_iter)
        return p0 + (x @ self.Mx.T + self.c) @ G.T


def _inputs(features, bbox_info):
    f = np.asarray(features, np.float64)
    bb = np.asarray(bbox_info, np.float64)
    if f.ndim != 2 or f.shape[1] != NFEAT:
        raise ValueError(f"features: expected shape (N, {NFEAT}), got {f.shape}")
    if bb.shape != (f.shape[0], 3):
        raise ValueError(f"bbox_info: expected shape ({f.shape[0]}, 3), got {bb.shape}")
    if not (np.isfinite(f).all() and np.isfinite(bb).all()):
        raise ValueError("features/bbox_info: contain NaN or infinite values")
    return np.concatenate([f, bb], 1)


# ---- differentiable pieces -------------------------------------------------------------------

def rot6d(x):
    """6D -> rotation (official convention: x read as the row-major 3x2 [a1 | a2], Gram-Schmidt,
    R = [b1 | b2 | b1 x b2]) and the Jacobian D (..., 3, 6) of the right-perturbation angle:
    dR = R [D dx]_x. x (..., 6) -> R (..., 3, 3), D (..., 3, 6)."""
    x = np.asarray(x, np.float64)
    a1, a2 = x[..., 0::2], x[..., 1::2]
    n1 = np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    b1 = a1 / n1
    d12 = (b1 * a2).sum(-1, keepdims=True)
    u = a2 - d12 * b1
    nu = np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    b2 = u / nu
    b3 = np.cross(b1, b2)
    R = np.stack([b1, b2, b3], -1)
    # w_x = (b3.da2 - (b1.a2) b3.da1 / |a1|) / |u|, w_y = -b3.da1 / |a1|, w_z = b2.da1 / |a1|
    D = np.zeros(x.shape[:-1] + (3, 6))
    D[..., 0, 0::2] = -d12 * b3 / (n1 * nu)
    D[..., 0, 1::2] = b3 / nu
    D[..., 1, 0::2] = -b3 / n1
    D[..., 2, 0::2] = b2 / n1
    return R, D


def states_to_smpl(states):
    """States (N, 157) -> rotmat (N, 24, 3, 3), betas (N, 10), cam_crop (N, 3)."""
    s = np.asarray(states, np.float64)
    return rot6d(s[:, :NPOSE].reshape(-1, 24, 6))[0], s[:, NPOSE:NPOSE + NSHAPE], s[:, NPOSE + NSHAPE:]


def camera_translation(cam, center, b, focal, pp, loss: str = "full"):
    """Network camera (s, tx, ty) -> translation in the camera the loss projects with, and its
    Jacobian (N, 3, 3). 'full': cam_crop_to_full (t = [2(cx-px)/(bs) + tx, 2(cy-py)/(bs) + ty,
    2f/(bs)], full-frame camera); 'crop': the HMR-style crop camera (t = [tx, ty, 2 f_c/(r s)]
    with crop focal f_c = 5000 crop px, r = 256; it projects with focal f_c b / r at the box
    centre)."""
    cam = np.asarray(cam, np.float64)
    s = cam[:, 0]
    n = len(cam)
    J = np.zeros((n, 3, 3))
    J[:, 0, 1] = J[:, 1, 2] = 1.0
    if loss == "full":
        k = np.stack([2 * (center[:, 0] - pp[:, 0]), 2 * (center[:, 1] - pp[:, 1]), 2 * focal], -1) / b[:, None]
        t = k / s[:, None] + np.stack([cam[:, 1], cam[:, 2], np.zeros(n)], -1)
    elif loss == "crop":
        k = np.zeros((n, 3))
        k[:, 2] = 2 * CROP_FOCAL / CROP_SIZE
        t = np.stack([cam[:, 1], cam[:, 2], k[:, 2] / s], -1)
    else:
        raise ValueError(f"loss: expected 'full' or 'crop', got {loss!r}")
    J[:, :, 0] = -k / (s ** 2)[:, None]
    return t, J


def cam_from_translation(t_full, center, b, focal, pp):
    """Inverse of cam_crop_to_full: t (N, 3) -> cam (N, 3) = (s, tx, ty)."""
    s = 2 * focal / (b * t_full[:, 2])
    bs = b * s
    return np.stack([s, t_full[:, 0] - 2 * (center[:, 0] - pp[:, 0]) / bs,
                     t_full[:, 1] - 2 * (center[:, 1] - pp[:, 1]) / bs], -1)


def smpl_to_states(rotmat, betas, cam):
    """rotmat (N, 24, 3, 3), betas (N, 10), cam (N, 3) -> states (N, 157) (6D = first two columns)."""
    R = np.asarray(rotmat, np.float64)
    return np.concatenate([R[..., :, :2].reshape(len(R), NPOSE), np.asarray(betas, np.float64),
                           np.asarray(cam, np.float64)], 1)


# ---- the fine-tuning problem -----------------------------------------------------------------

@dataclass
class FinetuneData:
    """Everything per person, float64. x (N, 2051) = [features, bbox_info]; z (N, r) the
    projections on the fixed basis V; s0 (N, 157) initial states; kp (N, M, 3); jidx (M,);
    center (N, 2), b (N,), focal (N,), pp (N, 2)."""
    x: np.ndarray
    z: np.ndarray
    s0: np.ndarray
    kp: np.ndarray
    jidx: np.ndarray
    center: np.ndarray
    b: np.ndarray
    focal: np.ndarray
    pp: np.ndarray


@dataclass
class FinetuneResult:
    regressor: Regressor      # the fine-tuned collapsed map (run it on the cached features)
    history: list = field(default_factory=list)   # objective before each epoch, and at the end
    # (the returned parameters are those of the lowest entry)
    params: dict = field(default_factory=dict)    # dc (157,), dMb (157, 3), U (157, r), V (2048, r)


class Finetuner:
    """The objective and its gradient for a regressor and a target set (see module docs).

    Defaults differ from the per-person fitter's on purpose: the Geman-McClure scale is 10 (not
    3) units of sigma_rel * b, because at the start most residuals are tens of pixels from
    per-person errors the shared update cannot remove, and with the fitter's scale they sit in
    the flat part of rho and the systematic part gets no gradient; and the pose priors are
    weaker (w_root 0.1, w_pose 1, per squared 6D unit), because they pull towards the released
    regressor's estimate, i.e. towards the very bias fine-tuning is meant to remove (the weight
    decay on the update is the main prior). Per-person terms are averaged over the batch."""

    def __init__(self, reg: Regressor, body: FitBody, features, bbox_info, keypoints, joint_index,
                 center, b, focal, img_size, *, rank: int = 16, n_iter: int = 3, loss: str = "full",
                 robust: str | None = "gm", robust_scale: float = 10.0, sigma_rel: float = 0.01,
                 w_root: float = 0.1, w_pose: float = 1.0, w_betas_init: float = 1.0,
                 w_shape: float = 0.1, w_decay: float = 1.0):
        if not isinstance(reg, Regressor):
            raise TypeError(f"regressor: expected a cliff.finetune.Regressor, got {type(reg).__name__}")
        if not isinstance(body, FitBody):
            raise TypeError(f"body: expected a cliff.annotate.fit.FitBody, got {type(body).__name__}")
        if body.num_betas != NSHAPE:
            raise ValueError(f"body: needs {NSHAPE} betas (the regressor's), got {body.num_betas}")
        x = _inputs(features, bbox_info)
        n = len(x)
        if n == 0:
            raise ValueError("features: no people to fine-tune on")
        kp = np.asarray(keypoints, np.float64)
        jidx = np.asarray(joint_index, np.int64)
        if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 3 or jidx.shape != (kp.shape[1],):
            raise ValueError(f"keypoints: expected shape ({n}, M, 3) with joint_index (M,), got "
                             f"{kp.shape} and {jidx.shape}")
        if not np.isfinite(kp).all() or (kp[..., 2] < 0).any():
            raise ValueError("keypoints: must be finite with confidences >= 0")
        if loss not in ("full", "crop"):
            raise ValueError(f"loss: expected 'full' or 'crop', got {loss!r}")
        if robust not in ("gm", None, "none", "l2"):
            raise ValueError(f"robust: expected 'gm' or None, got {robust!r}")
        if not (isinstance(rank, (int, np.integer)) and 0 <= rank <= NFEAT):
            raise ValueError(f"rank: expected an integer in 0..{NFEAT}, got {rank!r}")
        rank = min(int(rank), n)  # no more directions than people
        center = np.asarray(center, np.float64).reshape(n, 2)
        b = np.asarray(b, np.float64).reshape(n)
        focal = np.broadcast_to(np.asarray(focal, np.float64), (n,)).copy()
        wh = np.broadcast_to(np.asarray(img_size, np.float64), (n, 2))
        if not ((b > 0).all() and (focal > 0).all() and (wh > 0).all()):
            raise ValueError("b, focal and img_size must be > 0")
        self.reg, self.body, self.loss = reg, body, loss
        self.n_iter, self.rank = int(n_iter), int(rank)
        self.robust = robust == "gm"
        self.o = dict(robust_scale=robust_scale, sigma_rel=sigma_rel, w_root=w_root, w_pose=w_pose,
                      w_betas_init=w_betas_init, w_shape=w_shape, w_decay=w_decay)
        # fixed basis: top principal directions of the target set's features, unit variance
        f = x[:, :NFEAT]
        if self.rank:
            fc = f - f.mean(0)
            _, sv, Vt = np.linalg.svd(fc, full_matrices=False)
            # only directions along which the features really vary (n people span <= n - 1)
            tol = 1e-6 * np.sqrt(n * np.mean(f ** 2) + 1e-300)
            self.rank = int(min(self.rank, (sv > tol).sum()))
            self.V = Vt[:self.rank].T / (sv[:self.rank] / np.sqrt(n))
        else:
            self.V = np.zeros((NFEAT, 0))
        self.p0, self.G = reg._maps(self.n_iter)
        self.base0 = x @ reg.Mx.T + reg.c
        s0 = self.p0 + self.base0 @ self.G.T
        self.data = FinetuneData(x=x, z=f @ self.V, s0=s0, kp=kp, jidx=jidx, center=center, b=b,
                                 focal=focal, pp=wh / 2)
        if self.loss == "crop":
            self.cam_f = CROP_FOCAL * b / CROP_SIZE
            self.cam_c = center
        else:
            self.cam_f, self.cam_c = focal, wh / 2

    # parameters: dict dc (157,), dMb (157, 3), U (157, r)
    def zero_params(self) -> dict:
        return {"dc": np.zeros(NSTATE), "dMb": np.zeros((NSTATE, 3)), "U": np.zeros((NSTATE, self.rank))}

    def states(self, params, idx=None) -> np.ndarray:
        d = self.data
        idx = np.arange(len(d.x)) if idx is None else idx
        base = self.base0[idx] + params["dc"] + d.x[idx, NFEAT:] @ params["dMb"].T + d.z[idx] @ params["U"].T
        return self.p0 + base @ self.G.T

    def person(self, i, s, grad: bool = True):
        """Data + prior terms of person i at state s (157,) -> (value, d/ds (157,))."""
        d, o = self.data, self.o
        R, D = rot6d(s[:NPOSE].reshape(24, 6))
        betas, cam = s[NPOSE:NPOSE + NSHAPE], s[NPOSE + NSHAPE:]
        t, dt = camera_translation(cam[None], d.center[i:i + 1], d.b[i:i + 1], d.focal[i:i + 1],
                                   d.pp[i:i + 1], self.loss)
        g = np.zeros(NSTATE)
        ds = s - d.s0[i]
        val = (o["w_root"] * (ds[:6] ** 2).sum() + o["w_pose"] * (ds[6:NPOSE] ** 2).sum()
               + o["w_betas_init"] * (ds[NPOSE:NPOSE + NSHAPE] ** 2).sum() + o["w_shape"] * (betas ** 2).sum())
        g[:6] = 2 * o["w_root"] * ds[:6]
        g[6:NPOSE] = 2 * o["w_pose"] * ds[6:NPOSE]
        g[NPOSE:NPOSE + NSHAPE] = 2 * o["w_betas_init"] * ds[NPOSE:NPOSE + NSHAPE] + 2 * o["w_shape"] * betas
        if not t[0, 2] > 1e-3:
            return np.inf, g  # behind the camera: no usable data term
        m = (d.jidx >= 0) & (d.kp[i, :, 2] > 0)
        J, uv, dJ, duv = fit_jacobian(self.body, R, np.zeros((24, 3)), betas, t[0],
                                      self.cam_f[i], self.cam_c[i])
        if (J[d.jidx[m], 2] <= 1e-6).any():
            return np.inf, g
        kp = d.kp[i, m]
        r = uv[d.jidx[m]] - kp[:, :2]
        sc2 = (o["sigma_rel"] * d.b[i]) ** 2
        sq = (r ** 2).sum(-1) / sc2
        if self.robust:
            c2 = o["robust_scale"] ** 2
            rho, drho = c2 * sq / (sq + c2), c2 * c2 / (sq + c2) ** 2
        else:
            rho, drho = sq, np.ones_like(sq)
        val += (kp[:, 2] * rho).sum()
        if grad:
            guv = (kp[:, 2] * drho * 2 / sc2)[:, None] * r           # (M, 2)
            gp = np.einsum("mk,mkp->p", guv, duv[d.jidx[m]])         # (72 + 10 + 3,)
            g[:NPOSE] += np.einsum("ja,jab->jb", gp[:72].reshape(24, 3), D).reshape(NPOSE)
            g[NPOSE:NPOSE + NSHAPE] += gp[72:72 + NSHAPE]
            g[NPOSE + NSHAPE:] += dt[0].T @ gp[72 + NSHAPE:]
        return val, g

    def objective(self, params, idx=None, grad: bool = True):
        """Mean over people idx of the per-person terms + the weight decay -> (value, grads dict)."""
        d = self.data
        idx = np.arange(len(d.x)) if idx is None else np.asarray(idx)
        S = self.states(params, idx)
        vals = np.empty(len(idx))
        gs = np.zeros((len(idx), NSTATE))
        for k, i in enumerate(idx):
            vals[k], gs[k] = self.person(i, S[k], grad)
        ok = np.isfinite(vals)
        n = max(int(ok.sum()), 1)
        val = vals[ok].sum() / n
        wd = self.o["w_decay"]
        UV = params["U"] @ self.V.T if self.rank else None
        val += wd * ((params["dc"] ** 2).sum() + (params["dMb"] ** 2).sum()
                     + ((UV ** 2).sum() if self.rank else 0.0))
        if not grad:
            return val, None
        gb = (gs * ok[:, None]) @ self.G / n                        # d/d base (len(idx), 157)
        out = {"dc": gb.sum(0) + 2 * wd * params["dc"],
               "dMb": gb.T @ d.x[idx, NFEAT:] + 2 * wd * params["dMb"],
               "U": gb.T @ d.z[idx] + (2 * wd * UV @ self.V if self.rank else 0.0)}
        return val, out

    def regressor(self, params) -> Regressor:
        """The fine-tuned collapsed map (Mx + [U V^T, dMb], c + dc)."""
        r = self.reg.copy()
        r.Mx[:, :NFEAT] += params["U"] @ self.V.T
        r.Mx[:, NFEAT:] += params["dMb"]
        r.c += params["dc"]
        return r


def finetune(reg: Regressor, body: FitBody, features, bbox_info, keypoints, joint_index, center, b,
             focal, img_size, *, epochs: int = 20, batch_size: int = 64, lr: float = 1e-3,
             seed: int = 0, **options) -> FinetuneResult:
    """Fine-tune the collapsed regressor on a target set (module docs).

    features (N, 2048) cached encoder output, bbox_info (N, 3) (Model.predict gives both);
    keypoints (N, M, 3) [u, v, conf] px with joint_index (M,) (model joint per keypoint, -1 =
    unused); center (N, 2), b (N,) the crop box [cx, cy] and height (px) used for bbox_info;
    focal (N,) or scalar px; img_size (W, H) or (N, 2). Adam (lr, betas 0.9/0.999) on
    mini-batches of batch_size people, `epochs` passes in a seeded random order. options:
    rank, n_iter, loss ('full' | 'crop'), robust, robust_scale, sigma_rel, w_root, w_pose,
    w_betas_init, w_shape, w_decay (see :class:`Finetuner`).
    Returns FinetuneResult(regressor, history, params); the parameters kept are those with the
    lowest full objective among the epoch boundaries."""
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
        raise ValueError(f"epochs: expected an integer >= 0, got {epochs!r}")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected > 0, got {lr!r}")
    ft = Finetuner(reg, body, features, bbox_info, keypoints, joint_index, center, b, focal,
                   img_size, **options)
    p = ft.zero_params()
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    rng = np.random.default_rng(seed)
    n = len(ft.data.x)
    hist, step = [], 0
    best = (np.inf, p)
    for _ in range(int(epochs)):
        hist.append(ft.objective(p, grad=False)[0])
        if hist[-1] < best[0]:
            best = (hist[-1], {k: v.copy() for k, v in p.items()})
        order = rng.permutation(n)
        for s in range(0, n, batch_size):
            _, g = ft.objective(p, order[s:s + batch_size])
            step += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v2[k] = 0.999 * v2[k] + 0.001 * g[k] ** 2
                p[k] = p[k] - lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v2[k] / (1 - 0.999 ** step)) + 1e-12)
    hist.append(ft.objective(p, grad=False)[0])
    if not hist[-1] <= best[0]:  # keep the best epoch (a safety net; Adam rarely goes up)
        p = best[1]
    return FinetuneResult(regressor=ft.regressor(p), history=hist, params=dict(p, V=ft.V))


def load_regressor(src) -> Regressor:
    """A Regressor from a Regressor, a loaded cliff.Model, a state dict, or a checkpoint path."""
    from ..model import Model
    if isinstance(src, Regressor):
        return src
    if isinstance(src, Model):
        return Regressor.from_model(src)
    if isinstance(src, (str, os.PathLike)):
        return Regressor.from_checkpoint(src)
    if isinstance(src, dict) or hasattr(src, "keys"):
        return Regressor.from_state_dict(src)
    raise TypeError(f"regressor: expected a checkpoint path, a state dict, a cliff.Model or a "
                    f"cliff.finetune.Regressor, got {type(src).__name__}")


# ---- a synthetic "regressor world" (benchmarks and tests) ------------------------------------

def synthetic_world(truth_states, init_states, seed: int = 0, feat_scale: float = 1.0):
    """Features and a released-style regressor such that the regressor maps the features exactly
    to `init_states` (the perturbed estimates) while the truth is linearly encoded in them.

    Latent z_i = [truth_i, init_i] (314); features f_i = P z_i + f_bar with P (2048, 314)
    orthonormal columns times feat_scale and f_bar > 0; released Ms small random, Mx bbox block 0,
    Mx feature block = G^-1 [0, I] P^T / scale^2 + a random part orthogonal to P, c chosen to
    absorb init and f_bar. Returns (Regressor, features (N, 2048)). What it cannot show: whether
    real CLIFF features carry the estimate's errors linearly (docs/annotate.md)."""
    rng = np.random.default_rng(seed)
    T, S0 = np.asarray(truth_states, np.float64), np.asarray(init_states, np.float64)
    Z = np.concatenate([T, S0], 1)
    P, _ = np.linalg.qr(rng.normal(size=(NFEAT, 2 * NSTATE)))
    P *= feat_scale
    fbar = np.abs(rng.normal(size=NFEAT)) * 0.5 * feat_scale
    F = Z @ P.T + fbar
    Ms = rng.normal(size=(NSTATE, NSTATE)) * (0.05 / np.sqrt(NSTATE))
    init = rng.normal(size=NSTATE) * 0.1
    reg = Regressor(np.zeros((NSTATE, NFEAT + 3)), Ms, np.zeros(NSTATE), init)
    p0, G = reg._maps(3)
    Gi = np.linalg.inv(G)
    Mf = np.concatenate([np.zeros((NSTATE, NSTATE)), Gi], 1) @ P.T / feat_scale ** 2
    Q = rng.normal(size=(NSTATE, NFEAT)) * (0.02 / np.sqrt(NFEAT))
    Mf += Q - (Q @ P) @ P.T / feat_scale ** 2
    reg.Mx[:, :NFEAT] = Mf
    reg.c = -Gi @ p0 - Mf @ fbar
    return reg, F
