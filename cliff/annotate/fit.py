"""Per-person refinement of SMPL parameters against 2D keypoints (C core: csrc/fit.c).

The fitter minimises, for each person independently (OpenMP over people, GIL released),

    sum_m conf_m * rho(|proj(J_m) - kp_m|^2 / (sigma_rel * b)^2)          2D, full-frame camera
  + w_root |phi_0|^2 + w_pose sum_{j>0} |phi_j|^2                          stay near the estimate
  + w_betas_init |betas - betas0|^2 + w_shape |betas|^2 + w_transl |t - t0|^2
  + w_depth ln(t_z / t0_z)^2                                               depth near the estimate's

over phi (24,3) axis-angle offsets from the initial rotations (R_j = R0_j Exp(phi_j)), betas and
the translation t (metres), by Levenberg-Marquardt with analytic Jacobians (forward kinematics,
linear blend skinning of the vertex joints including pose blend shapes, perspective
projection). b is the person's box height in pixels, rho is L2, Geman-McClure or Huber.
Passing the crop camera (focal 5000 * b / crop_size, principal point at the box centre; see
cliff.annotate.losses.crop_camera) instead of the real camera gives the HMR-style crop loss.
"""
from __future__ import annotations

from collections.abc import Mapping
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import _core
from ..constants import VERTEX_JOINT_IDS

ROBUST = {"none": 0, "l2": 0, None: 0, "gm": 1, "geman-mcclure": 1, "huber": 2}
#: Default weight of the population pose prior (fit_people's pose_prior=): chosen on the
#: development seed of benchmarks/bench_annotate_quality.py --pose-prior (docs/annotate.md,
#: "Population pose prior"); 1 would be the prior read as -2 log density.
DEFAULT_W_GMM = 0.25
#: Default weight of the upright root prior (fit_people's upright_deg=): chosen on the
#: development seed of benchmarks/bench_annotate_quality.py --pose-prior --upright-deg with
#: upright_deg = the world's own spread (docs/annotate.md, "Upright root prior"); 1 would be the
#: prior read as -2 log density. Below 1 for the reason w_gmm is: the keypoint term is
#: under-weighted relative to a true likelihood.
DEFAULT_W_UP = 0.35
#: Default weight of the depth prior w_depth ln(t_z / t0_z)^2 (issue 17, round 13): 1 / 0.2^2, a
#: log-normal of 20 % relative spread around the estimate's depth. The person's box fixes the
#: distance up to the spread of body sizes and the regressor's scale error (10-20 %); the
#: keypoints alone do not (a bigger body farther away, or a body pulled towards the camera
#: until its keypoints are on the robust loss's flat tail). docs/annotate.md, round 13.
DEFAULT_W_DEPTH = 25.0

STATUS = {0: "ok", 1: "no keypoints with confidence > 0", 2: "person behind the camera",
          3: "non-finite input or result", 4: "out of memory"}


@dataclass(frozen=True)
class FitBody:
    """The parts of an SMPL model the fitter needs (float64): rest joints J0 (24,3) and their
    shape directions Jdirs (24,3,K), parents (24,), and for the vertex joints (SMPL output joints
    24..) the template rows vt (V,3), shapedirs rows vdirs (V,3,K), posedirs rows vpose (V,3,207)
    and skinning weight rows vweights (V,24)."""
    J0: np.ndarray
    Jdirs: np.ndarray
    parents: np.ndarray
    vt: np.ndarray
    vdirs: np.ndarray
    vpose: np.ndarray
    vweights: np.ndarray

    @classmethod
    def from_smpl(cls, smpl, num_betas: Optional[int] = None, vertex_ids=None) -> "FitBody":
        """The fitter's body of an SMPL model, computed by the C core (cliff_smpl_fit_body):
        J0 = J_regressor @ v_template, Jdirs = J_regressor @ shapedirs and the vertex joints'
        rows, all float64.

        smpl: a :class:`cliff.SMPL`, or a dict in the cliff.io.load_smpl contract (v_template,
        shapedirs, posedirs, J_regressor, weights, parents; a core SMPL model is built from it).
        num_betas: shape components to keep (default: the model's own for a cliff.SMPL, 10 for
        a dict). vertex_ids: accepted for backward compatibility; must be the model's vertex
        joints (cliff.constants.VERTEX_JOINT_IDS), the only ones the core keeps.
        """
        from ..smpl import SMPL, core_model
        if vertex_ids is not None and not np.array_equal(np.asarray(vertex_ids), VERTEX_JOINT_IDS):
            raise ValueError("vertex_ids: the fitter's vertex joints are the model's "
                             f"(cliff.constants.VERTEX_JOINT_IDS), got {np.asarray(vertex_ids)}")
        if num_betas is not None and (isinstance(num_betas, bool)
                                      or not isinstance(num_betas, (int, np.integer))):
            raise TypeError(f"num_betas: expected an int, got {type(num_betas).__name__}")
        if isinstance(smpl, SMPL):
            core = smpl._model
            k = smpl.num_betas if num_betas is None else int(num_betas)
        elif isinstance(smpl, Mapping):
            k = 10 if num_betas is None else int(num_betas)
            core = core_model(smpl, k, name="smpl")
        else:
            raise TypeError("smpl: expected a cliff.SMPL or a dict of SMPL arrays "
                            f"(cliff.io.load_smpl), got {type(smpl).__name__}")
        return cls(**core.fit_body(k))

    @property
    def num_betas(self) -> int:
        return self.Jdirs.shape[-1]

    def as_tuple(self):
        return (self.J0, self.Jdirs, self.parents, self.vt, self.vdirs, self.vpose, self.vweights)


def _per_person(x, n, name, shape_tail):
    a = _array(x, name)
    if a.shape == shape_tail:
        a = np.broadcast_to(a, (n,) + shape_tail)
    if a.shape != (n,) + shape_tail:
        raise ValueError(f"{name}: expected shape {shape_tail} or {(n,) + shape_tail}, got {a.shape}")
    _finite(a, name)
    return a


def _array(x, name, shape=None, expect=None):
    """float64 array; with `shape` (-1 = any), checked against it and for NaN/inf."""
    try:
        a = np.asarray(x, np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected numbers ({exc})") from None
    if shape is not None:
        if a.ndim != len(shape) or any(s >= 0 and d != s for d, s in zip(a.shape, shape)):
            raise ValueError(f"{name}: expected shape {expect or shape}, got {a.shape}")
        _finite(a, name)
    return a


def _finite(a, name):
    if np.isfinite(a).all():
        return
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        where = f"[{', '.join(map(str, bad[0]))}]" if a.ndim else ""
        raise ValueError(f"{name}: contains NaN or infinite values (first at {name}{where})")


def _positive(x, name, what="> 0"):
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {x!r}") from None
    if not (np.isfinite(v) and (v > 0 if what == "> 0" else v >= 0)):
        raise ValueError(f"{name}: expected a finite number {what}, got {x!r}")
    return v


def _check_body(body):
    if not isinstance(body, FitBody):
        raise TypeError(f"body: expected a cliff.annotate.fit.FitBody, got {type(body).__name__}")
    par = np.asarray(body.parents)
    if not (par.shape == (24,) and par[0] < 0 and
            ((par[1:] >= 0) & (par[1:] < np.arange(1, 24))).all()):
        raise ValueError("body.parents: expected 24 entries with parents[0] < 0 and "
                         "0 <= parents[j] < j (joints in kinematic order)")


def check_joint_index(joint_index, num_keypoints, num_joints, name="joint_index"):
    """(M,) int64 model joint per keypoint: integers in 0..num_joints-1, or -1 (ignored)."""
    j = np.asarray(joint_index)
    if j.dtype.kind not in "iu" and not (j.dtype.kind == "f" and np.all(j == np.round(j))):
        raise TypeError(f"{name}: expected integers, got dtype {j.dtype}")
    if j.shape != (num_keypoints,):
        raise ValueError(f"{name}: expected shape ({num_keypoints},) (one model joint per "
                         f"keypoint), got {j.shape}")
    j = j.astype(np.int64)
    bad = np.flatnonzero((j < -1) | (j >= num_joints))
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] = {j[bad[0]]}: expected a model joint in "
                         f"0..{num_joints - 1} or -1 (keypoint ignored)")
    return j


def check_fit_keypoints(keypoints, n, name="keypoints"):
    """(n, M, 3) float64 [u, v, conf], finite, conf >= 0; errors name the first bad entry."""
    kp = _array(keypoints, name, (n, -1, 3), f"(n, M, 3) = ({n}, M, 3) [u, v, conf]")
    neg = np.argwhere(kp[..., 2] < 0)
    if len(neg):
        p, m = neg[0]
        raise ValueError(f"{name}[{p}, {m}, 2] = {kp[p, m, 2]:g}: confidences must be >= 0 "
                         "(0 = keypoint ignored)")
    return kp


def as_pose_prior(pose_prior):
    """None, a :class:`cliff.io.PosePrior`, or a path to a gmm_08.pkl-style file (read with
    :func:`cliff.io.load_pose_prior`) -> a PosePrior or None."""
    from ..io.pose_prior import PosePrior, load_pose_prior
    if pose_prior is None or isinstance(pose_prior, PosePrior):
        return pose_prior
    if isinstance(pose_prior, (str, bytes, os.PathLike)):
        return load_pose_prior(pose_prior)
    raise TypeError("pose_prior: expected None, a cliff.io.PosePrior or a path to a "
                    f"gmm_08.pkl-style file, got {type(pose_prior).__name__}")


def upright_options(upright_deg, w_up=DEFAULT_W_UP) -> dict:
    """upright_deg (None = off, or the prior's sigma in degrees: a finite number > 0) and its
    weight w_up (finite, >= 0) -> the core's options {w_up, up_sigma (radians)} ({} when off)."""
    if upright_deg is None:
        return {}
    if isinstance(upright_deg, bool) or not isinstance(upright_deg, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError("upright_deg: expected None or a number of degrees, got "
                        f"{type(upright_deg).__name__}")
    sigma = _positive(upright_deg, "upright_deg")
    if isinstance(w_up, bool):
        raise TypeError(f"w_up: expected a number, got {w_up!r}")
    return {"w_up": _positive(w_up, "w_up", ">= 0"), "up_sigma": float(np.radians(sigma))}


def _check_inputs(body, rotmat, betas, transl, keypoints, joint_index, focal, principal_point,
                  norm, robust, robust_scale, sigma_rel, w_root, w_pose, w_betas_init, w_shape,
                  w_transl, pose_prior=None, w_gmm=DEFAULT_W_GMM, upright_deg=None,
                  w_up=DEFAULT_W_UP, w_depth=DEFAULT_W_DEPTH):
    """Shared argument checks of fit_people / evaluate -> (C positional args, C options)."""
    _check_body(body)
    rot = _array(rotmat, "rotmat", (-1, 24, 3, 3), "(n, 24, 3, 3)")
    n = rot.shape[0]
    K = body.num_betas
    betas = _array(betas, "betas", (n, K), f"(n, K) = ({n}, {K}) (K from the body)")
    transl = _array(transl, "transl", (n, 3), f"(n, 3) = ({n}, 3)")
    keypoints = check_fit_keypoints(keypoints, n)
    joint_index = check_joint_index(joint_index, keypoints.shape[1], 24 + body.vt.shape[0])
    focal = _per_person(focal, n, "focal", ())
    pp = _per_person(principal_point, n, "principal_point", (2,))
    cam = np.concatenate([focal[:, None], pp], 1)
    norm = _per_person(norm, n, "norm", ())
    if not (focal > 0).all():
        raise ValueError("focal: must be > 0")
    if not (norm > 0).all():
        raise ValueError("norm: must be > 0 (the person's box height in pixels)")
    if robust not in ROBUST:
        raise ValueError(f"robust: expected one of 'gm', 'huber', 'none', got {robust!r}")
    sigma_rel, robust_scale = _positive(sigma_rel, "sigma_rel"), _positive(robust_scale, "robust_scale")
    w_root, w_pose, w_betas_init, w_shape, w_transl, w_depth = (
        _positive(w, name, ">= 0") for w, name in ((w_root, "w_root"), (w_pose, "w_pose"),
                                                    (w_betas_init, "w_betas_init"),
                                                    (w_shape, "w_shape"), (w_transl, "w_transl"),
                                                    (w_depth, "w_depth")))
    opts = dict(robust=ROBUST[robust], robust_scale=float(robust_scale),
                sigma_rel=float(sigma_rel), w_root=float(w_root), w_pose=float(w_pose),
                w_betas_init=float(w_betas_init), w_shape=float(w_shape), w_transl=float(w_transl),
                w_depth=float(w_depth))
    prior = as_pose_prior(pose_prior)
    if prior is not None:
        opts.update(w_gmm=_positive(w_gmm, "w_gmm", ">= 0"), pose_prior=prior.core_arrays())
    opts.update(upright_options(upright_deg, w_up))
    return (body.as_tuple(), rot, betas, transl, cam, keypoints, joint_index, norm), opts


#: Default weights of the objective (fit_people's keyword defaults); see docs/annotate.md.
DEFAULT_WEIGHTS = dict(robust="gm", robust_scale=3.0, sigma_rel=0.01, w_root=30.0, w_pose=10.0,
                       w_betas_init=1.0, w_shape=0.1, w_transl=0.0, w_depth=DEFAULT_W_DEPTH)


def fit_people(body: FitBody, rotmat, betas, transl, keypoints, joint_index, focal,
               principal_point, norm, *, max_iter: int = 30, tol: float = 1e-6,
               robust: str | None = "gm", robust_scale: float = 3.0, sigma_rel: float = 0.01,
               w_root: float = 30.0, w_pose: float = 10.0, w_betas_init: float = 1.0,
               w_shape: float = 0.1, w_transl: float = 0.0, phi_start=None, betas_start=None,
               transl_start=None, pose_prior=None, w_gmm: float = DEFAULT_W_GMM,
               upright_deg: float | None = None, w_up: float = DEFAULT_W_UP,
               w_depth: float = DEFAULT_W_DEPTH) -> dict:
    """Refine n people.

    rotmat (n,24,3,3), betas (n,K), transl (n,3) metres: initial estimate (e.g. CLIFF's).
    keypoints (n,M,3) [u, v, conf] pixels; joint_index (M,) model joint (0..44) per keypoint,
    -1 = ignored. focal (n,) or scalar pixels; principal_point (n,2) or (2,) pixels;
    norm (n,) pixels: the residual scale (the person's box height).
    Weights are per squared unit: 2D residuals in units of sigma_rel * norm, rotations in
    radians, betas in units, translation in metres.
    phi_start, betas_start, transl_start: optional (n,24,3) radians, (n,K), (n,3) metres: the LM
    starts at R_j = rotmat_j Exp(phi_start_j), betas_start, transl_start (e.g. another root
    hypothesis, or the result of another fit) while the priors stay centred on rotmat, betas,
    transl, so that final objectives of different starts are comparable.
    pose_prior: None, a :class:`cliff.io.PosePrior` or a path to SMPLify's gmm_08.pkl: adds the
    population pose prior w_gmm * min_k (|L_k^T (a - mu_k)|^2 + const_k) over the body joints'
    axis-angle vectors a (joints 1..23 of the fitted rotations; docs/annotate.md). w_gmm >= 0:
    its weight (default DEFAULT_W_GMM = 0.25, chosen on the benchmark's development seed; 1 =
    the prior read as -2 log density, like the keypoint term).
    upright_deg: None (off, the default) or sigma in degrees of the upright root prior
    w_up * (u_x^2 + u_z^2) / sigma^2 with u = R_0 e_y the body's up axis in the camera frame: a
    Gaussian on the tilt of the body's vertical from the camera's vertical (-y), yaw free
    (people stand upright and cameras are roughly level; wrong for lying or acrobatic people and
    tilted cameras; docs/annotate.md). w_up >= 0: its weight (default DEFAULT_W_UP).
    w_depth >= 0: weight of the depth prior w_depth ln(t_z / transl_z)^2, a log-normal on the
    depth relative to the estimate's (default DEFAULT_W_DEPTH = 25: 20 % spread; 0 = off). A
    person whose estimate has transl_z <= 0 gets status 2 while it is on.

    Returns dict: rotmat (n,24,3,3), betas (n,K), transl (n,3), phi (n,24,3) (fitted offsets,
    radians), err_init / err_final (n,) confidence-weighted mean reprojection error in pixels,
    iterations (n,) int, converged (n,) bool, status (n,) int (0 ok; see STATUS; a person that
    could not be fitted keeps its initial parameters and has err = 0), objective_start /
    objective (n,) the objective at the LM's start and at the result, data_cost / prior_cost (n,)
    its two parts at the result (0 when status != 0), spread (n,) metres: the posterior spread of
    the pelvis-relative SMPL joints, sqrt(mean_i trace(D_i H^-1 D_i^T)) with H the Gauss-Newton
    matrix at the result (the objective read as -2 log density) and D_i the Jacobian of
    J_i - J_0 (-1 if H is singular).
    """
    args, opts = _check_inputs(body, rotmat, betas, transl, keypoints, joint_index, focal,
                               principal_point, norm, robust, robust_scale, sigma_rel, w_root,
                               w_pose, w_betas_init, w_shape, w_transl, pose_prior, w_gmm,
                               upright_deg, w_up, w_depth)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or not 1 <= max_iter <= 100000:
        raise ValueError(f"max_iter: expected an integer in 1..100000, got {max_iter!r}")
    tol = _positive(tol, "tol", ">= 0")
    n = args[1].shape[0]
    x0 = None
    if phi_start is not None or betas_start is not None or transl_start is not None:
        K = body.num_betas
        ph = np.zeros((n, 24, 3)) if phi_start is None else _array(
            phi_start, "phi_start", (n, 24, 3), f"(n, 24, 3) = ({n}, 24, 3)")
        bs = args[2] if betas_start is None else _array(
            betas_start, "betas_start", (n, K), f"(n, K) = ({n}, {K})")
        ts = args[3] if transl_start is None else _array(
            transl_start, "transl_start", (n, 3), f"(n, 3) = ({n}, 3)")
        x0 = np.concatenate([ph.reshape(n, 72), bs, ts], 1)
    R, b, t, phi, st, q = _core.fit_people_ex(*args, x0, max_iter=int(max_iter), tol=float(tol),
                                              **opts)
    return {"rotmat": R, "betas": b, "transl": t, "phi": phi, "err_init": st[:, 0],
            "err_final": st[:, 1], "iterations": st[:, 2].astype(np.int64),
            "converged": st[:, 3] > 0, "status": st[:, 4].astype(np.int64),
            "objective_start": q[:, 0], "objective": q[:, 1], "data_cost": q[:, 2],
            "prior_cost": q[:, 3], "spread": q[:, 4]}


def evaluate(body: FitBody, rotmat_ref, betas_ref, transl_ref, keypoints, joint_index, focal,
             principal_point, norm, rotmat, betas, transl, *, robust: str | None = "gm",
             robust_scale: float = 3.0, sigma_rel: float = 0.01, w_root: float = 30.0,
             w_pose: float = 10.0, w_betas_init: float = 1.0, w_shape: float = 0.1,
             w_transl: float = 0.0, pose_prior=None, w_gmm: float = DEFAULT_W_GMM,
             upright_deg: float | None = None, w_up: float = DEFAULT_W_UP,
             w_depth: float = DEFAULT_W_DEPTH) -> dict:
    """fit_people's objective, with its priors centred on (rotmat_ref, betas_ref, transl_ref),
    evaluated at the parameters (rotmat, betas, transl) without fitting (C, OpenMP).

    Shapes and units as fit_people; rotmat (n,24,3,3), betas (n,K), transl (n,3) metres.
    pose_prior, w_gmm, upright_deg, w_up, w_depth: as fit_people (their costs are part of
    prior_cost).
    Returns dict: objective, data_cost, prior_cost (n,); err (n,) the confidence-weighted mean
    reprojection error (px) in the given camera; kp_err (n,M) each keypoint's reprojection error
    (px), -1 where a keypoint is not used (confidence 0 or joint_index -1) or behind the camera;
    status (n,) (0 ok, 1 no keypoints, 2 behind the camera, 3 non-finite)."""
    args, opts = _check_inputs(body, rotmat_ref, betas_ref, transl_ref, keypoints, joint_index,
                               focal, principal_point, norm, robust, robust_scale, sigma_rel,
                               w_root, w_pose, w_betas_init, w_shape, w_transl, pose_prior, w_gmm,
                               upright_deg, w_up, w_depth)
    n, K = args[1].shape[0], body.num_betas
    R = _array(rotmat, "rotmat", (n, 24, 3, 3), f"(n, 24, 3, 3) = ({n}, 24, 3, 3)")
    b = _array(betas, "betas", (n, K), f"(n, K) = ({n}, {K})")
    t = _array(transl, "transl", (n, 3), f"(n, 3) = ({n}, 3)")
    out, kp_err = _core.fit_evaluate(*args, R, b, t, **opts)
    return {"objective": out[:, 0], "data_cost": out[:, 1], "prior_cost": out[:, 2],
            "err": out[:, 3], "kp_err": kp_err, "status": out[:, 4].astype(np.int64)}


def fit_jacobian(body: FitBody, rotmat0, phi, betas, transl, focal, principal_point):
    """One person's 45 model joints and projections with their analytic Jacobians with respect
    to the P = 72 + K + 3 parameters (phi, betas, t), at R_j = R0_j Exp(phi_j).

    rotmat0 (24,3,3), phi (24,3), betas (K,), transl (3,), focal scalar, principal_point (2,)
    -> joints (NJ,3) metres, uv (NJ,2) pixels, djoints (NJ,3,P), duv (NJ,2,P)."""
    _check_body(body)
    K = body.num_betas
    R0 = _array(rotmat0, "rotmat0", (24, 3, 3))
    phi = _array(phi, "phi", (24, 3))
    betas = _array(betas, "betas", (K,), f"({K},) (K from the body)")
    transl = _array(transl, "transl", (3,))
    pp = _array(principal_point, "principal_point", (2,))
    cam = np.array([_positive(focal, "focal"), pp[0], pp[1]])
    return _core.fit_jacobian(body.as_tuple(), R0, phi, betas, transl, cam)


def pose_prior_cost(pose_prior, rotmat0, phi=None, *, w_gmm: float = 1.0):
    """The fitter's pose prior term (C core, the same code as in fit_people) at
    R_j = rotmat0_j Exp(phi_j): rotmat0 (n,24,3,3), phi (n,24,3) radians (default 0) ->
    (cost (n,), grad (n,24,3)) with cost = w_gmm min_k (|L_k^T (a - mu_k)|^2 + const_k) over the
    body joints' axis-angle vectors a (joints 1..23) and grad its gradient with respect to phi
    (root entries 0) from the fitter's analytic Jacobian. pose_prior: a cliff.io.PosePrior or a
    path."""
    prior = as_pose_prior(pose_prior)
    if prior is None:
        raise ValueError("pose_prior: expected a cliff.io.PosePrior or a path, got None")
    R0 = _array(rotmat0, "rotmat0", (-1, 24, 3, 3), "(n, 24, 3, 3)")
    n = R0.shape[0]
    ph = np.zeros((n, 24, 3)) if phi is None else _array(phi, "phi", (n, 24, 3),
                                                          f"(n, 24, 3) = ({n}, 24, 3)")
    return _core.fit_pose_prior(R0, ph, _positive(w_gmm, "w_gmm", ">= 0"), prior.core_arrays())


def upright_prior_cost(rotmat0, phi=None, *, upright_deg: float, w_up: float = 1.0):
    """The fitter's upright root prior term (C core, the same code as in fit_people) at
    R_0 = rotmat0 Exp(phi): rotmat0 (n,3,3) root rotations, phi (n,3) radians (default 0) ->
    (cost (n,), grad (n,3)) with cost = w_up (u_x^2 + u_z^2) / sigma^2, u = R_0 e_y (the body's
    up axis in the camera frame), sigma = radians(upright_deg), and grad its gradient with
    respect to phi from the fitter's analytic Jacobian."""
    opts = upright_options(upright_deg, w_up)
    if not opts:
        raise ValueError("upright_deg: expected a number of degrees > 0, got None")
    R0 = _array(rotmat0, "rotmat0", (-1, 3, 3), "(n, 3, 3)")
    n = R0.shape[0]
    ph = np.zeros((n, 3)) if phi is None else _array(phi, "phi", (n, 3), f"(n, 3) = ({n}, 3)")
    return _core.fit_upright_prior(R0, ph, opts["w_up"], opts["up_sigma"])
