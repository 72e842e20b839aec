"""Writing results: the official demo's .npz layout, meshes and rendered pictures.

The .npz has exactly the official keys, shapes and dtypes (so downstream code written for the
official demo keeps working), N = people over all images:

    imgname        (num_images,) str      image paths (video frames: "<video>:<frame:06d>")
    pose           (N, 72) float32        axis-angle, joint-major  [or (N, 24, 3, 3) with rotmat]
    shape          (N, 10) float32        betas
    global_t       (N, 3) float32         full-frame SMPL translation (metres)
    pred_joints    (N, 45, 3) float32     smplx SMPL joints, translation included (metres)
    focal_l        (N,) float32           focal length used (pixels)
    detection_all  (N, 8) float32         [img_idx, x1, y1, x2, y2, score, 1, 0]
    standin        () bool                only in runs on stand-in files: True (meaningless bodies)
    focal_learned  (num_images,) float32  only with a learned focal (--focal learned): HumanFoV's
                                          focal per image, pixels (NaN: not run, no person)

With an SMPL-X body (``body="smplx"``, BEDLAM-CLIFF) the same keys hold pose (N, 66) [or
(N, 22, 3, 3)], shape (N, 11) and pred_joints (N, 127, 3) (smplx's SMPL-X joints).

The file is written to a temporary name and moved into place, so an interrupted run never
leaves a half-written result.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..camera import estimate_focal_length


# body -> (pose joints, betas, output joints): SMPL (official CLIFF) and SMPL-X (BEDLAM-CLIFF:
# global orient + 21 body joints, 11 betas, smplx's 127 joints)
_BODY_SHAPES = {"smpl": (24, 10, 45), "smplx": (22, 11, 127)}


def _safe_stem(name: str) -> str:
    base = os.path.basename(name)
    stem, _ = os.path.splitext(base) if ":" not in base else (base.replace(":", "_"), "")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)


class ResultWriter:
    def __init__(self, npz_path: str, folder: str, faces: np.ndarray, *, pose_format: str = "aa",
                 mesh_format: str | None = None, render: bool = False, K=None,
                 standin: bool = False, body: str = "smpl"):
        if body not in _BODY_SHAPES:
            raise ValueError(f"body: expected one of {tuple(_BODY_SHAPES)}, got {body!r}")
        self.body = body  # the sizes of an empty file: SMPL (official layout) or SMPL-X
        if pose_format not in ("aa", "rotmat"):
            raise ValueError(f"pose_format: expected 'aa' or 'rotmat', got {pose_format!r}")
        self.npz_path, self.folder, self.faces = npz_path, folder, faces
        self.pose_format, self.mesh_format, self.render = pose_format, mesh_format, render
        # stand-in files: the npz gets standin=True (absent otherwise: the official layout) and
        # every render a "stand-in body" caption
        self.standin = bool(standin)
        self.K = K  # the intrinsics the people were estimated with (None: CLIFF's default camera)
        self.names: list[str] = []
        self.learned: list[float] = []  # HumanFoV's focal per image (learned-focal runs only)
        self._stems: set[str] = set()  # file stems used so far: same-named inputs must not overwrite
        self.rows: dict[str, list[np.ndarray]] = {k: [] for k in
                                                  ("pose", "shape", "global_t", "pred_joints", "focal_l", "detection_all")}

    @property
    def num_images(self) -> int:
        return len(self.names)

    @property
    def num_people(self) -> int:
        return int(sum(len(a) for a in self.rows["shape"]))

    def add(self, name: str, res: dict, image: np.ndarray | None = None) -> None:
        idx = len(self.names)
        self.names.append(name)
        if "focal_learned" in res:
            self.learned.append(float(res["focal_learned"]))
        n = len(res["betas"])
        pose = res["pose"] if self.pose_format == "aa" else res["rotmat"]
        self.rows["pose"].append(np.asarray(pose, np.float32))
        self.rows["shape"].append(np.asarray(res["betas"], np.float32))
        self.rows["global_t"].append(np.asarray(res["t_full"], np.float32))
        self.rows["pred_joints"].append(np.asarray(res["joints"], np.float32))
        self.rows["focal_l"].append(np.asarray(res["focal"], np.float32))
        det = np.zeros((n, 8), np.float32)
        det[:, 0] = idx
        det[:, 1:5] = res["xyxy"]
        det[:, 5:7] = 1.0
        if "detection" in res:  # detector rows: objectness, class score, class
            det[:, 5:8] = np.asarray(res["detection"], np.float32)[:, 5:8]
        self.rows["detection_all"].append(det)
        stem = base = _safe_stem(name)
        k = 1
        while stem in self._stems:  # a/img.jpg and b/img.jpg -> img, img-2
            k += 1
            stem = f"{base}-{k}"
        self._stems.add(stem)
        if self.mesh_format and n:
            from .mesh import save_obj, save_ply
            os.makedirs(os.path.join(self.folder, "meshes"), exist_ok=True)
            for k in range(n):
                path = os.path.join(self.folder, "meshes", f"{stem}_{k}.{self.mesh_format}")
                (save_obj if self.mesh_format == "obj" else save_ply)(path, res["vertices"][k], self.faces)
        if self.render and image is not None:
            from ..render import render, save_image
            os.makedirs(os.path.join(self.folder, "render"), exist_ok=True)
            focal: float | tuple = float(res["focal"][0]) if n else estimate_focal_length(image.shape[1], image.shape[0])
            pp = None
            if self.K is not None:  # draw with the camera the bodies were placed in
                from ..pipeline import camera_for
                _, focal, pp = camera_for(image.shape[1], image.shape[0], K=self.K)
            front = render(image, res["vertices"], self.faces, focal, pp) if n else image
            if self.standin:
                from ..cli.demo_fit import caption
                front = caption(front)
            save_image(os.path.join(self.folder, "render", f"{stem}_front.jpg"), front)
            if n:
                side = render(image, res["vertices"], self.faces, focal, pp, side_view=True)
                if self.standin:
                    from ..cli.demo_fit import caption
                    side = caption(side)
                save_image(os.path.join(self.folder, "render", f"{stem}_side.jpg"), side)

    def close(self) -> None:
        nj, nb, nout = _BODY_SHAPES[self.body]
        shapes = {"pose": (3 * nj,) if self.pose_format == "aa" else (nj, 3, 3), "shape": (nb,),
                  "global_t": (3,), "pred_joints": (nout, 3), "focal_l": (), "detection_all": (8,)}
        out = {"imgname": np.asarray(self.names, dtype=str)}
        for k, rows in self.rows.items():
            out[k] = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, *shapes[k]), np.float32)
        if self.standin:
            out["standin"] = np.bool_(True)
        if self.learned:
            out["focal_learned"] = np.asarray(self.learned, np.float32)
        from .atomic import save_npz_atomic
        save_npz_atomic(self.npz_path, out)
