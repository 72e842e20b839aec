"""cliff bf16 vs cliff fp32 (the issue's "bf16 >= 1.8x our fp32"), measured in ONE process with
the two models called alternately, so that machine noise hits both the same way.

    python benchmarks/bench_precision.py [--backbones hr48 res50] [--calls 40] [--batch 1]

Random official-layout weights (cliff._standin.random_state_dict; same shapes as the released files,
so the same speed). Reports median and min ms per call of Model.predict and the ratios, plus
the max |delta| of the rotation matrices (bf16 drift).
"""
import argparse
import os
import tempfile
import time

import numpy as np

import cliff
from cliff._standin import random_state_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["hr48", "res50"], choices=["hr48", "res50"])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    cliff.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n = args.batch
    crops = rng.normal(size=(n, 3, 256, 192)).astype(np.float32)
    boxes = np.tile(np.array([[600, 400, 300]], np.float32), (n, 1))
    size = np.array([1280, 720], np.float32)
    print(f"cliff {cliff.__version__}, {cliff.get_num_threads()} threads, batch {n}, "
          f"{args.calls} alternating calls per precision, load average {os.getloadavg()[0]:.2f}")
    print("| backbone | fp32 ms (median / min) | bf16 ms (median / min) | bf16 speed-up (median / min) | max abs d rotmat |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for bb in args.backbones:
            path = os.path.join(d, f"{bb}.npz")
            np.savez(path, **random_state_dict(bb, 0))
            models = {p: cliff.load_model(path, precision=p) for p in ("fp32", "bf16")}
            outs = {p: m.predict(crops, boxes, size) for p, m in models.items()}
            for m in models.values():
                for _ in range(3):
                    m.predict(crops, boxes, size)
            times = {p: [] for p in models}
            for _ in range(args.calls):
                for p, m in models.items():
                    t = time.perf_counter()
                    m.predict(crops, boxes, size)
                    times[p].append(1e3 * (time.perf_counter() - t))
            med = {p: float(np.median(t)) for p, t in times.items()}
            mn = {p: min(t) for p, t in times.items()}
            drift = np.abs(outs["fp32"]["rotmat"] - outs["bf16"]["rotmat"]).max()
            print(f"| {bb} | {med['fp32']:.2f} / {mn['fp32']:.2f} | {med['bf16']:.2f} / {mn['bf16']:.2f} | "
                  f"{med['fp32'] / med['bf16']:.2f}x / {mn['fp32'] / mn['bf16']:.2f}x | {drift:.1e} |")
            for m in models.values():
                m.close()


if __name__ == "__main__":
    main()
