"""SMPL-X forward speed: cliff.SMPLX (C) vs the smplx package's SMPLXLayer (PyTorch), the body
BEDLAM-CLIFF drives (22 rotation matrices, 11 betas, hands/jaw/eyes at rest, expression zero).

    python benchmarks/bench_smplx.py [--threads 1] [--rounds 5] [--model SMPLX_NEUTRAL.npz]

Both sides read the same file: a real SMPL-X .npz, or by default the procedural stand-in
written once to a temporary .npz (300 + 100 components, float32, the release's layout). Both
return vertices and the 127 joints; same thread count, torch.inference_mode. Every
measurement is a fresh process; the sides alternate within each round; a round's value is its
process's median per-call time, the table shows the median over rounds, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _machine import cpu_description  # noqa: E402

BATCHES = (1, 64)
NUM_BETAS = 11


def timed(call, reps: int) -> list:
    for _ in range(3):
        call()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def measure(side: str, path: str, batch: int, threads: int, reps: int) -> list:
    """Per-call seconds of one side, in this process."""
    import cliff

    rng = np.random.default_rng(batch)
    R = cliff.axis_angle_to_rotmat(rng.normal(scale=0.4, size=(batch, 22, 3))).astype(np.float32)
    betas = rng.normal(size=(batch, NUM_BETAS)).astype(np.float32)
    transl = rng.normal(size=(batch, 3)).astype(np.float32)
    if side == "cliff":
        cliff.set_num_threads(threads)
        body = cliff.SMPLX(path, NUM_BETAS)
        return timed(lambda: body(rotmat=R, betas=betas, transl=transl), reps)
    import warnings

    import smplx
    import torch

    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = smplx.SMPLXLayer(path, ext="npz", num_betas=NUM_BETAS)
    go, bp = torch.from_numpy(R[:, :1].copy()), torch.from_numpy(R[:, 1:].copy())
    b, t = torch.from_numpy(betas), torch.from_numpy(transl)

    def call():
        with torch.inference_mode():
            layer(betas=b, global_orient=go, body_pose=bp, transl=t)
    return timed(call, reps)


def one_process(side: str, path: str, batch: int, args) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    reps = args.reps if batch == 1 else max(5, args.reps // 8)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", side, "--model", path,
           "--batch", str(batch), "--threads", str(args.threads), "--reps", str(reps)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return float(np.median(json.loads(out.strip().splitlines()[-1])))


def standin_file(folder: str) -> str:
    from cliff import _standin
    from cliff.io import save_smplx_npz

    path = os.path.join(folder, "SMPLX_STANDIN.npz")
    save_smplx_npz(path, _standin.smplx_arrays(0, 300), dtype=np.float32)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=40, help="timed calls per process at batch 1")
    p.add_argument("--model", default=None, help="SMPL-X .npz (default: the procedural stand-in)")
    p.add_argument("--worker", choices=["cliff", "smplx"], help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.model, args.batch, args.threads, args.reps)))
        return

    import cliff

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or standin_file(tmp)
        print(f"# SMPL-X forward (vertices + 127 joints, {NUM_BETAS} betas), {args.threads} thread(s), "
              f"{args.rounds} alternating rounds; model: {args.model or 'procedural stand-in'}; "
              f"cpu: {cpu_description()}; load average {os.getloadavg()[0]:.2f}; cliff {cliff.__version__}")
        rows = []
        for batch in BATCHES:
            t = {"cliff": [], "smplx": []}
            for r in range(args.rounds):
                for side in (("cliff", "smplx") if r % 2 == 0 else ("smplx", "cliff")):
                    t[side].append(one_process(side, path, batch, args))
            rows.append((batch, float(np.median(t["cliff"])), float(np.median(t["smplx"]))))
    print()
    print("| batch | cliff ms/call | smplx ms/call | cliff bodies/s | smplx bodies/s | smplx / cliff |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch, c, s in rows:
        print(f"| {batch} | {c * 1e3:.2f} | {s * 1e3:.2f} | {batch / c:,.0f} | {batch / s:,.0f} | "
              f"{s / c:.1f}x |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
