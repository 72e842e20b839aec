"""BVH (Biovision hierarchy) writer for SMPL motion.

* Hierarchy: SMPL's 24-joint kinematic tree, joints named as SMPL names them (``pelvis`` is the
  ROOT). OFFSET of a joint = its shaped rest position minus its parent's (the person's β with
  zero pose, SMPL's model frame: y up, the body facing +z), the ROOT's OFFSET is zero. Leaf
  joints (feet, head, hands) end in an ``End Site`` half their bone's length further on.
* Channels: the ROOT ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, every
  other joint ``Zrotation Yrotation Xrotation``; angles in degrees. A joint's local rotation is
  ``R = Rz(z) @ Ry(y) @ Rx(x)`` (the channels' order, applied to column vectors; the usual BVH
  reading), and forward kinematics is ``G_j = G_parent @ R_j``,
  ``p_j = p_parent + G_parent @ OFFSET_j``, the ROOT at its position channels.
* Units and frame: metres, the glTF frame (y up): camera (x, y, z) -> (x, -y, -z), so the ROOT
  position is that of the rest pelvis plus t_full, turned into this frame.
* Frames: every video frame from the track's first to its last; frames the track missed repeat
  the last seen one. ``Frame Time`` = 1 / fps.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

__all__ = ["euler_zyx", "write_bvh"]


def euler_zyx(R) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> angles (..., 3) radians (z, y, x) with
    R = Rz(z) @ Ry(y) @ Rx(x), y in [-pi/2, pi/2]. At y = ±pi/2 (gimbal lock) x is set to 0."""
    R = np.asarray(R, np.float64)
    sy = np.clip(-R[..., 2, 0], -1.0, 1.0)
    y = np.arcsin(sy)
    cy = np.sqrt(R[..., 0, 0] ** 2 + R[..., 1, 0] ** 2)
    lock = cy < 1e-9
    z = np.where(lock, np.arctan2(-R[..., 0, 1], R[..., 1, 1]), np.arctan2(R[..., 1, 0], R[..., 0, 0]))
    x = np.where(lock, 0.0, np.arctan2(R[..., 2, 1], R[..., 2, 2]))
    return np.stack([z, y, x], -1)


def write_bvh(path: str | os.PathLike, rest_joints, parents, rotmat, transl, frames, *,
              fps: float = 30.0, names: Optional[Sequence[str]] = None) -> None:
    """Write one person's motion.

    rest_joints: (J, 3) shaped rest joints (metres, SMPL frame); parents: (J,) (-1 root, every
    parent before its children); rotmat: (T, J, 3, 3) local joint rotations, the root's in the
    camera frame; transl: (T, 3) t_full metres (camera frame); frames: (T,) strictly
    increasing video frame indices; fps: the video's frame rate.
    """
    from ..constants import JOINT_NAMES
    from ..io.gltf import CAMERA_TO_GLTF as C

    rj = np.asarray(rest_joints, np.float64)
    par = np.asarray(parents).astype(np.int64).reshape(-1)
    R = np.asarray(rotmat, np.float64)
    t = np.asarray(transl, np.float64)
    fr = np.asarray(frames).astype(np.int64).reshape(-1)
    J, T = len(par), len(R)
    if rj.shape != (J, 3):
        raise ValueError(f"rest_joints: expected shape ({J}, 3), got {rj.shape}")
    if par[0] != -1 or any(not 0 <= par[j] < j for j in range(1, J)):
        raise ValueError("parents: expected -1 for joint 0 and every parent listed before its child")
    if T < 1 or R.shape != (T, J, 3, 3) or t.shape != (T, 3) or fr.shape != (T,):
        raise ValueError(f"rotmat, transl, frames: expected (T, {J}, 3, 3), (T, 3), (T,) with T >= 1, "
                         f"got {R.shape}, {t.shape}, {fr.shape}")
    if T > 1 and not np.all(np.diff(fr) > 0):
        raise ValueError("frames: expected strictly increasing frame indices")
    for name, a in (("rest_joints", rj), ("rotmat", R), ("transl", t)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
    if not (isinstance(fps, (int, float, np.integer, np.floating)) and 0 < fps < np.inf):
        raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
    names = list(names) if names is not None else [JOINT_NAMES[j] if j < len(JOINT_NAMES) else f"joint{j}"
                                                   for j in range(J)]
    # every video frame of the track's span; a missed frame repeats the last seen one
    span = np.arange(fr[0], fr[-1] + 1)
    src = np.searchsorted(fr, span, side="right") - 1
    Rl = R[src].copy()
    Rl[:, 0] = C @ Rl[:, 0]
    root = (t[src] + rj[0]) @ C.T
    ang = np.degrees(euler_zyx(Rl))                          # (F, J, 3) z, y, x
    children = {j: [c for c in range(J) if par[c] == j] for j in range(J)}
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        off = np.zeros(3) if j == 0 else rj[j] - rj[par[j]]
        lines.append(f"{ind}{'ROOT' if j == 0 else 'JOINT'} {names[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        if j == 0:
            lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation")
        else:
            lines.append(f"{ind}  CHANNELS 3 Zrotation Yrotation Xrotation")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = 0.5 * off if j else np.array([0.0, 0.1, 0.0])
            lines.extend([f"{ind}  End Site", f"{ind}  {{",
                          f"{ind}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}", f"{ind}  }}"])
        lines.append(f"{ind}}}")

    order: list[int] = []

    def walk(j: int) -> None:
        order.append(j)
        for c in children[j]:
            walk(c)

    emit(0, 0)
    walk(0)
    lines += ["MOTION", f"Frames: {len(span)}", f"Frame Time: {1.0 / float(fps):.8f}"]
    for f in range(len(span)):
        vals = [*root[f]] + [a for j in order for a in ang[f, j]]
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    path = os.fspath(path)
    from .atomic import write_atomic
    try:
        write_atomic(path, lambda fh: fh.write(("\n".join(lines) + "\n").encode("ascii")))
    except OSError as exc:
        raise OSError(f"path: cannot write {path!r}: {exc}") from exc
