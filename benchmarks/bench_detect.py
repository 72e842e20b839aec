"""YOLOv3 person detector: cliff (oneDNN) vs the PyTorch reference (eager), side by side.

    python benchmarks/bench_detect.py                   # batch 1 and 8, 2 threads
    python benchmarks/bench_detect.py --threads 4 --batches 1 --rounds 5
    python benchmarks/bench_detect.py --weights yolov3.weights   # the real file (same speed)

Both peers run the network on the same weights (random darknet-format weights from
cliff._standin.yolo_weights unless --weights), the same (n, 416, 416, 3) float32 input and the
same thread count (OMP_NUM_THREADS, torch.set_num_threads, cliff.set_num_threads), each in its
own subprocess, timed in alternating rounds:

- ``torch-eager``: tests/reference/torch_yolo.Darknet (the PyTorch port's structure: Conv2d,
  BatchNorm2d, LeakyReLU, cat, nearest upsample), NCHW, eval(), no_grad(), float32;
- ``cliff``: ``Detector.heads`` (the three raw head outputs; fp32).

Also reported: ``cliff detect`` = letterbox + network + post-processing for the same number of
images (what ``Detector.detect`` costs end to end). Prints medians in ms per batch, ms per
image, and the ratio torch-eager / cliff, with the CPU model and oneDNN's ISA.
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
from _machine import cpu_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def worker(peer: str, weights: str, batch: int, threads: int) -> None:
    import numpy as np
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(batch)]
    from cliff.detect import yolo
    x = yolo.network_input(imgs)
    if peer == "torch-eager":
        import torch
        torch.set_num_threads(threads)
        sys.path.insert(0, str(REPO))
        from tests.reference.torch_yolo import Darknet, yolov3_cfg
        net = Darknet(yolov3_cfg())
        net.load_darknet(weights)
        t = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

        def step():
            with torch.no_grad():
                net(t)
    else:
        import cliff
        cliff.set_num_threads(threads)
        det = yolo.load_detector(weights)
        step = (lambda: det.heads(x)) if peer == "cliff" else (lambda: det.detect(imgs))
    step()  # warm-up (plans, caches)
    print("ready", flush=True)
    for line in sys.stdin:
        reps = int(line)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t0)
        print(" ".join(f"{v:.6f}" for v in ts), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--reps", type=int, default=2, help="runs per peer per round")
    ap.add_argument("--weights", help="darknet yolov3.weights (default: random, same size)")
    args = ap.parse_args()
    import cliff
    tmp = None
    weights = args.weights
    if weights is None:
        tmp = tempfile.mkdtemp(prefix="bench_detect_")
        from cliff._standin import yolo_weights
        weights = yolo_weights(os.path.join(tmp, "yolov3.weights"), seed=0)
    info = cliff.info() if hasattr(cliff, "info") else {}
    print(f"CPU: {cpu_model()}; oneDNN ISA: {info.get('onednn_isa', '?')}; threads: {args.threads}")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    peers = ("torch-eager", "cliff", "cliff-detect")
    for b in args.batches:
        procs = {p: subprocess.Popen([sys.executable, __file__, "--worker", p, weights, str(b), str(args.threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
                 for p in peers}
        for p in peers:
            assert procs[p].stdout.readline().strip() == "ready", p
        times = {p: [] for p in peers}
        for r in range(args.rounds):
            order = peers[r % 3:] + peers[:r % 3]
            for p in order:
                procs[p].stdin.write(f"{args.reps}\n")
                procs[p].stdin.flush()
                times[p] += [float(v) for v in procs[p].stdout.readline().split()]
        for p in peers:
            procs[p].stdin.close()
            procs[p].wait()
        med = {p: statistics.median(times[p]) * 1e3 for p in peers}
        print(f"\nbatch {b} ({len(times['cliff'])} runs each, alternating)")
        for p in peers:
            print(f"  {p:13s} {med[p]:9.1f} ms/batch {med[p] / b:8.1f} ms/image")
        print(f"  ratio torch-eager / cliff (network): {med['torch-eager'] / med['cliff']:.2f}x")
    if tmp:
        os.remove(weights)
        os.rmdir(tmp)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
