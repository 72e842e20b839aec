"""The SMPL-X body model on the C core (the same numbers as smplx's SMPL-X layer), driven by
a body pose: global orientation + 21 body joints, hands, jaw and eyes at rest, expression
zero (what BEDLAM-CLIFF predicts). docs/smplx.md.

Units and frame: metres, SMPL-X's own model frame (y up, the body faces +z).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

from . import _core
from .smpl import _dense, _readonly

NUM_BODY_JOINTS = 21  # after the global orientation
JOINT_NAMES: tuple = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    *[f"{side}_{finger}{k}" for side in ("left", "right")
      for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3)],
    "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel", "left_thumb", "left_index",
    "left_middle", "left_ring", "left_pinky", "right_thumb", "right_index", "right_middle",
    "right_ring", "right_pinky",
    *[f"landmark_{i}" for i in range(51)],
)
"""smplx's SMPL-X joint output order: 55 skeleton joints, 21 vertex joints, 51 face landmarks
(smplx names the landmarks by face part; here they are numbered)."""

_HANDS = ("flat", "mean")


def _rotations(x: Any, name: str, n_joints: int) -> np.ndarray:
    """(N, n_joints, 3, 3) float32 from rotation matrices ((N,n,3,3), or (N,3,3) when n = 1)
    or axis-angle ((N, 3n) or (N, n, 3)) radians."""
    a = _dense(x, name)
    if a.ndim >= 3 and a.shape[-2:] == (3, 3):
        if n_joints == 1 and a.ndim == 3:
            a = a[:, None]
        if a.ndim != 4 or a.shape[1] != n_joints:
            raise ValueError(f"{name}: expected rotation matrices (N, {n_joints}, 3, 3), got {a.shape}")
        return np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 2 and a.shape[1] == 3 * n_joints or a.ndim == 3 and a.shape[1:] == (n_joints, 3):
        from .camera import axis_angle_to_rotmat
        return axis_angle_to_rotmat(a.reshape(-1, n_joints, 3)).astype(np.float32)
    raise ValueError(f"{name}: expected axis-angle (N, {3 * n_joints}) or rotation matrices "
                     f"(N, {n_joints}, 3, 3), got shape {a.shape}")


class SMPLX:
    """SMPL-X body model (C core, float32), smplx semantics (docs/smplx.md).

    ``SMPLX(path_or_arrays, num_betas=10, *, hands="flat", threads=None, transfer=None)``

    - ``path_or_arrays``: an official ``SMPLX_*.npz`` or ``.pkl`` (read by
      ``cliff.io.load_smplx``) or a mapping with the arrays it returns
      (e.g. ``cliff._standin.smplx_arrays()``).
    - ``num_betas``: shape components to use (BEDLAM-CLIFF: 11); at most the file's.
    - ``hands``: ``"flat"`` fingers at the identity (smplx's SMPLXLayer, what BEDLAM uses;
      smplx.SMPLX with flat_hand_mean=True) or ``"mean"`` the file's mean hand pose (smplx.SMPLX
      with its default flat_hand_mean=False). Jaw and eyes rest at the identity, expression 0.
    - ``transfer``: optional path to smplx's ``smplx2smpl_deftrafo_setup.pkl`` for
      :meth:`to_smpl`.

    Attributes: ``faces`` (20908,3) int32; ``parents`` (55,) int64; ``num_betas``;
    ``joint_names`` (127 names); ``vertex_joint_ids`` (21,); ``v_template`` (10475,3)
    float32 metres; ``kind`` ``"smplx"``; ``num_pose_joints`` 22. All read-only.

    Calls are thread-safe (a model serializes its own calls) and release the GIL.
    """

    kind = "smplx"

    def __init__(self, model: Union[str, os.PathLike, Mapping], num_betas: int = 10, *,
                 hands: str = "flat", threads: Optional[int] = None,
                 transfer: Union[str, os.PathLike, None] = None):
        from ._threads import check_threads
        from .io.smplx import _validate_smplx
        nthreads = check_threads(threads)
        if hands not in _HANDS:
            raise ValueError(f"hands: expected one of {_HANDS}, got {hands!r}")
        if isinstance(model, Mapping):
            arrays = _validate_smplx("model", model)
        elif isinstance(model, (str, os.PathLike)):
            from .io.smplx import load_smplx
            arrays = load_smplx(model)
        else:
            raise TypeError("model: expected a path to an SMPL-X .npz/.pkl or a mapping of arrays, "
                            f"got {type(model).__name__}")
        if isinstance(num_betas, bool) or not isinstance(num_betas, (int, np.integer)):
            raise TypeError(f"num_betas: expected an int, got {type(num_betas).__name__}")
        available = arrays["shapedirs"].shape[2]
        if not 0 <= num_betas <= available:
            raise ValueError(f"num_betas: expected 0..{available} (the model has {available} shape "
                             f"components), got {num_betas}")
        rest = None
        if hands == "mean":
            from .camera import axis_angle_to_rotmat
            aa = np.zeros((55, 3))
            aa[25:40] = arrays["hands_meanl"].reshape(15, 3)
            aa[40:55] = arrays["hands_meanr"].reshape(15, 3)
            rest = axis_angle_to_rotmat(aa).astype(np.float64)
        faces = arrays["faces"]
        self._model = _core.SMPL(
            arrays["v_template"], arrays["shapedirs"][:, :, :num_betas], arrays["posedirs"],
            arrays["J_regressor"], arrays["weights"], arrays["parents"], kind="smplx",
            num_pose_joints=1 + NUM_BODY_JOINTS, rest_rotmats=rest,
            landmark_vertices=np.ascontiguousarray(faces[arrays["lmk_faces_idx"]], dtype=np.int32),
            landmark_weights=arrays["lmk_bary_coords"], faces=faces)
        if nthreads:
            self._model.threads = nthreads
        self.faces: np.ndarray = _readonly(faces.astype(np.int32))
        self.parents: np.ndarray = _readonly(arrays["parents"].astype(np.int64))
        self.v_template: np.ndarray = _readonly(arrays["v_template"].astype(np.float32))
        self.num_betas: int = int(num_betas)
        self.hands: str = hands
        self.joint_names: tuple = JOINT_NAMES
        self.vertex_joint_ids: np.ndarray = _readonly(self._model.vertex_joint_ids)
        self.num_pose_joints: int = self._model.num_pose_joints
        self._transfer = None
        if transfer is not None:
            from .io.smplx import load_smplx2smpl
            self._transfer = load_smplx2smpl(transfer)

    @property
    def threads(self) -> int:
        """Threads this body model's calls use (its own count, else the process-wide one)."""
        return self._model.threads

    @threads.setter
    def threads(self, n: Optional[int]) -> None:
        from ._threads import check_threads
        self._model.threads = check_threads(n)

    def __repr__(self) -> str:
        return f"cliff.SMPLX(num_betas={self.num_betas}, hands={self.hands!r})"

    def __call__(self, global_orient: Optional[Any] = None, body_pose: Optional[Any] = None,
                 betas: Optional[Any] = None, transl: Optional[Any] = None, *,
                 rotmat: Optional[Any] = None, pose: Optional[Any] = None,
                 vertices: bool = True) -> dict:
        """Pose and shape N bodies.

        - Either ``global_orient`` ((N,3) axis-angle or (N,3,3) / (N,1,3,3) rotation) and
          ``body_pose`` ((N,63) / (N,21,3) axis-angle or (N,21,3,3) rotations), or ``rotmat``
          (N,22,3,3) (root first), or ``pose`` (N,66) axis-angle radians.
        - ``betas`` (N,k), k <= num_betas (missing components are zero); ``transl`` (N,3) m.
        - ``vertices=False`` skips the mesh (only the vertices behind the vertex joints and
          landmarks are skinned).

        Returns a dict of float32 arrays: ``vertices`` (N,10475,3), ``joints`` (N,127,3) in
        ``joint_names`` order with ``transl``, ``joints_rest`` (N,55,3) shaped rest joints.
        """
        given = sum(x is not None for x in (rotmat, pose)) + (global_orient is not None or
                                                              body_pose is not None)
        if given != 1:
            raise ValueError("global_orient/body_pose, rotmat, pose: pass exactly one of "
                             "global_orient and body_pose, rotmat (N, 22, 3, 3) or pose (N, 66)")
        if global_orient is not None or body_pose is not None:
            if global_orient is None or body_pose is None:
                raise ValueError("global_orient, body_pose: pass both (or rotmat / pose)")
            go = _rotations(global_orient, "global_orient", 1)
            bp = _rotations(body_pose, "body_pose", NUM_BODY_JOINTS)
            if go.shape[0] != bp.shape[0]:
                raise ValueError(f"body_pose: batch size {bp.shape[0]} does not match "
                                 f"global_orient's {go.shape[0]}")
            rotmat = np.concatenate([go, bp], axis=1)
        return self._model.forward(rotmat, pose, betas, transl, vertices=bool(vertices))

    def to_smpl(self, vertices: Any, J_regressor: Optional[Any] = None) -> dict:
        """SMPL vertices from SMPL-X vertices through the deformation transfer given as
        ``transfer=`` (smplx's transfer_model): ``vertices`` (N,10475,3) -> ``{'vertices':
        (N,6890,3)}``, plus ``'joints'`` (N,J,3) when an SMPL ``J_regressor`` (J,6890) (dense
        or sparse, e.g. the SMPL model's own or Human3.6M's) is given. Same float type as
        ``vertices`` (float32 unless float64)."""
        if self._transfer is None:
            raise ValueError("to_smpl: this SMPLX was created without transfer= (the path to "
                             "smplx2smpl_deftrafo_setup.pkl)")
        return smplx_to_smpl(self._transfer, vertices, J_regressor)


def smplx_to_smpl(transfer: Mapping, vertices: Any, J_regressor: Optional[Any] = None) -> dict:
    """Apply a deformation transfer read by :func:`cliff.io.load_smplx2smpl` (see
    :meth:`SMPLX.to_smpl`)."""
    v = _dense(vertices, "vertices")
    if v.ndim not in (2, 3) or v.shape[-2:] != (10475, 3):
        raise ValueError(f"vertices: expected SMPL-X vertices (N, 10475, 3), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vertices: contains NaN or infinite values")
    dtype = np.float64 if v.dtype == np.float64 else np.float32
    idx, w = transfer["index"], transfer["weight"].astype(dtype)
    out = np.einsum("pk,...pkc->...pc", w, v.astype(dtype, copy=False)[..., idx, :])
    result = {"vertices": out}
    if J_regressor is not None:
        r = _dense(J_regressor, "J_regressor")
        if r.ndim != 2 or r.shape[1] != 6890:
            raise ValueError(f"J_regressor: expected an SMPL regressor (J, 6890), got {r.shape}")
        result["joints"] = np.matmul(r.astype(dtype), out)
    return result
