"""Dataset-scale throughput: images/s of the single-process pipeline vs the distributed driver
with 1 and 2 workers on Ray and on Dask, on this machine, side by side in one run.

    python benchmarks/bench_scale.py                      # res50 stand-in, 24 images, 1 round
    python benchmarks/bench_scale.py --images 48 --rounds 2 --backbone hr48
    python benchmarks/bench_scale.py --engines dask       # skip Ray

Every configuration runs `cliff predict` on the same folder of synthetic 640x480 JPEGs with
one person box per image (stand-in weights: the released checkpoints' layer shapes, so the
same speed), into a fresh output folder:

- ``single``: `cliff predict` in one process (all cores, the default threads);
- ``ray-N`` / ``dask-N``: `--ray` / `--dask` with N workers of 1 CPU each (a local Ray with
  num_cpus=N; a Dask LocalCluster with N single-threaded worker processes); the engine is
  started before the clock starts, the workers' model loading is inside the time (as a user
  pays it).

Reported: seconds, images/s, ratio to ``single``, and the per-image cost (core-seconds per
image = workers x seconds / images) that docs/scale.md projects from. Rounds rotate the
order. The machine may be shared: compare ratios from one run, not absolute numbers across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    import numpy as np

    import cliff

    imgs = folder / "imgs"
    imgs.mkdir(parents=True)
    rng = np.random.default_rng(0)
    boxes = {}
    for k in range(n):
        p = imgs / f"img{k:05d}.jpg"
        cliff.save_image(str(p), rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
        boxes[str(p)] = [[200.0, 60.0, 420.0, 460.0]]
    (folder / "boxes.json").write_text(json.dumps(boxes))
    return imgs, folder / "boxes.json"


def _child(config: str, argv: list[str]) -> None:
    """One configuration in a fresh process: start the engine, then time the command."""
    from cliff.cli import main

    extra: list[str] = []
    cluster = None
    if config.startswith("ray-"):
        import ray

        n = int(config.split("-")[1])
        ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
        extra = ["--ray", "--workers", str(n)]
    elif config.startswith("dask-"):
        import distributed

        n = int(config.split("-")[1])
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        extra = ["--dask", cluster.scheduler_address]
    t0 = time.perf_counter()
    rc = main(argv + extra)
    dt = time.perf_counter() - t0
    if cluster is not None:
        cluster.close()
    print(json.dumps({"seconds": dt, "status": rc}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--backbone", choices=("res50", "hr48"), default="res50")
    ap.add_argument("--engines", default="ray,dask")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], json.loads(a.child[1]))
        return
    import cliff
    from cliff.files import standin_files

    info = cliff.info()
    from _machine import cpu_model
    cpu = cpu_model()
    print(f"CPU: {cpu or platform.machine()}, {os.cpu_count()} logical cores; oneDNN {info['onednn']} "
          f"ISA {info['onednn_isa']}; {a.backbone} stand-in; {a.images} images 640x480, 1 person each")
    tmp = Path(tempfile.mkdtemp(prefix="cliff-bench-scale-"))
    try:
        imgs, boxes = make_inputs(tmp, a.images)
        ckpt, smpl = standin_files(a.backbone)
        configs = ["single"] + [f"{e}-{n}" for e in a.engines.split(",") if e
                                for n in a.workers.split(",")]
        times: dict[str, list[float]] = {c: [] for c in configs}
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for c in order:
                out = tmp / f"out-{c}-{r}"
                argv = ["predict", str(imgs), "--ckpt", ckpt, "--smpl", smpl, "--boxes", str(boxes),
                        "-o", str(out), "--quiet", "--shard-size", str(max(1, a.images // 8))]
                if c == "single":
                    argv = argv[:-2]
                p = subprocess.run([sys.executable, __file__, "--child", c, json.dumps(argv)],
                                   capture_output=True, text=True, cwd=REPO)
                lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
                if p.returncode or not lines:
                    print(f"  {c}: failed\n{p.stderr[-2000:]}")
                    continue
                res = json.loads(lines[-1])
                times[c].append(res["seconds"])
                print(f"  round {r + 1} {c:8s} {res['seconds']:7.1f} s  {a.images / res['seconds']:6.2f} img/s",
                      flush=True)
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
        best = {c: min(v) for c, v in times.items() if v}
        if "single" not in best:
            return
        print(f"\n{'config':8s} {'s':>8s} {'img/s':>8s} {'vs single':>10s} {'core-s/img':>11s}")
        for c, t in best.items():
            workers = os.cpu_count() if c == "single" else int(c.split("-")[1])
            print(f"{c:8s} {t:8.1f} {a.images / t:8.2f} {best['single'] / t:10.2f} "
                  f"{workers * t / a.images:11.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
