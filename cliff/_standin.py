"""Stand-in files for running cliff without the licensed ones. NOTHING here is SMPL or CLIFF.

The licensed SMPL files and the CLIFF checkpoints cannot ship with cliff. Tests, the notebook,
the benchmarks and ``make demo`` (without the official files) use deterministic substitutes with
exactly the official structure, so every code path runs; numbers computed with them say nothing
about real people.

* :func:`smpl_arrays` - the demo's blob body: SMPL's array structure (6890 vertices, 13776
  faces, the 24-joint kinematic tree, a sparse joint regressor, sparse skinning weights); a
  closed, smooth, genus-0 blob about 1.7 m tall in SMPL's own frame (metres, y up, facing +z,
  the body's left on +x, pelvis near the origin), with smooth random shape and pose blend shapes
  of a few centimetres and a few millimetres.
* :func:`procedural_body` - a second, independent stand-in built from a rough human skeleton
  (vertices scattered along the bones, the 21 vertex joints where they belong, joint regressor
  rows exact): used where a test needs a body whose joints sit at human-like places.
* :func:`random_state_dict` - random CLIFF weights with every checkpoint key of a backbone.
* :func:`standin_files` - both written once in the official file formats, then reused.
"""
from __future__ import annotations

import os

import numpy as np

from . import _core
from ._version import __version__
from typing import Dict

from .constants import (MEAN_CAM, MEAN_ROOT_6D, MEAN_SHAPE, NUM_BETAS, NUM_CAM, NUM_POSE6D,
                        SMPL_PARENTS, VERTEX_JOINT_IDS)
from .model import expected_keys

NUM_RINGS = 82      # latitude rings of the UV sphere (plus 2 poles)
NUM_SEGMENTS = 84   # vertices per ring; 82 * 84 + 2 = 6890 vertices, 2 * 84 * 82 = 13776 faces

PARENTS = SMPL_PARENTS

# Where each SMPL joint should roughly be (x, y) in metres, SMPL order; z is 0 by symmetry.
_JOINT_TARGETS = np.array([
    [0.00, 0.00], [0.08, -0.08], [-0.08, -0.08], [0.00, 0.10], [0.09, -0.48], [-0.09, -0.48],
    [0.00, 0.22], [0.08, -0.85], [-0.08, -0.85], [0.00, 0.28], [0.09, -0.91], [-0.09, -0.91],
    [0.00, 0.46], [0.07, 0.40], [-0.07, 0.40], [0.00, 0.58], [0.17, 0.38], [-0.17, 0.38],
    [0.19, 0.15], [-0.19, 0.15], [0.19, -0.05], [-0.19, -0.05], [0.19, -0.12], [-0.19, -0.12],
])

# Body outline: height y (top to bottom) -> half width along x and half depth along z.
_PROFILE = np.array([
    # y      rx     rz
    [0.75, 0.000, 0.000],
    [0.72, 0.060, 0.070],
    [0.66, 0.090, 0.100],
    [0.58, 0.095, 0.105],
    [0.51, 0.070, 0.080],
    [0.47, 0.055, 0.060],
    [0.42, 0.180, 0.100],
    [0.36, 0.215, 0.120],
    [0.25, 0.200, 0.125],
    [0.12, 0.150, 0.110],
    [0.00, 0.180, 0.120],
    [-0.20, 0.170, 0.100],
    [-0.50, 0.130, 0.080],
    [-0.84, 0.100, 0.070],
    [-0.90, 0.110, 0.120],
    [-0.94, 0.080, 0.090],
    [-0.95, 0.000, 0.000],
])


def _sphere_faces() -> np.ndarray:
    """Triangles of the UV sphere, wound counter-clockwise seen from outside."""
    R, S = NUM_RINGS, NUM_SEGMENTS
    top, bottom = 0, 1 + R * S
    s = np.arange(S)
    s1 = (s + 1) % S
    ring = lambda i: 1 + i * S  # noqa: E731  (index of the first vertex of ring i)
    faces = [np.stack([np.full(S, top), ring(0) + s, ring(0) + s1], 1)]
    for i in range(R - 1):
        a, b = ring(i) + s, ring(i) + s1
        c, d = ring(i + 1) + s, ring(i + 1) + s1
        faces += [np.stack([a, d, b], 1), np.stack([a, c, d], 1)]
    faces.append(np.stack([np.full(S, bottom), ring(R - 1) + s1, ring(R - 1) + s], 1))
    return np.concatenate(faces).astype(np.int32)


def _template() -> np.ndarray:
    """Vertices: pole, rings top to bottom (evenly spaced in height), pole."""
    R, S = NUM_RINGS, NUM_SEGMENTS
    top, bot = _PROFILE[0, 0], _PROFILE[-1, 0]
    y = top + (bot - top) * np.arange(1, R + 1) / (R + 1)
    rx = np.interp(-y, -_PROFILE[:, 0], _PROFILE[:, 1])
    rz = np.interp(-y, -_PROFILE[:, 0], _PROFILE[:, 2])
    phi = 2 * np.pi * np.arange(S) / S
    ring = np.stack([rx[:, None] * np.cos(phi), np.broadcast_to(y[:, None], (R, S)),
                     -rz[:, None] * np.sin(phi)], -1).reshape(-1, 3)
    return np.concatenate([[[0.0, top, 0.0]], ring, [[0.0, bot, 0.0]]])


def _joint_regressor(v: np.ndarray) -> np.ndarray:
    """Each joint: the 10 vertices of the ring nearest its target height whose x is nearest the
    target x (front and back alike, so the mean lands inside the body), weighted by inverse
    distance; rows sum to 1."""
    R, S = NUM_RINGS, NUM_SEGMENTS
    ring_y = v[1 + np.arange(R) * S, 1]
    reg = np.zeros((len(_JOINT_TARGETS), len(v)))
    for j, (tx, ty) in enumerate(_JOINT_TARGETS):
        i = int(np.argmin(np.abs(ring_y - ty)))
        idx = 1 + i * S + np.arange(S)
        dx = np.abs(v[idx, 0] - tx)
        pick = np.argsort(dx, kind="stable")[:10]
        w = 1.0 / (dx[pick] + 0.01)
        reg[j, idx[pick]] = w / w.sum()
    return reg


def _skinning_weights(v: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Gaussian falloff with the distance to each joint (sigma 8 cm), the 4 largest kept per
    vertex, rows normalized to 1."""
    d2 = ((v[:, None, :] - joints[None, :, :]) ** 2).sum(-1)
    logits = -d2 / (2 * 0.08 ** 2)
    w = np.exp(logits - logits.max(1, keepdims=True))
    cut = np.sort(w, axis=1)[:, -4][:, None]
    w = np.where(w >= cut, w, 0.0)
    return w / w.sum(1, keepdims=True)


def _smooth_fields(v: np.ndarray, count: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """`count` smooth random displacement fields (V, 3, count), each scaled so its largest
    vertex displacement is `amplitude` metres."""
    x, y, z = (v - v.mean(0)).T
    basis = np.stack([np.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, y * z, x * z,
                      np.sin(3 * y), np.cos(3 * y), np.sin(5 * x), np.cos(5 * z)], 1)
    coef = rng.standard_normal((basis.shape[1], 3, count))
    fields = np.einsum("vb,bcl->vcl", basis, coef)
    fields *= amplitude / np.linalg.norm(fields, axis=1).max(0)
    return fields


def smpl_arrays(seed: int = 0, num_betas: int = 10) -> dict:
    """Arrays of a deterministic SMPL stand-in (NOT SMPL; see the module docstring), in the
    layout of ``cliff.io.load_smpl``:

    'v_template' (6890,3) f64 metres; 'shapedirs' (6890,3,num_betas) f64; 'posedirs'
    (6890,3,207) f64; 'J_regressor' (24,6890) f64 dense, 10 non-zeros per row; 'weights'
    (6890,24) f64, 4 non-zeros per row; 'parents' (24,) int64 with -1 for the root; 'faces'
    (13776,3) int32. The same (seed, num_betas) gives the same arrays.
    """
    if int(num_betas) != num_betas or not 0 <= num_betas <= 300:
        raise ValueError(f"num_betas: expected an integer in 0..300, got {num_betas!r}")
    rng = np.random.default_rng(seed)
    v = _template()
    reg = _joint_regressor(v)
    shapedirs = _smooth_fields(v, int(num_betas), 0.03, rng)
    posedirs = _smooth_fields(v, 207, 0.004, rng)
    return {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": reg,
        "weights": _skinning_weights(v, reg @ v),
        "parents": PARENTS.copy(),
        "faces": _sphere_faces(),
    }


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


# SMPL-X's kinematic tree (docs/smplx.md#skeleton): SMPL's first 22 joints, jaw and eyes on
# the head (15), then 15 finger joints per hand (index, middle, pinky, ring, thumb; 3 each,
# chained) on the left (20) then right (21) wrist.
SMPLX_PARENTS = np.concatenate([
    SMPL_PARENTS[:22], [15, 15, 15],
    *[[w, 25 + 15 * h + 3 * f, 26 + 15 * h + 3 * f] for h, w in ((0, 20), (1, 21)) for f in range(5)],
]).astype(np.int64)
SMPLX_VERTEX_JOINT_IDS = tuple(int(i) for i in _core.smplx_vertex_joint_ids())  # the core's table
# their attached joint: face on the head, toes/heels on the feet, fingertips on the last
# phalanx (index, middle, ring, pinky, thumb order of the tips -> 27, 30, 36, 33, 39 on the left)
_SMPLX_VJ_JOINT = (15, 15, 15, 15, 15, 10, 10, 7, 11, 11, 8,
                   39, 27, 30, 36, 33, 54, 42, 45, 51, 48)


def _smplx_rest_joints() -> np.ndarray:
    J = np.zeros((55, 3))
    J[:22] = _REST[:22]
    J[22] = _REST[15] + (0.0, -0.04, 0.05)            # jaw
    J[23] = _REST[15] + (0.03, 0.03, 0.07)            # left eye
    J[24] = _REST[15] + (-0.03, 0.03, 0.07)           # right eye
    for h, w, sx in ((0, 20, 1.0), (1, 21, -1.0)):
        for f, dz in enumerate((0.03, 0.01, -0.03, -0.01, 0.05)):  # index middle pinky ring thumb
            for k in range(3):
                J[25 + 15 * h + 3 * f + k] = J[w] + (sx * (0.09 + 0.025 * k), -0.01 * (f == 4), dz)
    return J


def smplx_arrays(seed: int = 0, num_betas: int = 300) -> dict:
    """A deterministic SMPL-X stand-in (NOT SMPL-X; a rough skeleton with vertices scattered
    along its bones), in the ``cliff.io.load_smplx`` contract: 10475 vertices, 20908 faces,
    55 joints with SMPL-X's tree, the 21 vertex joints at smplx's vertex ids, 51 landmarks,
    ``num_betas`` shape components (300, or at most 10 for the 10 + 10 layout), pose blend
    shapes for all 54 joints, a non-flat mean hand pose, plus ``expression_dirs`` (random) so
    that files written from it hold real expression blend shapes."""
    if num_betas not in range(0, 11) and num_betas != 300:
        raise ValueError(f"num_betas: expected 0..10 or 300 (SMPL-X's layouts), got {num_betas!r}")
    rng = np.random.default_rng(seed)
    V, J = 10475, 55
    rest = _smplx_rest_joints()
    v = np.zeros((V, 3))
    owner = np.zeros(V, np.int64)
    taken = np.zeros(V, bool)
    special = np.array(SMPLX_VERTEX_JOINT_IDS)
    for vid, j in zip(special, _SMPLX_VJ_JOINT):
        v[vid] = rest[j] + rng.normal(scale=0.01, size=3)
        owner[vid] = j
    taken[special] = True
    Jreg = np.zeros((J, V))
    free = np.flatnonzero(~taken)
    offs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * 0.01
    for j in range(J):
        ids = free[6 * j:6 * j + 6]
        v[ids] = rest[j] + offs
        owner[ids] = j
        Jreg[j, ids] = 1.0 / 6.0
        taken[ids] = True
    others = np.flatnonzero(~taken)
    js = rng.integers(1, J, others.size)
    t = rng.uniform(size=(others.size, 1))
    v[others] = rest[SMPLX_PARENTS[js]] + t * (rest[js] - rest[SMPLX_PARENTS[js]]) \
        + rng.normal(scale=0.02, size=(others.size, 3))
    owner[others] = np.where(t[:, 0] > 0.5, js, SMPLX_PARENTS[js])
    W = np.zeros((V, J))
    child = owner > 0
    W[np.flatnonzero(~child), 0] = 1.0
    c = np.flatnonzero(child)
    W[c, owner[c]] = 0.7
    W[c, SMPLX_PARENTS[owner[c]]] += 0.3
    A = rng.normal(scale=0.01, size=(num_betas, 3, 3))
    shapedirs = np.einsum("lab,vb->val", A, v) + rng.normal(scale=0.001, size=(V, 3, num_betas))
    n_expr = 100 if num_betas == 300 else 10
    expression_dirs = rng.normal(scale=0.002, size=(V, 3, n_expr))
    posedirs = rng.normal(scale=0.003, size=(V, 3, 9 * (J - 1)))
    faces = np.stack([np.arange(V - 2), np.arange(1, V - 1), np.arange(2, V)], 1)
    faces = np.resize(faces, (20908, 3)).astype(np.int32)
    head = np.flatnonzero(np.isin(faces, np.flatnonzero(owner == 15)).any(1))
    return {"v_template": v, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": Jreg,
            "weights": W, "parents": SMPLX_PARENTS.copy(), "faces": faces,
            "lmk_faces_idx": head[rng.choice(head.size, 51, replace=False)].astype(np.int32),
            "lmk_bary_coords": rng.dirichlet(np.ones(3), 51),
            "hands_meanl": rng.normal(scale=0.2, size=45), "hands_meanr": rng.normal(scale=0.2, size=45),
            "expression_dirs": expression_dirs}


def smplx2smpl_arrays(seed: int = 0) -> dict:
    """A stand-in SMPL-X -> SMPL deformation transfer as the entries of smplx's sparse 'mtx'
    (6890, 2 x 10475): ``{'shape', 'rows', 'cols', 'values'}``, 3 SMPL-X vertices with
    barycentric weights per SMPL vertex, plus a few entries in the normal half (columns >=
    10475), which the mapping must ignore. Write it with cliff.io.smplx.save_smplx2smpl_pkl."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(6890), 3)
    cols = np.concatenate([rng.choice(10475, 3, replace=False) for _ in range(6890)])
    values = rng.dirichlet(np.ones(3), 6890).reshape(-1)
    extra = np.arange(0, 6890, 97)
    return {"shape": (6890, 2 * 10475), "rows": np.concatenate([rows, extra]),
            "cols": np.concatenate([cols, 10475 + extra]),
            "values": np.concatenate([values, np.full(extra.size, 5.0)])}


def _feeds_sum(name: str) -> bool:
    """Convs whose (BN'd) output is added to another tensor: residual branches and HRNet fuse
    terms. They are scaled down so that the sums stay O(1) through all modules."""
    if name.endswith(".conv3.weight") or (".branches." in name and name.endswith(".conv2.weight")):
        return True
    if ".downsamp_modules." in name:
        return True
    parts = name.split(".")
    if "fuse_layers" in parts:  # fuse_layers.i.j.0.weight (j > i) or fuse_layers.i.j.s.0.weight
        at = parts.index("fuse_layers")
        i, j = int(parts[at + 1]), int(parts[at + 2])
        return j > i or int(parts[at + 3]) == i - j - 1
    return False


def _small_rotations_6d(rng: np.random.Generator, n: int, max_angle: float) -> np.ndarray:
    """(n,6) 6D vectors (row-major first two columns) of rotations up to max_angle radians."""
    axis = rng.standard_normal((n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = rng.uniform(0.05, max_angle, n)[:, None, None]
    kx = np.zeros((n, 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    kx -= kx.transpose(0, 2, 1)
    R = np.eye(3) + np.sin(ang) * kx + (1 - np.cos(ang)) * (kx @ kx)
    return R[:, :, :2].reshape(n, 6)


def random_state_dict(backbone: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Deterministic random weights for ``backbone`` with every key of
    :func:`cliff.model.expected_keys` (the core's layer tables), in that order.

    - conv weights: He-normal (std sqrt(2/fan_in)) times 0.8, times a further 0.3 for convs
      that feed a sum (residual branches, HRNet fuse terms, head), so activations stay O(1)
      through all layers of both networks (feature std ~1 for a N(0,1) input); conv biases
      N(0, 0.02);
    - BatchNorm: gamma 1 +- 0.2, beta N(0, 0.05), running_mean N(0, 0.1),
      running_var U(0.5, 2), num_batches_tracked = 1000 (int64, unused at inference);
    - regressor: fc1, fc2 ~ N(0, 1/fan_in); decoders scaled so one iteration moves the 6D pose
      by ~0.03, the shape by ~0.05 and the camera by ~0.01 (three iterations stay finite and the
      rotations well conditioned);
    - init_pose: the official mean root 6D, then 23 small rotations (<= 0.4 rad);
      init_shape, init_cam: the official mean shape and camera.

    Returns float32 arrays (int64 for num_batches_tracked), in state_dict order.
    """
    keys = expected_keys(backbone)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError("seed: expected a non-negative int, got %r" % (seed,))
    from .model import NETWORKS
    rng = np.random.default_rng([int(seed), 0 if backbone == "hr48" else 1 if backbone == "res50"
                                 else NETWORKS.index(backbone)])
    dec_scale = {"decpose": 0.03, "decshape": 0.05, "deccam": 0.01}
    out: Dict[str, np.ndarray] = {}
    for name, shape in keys.items():
        leaf = name.rsplit(".", 1)[-1]
        owner = name[: -len(leaf) - 1]
        if leaf == "init_pose":  # "init_pose" (official) or "head.init_pose"
            npose = shape[1]
            pose = _small_rotations_6d(rng, npose // 6, 0.4)
            pose[0] = MEAN_ROOT_6D
            a = pose.reshape(1, npose)
        elif leaf == "init_shape":  # SMPL-X heads: the mean shape and a 0 for the 11th beta
            a = np.zeros((1, shape[1]))
            a[0, :NUM_BETAS] = MEAN_SHAPE
        elif leaf == "init_cam":
            a = np.array(MEAN_CAM).reshape(1, NUM_CAM)
        elif leaf == "num_batches_tracked":
            out[name] = np.array(1000, dtype=np.int64)
            continue
        elif len(shape) == 4:  # conv weight [out, in, k, k]
            fan_in = shape[1] * shape[2] * shape[3]
            gain = 0.8 * (0.3 if _feeds_sum(name) else 1.0)
            a = rng.standard_normal(shape) * (gain * np.sqrt(2.0 / fan_in))
        elif owner + ".running_mean" in keys:  # BatchNorm vectors
            a = {"weight": lambda: 1 + rng.uniform(-0.2, 0.2, shape),
                 "bias": lambda: 0.05 * rng.standard_normal(shape),
                 "running_mean": lambda: 0.1 * rng.standard_normal(shape),
                 "running_var": lambda: rng.uniform(0.5, 2.0, shape)}[leaf]()
        elif len(keys.get(owner + ".weight", ())) == 4:  # conv bias
            a = 0.02 * rng.standard_normal(shape)
        elif leaf == "weight":  # Linear [out, in]
            a = rng.standard_normal(shape) * (dec_scale.get(owner.rsplit(".", 1)[-1], 1.0) / np.sqrt(shape[1]))
        else:  # Linear bias
            a = 0.01 * dec_scale.get(owner.rsplit(".", 1)[-1], 1.0) * rng.standard_normal(shape)
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out


def family_file_state(family: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Every entry of a released ``family`` file's state dict, random, in that file's order and
    naming (docs/official.md#families): the network's weights (:func:`random_state_dict` of the
    family) plus what the release's file also carries and the core never reads.

    - ``mmhuman3d-res50`` (mmcv ``.pth``): ``backbone.*``, ``head.*``, then stand-ins of the
      body-model buffers (``body_model_train.*``, ``body_model_test.*``);
    - ``bedlam-cliff`` / ``bedlam-cliff-x`` (Lightning ``.ckpt``): the trainer's ``J_regressor``
      buffer, ``model.backbone.*`` with the unused ``final_layer`` (1x1 conv 48 -> 24, with bias)
      before the conv neck, ``model.head.*`` with the unused ``downsample_module`` (three 3x3
      stride-2 convs 720 -> 720 with bias, BN) after ``deccam``, then stand-ins of the body-model
      buffers (``model.smpl.smpl.*``, ``smpl.*``).

    Body-model stand-ins are zeros of the real names and shapes; nothing here is SMPL.
    """
    from .families import family as get_family
    fam = get_family(family)
    if fam.official:
        raise ValueError(f"family: {family!r} is an official layout; use random_state_dict")
    net = random_state_dict(fam.backbone, seed)
    rng = np.random.default_rng([int(seed), 99])
    out: Dict[str, np.ndarray] = {}

    def bn(pfx: str, c: int) -> None:
        out[pfx + ".weight"] = np.ones(c, np.float32)
        out[pfx + ".bias"] = np.zeros(c, np.float32)
        out[pfx + ".running_mean"] = np.zeros(c, np.float32)
        out[pfx + ".running_var"] = np.ones(c, np.float32)
        out[pfx + ".num_batches_tracked"] = np.array(1000, np.int64)

    if fam.lightning:
        out["J_regressor"] = np.zeros((17, 6890), np.float32)
        for k, v in net.items():
            if k.startswith("backbone.downsample_stage_1.") and "model.backbone.final_layer.weight" not in out:
                out["model.backbone.final_layer.weight"] = (0.01 * rng.standard_normal((24, 48, 1, 1))).astype(np.float32)
                out["model.backbone.final_layer.bias"] = np.zeros(24, np.float32)
            out["model." + k] = v
        f = fam.features
        for i in range(3):
            out[f"model.head.downsample_module.{i}.0.weight"] = (
                0.01 * rng.standard_normal((f, f, 3, 3))).astype(np.float32)
            out[f"model.head.downsample_module.{i}.0.bias"] = np.zeros(f, np.float32)
            bn(f"model.head.downsample_module.{i}.1", f)
        for pfx in ("model.smpl.smpl.", "smpl."):
            out[pfx + "v_template"] = np.zeros((6890, 3), np.float32)
            out[pfx + "J_regressor"] = np.zeros((24, 6890), np.float32)
    else:
        out.update(net)
        for pfx in ("body_model_train.", "body_model_test."):
            out[pfx + "v_template"] = np.zeros((6890, 3), np.float32)
            out[pfx + "J_regressor"] = np.zeros((24, 6890), np.float32)
    return out


def save_family_file(path: str | os.PathLike, family: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Write a stand-in of a released ``family`` file in its exact layout (no PyTorch needed);
    returns the network weights as the core names them (what :class:`cliff.Model` reads).

    - ``mmhuman3d-res50``: ``{'meta': {...}, 'state_dict': ..., 'optimizer': {...}}`` (mmcv's
      ``save_checkpoint``);
    - ``bedlam-cliff`` / ``bedlam-cliff-x``: a PyTorch Lightning checkpoint ``{'epoch',
      'global_step', 'pytorch-lightning_version', 'state_dict', 'loops', 'callbacks',
      'optimizer_states', 'lr_schedulers', 'hparams_name', 'hyper_parameters'}``.
    """
    from .families import family as get_family
    from .io import save_checkpoint
    fam = get_family(family)
    sd = family_file_state(family, seed)
    adam = {"state": {0: {"step": np.array(5.0, np.float32), "exp_avg": np.zeros(4, np.float32),
                          "exp_avg_sq": np.zeros(4, np.float32)}},
            "param_groups": [{"lr": 5e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                              "params": [0]}]}
    if fam.lightning:
        extra = {"epoch": 41, "global_step": 123456, "pytorch-lightning_version": "1.7.7",
                 "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"current": {"completed": 41}}}},
                 "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                     "best_model_score": np.array(61.5, np.float32), "dirpath": "logs/ckpt"}},
                 "optimizer_states": [adam], "lr_schedulers": [], "hparams_name": "hparams",
                 "hyper_parameters": {"MODEL": {"BACKBONE": "hrnet_w48-conv"},
                                      "DATASET": {"IMG_RES": 224}, "TRIAL": {"bedlam_bbox": True}}}
    else:
        extra = {"meta": {"mmcv_version": "1.6.1", "time": "Fri Mar 24 12:00:00 2023", "epoch": 150,
                          "iter": 1000, "config": "model = dict(type='CliffImageBodyModelEstimator')"},
                 "optimizer": {"backbone": adam, "head": adam}}
    save_checkpoint(path, sd, extra=extra, prefix="", key="state_dict")
    from .families import select_state
    return select_state(sd, fam)[0]


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cliff")


def standin_files(backbone: str, folder: str | None = None) -> tuple[str, str]:
    """Paths of deterministic stand-in files (created on first use, then reused):
    a checkpoint in the official layout ({'model': {'module.<key>': tensor}, 'epoch', ...}) and an
    SMPL pickle with the official structure."""
    from .io import save_checkpoint, save_smpl_pkl

    folder = folder or os.path.join(cache_dir(), f"standin-{__version__}")
    os.makedirs(folder, exist_ok=True)
    ckpt = os.path.join(folder, f"standin-{backbone}.pt")
    smpl = os.path.join(folder, "standin-SMPL_NEUTRAL.pkl")
    if not os.path.exists(ckpt):
        tmp = ckpt + f".tmp{os.getpid()}"
        save_checkpoint(tmp, random_state_dict(backbone, seed=0), extra={"epoch": 0})
        os.replace(tmp, ckpt)
    if not os.path.exists(smpl):
        tmp = smpl + f".tmp{os.getpid()}"
        save_smpl_pkl(tmp, smpl_arrays(seed=0))
        os.replace(tmp, smpl)
    return ckpt, smpl


def yolo_weights(path: str | os.PathLike, seed: int = 0) -> str:
    """Write a darknet ``yolov3.weights``-format file with random weights (deterministic in
    seed): the official header (version 0.2.0, 64-bit images-seen count 0), then per
    convolution of yolov3.cfg in file order BatchNorm beta, gamma, mean, variance (or the
    bias) and the kernel (out, in, k, k), all float32 -- 248,007,048 bytes like the real file.
    Scales keep activations of order 1 through the 75 layers; the person-class bias of the
    heads is raised so that random boxes are often 'people'. Returns the path."""
    from .detect.yolo import yolov3_convs

    rng = np.random.default_rng(seed)
    path = os.fspath(path)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        np.array([0, 2, 0], np.int32).tofile(f)
        np.array([0], np.int64).tofile(f)
        convs = yolov3_convs()
        for i, (o, c, k, _, bn) in enumerate(convs):
            residual_out = bn and k == 3 and 0 < i < 52 and convs[i - 1][0] == o // 2 and convs[i - 1][2] == 1
            gain = 0.4 if residual_out else 1.6
            if bn:
                rng.normal(0.0, 0.05, o).astype(np.float32).tofile(f)      # beta
                rng.uniform(0.5, 1.0, o).astype(np.float32).tofile(f)      # gamma
                rng.normal(0.0, 0.05, o).astype(np.float32).tofile(f)      # running mean
                rng.uniform(0.5, 1.5, o).astype(np.float32).tofile(f)      # running variance
            else:  # head bias; the person class (channel 5 of each anchor) raised so that
                b = rng.normal(0.0, 0.5, o).astype(np.float32)  # 'person' often wins the argmax
                b[5::85] += 3.0
                b.tofile(f)
            w = rng.standard_normal(o * c * k * k, dtype=np.float32)
            w *= np.float32(gain / np.sqrt(c * k * k))
            w.tofile(f)
    os.replace(tmp, path)
    return path


def fov_state_dict(seed: int = 0) -> Dict[str, np.ndarray]:
    """Deterministic random HumanFoV weights (CameraHMR's camera model) with every key of its
    file (:func:`cliff.focal.fov_keys`, the core's table), in state_dict order.

    Trunk convs and BatchNorms follow :func:`random_state_dict`'s scheme (He-normal x 0.8,
    x 0.3 on convs feeding a sum; BN near identity); fc1, fc2 ~ N(0, 1/fan_in), zero-mean biases;
    fc3 small (std 0.03/sqrt(1024)) with biases (0.9, 0.8), so the predicted vertical field of
    view is about 0.7 rad (40 degrees) and varies a little from image to image. Nothing here was trained.
    """
    from .focal import fov_keys
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError("seed: expected a non-negative int, got %r" % (seed,))
    keys = fov_keys()
    rng = np.random.default_rng([int(seed), 13])
    out: Dict[str, np.ndarray] = {}
    for name, shape in keys.items():
        leaf = name.rsplit(".", 1)[-1]
        owner = name[: -len(leaf) - 1]
        if leaf == "num_batches_tracked":
            out[name] = np.array(1000, dtype=np.int64)
            continue
        if len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            a = rng.standard_normal(shape) * (0.8 * (0.3 if _feeds_sum(name) else 1.0) * np.sqrt(2.0 / fan_in))
        elif owner + ".running_mean" in keys:
            a = {"weight": lambda: 1 + rng.uniform(-0.2, 0.2, shape),
                 "bias": lambda: 0.05 * rng.standard_normal(shape),
                 "running_mean": lambda: 0.1 * rng.standard_normal(shape),
                 "running_var": lambda: rng.uniform(0.5, 2.0, shape)}[leaf]()
        elif len(keys.get(owner + ".weight", ())) == 4:
            a = 0.02 * rng.standard_normal(shape)
        elif name == "fc3.weight":
            a = rng.standard_normal(shape) * (0.03 / np.sqrt(shape[1]))
        elif name == "fc3.bias":
            a = np.array([0.9, 0.8])
        elif leaf == "weight":
            a = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            a = 0.01 * rng.standard_normal(shape)
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out


def save_fov_checkpoint(path: str | os.PathLike, state: Dict[str, np.ndarray] | None = None,
                        seed: int = 0) -> str:
    """Write HumanFoV weights in the layout of CameraHMR's ``cam_model_cleaned.ckpt``: a torch.save
    zip whose ``'state_dict'`` entry holds FLNet's keys without prefix."""
    from .io import save_checkpoint
    save_checkpoint(path, fov_state_dict(seed) if state is None else state, prefix="",
                    key="state_dict")
    return os.fspath(path)


def standin_fov_file(folder: str | None = None) -> str:
    """Path of a deterministic stand-in HumanFoV file (cam_model_cleaned.ckpt layout), created on
    first use, then reused."""
    folder = folder or os.path.join(cache_dir(), f"standin-{__version__}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "standin-cam_model_cleaned.ckpt")
    if not os.path.exists(path):
        tmp = path + f".tmp{os.getpid()}"
        save_fov_checkpoint(tmp, seed=0)
        os.replace(tmp, path)
    return path
