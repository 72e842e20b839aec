"""Thread settings shared by Model, SMPL and Estimator (see README, "Threads").

Two knobs:

* ``threads=`` on one object (``load_model(..., threads=2)``, ``SMPL(..., threads=1)``,
  ``Estimator(..., threads=1)``): the OpenMP team size of that object's calls. The C core sets
  it at every entry point from the handle, so several objects in one process (or a model per
  worker of a Ray actor / Dask worker) each keep their own share of the cores.
  ``None``/0 follows the process-wide ``cliff.set_num_threads`` (default: all cores).
* ``OMP_WAIT_POLICY``: `import cliff` sets it to PASSIVE unless the user set it (or
  ``GOMP_SPINCOUNT``) before, or set ``CLIFF_OMP_PASSIVE=0`` to keep libgomp's own default
  (spin ~0.3 M iterations, then sleep): idle OpenMP workers sleep instead of spinning, which keeps the
  default thread count from collapsing when another process competes for the cores
  (benchmarks/bench_threads.py). It only takes effect if libgomp was not initialised yet.
"""
from __future__ import annotations

import os

import numpy as np

MAX_THREADS = 4096


def check_threads(threads, name: str = "threads") -> int:
    """None or 0 -> 0 (follow the process-wide count); else a positive int."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"{name}: expected None, 0 or a positive integer, got {threads!r}")
    t = int(threads)
    if not 0 <= t <= MAX_THREADS:
        raise ValueError(f"{name}: expected None, 0 (process-wide count) or 1..{MAX_THREADS}, got {t}")
    return t


def set_default_wait_policy() -> bool:
    """PASSIVE OpenMP waiting unless the user chose a policy. Returns True when it set it."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    if os.environ.get("CLIFF_OMP_PASSIVE", "1").strip() in ("0", "false", "no", "off"):
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
