"""Threads on a shared machine: the default thread policy vs 1 thread, quiet and with a
competing CPU-bound process, side by side in one run.

    python benchmarks/bench_threads.py                 # res50 stand-in, batch 1, 3 rounds
    python benchmarks/bench_threads.py --backbone hr48 --rounds 2 --runs 8

Configurations (each timed in its own fresh process, because the OpenMP wait policy is read
once when libgomp starts):

- ``spin-default``: the thread setting before: all cores, libgomp's own wait policy (workers
  spin ~0.3 M iterations before sleeping; ``GOMP_SPINCOUNT=300000``);
- ``passive``: all cores, ``OMP_WAIT_POLICY=PASSIVE`` (idle workers sleep at once);
- ``default``: today's default: all cores, the short spin cliff loads OpenMP with
  (``GOMP_SPINCOUNT=10000``, cliff/_dnnl.py);
- ``1-thread``: ``Model(threads=1)`` (wait policy irrelevant with one thread).

Loads: ``quiet`` (nothing started by us; the machine may be shared, so "quiet" is
approximate) and ``busy`` (one ``python -c 'while True: pass'`` process running). Rounds
alternate loads and rotate the configuration order; each process warms up, then times
``--runs`` calls of ``Model.predict`` on one crop (stand-in weights: same layer shapes as the
released checkpoints, so the same speed). Reported: median ms per crop over all rounds and
the ratios default/spin-default (quiet: goal <= 1.05) and 1-thread/default (busy: goal >= 1,
i.e. the default is not slower than one thread).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from _machine import cpu_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("spin-default", "passive", "default", "1-thread")


def _worker(backbone: str, threads: int, runs: int) -> None:
    import numpy as np

    import cliff
    from cliff.files import standin_files

    ckpt, _ = standin_files(backbone)
    model = cliff.load_model(ckpt, threads=threads or None)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (1, 256, 192, 3), dtype=np.uint8)
    boxes = np.array([[320.0, 240.0, 300.0]], np.float32)
    for _ in range(3):
        model.predict(crops, boxes, (640, 480))
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        model.predict(crops, boxes, (640, 480))
        ts.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"ms": ts, "threads": model.threads,
                      "policy": os.environ.get("OMP_WAIT_POLICY", "libgomp default")}))


def _run(config: str, backbone: str, runs: int) -> dict:
    env = dict(os.environ)
    for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "CLIFF_OMP_PASSIVE"):
        env.pop(k, None)
    threads = 0
    if config == "spin-default":  # libgomp's own default spin (what cliff had before)
        env["GOMP_SPINCOUNT"] = "300000"
    elif config == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif config == "1-thread":
        threads = 1
    out = subprocess.run([sys.executable, __file__, "--worker", backbone, str(threads), str(runs)],
                         env=env, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", choices=("res50", "hr48"), default="res50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=15, help="timed calls per process")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        _worker(a.worker[0], int(a.worker[1]), int(a.worker[2]))
        return
    import cliff

    info = cliff.info()
    print(f"CPU: {platform.processor() or platform.machine()} "
          f"{cpu_model()}, {os.cpu_count()} logical cores; oneDNN {info['onednn']} "
          f"ISA {info['onednn_isa']}; {a.backbone} stand-in, batch 1")
    ms: dict = {(load, c): [] for load in ("quiet", "busy") for c in CONFIGS}
    for r in range(a.rounds):
        order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
        for load in (("quiet", "busy") if r % 2 == 0 else ("busy", "quiet")):
            spinner = None
            if load == "busy":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                for c in order:
                    res = _run(c, a.backbone, a.runs)
                    ms[(load, c)].extend(res["ms"])
                    print(f"  round {r + 1} {load:5s} {c:13s} threads={res['threads']} "
                          f"median {statistics.median(res['ms']):8.1f} ms", flush=True)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    med = {k: statistics.median(v) for k, v in ms.items()}
    print(f"\n{'load':6s} " + " ".join(f"{c:>14s}" for c in CONFIGS) + "   (median ms per crop)")
    for load in ("quiet", "busy"):
        print(f"{load:6s} " + " ".join(f"{med[(load, c)]:14.1f}" for c in CONFIGS))
    q = med[("quiet", "default")] / med[("quiet", "spin-default")]
    b = med[("busy", "1-thread")] / med[("busy", "default")]
    b0 = med[("busy", "1-thread")] / med[("busy", "spin-default")]
    print(f"\nquiet: default / spin-default time = {q:.3f}  (goal <= 1.05)")
    print(f"busy:  default throughput / 1-thread throughput = {b:.2f}  (goal >= 1; "
          f"spin-default had {b0:.2f})")


if __name__ == "__main__":
    main()
