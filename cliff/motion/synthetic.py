"""A synthetic clip of stand-in people walking in and out of view, with its ground truth and a
"detector" made from it. NOTHING here is real data: it exists so the tracking / smoothing /
overlay / export pipeline can be run and tested end to end without licensed files.

The people are the given body model (usually a stand-in, cliff._standin) posed with a walking
swing of hips, knees and shoulders, turned to face their direction of travel, crossing the image
at different depths and times, drawn with cliff.render over a plain floor-and-wall background.
The detections are each person's projected mesh bounds with pixel noise; some are dropped and
some get a low score, as a real detector's would.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

__all__ = ["walkers", "write_walkers_video"]


def walkers(model, *, frames: int = 48, people: int = 3, size=(320, 240), fps: float = 12.0,
            seed: int = 0) -> list[dict]:
    """Ground-truth bodies per frame: a list (one per frame) of dicts with ``ids`` (N,),
    ``pose`` (N, 72), ``betas`` (N, 10), ``transl`` (N, 3) camera frame metres, ``vertices``
    (N, V, 3). People enter from the left or right at staggered times and leave."""
    from ..camera import axis_angle_to_rotmat, rotmat_to_axis_angle

    rng = np.random.default_rng(seed)
    W, H = size
    f = float(np.hypot(W, H))
    plan = []
    for k in range(people):
        z = 3.5 + 2.5 * k / max(1, people - 1) + rng.uniform(-0.3, 0.3)
        direction = 1.0 if k % 2 == 0 else -1.0
        speed = rng.uniform(1.0, 1.6) / fps                       # metres per frame
        half = z * W / f / 2
        start = int(k * frames / (people + 1))
        plan.append((k, z, direction, speed, -direction * (half + 0.3), start,
                     rng.normal(0, 0.8, 10), rng.uniform(0, 2 * np.pi)))
    out = []
    for t in range(frames):
        ids, poses, betas, transl = [], [], [], []
        for k, z, d, speed, x0, start, beta, ph in plan:
            x = x0 + d * speed * (t - start)
            if t < start or abs(x) > z * W / f / 2 + 0.4:
                continue
            pose = np.zeros((24, 3))
            s = np.sin(2 * np.pi * 1.0 * (t - start) / fps + ph)
            pose[1, 0], pose[2, 0] = 0.5 * s, -0.5 * s                  # hips
            pose[4, 0], pose[5, 0] = 0.4 * max(0, -s), 0.4 * max(0, s)  # knees
            pose[16, 2], pose[17, 2] = -1.2, 1.2                        # arms down
            pose[16, 1], pose[17, 1] = -0.4 * s, -0.4 * s               # arm swing
            R = axis_angle_to_rotmat(np.array([[np.pi, 0, 0]]))[0] @ \
                axis_angle_to_rotmat(np.array([[0, d * np.pi / 2, 0]]))[0]
            pose[0] = rotmat_to_axis_angle(R[None])[0]
            ids.append(k)
            poses.append(pose.reshape(72))
            betas.append(beta)
            transl.append([x, 1.0 - 0.9, z])       # pelvis ~0.9 m above a floor 1 m below the camera
        n = len(ids)
        if n:
            body = model(pose=np.array(poses), betas=np.array(betas), transl=np.array(transl))
            verts = body["vertices"]
        else:
            verts = np.zeros((0, 6890, 3), np.float32)
        out.append({"ids": np.array(ids, np.int64), "pose": np.array(poses).reshape(n, 72),
                    "betas": np.array(betas).reshape(n, 10), "transl": np.array(transl).reshape(n, 3),
                    "vertices": verts})
    return out


def _background(W: int, H: int) -> np.ndarray:
    img = np.empty((H, W, 3), np.uint8)
    y = np.arange(H)[:, None]
    wall = np.array([200, 205, 215], np.float64)
    floor = np.array([150, 140, 125], np.float64)
    g = (y > H * 0.55)
    img[:] = np.where(g[..., None], floor - 0.2 * (y[..., None] - H * 0.55), wall - 0.1 * y[..., None]).clip(0, 255)
    return img


def write_walkers_video(folder: str | os.PathLike, model, *, name: str = "walkers.mp4",
                        frames: int = 48, people: int = 3, size=(320, 240), fps: float = 12.0,
                        seed: int = 0, drop: float = 0.08, low: float = 0.1,
                        box_noise: float = 1.5) -> dict[str, Any]:
    """Render the clip to ``folder/name`` and write the detector's boxes as
    ``folder/<name>.boxes.json`` (cliff's boxes format, keyed "<name>:<frame:06d>").

    Returns {"video", "boxes", "truth" (walkers' list), "gt_ids" (per frame, the true person of
    each written box, in the file's order), "fps"}."""
    from ..camera import project_points
    from ..io.video import VideoWriter
    from ..render import render

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    W, H = size
    f = float(np.hypot(W, H))
    truth = walkers(model, frames=frames, people=people, size=size, fps=fps, seed=seed)
    rng = np.random.default_rng(seed + 1)
    bg = _background(W, H)
    video = os.path.join(folder, name)
    boxes: dict[str, list] = {}
    gt_ids = []
    grey = np.array([0.78, 0.76, 0.72], np.float32)   # everyone alike: identity is the tracker's job
    with VideoWriter(video, fps) as vw:
        for t, fr in enumerate(truth):
            n = len(fr["ids"])
            img = render(bg, fr["vertices"], model.faces, f, colors=grey,
                         alpha=1.0) if n else bg.copy()
            vw.write(img)
            rows, who = [], []
            for i in range(n):
                uv = project_points(fr["vertices"][i], focal=f, principal_point=(W // 2, H // 2))
                x1, y1 = uv.min(0)
                x2, y2 = uv.max(0)
                full = x2 - x1
                x1c, x2c = max(x1, 0.0), min(x2, float(W))
                if x2c - x1c < 0.5 * full or rng.random() < drop:
                    continue
                b = np.array([x1c, max(y1, 0.0), x2c, min(y2, float(H))]) + rng.normal(0, box_noise, 4)
                score = rng.uniform(0.15, 0.45) if rng.random() < low else rng.uniform(0.6, 0.95)
                rows.append([float(v) for v in b] + [float(score)])
                who.append(int(fr["ids"][i]))
            boxes[f"{name}:{t:06d}"] = rows
            gt_ids.append(np.array(who, np.int64))
    boxes_path = video + ".boxes.json"
    with open(boxes_path, "w", encoding="utf-8") as fh:
        json.dump(boxes, fh)
    return {"video": video, "boxes": boxes_path, "truth": truth, "gt_ids": gt_ids, "fps": fps}
