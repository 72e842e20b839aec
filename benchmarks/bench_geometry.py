"""Geometry speed: cliff (C) vs the official PyTorch float32 formulas (the peer), CPU, 1 thread.

The peer functions transcribe the official demo's expressions (rot6d_to_rotmat, cam_crop2full,
bbox_info) and the logical-not-patched torchgeometry 0.1.2 rotation_matrix_to_angle_axis
(docs/official.md#rot6d, #bbox-info, #camera). Calls alternate (cliff, torch, cliff, ...) and the table shows medians
of per-call wall time and the ratio torch/cliff (> 1: cliff faster).

    PYTHONPATH=$PWD python benchmarks/bench_geometry.py [--repeat 200]
"""
import argparse
import statistics
import time

import numpy as np
import torch

import cliff

F = torch.nn.functional


def t_rot6d(x):
    m = x.reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = F.normalize(a1)
    b2 = F.normalize(a2 - torch.einsum("bi,bi->b", b1, a2).unsqueeze(-1) * b1)
    return torch.stack((b1, b2, torch.cross(b1, b2, dim=1)), dim=-1)


def t_rotmat_to_aa(R, eps=1e-6):
    rt = R.transpose(1, 2)
    d2 = rt[:, 2, 2] < eps
    d0_d1 = rt[:, 0, 0] > rt[:, 1, 1]
    d0_nd1 = rt[:, 0, 0] < -rt[:, 1, 1]
    t0 = 1 + rt[:, 0, 0] - rt[:, 1, 1] - rt[:, 2, 2]
    q0 = torch.stack([rt[:, 1, 2] - rt[:, 2, 1], t0, rt[:, 0, 1] + rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2]], -1)
    t1 = 1 - rt[:, 0, 0] + rt[:, 1, 1] - rt[:, 2, 2]
    q1 = torch.stack([rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] + rt[:, 1, 0], t1, rt[:, 1, 2] + rt[:, 2, 1]], -1)
    t2 = 1 - rt[:, 0, 0] - rt[:, 1, 1] + rt[:, 2, 2]
    q2 = torch.stack([rt[:, 0, 1] - rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2], rt[:, 1, 2] + rt[:, 2, 1], t2], -1)
    t3 = 1 + rt[:, 0, 0] + rt[:, 1, 1] + rt[:, 2, 2]
    q3 = torch.stack([t3, rt[:, 1, 2] - rt[:, 2, 1], rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] - rt[:, 1, 0]], -1)
    m0 = (d2 & d0_d1).view(-1, 1).type_as(q0)
    m1 = (d2 & ~d0_d1).view(-1, 1).type_as(q0)
    m2 = (~d2 & d0_nd1).view(-1, 1).type_as(q0)
    m3 = (~d2 & ~d0_nd1).view(-1, 1).type_as(q0)
    q = q0 * m0 + q1 * m1 + q2 * m2 + q3 * m3
    q = q / torch.sqrt(t0.view(-1, 1) * m0 + t1.view(-1, 1) * m1 + t2.view(-1, 1) * m2 + t3.view(-1, 1) * m3) * 0.5
    x, y, z, w = q[:, 1], q[:, 2], q[:, 3], q[:, 0]
    s2 = x * x + y * y + z * z
    s = torch.sqrt(s2)
    two = 2.0 * torch.where(w < 0.0, torch.atan2(-s, -w), torch.atan2(s, w))
    k = torch.where(s2 > 0.0, two / s, 2.0 * torch.ones_like(s))
    return torch.stack([x * k, y * k, z * k], -1)


def t_cam_full(cam, center, b, wh, f):
    w2, h2 = wh[:, 0] / 2., wh[:, 1] / 2.
    bs = b * cam[:, 0] + 1e-9
    return torch.stack([2 * (center[:, 0] - w2) / bs + cam[:, 1],
                        2 * (center[:, 1] - h2) / bs + cam[:, 2], 2 * f / bs], -1)


def t_bbox_info(center, b, wh, f):
    bi = torch.stack([center[:, 0] - wh[:, 0] / 2., center[:, 1] - wh[:, 1] / 2., b], -1)
    bi[:, :2] = bi[:, :2] / f.unsqueeze(-1) * 2.8
    bi[:, 2] = (bi[:, 2] - 0.24 * f) / (0.06 * f)
    return bi


def median_pair(fa, fb, repeat):
    ta, tb = [], []
    for _ in range(repeat):
        for f, acc in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            f()
            acc.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cliff.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'case':<34} {'N':>6} {'cliff us':>10} {'torch us':>10} {'torch/cliff':>12}")
    for n in (32, 4096):
        x = rng.normal(size=(n, 144)).astype(np.float32)
        R = cliff.rot6d_to_rotmat(x)
        cam = np.abs(rng.normal(size=(n, 3))).astype(np.float32) + 0.5
        center = rng.uniform(0, 600, size=(n, 2)).astype(np.float32)
        b = rng.uniform(50, 400, size=n).astype(np.float32)
        wh = np.tile(np.float32([640, 480]), (n, 1))
        f = np.full(n, 800, np.float32)
        tx, tR, tcam, tc, tb, twh, tf = map(torch.from_numpy, (x, R.reshape(-1, 3, 3), cam, center, b, wh, f))
        cases = [
            ("rot6d_to_rotmat (N,144)", lambda: cliff.rot6d_to_rotmat(x), lambda: t_rot6d(tx)),
            ("rotmat_to_axis_angle (N,24,3,3)", lambda: cliff.rotmat_to_axis_angle(R), lambda: t_rotmat_to_aa(tR)),
            ("bbox_info (N,)", lambda: cliff.bbox_info(center, b, wh, f), lambda: t_bbox_info(tc, tb, twh, tf)),
            ("cam_crop_to_full (N,)", lambda: cliff.cam_crop_to_full(cam, center, b, wh, f),
             lambda: t_cam_full(tcam, tc, tb, twh, tf)),
        ]
        with torch.no_grad():
            for name, fa, fb in cases:
                a, bt = median_pair(fa, fb, args.repeat)
                print(f"{name:<34} {n:>6} {a * 1e6:>10.1f} {bt * 1e6:>10.1f} {bt / a:>12.2f}")


if __name__ == "__main__":
    main()
