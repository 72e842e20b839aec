"""Dask: shards as tasks on `dask.distributed`, with a per-worker ShardRunner singleton (the
model and body are loaded once per worker process, on its first shard).

Threads: a worker's core count divided by the number of Dask worker processes on its host
(computed by the driver from the scheduler's view), unless `threads` is given. Retries: each
task has `retries` for exceptions, and the scheduler reschedules the tasks of a worker that
dies or is closed mid-shard (up to `distributed.scheduler.allowed-failures` times); the shard
then runs again elsewhere and writes the same part file (shards.py: exactly once).
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
from typing import Iterator

from .worker import ShardRunner

_RUNNERS: dict[str, ShardRunner] = {}  # per worker process: job fingerprint -> runner


def _distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("--dask needs dask.distributed: pip install '.[dask]' in a cliff clone") from exc
    return distributed


def run_shard(job: dict, key: str, index: int, items: list, parts_dir: str) -> dict:
    """The task: this worker's singleton runner for the job runs the shard."""
    runner = _RUNNERS.get(key)
    if runner is None:
        threads = job.get("threads")
        if not threads:
            try:
                from distributed import get_worker

                host = get_worker().address.split("://")[-1].rsplit(":", 1)[0]
            except Exception:  # noqa: BLE001 - outside a worker
                host = socket.gethostname()
            threads = (job.get("threads_by_host") or {}).get(host)
        runner = _RUNNERS[key] = ShardRunner(job, threads or None)
    return runner.run(index, items, parts_dir)


class DaskEngine:
    """scheduler: an address ('tcp://host:8786') or a distributed.Client. threads: per worker
    (default: the host's cores / Dask workers on that host). retries: per shard task."""

    name = "dask"

    def __init__(self, scheduler, *, threads: int | None = None, retries: int = 3):
        self.scheduler, self.threads, self.retries = scheduler, threads, retries

    def _client(self):
        distributed = _distributed()
        if isinstance(self.scheduler, distributed.Client):
            return self.scheduler, False
        return distributed.Client(self.scheduler), True

    @staticmethod
    def threads_by_host(client) -> dict:
        info = client.scheduler_info(n_workers=-1)["workers"]
        cores = client.run(os.cpu_count)
        by_host: dict = {}
        for addr, w in info.items():
            by_host.setdefault(w["host"], []).append(cores.get(addr) or 1)
        return {h: max(1, min(c) // len(c)) for h, c in by_host.items()}

    def run(self, job, todo, parts_dir) -> Iterator[tuple[int, object]]:
        distributed = _distributed()
        client, own = self._client()
        try:
            job = dict(job)
            if self.threads:
                job["threads"] = self.threads
            else:
                job["threads_by_host"] = self.threads_by_host(client)
            # the per-worker singleton's key: the whole job (test hooks included)
            key = hashlib.sha256(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()
            futs = {}
            for i, items in todo:
                f = client.submit(run_shard, job, key, i, items, parts_dir, pure=False,
                                  retries=self.retries, key=f"cliff-shard-{i:06d}-{key[:12]}-{os.getpid()}")
                futs[f] = i
            for f in distributed.as_completed(list(futs)):
                i = futs[f]
                try:
                    yield i, f.result()
                except Exception as exc:  # noqa: BLE001 - out of retries: recorded as failed
                    yield i, exc
        finally:
            if own:
                client.close()
