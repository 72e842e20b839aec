"""Ray: shards on stateful actors (model and body loaded once per actor), and a stateful
predictor for Ray Data (`CliffPredictor`, for `Dataset.map_batches`).

Threads: each actor reserves `cpus_per_worker` CPUs (Ray's `num_cpus`) and runs the core with
that many threads (its reservation, read back from the runtime context), so actors sharing a
node do not oversubscribe it. Retries: actors are restartable (`max_restarts`) and their calls
retried (`max_task_retries`): a killed actor is restarted by Ray and the shard it was running
runs again, writing the same part file (shards.py: exactly once).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .worker import ShardRunner


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("--ray needs Ray: pip install '.[ray]' in a cliff clone") from exc
    return ray


def _reserved_cpus(default: int | None) -> int | None:
    """CPUs Ray reserved for the calling actor (whole cores, >= 1), else `default`."""
    try:
        import ray

        n = ray.get_runtime_context().get_assigned_resources().get("CPU")
        return max(1, int(n)) if n else default
    except Exception:  # noqa: BLE001 - outside Ray
        return default


class _ShardActor:
    def __init__(self, job: dict, threads: int | None):
        self.runner = ShardRunner(job, threads or _reserved_cpus(None))

    def run(self, index: int, items: list, parts_dir: str) -> dict:
        return self.runner.run(index, items, parts_dir)

    def threads(self) -> int | None:
        return self.runner.threads


class RayEngine:
    """address: a Ray cluster ('auto', 'ray://host:10001', ...) or None (the running or a new
    local Ray). workers: actors (default: the cluster's CPUs // cpus_per_worker).
    threads: per actor (default: its CPU reservation). retries: per shard call."""

    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 cpus_per_worker: float = 1, threads: int | None = None, retries: int = 3,
                 init_kwargs: dict | None = None):
        self.address, self.workers, self.cpus = address, workers, cpus_per_worker
        self.threads, self.retries, self.init_kwargs = threads, retries, init_kwargs or {}
        self.actors: list = []

    def _init(self):
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     **self.init_kwargs)
        return ray

    def run(self, job, todo, parts_dir) -> Iterator[tuple[int, object]]:
        ray = self._init()
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus))
        n = max(1, min(n, len(todo)))
        Actor = ray.remote(num_cpus=self.cpus, max_restarts=-1,
                           max_task_retries=self.retries)(_ShardActor)
        self.actors = [Actor.remote(job, self.threads) for _ in range(n)]
        queue = list(todo)
        running: dict = {}

        def submit(actor):
            if queue:
                i, items = queue.pop(0)
                running[actor.run.remote(i, items, parts_dir)] = (i, actor)

        try:
            for a in self.actors:  # two shards in flight per actor: no idle gap between shards
                submit(a)
                submit(a)
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                i, actor = running.pop(done[0])
                try:
                    yield i, ray.get(done[0])
                except Exception as exc:  # noqa: BLE001 - out of retries: recorded as failed
                    yield i, exc
                submit(actor)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            for a in self.actors:
                ray.kill(a)
            self.actors = []


class CliffPredictor:
    """Ray Data stateful predictor: ``ds.map_batches(CliffPredictor, fn_constructor_kwargs=
    {"ckpt": ..., "smpl": ...}, batch_size=8, num_cpus=1, concurrency=2)``.

    The Estimator is built once per actor, with the actor's CPU reservation as its thread
    count (unless `threads` is given). A batch is a dict of NumPy columns: ``path`` (str) or
    ``image_bytes`` (encoded JPEG/PNG bytes) with ``name`` (str), and optional ``boxes``
    (object column of (n, 4) xyxy pixel arrays; without it the built-in detector runs).
    Returns one row per person in the `cliff predict` .npz schema: imgname, pose (72,) or
    (24, 3, 3), shape (10,), global_t (3,), pred_joints (45, 3), focal_l, bbox (4,) — and one
    row per unreadable image with ``error`` set (its arrays NaN), so nothing is lost silently.
    """

    def __init__(self, ckpt: str, smpl: str, *, backbone: str | None = None,
                 precision: str = "fp32", batch_size: int = 8, threads: int | None = None,
                 pose_format: str = "aa", focal: float | None = None):
        from ..pipeline import Estimator

        if pose_format not in ("aa", "rotmat"):
            raise ValueError(f"pose_format: expected 'aa' or 'rotmat', got {pose_format!r}")
        self.est = Estimator(ckpt, smpl, backbone=backbone, precision=precision,
                             batch_size=batch_size, threads=threads or _reserved_cpus(None))
        self.pose_format, self.focal = pose_format, focal

    def _image(self, batch: dict, k: int) -> tuple[str, np.ndarray]:
        from ..io.images import read_image

        if "path" in batch:
            p = str(batch["path"][k])
            return p, read_image(p)
        if "image_bytes" in batch:
            import io

            from PIL import Image, ImageOps

            name = str(batch["name"][k]) if "name" in batch else f"image_{k}"
            try:
                with Image.open(io.BytesIO(bytes(batch["image_bytes"][k]))) as im:
                    return name, np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.uint8).copy()
            except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input
                raise OSError(f"{name}: not a readable image ({exc})") from exc
        raise ValueError("batch: expected a 'path' or an 'image_bytes' column")

    def __call__(self, batch: dict) -> dict:
        n = len(next(iter(batch.values())))
        rows: dict[str, list] = {k: [] for k in ("imgname", "pose", "shape", "global_t",
                                                 "pred_joints", "focal_l", "bbox", "error")}
        pshape = (72,) if self.pose_format == "aa" else (24, 3, 3)
        for k in range(n):
            try:
                name, img = self._image(batch, k)
            except OSError as exc:
                for key, shape in (("pose", pshape), ("shape", (10,)), ("global_t", (3,)),
                                   ("pred_joints", (45, 3)), ("focal_l", ()), ("bbox", (4,))):
                    rows[key].append(np.full(shape, np.nan, np.float32))
                rows["imgname"].append(str(batch.get("name", batch.get("path"))[k]))
                rows["error"].append(str(exc))
                continue
            xyxy = np.asarray(batch["boxes"][k], np.float64).reshape(-1, 4) if "boxes" in batch else None
            res = self.est.run(img, xyxy, focal=self.focal)
            pose = res["pose"] if self.pose_format == "aa" else res["rotmat"]
            for p in range(len(res["betas"])):
                rows["imgname"].append(name)
                rows["pose"].append(np.asarray(pose[p], np.float32))
                rows["shape"].append(np.asarray(res["betas"][p], np.float32))
                rows["global_t"].append(np.asarray(res["t_full"][p], np.float32))
                rows["pred_joints"].append(np.asarray(res["joints"][p], np.float32))
                rows["focal_l"].append(np.float32(res["focal"][p]))
                rows["bbox"].append(np.asarray(res["xyxy"][p], np.float32))
                rows["error"].append("")
        out = {}
        for key, v in rows.items():
            if key in ("imgname", "error"):
                out[key] = np.asarray(v, dtype=object)
            else:
                shape = {"pose": pshape, "shape": (10,), "global_t": (3,), "pred_joints": (45, 3),
                         "focal_l": (), "bbox": (4,)}[key]
                out[key] = np.stack(v).astype(np.float32) if v else np.zeros((0, *shape), np.float32)
        return out
