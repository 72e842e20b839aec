"""A procedural stand-in for the SMPL model arrays. It is NOT SMPL.

The licensed SMPL files cannot ship with cliff. Tests, the notebook and ``make demo`` (without
the official files) use this deterministic substitute, which has exactly SMPL's array
structure: 6890 vertices, 13776 faces, the 24-joint SMPL kinematic tree, a sparse joint
regressor and sparse skinning weights. The body is a closed, smooth, genus-0 blob about 1.7 m
tall with a head, shoulders, a waist and a single column for the legs, in SMPL's own frame
(metres, y up, facing +z, the body's left on +x, pelvis near the origin). Its shape and pose
blend shapes are smooth random fields of a few centimetres and a few millimetres. Any numbers
computed with it say nothing about real people.
"""
from __future__ import annotations

import numpy as np

NUM_RINGS = 82      # latitude rings of the UV sphere (plus 2 poles)
NUM_SEGMENTS = 84   # vertices per ring; 82 * 84 + 2 = 6890 vertices, 2 * 84 * 82 = 13776 faces

PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
                    20, 21], dtype=np.int64)

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
