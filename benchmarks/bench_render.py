"""Speed of cliff.render: a 1920x1080 overlay of one body-sized mesh on ONE core.

The mesh has SMPL's size (6890 vertices, 13776 faces): the stand-in body of cliff._standin
(~1.7 m tall), posed by cliff.SMPL in CLIFF's mean root orientation, 5 m in front of the camera
(focal = image diagonal, as CLIFF). Peer: the usual NumPy + OpenCV fallback renderer, the
painter's algorithm (faces sorted far to near, each filled with cv2.fillConvexPoly with 8
sub-pixel bits, flat Lambert shading with the same light) and the same alpha blend. Both run
alternately in this process, pinned to one core, OpenCV limited to one thread; medians.

    PYTHONPATH=$PWD python benchmarks/bench_render.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def body_mesh(depth: float = 5.0):
    """The stand-in body (cliff._standin: SMPL's 6890 vertices / 13776 faces, ~1.7 m tall) in
    CLIFF's mean root orientation (a 180-degree turn about x: SMPL's y-up frame into the camera's
    y-down frame), `depth` metres in front of the camera."""
    import cliff

    smpl = cliff.SMPL(cliff._standin.smpl_arrays(seed=0))
    rot = np.tile(np.eye(3, dtype=np.float32), (1, 24, 1, 1))
    rot[0, 0] = np.diag([1.0, -1.0, -1.0])
    out = smpl(rotmat=rot, transl=np.array([[0.0, 0.0, depth]], np.float32))
    return out["vertices"][0], smpl.faces


def render_painter(image, verts, faces, focal, pp, color, alpha):
    """NumPy + OpenCV painter's algorithm with flat Lambert shading and the same blend."""
    import cv2

    out = image.copy()
    p = verts[faces]                                       # (F, 3, 3)
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    shade = 0.3 + 0.7 * np.abs(n[:, 2]) / np.maximum(np.linalg.norm(n, axis=1), 1e-30)
    uv = verts[:, :2] / verts[:, 2:] * focal + np.asarray(pp)
    # pixel centres at +0.5 like cliff: shift by -0.5 into OpenCV's integer-centre convention
    fx = np.round((uv - 0.5) * 256).astype(np.int32)
    x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(uv.max(0)).astype(int) + 2, [image.shape[1], image.shape[0]])
    layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fx = fx - np.array([x0, y0], np.int32) * 256
    order = np.argsort(-p[:, :, 2].mean(1))
    cols = (np.asarray(color) * 255 * shade[:, None])
    for f in order:
        pts = fx[faces[f]]
        cv2.fillConvexPoly(layer, pts, cols[f].tolist(), cv2.LINE_8, 8)
        cv2.fillConvexPoly(mask, pts, 255, cv2.LINE_8, 8)
    roi = out[y0:y1, x0:x1]
    m = mask > 0
    roi[m] = (alpha * layer[m] + (1 - alpha) * roi[m] + 0.5).astype(np.uint8)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    import cv2

    import cliff

    cv2.setNumThreads(1)
    cliff.set_num_threads(1)
    H, W = 1080, 1920
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    verts, faces = body_mesh()
    focal = cliff.estimate_focal_length(W, H)
    pp = (W // 2, H // 2)
    color = cliff.default_colors(1)[0]
    assert verts.shape == (6890, 3) and faces.shape == (13776, 3)

    runs = {
        "cliff.render (C rasterizer)": lambda: cliff.render(image, verts, faces, focal, pp, colors=color, alpha=0.8),
        "NumPy + cv2.fillConvexPoly painter": lambda: render_painter(image, verts, faces, focal, pp, color, 0.8),
        "cliff.render_side (side view)": lambda: cliff.render_side(image, verts, faces, focal, pp, colors=color),
    }
    times = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(args.repeats):
        for k, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    a = cliff.render(image, verts, faces, focal, pp, colors=color, alpha=0.8)
    b = render_painter(image, verts, faces, focal, pp, color, 0.8)
    ca, cb = (a != image).any(-1), (b != image).any(-1)
    covered = int(ca.sum())
    agree = float((ca == cb).mean())

    print(f"1920x1080 overlay, mesh 6890 vertices / 13776 faces, 1 core (cpu {core}), "
          f"{args.repeats} repeats, median ms; {covered} pixels covered "
          f"(silhouettes agree on {100 * agree:.3f}% of pixels)")
    base = statistics.median(times["cliff.render (C rasterizer)"])
    print(f"{'renderer':40s} {'median ms':>10s} {'vs cliff':>9s}")
    for k, ts in times.items():
        m = statistics.median(ts)
        print(f"{k:40s} {1e3 * m:10.2f} {m / base:8.1f}x")
    print(f"target <= 20 ms: {'met' if base * 1e3 <= 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
