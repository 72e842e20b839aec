"""Thread settings shared by Model, SMPL and Estimator (see README, "Threads").

Two knobs:

* ``threads=`` on one object (``load_model(..., threads=2)``, ``SMPL(..., threads=1)``,
  ``Estimator(..., threads=1)``): the OpenMP team size of that object's calls. The C core sets
  it at every entry point from the handle, so several objects in one process (or a model per
  worker of a Ray actor / Dask worker) each keep their own share of the cores.
  ``None``/0 follows the process-wide ``cliff.set_num_threads`` (default: all cores).
* How idle OpenMP workers wait: `import cliff` starts libgomp with a short spin
  (``GOMP_SPINCOUNT=200`` instead of libgomp's 300000, cliff/_dnnl.py) unless the user set
  ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``: a worker sleeps soon after its work runs out, so the
  default thread count does not collapse when another process competes for the cores, while the
  spin still covers the short gaps between layers on an idle machine
  (benchmarks/bench_threads.py compares it with libgomp's default and with PASSIVE). It only
  takes effect if libgomp was not initialised yet.
"""
from __future__ import annotations


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
