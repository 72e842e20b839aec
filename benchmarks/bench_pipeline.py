"""End to end per image: Estimator in one C call vs the composition it replaced, side by side.

    python benchmarks/bench_pipeline.py                       # res50 + hr48, fp32
    python benchmarks/bench_pipeline.py --backbones res50 --repeats 5 --threads 2

Peers, in the same process, on the same model objects, timed in alternating rounds (the order
flips every round) so that machine load hits both alike:

- ``composed`` (before issue 9): ``cliff.crop`` -> ``Model.predict`` -> ``SMPL`` ->
  ``project_points``, four crossings into C, each re-validating its arrays, the NCHW crops
  transposed into the engine's NHWC layout, BGR flipped by a Python copy
  (tests/reference/composition.py, the pre-issue-9 Estimator code);
- ``one-call``: ``Estimator.run`` / ``run_many``: validated once, then ``cliff_estimate_batch``
  with the crops written straight into the network's input.

Workloads: one 1920x1080 photo with 1 person and with 4 people (``run``, RGB and BGR input),
and a folder of 8 images of 640x480..1920x1080 with 1-3 people each (``run_many``, all 15 people in one call).
Weights are the random official-layout checkpoints of cliff._standin (same layers, so the same
speed as the released ones), SMPL the procedural stand-in body (same sizes as SMPL).
Reported: median ms per image of each peer and the ratio composed / one-call (> 1: faster).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import cliff  # noqa: E402
from cliff._standin import random_state_dict, smpl_arrays  # noqa: E402
from reference.composition import compose_batch, compose_run  # noqa: E402
from _machine import cpu_model  # noqa: E402


def boxes_for(rng, h, w, n):
    bh = rng.uniform(0.35 * h, 0.9 * h, n)
    bw = bh * rng.uniform(0.3, 0.6, n)
    x1 = rng.uniform(0, w - bw)
    y1 = rng.uniform(0, h - bh)
    return np.stack([x1, y1, x1 + bw, y1 + bh], 1)


def workloads(rng):
    photo = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    one, four = boxes_for(rng, 1080, 1920, 1), boxes_for(rng, 1080, 1920, 4)
    sizes = [(480, 640), (720, 1280), (1080, 1920), (600, 800)] * 2
    folder = []
    for k, (h, w) in enumerate(sizes):
        folder.append((rng.integers(0, 256, (h, w, 3), dtype=np.uint8), boxes_for(rng, h, w, 1 + k % 3)))
    return [
        ("run, 1 person", 1, lambda e: e.run(photo, one),
         lambda m, s: compose_run(m, s, photo, one)),
        ("run, 4 people", 1, lambda e: e.run(photo, four),
         lambda m, s: compose_run(m, s, photo, four)),
        ("run, 4 people, BGR", 1, lambda e: e.run(photo, four, bgr=True),
         lambda m, s: compose_run(m, s, photo, four, bgr=True)),
        ("run_many, 8 images, 15 people", len(folder), lambda e: list(e.run_many(folder)),
         lambda m, s: compose_batch(m, s, [(im, b, None, None) for im, b in folder])),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backbones", nargs="+", default=["res50", "hr48"], choices=["res50", "hr48"])
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds per peer (median)")
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores")
    args = ap.parse_args(argv)
    cliff.set_num_threads(args.threads)
    info = cliff.info()
    print(f"CPU: {cpu_model()}; oneDNN {info['onednn']} ISA {info['onednn_isa']}; "
          f"{cliff.get_num_threads()} threads; median of {args.repeats} alternating rounds")
    smpl = cliff.SMPL(smpl_arrays(seed=0))
    rng = np.random.default_rng(0)
    loads = workloads(rng)
    print(f"{'backbone':8} {'workload':32} {'composed ms/img':>16} {'one-call ms/img':>16} {'ratio':>7}")
    for bb in args.backbones:
        with cliff.Model.from_state_dict(random_state_dict(bb, seed=1)) as model:
            est = cliff.Estimator(model, smpl, batch_size=16)  # the folder in one call
            for name, n_img, new, old in loads:
                new(est), old(model, smpl)  # warm-up: plans for these batch sizes, caches
                t = {"composed": [], "one-call": []}
                for r in range(args.repeats):
                    order = [("composed", lambda: old(model, smpl)), ("one-call", lambda: new(est))]
                    for peer, fn in (order if r % 2 == 0 else order[::-1]):
                        t0 = time.perf_counter()
                        fn()
                        t[peer].append((time.perf_counter() - t0) * 1e3 / n_img)
                a, b = statistics.median(t["composed"]), statistics.median(t["one-call"])
                print(f"{bb:8} {name:32} {a:16.2f} {b:16.2f} {a / b:6.3f}x", flush=True)


if __name__ == "__main__":
    main()
