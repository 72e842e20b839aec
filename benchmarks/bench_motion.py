"""Motion benchmark: temporal smoothing and tracking on synthetic, known motion.

Smoothing: a smooth SMPL motion (every joint swinging about its own axis at 0.5-1.5 Hz, a root
turning slowly and walking a curve 3-6 m from the camera, 30 fps) is posed through the body model
(cliff.SMPL on the stand-in body with human-like joints), then corrupted per frame like a
regressor's output: every joint rotation composed with a random rotation (Gaussian rotation
vector, sigma 3 degrees; root 2 degrees), the translation with Gaussian noise (sigma 1 cm across,
5 cm in depth, CLIFF's weakest direction). Reported, raw vs each filter: joint acceleration error
(mm/frame²) and MPJPE (mm) of the 24 joints to the clean motion, mean over seeds.

Tracking: synthetic scenes of people walking across the image at different depths, crossing each
other, entering and leaving; boxes from the projected bodies with pixel noise, random score drops
below the confident threshold, and dropped detections. Counted: identity switches and
fragmentations (cliff.motion.metrics.id_errors).

    python benchmarks/bench_motion.py [--frames 300] [--seeds 5] [--smpl SMPL_NEUTRAL.pkl]
                                      [--picture docs/img/motion.png]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import cliff
from cliff import _standin
from cliff.motion import Tracker, smooth_sequence
from cliff.motion.metrics import accel_error, id_errors, mpjpe

FPS = 30.0


def clean_motion(T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(T, 24, 3) axis-angle pose and (T, 3) translation (metres, camera frame) of a smooth
    motion."""
    t = np.arange(T) / FPS
    axes = rng.standard_normal((24, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    amp = rng.uniform(0.1, 0.5, 24)
    freq = rng.uniform(0.5, 1.5, 24)
    phase = rng.uniform(0, 2 * np.pi, 24)
    base = rng.normal(0, 0.1, (24, 3))
    ang = amp * np.sin(2 * np.pi * freq * t[:, None] + phase)          # (T, 24)
    pose = base[None] + ang[..., None] * axes[None]
    # root: upright in the camera frame (SMPL y up -> camera y down: pi about x), turning slowly
    yaw = 0.6 * np.sin(2 * np.pi * 0.2 * t + phase[0])
    Rx = cliff.axis_angle_to_rotmat(np.array([[np.pi, 0, 0]]))[0]
    Ry = cliff.axis_angle_to_rotmat(np.stack([0 * yaw, yaw, 0 * yaw], 1))
    pose[:, 0] = cliff.rotmat_to_axis_angle(Rx @ Ry)
    transl = np.stack([1.2 * np.sin(2 * np.pi * 0.1 * t), 0.2 + 0.02 * np.sin(2 * np.pi * 2 * t),
                       4.5 + 1.5 * np.cos(2 * np.pi * 0.07 * t)], 1)
    return pose, transl


def corrupt(pose: np.ndarray, transl: np.ndarray, rng: np.random.Generator):
    T = len(pose)
    R = cliff.axis_angle_to_rotmat(pose.reshape(-1, 3)).reshape(T, 24, 3, 3)
    sig = np.full(24, np.deg2rad(3.0))
    sig[0] = np.deg2rad(2.0)
    noise = rng.standard_normal((T, 24, 3)) * sig[None, :, None]
    Rn = R @ cliff.axis_angle_to_rotmat(noise.reshape(-1, 3)).reshape(T, 24, 3, 3)
    tn = transl + rng.standard_normal((T, 3)) * np.array([0.01, 0.01, 0.05])
    return R, Rn, tn


def bench_smoothing(T: int, seeds: int) -> list[tuple]:
    body = cliff.SMPL(_standin.procedural_body())
    betas = np.zeros((T, 10))
    configs = [("raw", "none", {}), ("oneeuro", "oneeuro", {}), ("savgol", "savgol", {}),
               ("gaussian", "gaussian", {})]
    acc = {c[0]: [] for c in configs}
    mp = {c[0]: [] for c in configs}
    ms = {c[0]: [] for c in configs}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pose, transl = clean_motion(T, rng)
        R, Rn, tn = corrupt(pose, transl, rng)
        gt = body(rotmat=R, betas=betas, transl=transl, vertices=False)["joints"][:, :24] * 1000
        for name, method, params in configs:
            t0 = time.perf_counter()
            s = smooth_sequence(Rn, tn, betas, method=method, fps=FPS, **params)
            ms[name].append((time.perf_counter() - t0) * 1000)
            j = body(rotmat=s["rotmat"], betas=s["betas"], transl=s["t_full"], vertices=False)["joints"][:, :24] * 1000
            acc[name].append(accel_error(j, gt))
            mp[name].append(mpjpe(j, gt))
    rows = []
    for name, _, _ in configs:
        rows.append((name, np.mean(acc[name]), np.mean(mp[name]), np.mean(ms[name])))
    return rows


# -- tracking ---------------------------------------------------------------------------------

def scene(T: int, people: int, rng: np.random.Generator, W: int = 640, H: int = 360):
    """Boxes of `people` walkers: each enters at a random time from the left or right, walks
    across at its own depth and speed, and leaves; paths cross. Returns per frame (N, 5) boxes
    and (N,) true ids."""
    f = np.hypot(W, H)
    walkers = []
    for k in range(people):
        z = rng.uniform(3.0, 8.0)
        speed = rng.uniform(0.8, 1.6) / FPS * rng.choice([-1, 1])     # m/frame
        half = z * W / f / 2 + 0.5
        x0 = -half if speed > 0 else half
        start = int(rng.integers(0, max(1, T // 2)))
        walkers.append((k, z, speed, x0, start))
    frames, ids = [], []
    for t in range(T):
        boxes, who = [], []
        for k, z, speed, x0, start in walkers:
            if t < start:
                continue
            x = x0 + speed * (t - start)
            if abs(x) > z * W / f / 2 + 0.6:
                continue
            # a 1.75 m tall, 0.5 m wide person standing on the ground (camera 1.2 m up)
            u0, u1 = f * (x - 0.25) / z + W / 2, f * (x + 0.25) / z + W / 2
            v0, v1 = f * (1.2 - 1.75) / z + H / 2, f * 1.2 / z + H / 2
            if min(u1, W) - max(u0, 0) < 0.5 * (u1 - u0):   # less than half in view: not detected
                continue
            b = np.array([u0, v0, u1, v1]) + rng.normal(0, 0.02 * (v1 - v0), 4)
            if rng.random() < 0.1:          # dropped detection
                continue
            score = rng.uniform(0.6, 0.95) if rng.random() > 0.15 else rng.uniform(0.15, 0.45)
            boxes.append([*np.clip(b, [0, 0, 0, 0], [W, H, W, H]), score])
            who.append(k)
        frames.append(np.array(boxes).reshape(-1, 5))
        ids.append(np.array(who, np.int64))
    return frames, ids


def bench_tracking(T: int, seeds: int, people: int = 6) -> dict:
    total: dict = {}
    for seed in range(seeds):
        frames, gt = scene(T, people, np.random.default_rng(100 + seed))
        tr = Tracker()
        pred = [tr.update(b[:, :4], b[:, 4]) for b in frames]
        # only the detections the tracker was entitled to keep: confident or matched
        e = id_errors(gt, pred)
        for k, v in e.items():
            total[k] = total.get(k, 0) + v
    return total


def correctives_cost(smpl, T: int = 150) -> tuple[float, float]:
    """Vertex distance (mm, mean and max over vertices and frames) between the body model with
    and without its pose-dependent corrective shapes on the synthetic motion: what plain glTF
    linear blend skinning (cliff.export_glb without correctives=True) leaves out."""
    from cliff.io import load_smpl
    arrays = load_smpl(smpl) if isinstance(smpl, str) else smpl
    full = cliff.SMPL(arrays)
    lbs = cliff.SMPL({**arrays, "posedirs": np.zeros_like(np.asarray(arrays["posedirs"]))})
    pose, transl = clean_motion(T, np.random.default_rng(0))
    d = np.linalg.norm(full(pose=pose.reshape(T, 72))["vertices"] - lbs(pose=pose.reshape(T, 72))["vertices"], axis=-1)
    return float(d.mean() * 1000), float(d.max() * 1000)


def picture(path: str) -> None:
    """The README picture: the synthetic clip through `cliff predict --track --smooth --render`
    (stand-in network weights and body), two frames: input | tracked, smoothed overlay with each
    track's box and id in its colour."""
    import tempfile

    from PIL import Image, ImageDraw, ImageFont

    import imageio.v3 as iio
    from cliff.cli import main as cli
    from cliff.motion.export import _track_colors
    from cliff.motion.synthetic import write_walkers_video

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_CACHE_HOME", os.path.join(tmp, "cache"))
        ckpt, smpl = cliff.files.standin_files("res50")
        clip = write_walkers_video(tmp, cliff.SMPL(smpl), name="walkers.mp4", frames=60, people=3,
                                   size=(400, 300), fps=12.0, seed=1)
        out = os.path.join(tmp, "out")
        cli(["predict", clip["video"], "--boxes", clip["boxes"], "--ckpt", ckpt, "--smpl", smpl,
             "--track", "--smooth", "--render", "-o", out, "--quiet"])
        z = np.load(os.path.join(out, "walkers_cliff_res50.npz"))
        src, front = iio.imread(clip["video"]), iio.imread(os.path.join(out, "walkers_front.mp4"))
        counts = np.bincount(z["frame"], minlength=len(src))
        first = int(np.argmax(counts))
        later = np.where(np.abs(np.arange(len(src)) - first) >= 12, counts, -1)
        picks = sorted([first, int(np.argmax(later))])
        rows = []
        for f in picks:
            im = Image.fromarray(front[f])
            dr = ImageDraw.Draw(im)
            try:
                font = ImageFont.load_default(size=14)
            except TypeError:  # Pillow < 10.1
                font = ImageFont.load_default()
            for r in np.nonzero(z["frame"] == f)[0]:
                k = int(z["track_id"][r])
                c = tuple(int(255 * v * 0.7) for v in _track_colors([k])[0])
                x1, y1, x2, y2 = z["detection_all"][r, 1:5]
                dr.rectangle([x1, y1, x2, y2], outline=c, width=2)
                dr.text((x1 + 3, y1 + 2), f"id {k}", fill=c, font=font)
            dr.text((4, 4), f"frame {f}: tracked, smoothed", fill=(0, 0, 0), font=font)
            rows.append(np.concatenate([src[f], np.asarray(im)], 1))
        Image.fromarray(np.concatenate(rows, 0)).save(path, optimize=True)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--smpl", help="an SMPL file for the corrective-shape measurement "
                    "(default: the stand-in body, whose correctives are not SMPL's)")
    ap.add_argument("--picture", help="also write the README picture (PNG) here")
    args = ap.parse_args(argv)
    info = cliff.info()
    from _machine import cpu_model
    cpu = cpu_model()
    print(f"cpu: {cpu}; oneDNN ISA: {info['onednn_isa']}; python {sys.version.split()[0]}")
    print(f"\nsmoothing: {args.frames} frames at {FPS:g} fps, mean over {args.seeds} seeds "
          "(24 SMPL joints, stand-in body)")
    rows = bench_smoothing(args.frames, args.seeds)
    raw_acc, raw_mp = rows[0][1], rows[0][2]
    print(f"{'filter':<10} {'accel err mm/f^2':>17} {'vs raw':>7} {'MPJPE mm':>9} {'vs raw':>7} {'ms/track':>9}")
    for name, a, m, t in rows:
        print(f"{name:<10} {a:17.2f} {raw_acc / a:6.1f}x {m:9.2f} {m / raw_mp:6.2f}x {t:9.1f}")
    print(f"\ntracking: {args.seeds} scenes of {args.frames} frames, 6 people crossing, "
          "10% detections dropped, 15% low-score")
    e = bench_tracking(args.frames, args.seeds)
    print("  " + ", ".join(f"{k} {v}" for k, v in e.items()))
    mean, mx = correctives_cost(args.smpl or _standin.procedural_body())
    print(f"\nglTF without corrective shapes (linear blend skinning only), on the same motion, "
          f"{'body ' + args.smpl if args.smpl else 'STAND-IN body (not SMPL: rerun with --smpl)'}:"
          f"\n  vertex distance to the full model: mean {mean:.2f} mm, max {mx:.2f} mm")
    if args.picture:
        picture(args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
