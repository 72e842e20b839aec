"""SMPL forward speed: cliff.SMPL (C) vs the smplx package (PyTorch), side by side.

    python benchmarks/bench_smpl.py [--threads 1] [--rounds 5] [--model SMPL_NEUTRAL.pkl]

Cases: vertices + joints at batch 1 and 64, and joints only (cliff's vertices=False path; smplx
has no such path and computes the full mesh for return_verts=False) at batch 1 and 64.
Both sides use the same model arrays (the procedural stand-in by default, or a real SMPL file read
by cliff.io.load_smpl so that smplx needs no chumpy), the same thread count, float32 rotation
matrices (pose2rot=False, as the CLIFF demo calls smplx) and torch.inference_mode. Each
measurement runs in a fresh process; the two sides alternate within every round. A round's
value is the median per-call time of its process; the table shows the median over rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from _machine import cpu_model  # noqa: E402

CASES = [("vertices+joints", 1, True), ("vertices+joints", 64, True),
         ("joints only", 1, False), ("joints only", 64, False)]


def load_arrays(model):
    import cliff

    if model:
        from cliff.io import load_smpl

        return load_smpl(model)
    return cliff._standin.smpl_arrays()


def inputs(batch, seed=0):
    rng = np.random.default_rng(seed)
    aa = rng.normal(size=(batch, 24, 3)) * 0.4
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)[..., None]
    k = aa / np.linalg.norm(aa, axis=-1, keepdims=True)
    K = np.zeros((batch, 24, 3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    rot = np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * (K @ K)
    return (rot.astype(np.float32), rng.normal(size=(batch, 10)).astype(np.float32),
            rng.normal(size=(batch, 3)).astype(np.float32))


def worker(side, batch, with_vertices, threads, reps, model):
    """Time one side in this process; print the per-call times (seconds) as JSON."""
    import cliff

    arrays = load_arrays(model)
    rot, betas, transl = inputs(batch)
    if side == "cliff":
        cliff.set_num_threads(threads)
        body = cliff.SMPL(arrays, num_betas=10)

        def call():
            body(rotmat=rot, betas=betas, transl=transl, vertices=with_vertices)
    else:
        import torch
        import smplx
        from smplx.utils import Struct

        torch.set_num_threads(threads)
        kintree = np.stack([arrays["parents"], np.arange(24)]).astype(np.int64)
        struct = Struct(v_template=arrays["v_template"], shapedirs=arrays["shapedirs"][:, :, :10],
                        posedirs=arrays["posedirs"], J_regressor=arrays["J_regressor"],
                        weights=arrays["weights"], kintree_table=kintree, f=arrays["faces"])
        layer = smplx.SMPL(model_path="unused", data_struct=struct, num_betas=10)
        R, B, T = (torch.from_numpy(x) for x in (rot, betas, transl))

        def call():
            with torch.inference_mode():
                layer(global_orient=R[:, :1], body_pose=R[:, 1:], betas=B, transl=T,
                      pose2rot=False, return_verts=with_vertices)
    for _ in range(5):
        call()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    print(json.dumps(times))


def run_side(side, batch, with_vertices, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", side, "--batch", str(batch),
           "--vertices", str(int(with_vertices)), "--threads", str(args.threads),
           "--reps", str(args.reps if batch == 1 else max(5, args.reps // 4))]
    if args.model:
        cmd += ["--model", args.model]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return float(np.median(json.loads(out.strip().splitlines()[-1])))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=100, help="timed calls per process at batch 1")
    p.add_argument("--model", default=None, help="SMPL .pkl/.npz (default: cliff._standin)")
    p.add_argument("--worker", choices=["cliff", "smplx"], help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--vertices", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.batch, bool(args.vertices), args.threads, args.reps, args.model)
        return

    import cliff

    print(f"# SMPL forward, {args.threads} thread(s), {args.rounds} alternating rounds, model: "
          f"{args.model or 'cliff._standin (procedural, SMPL-sized)'}; cpu: {cpu_model()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}; cliff {cliff.__version__}; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    results = {}
    for name, batch, with_vertices in CASES:
        t = {"cliff": [], "smplx": []}
        for r in range(args.rounds):
            order = ("cliff", "smplx") if r % 2 == 0 else ("smplx", "cliff")
            for side in order:
                t[side].append(run_side(side, batch, with_vertices, args))
        results[(name, batch)] = {s: float(np.median(v)) for s, v in t.items()}
    print()
    print("| case | batch | cliff ms/call | smplx ms/call | cliff bodies/s | smplx bodies/s | cliff / smplx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (name, batch), r in results.items():
        c, s = r["cliff"], r["smplx"]
        print(f"| {name} | {batch} | {c * 1e3:.3f} | {s * 1e3:.3f} | {batch / c:,.0f} | "
              f"{batch / s:,.0f} | {s / c:.1f}x |")
    print()
    for batch in (1, 64):
        full, fast = results[("vertices+joints", batch)]["cliff"], results[("joints only", batch)]["cliff"]
        print(f"cliff joints-only vs vertices+joints at batch {batch}: {full / fast:.1f}x faster")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
