"""Dataset-scale prediction and annotation on Ray and Dask (docs/scale.md).

One design, two engines: `shards` (sharding, manifest, atomic part files, merge), `worker`
(what a worker runs, models loaded once per process), `job.run_job` (driver: skip done
shards, run the rest on an engine, record, merge), `ray_engine.RayEngine` /
`ray_engine.CliffPredictor` (Ray Data), `dask_engine.DaskEngine`. Ray and Dask are optional
extras, imported only when used.
"""
from __future__ import annotations

from .job import LocalEngine, parts_folder, run_job  # noqa: F401
from .shards import Manifest, expand_inputs, predict_shards, range_shards  # noqa: F401

__all__ = ["run_job", "LocalEngine", "parts_folder", "Manifest", "expand_inputs",
           "predict_shards", "range_shards"]
