"""The other CLIFF releases (cliff.families): cliff (oneDNN) vs the release's PyTorch code, side by side.

    python benchmarks/bench_families.py                    # all three families, batch 1 and 8
    python benchmarks/bench_families.py --quick            # smoke check: few runs
    python benchmarks/bench_families.py --families bedlam-cliff --batches 1 --threads 2

For each family (bedlam-cliff: HRNet-W48 with the 720-channel conv neck at 224 x 224, SMPL head;
bedlam-cliff-x: the same with the SMPL-X head; mmhuman3d-res50: ResNet-50 at 256 x 192) a
stand-in file is written once in the family's exact layout (cliff._standin.save_family_file:
random weights, same layer shapes as the released files, so the same speed). Two peers, each in
its own worker process, both alive during a configuration, timed in alternating rounds (the
order flips every round):

- ``torch``: the release's module (tests/reference/torch_families.py, loaded from the file with
  strict keys), ``eval()`` + ``torch.no_grad()``, NCHW float32: trunk, pooling, 3 regressor
  iterations, 6D -> rotation matrices, and the family's bbox_info;
- ``cliff``: ``cliff.load_model(file).predict(crops, boxes, img_size)`` (also returns
  axis-angle and the full-frame translation).

Same inputs (normalised float32 NCHW crops of the family's size) and the same thread count for
both (OMP_NUM_THREADS, torch.set_num_threads, cliff.set_num_threads). Reported: median and min
ms per batch, and the ratio torch / cliff of the medians (> 1: cliff is faster). The CPU model
and ISA are printed first.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import cpu_description  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("bedlam-cliff", "bedlam-cliff-x", "mmhuman3d-res50")


# ---- workers -------------------------------------------------------------------------------

def _inputs(fam, n):
    rng = np.random.default_rng(0)
    h, w = fam.crop
    crops = rng.standard_normal((n, 3, h, w)).astype(np.float32)
    boxes = np.stack([rng.uniform(300, 900, n), rng.uniform(250, 450, n), rng.uniform(200, 600, n)], 1)
    return crops, boxes.astype(np.float32), np.array([1280, 720], np.float32)


def worker(peer: str, family: str, path: str, batch: int, threads: int) -> None:
    import cliff
    from cliff import families as F
    fam = F.family(family)
    crops, boxes, size = _inputs(fam, batch)
    if peer == "cliff":
        cliff.set_num_threads(threads)
        model = cliff.load_model(path)

        def run():
            model.predict(crops, boxes, size)
    else:
        import torch
        sys.path.insert(0, str(REPO / "tests"))
        from reference import torch_cliff as tc
        from reference import torch_families as tf
        torch.set_num_threads(threads)
        model = tf.load_release(path, fam.lightning, fam.joints, fam.betas)
        x = torch.from_numpy(crops)
        b = torch.from_numpy(boxes)
        sz = torch.from_numpy(size)
        f = tc.default_focal(sz.reshape(1, 2).double()).expand(batch)

        def run():
            with torch.no_grad():
                info = (tf.bbox_info_plain(b, sz, f) if fam.bbox_info == "paper"
                        else tc.bbox_info(b, sz, f))
                model(x, info)
    run()  # warm-up: plans, caches
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        t0 = time.perf_counter()
        run()
        print(f"{1e3 * (time.perf_counter() - t0):.4f}", flush=True)


# ---- driver --------------------------------------------------------------------------------

def _spawn(peer, family, path, batch, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    p = subprocess.Popen([sys.executable, __file__, "--worker", peer, "--families", family,
                          "--path", path, "--batches", str(batch), "--threads", str(threads)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                         cwd=str(REPO))
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        raise RuntimeError(f"{peer} worker failed to start ({line!r})")
    return p


def _time(p) -> float:
    p.stdin.write("run\n")
    p.stdin.flush()
    return float(p.stdout.readline())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", choices=("cliff", "torch"))
    ap.add_argument("--path")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.families, args.path, int(args.batches), args.threads)
        return
    runs = 3 if args.quick else args.runs
    print(cpu_description())
    print(f"threads {args.threads}, {runs} alternating rounds per configuration")
    sys.path.insert(0, str(REPO))
    from cliff._standin import save_family_file
    tmp = tempfile.mkdtemp(prefix="bench-families-")
    print(f"{'family':<16} {'batch':>5} {'torch ms (min)':>16} {'cliff ms (min)':>16} {'torch/cliff':>12}")
    for family in args.families.split(","):
        path = os.path.join(tmp, family + ".ckpt")
        save_family_file(path, family, seed=0)
        for batch in (int(b) for b in args.batches.split(",")):
            peers = {name: _spawn(name, family, path, batch, args.threads) for name in ("torch", "cliff")}
            times = {name: [] for name in peers}
            try:
                for r in range(runs):
                    order = ("torch", "cliff") if r % 2 == 0 else ("cliff", "torch")
                    for name in order:
                        times[name].append(_time(peers[name]))
            finally:
                for p in peers.values():
                    p.stdin.close()
                    p.wait()
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{family:<16} {batch:>5} {med['torch']:>8.1f} ({min(times['torch']):>6.1f}) "
                  f"{med['cliff']:>8.1f} ({min(times['cliff']):>6.1f}) {med['torch'] / med['cliff']:>11.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
