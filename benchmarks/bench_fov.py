"""HumanFoV (the learned focal length): cliff vs the PyTorch reference, side by side.

    python benchmarks/bench_fov.py                 # 1920x1080 photo, batch 1 and 8, 15 rounds
    python benchmarks/bench_fov.py --quick         # smoke check
    python benchmarks/bench_fov.py --threads 2 --size 1280x720 --batches 1

Peers, each in its own subprocess, timed in alternating rounds (order rotated every round):

- ``torch``: what CameraHMR's release runs: the photo letterboxed with OpenCV
  (``cv2.resize(INTER_AREA)`` onto white, as ``resize_image``), /255, torchvision-style
  normalisation, ``FLNet`` in ``eval()`` under ``torch.no_grad()`` (our PyTorch reference,
  tests/reference/torch_fov.py, same module structure), focal = H / (2 tan(vfov/2)); a batch
  stacks the prepared images into one forward pass;
- ``cliff``: ``cliff.FocalEstimator(file).predict(images)``: preprocessing and network in one C
  call per batch.

Both load the same stand-in weights (cliff._standin, the release's file layout; same layer shapes
as the real file, so the same speed). Threads: the same for both (``--threads``, default all
cores: OMP_NUM_THREADS, torch.set_num_threads, cliff.set_num_threads). Reported: median and min
ms per batch, ms per image, and the ratio torch / cliff (> 1: cliff is faster), plus the largest
focal difference between the two (pixels).
"""
from __future__ import annotations

import argparse
import json
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


def _images(size, n):
    w, h = size
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    img = np.kron(base, np.ones((8, 8, 1), np.uint8))[:h, :w]  # blocky, photo-like statistics
    return [np.ascontiguousarray(np.roll(img, 37 * i, axis=1)) for i in range(n)]


def worker(peer, ckpt, threads, size, batch):
    """Line protocol on stdin/stdout: "run" -> elapsed seconds; "focal" -> JSON list."""
    images = _images(size, batch)
    if peer == "torch":
        import torch
        sys.path.insert(0, str(REPO / "tests"))
        from reference import torch_fov as tf
        torch.set_num_threads(threads)
        net = tf.HumanFoV()
        net.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
        net.eval()

        def run():
            x = torch.from_numpy(np.stack([tf.preprocess(im) for im in images]))
            with torch.no_grad():
                vfov = net(x)[:, 1]
            return [tf.focal_from_vfov(v, im.shape[0]).item() for v, im in zip(vfov, images)]
    else:
        import cliff
        cliff.set_num_threads(threads)
        fe = cliff.FocalEstimator(ckpt)

        def run():
            return fe.predict(images).tolist()
    run()  # warm-up (plans, caches)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            t = time.perf_counter()
            run()
            print(time.perf_counter() - t, flush=True)
        elif cmd == "focal":
            print(json.dumps(run()), flush=True)
        else:
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--size", default="1920x1080", help="photo size WxH")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        peer, ckpt, threads, size, batch = a.worker
        return worker(peer, ckpt, int(threads), tuple(int(v) for v in size.split("x")), int(batch))
    rounds = 3 if a.quick else a.rounds
    sys.path.insert(0, str(REPO))
    from cliff._standin import save_fov_checkpoint
    print(f"HumanFoV, cliff vs PyTorch | {cpu_description()} | threads {a.threads} | photo {a.size}")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_fov_checkpoint(os.path.join(tmp, "cam_model_cleaned.ckpt"))
        for batch in [int(b) for b in a.batches.split(",")]:
            procs = {p: subprocess.Popen([sys.executable, __file__, "--worker", p, ckpt, str(a.threads),
                                          a.size, str(batch)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, env=env, cwd=str(REPO / "benchmarks"))
                     for p in ("torch", "cliff")}

            def ask(p, cmd):
                procs[p].stdin.write(cmd + "\n")
                procs[p].stdin.flush()
                return procs[p].stdout.readline()
            times = {p: [] for p in procs}
            order = list(procs)
            for r in range(rounds):
                for p in order[r % 2:] + order[:r % 2]:
                    times[p].append(float(ask(p, "run")))
            focal = {p: np.array(json.loads(ask(p, "focal"))) for p in procs}
            for p in procs:
                procs[p].stdin.write("quit\n")
                procs[p].stdin.close()
                procs[p].wait()
            med = {p: statistics.median(t) * 1e3 for p, t in times.items()}
            print(f"batch {batch}:")
            for p in ("torch", "cliff"):
                print(f"  {p:6s} median {med[p]:8.1f} ms  min {min(times[p]) * 1e3:8.1f} ms  "
                      f"{med[p] / batch:7.1f} ms/image")
            print(f"  ratio torch/cliff {med['torch'] / med['cliff']:.2f}x   "
                  f"max |focal difference| {np.abs(focal['torch'] - focal['cliff']).max():.2e} px "
                  f"(focal ~{focal['cliff'].mean():.0f} px)")


if __name__ == "__main__":
    main()
