"""Run every benchmark in turn (`make bench`); each prints its own table with the peer side by side.

Each script runs in its own process, one after the other, so that no two compete for the two
cores. Pass --quick for a short smoke run of all of them.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = [
    ("bench_geometry.py", [], []),
    ("bench_crop.py", [], []),
    ("bench_render.py", [], []),
    ("bench_smpl.py", [], []),
    ("bench_pipeline.py", [], ["--backbones", "res50", "--repeats", "3"]),
    ("bench_model.py", [], ["--quick"]),
    ("bench_roofline.py", [], ["--backbones", "res50", "--batches", "1", "--rounds", "1"]),
    ("bench_end_to_end.py", [], ["--backbones", "res50", "--rounds", "2"]),
    ("bench_threads_scaling.py", [], ["--backbones", "res50", "--batches", "1", "--rounds", "1", "--reps", "3"]),
    ("bench_precision.py", [], ["--calls", "5"]),
    ("bench_annotate.py", [], []),
    ("bench_motion.py", [], ["--frames", "150", "--seeds", "2"]),
    ("bench_threads.py", [], ["--rounds", "1", "--runs", "5"]),
    ("bench_scale.py", [], ["--images", "8"]),
    ("bench_families.py", [], ["--quick", "--batches", "1"]),
    ("bench_streams.py", [], ["--backbones", "res50", "--batches", "8", "--streams", "off", "auto",
                              "--rounds", "1", "--runs", "1", "--warmup", "1", "--no-openvino"]),
]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for name, args, quick_args in SCRIPTS:
        cmd = [sys.executable, os.path.join(HERE, name), *args, *(quick_args if quick else [])]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"=== {name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
