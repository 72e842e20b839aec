"""The driver: shards a job, skips the shards a previous run finished, hands the rest to an
engine (Ray, Dask, or in-process), records each result in the manifest as it comes back, and
merges. One design for every engine: an engine only needs ``run(job, todo, parts_dir)``
yielding ``(shard index, result dict | Exception)`` as shards finish.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterator, Protocol

from .shards import Manifest, merge_annotate, merge_predict, read_part


class Engine(Protocol):
    name: str

    def run(self, job: dict, todo: list[tuple[int, list]], parts_dir: str) -> Iterator[tuple[int, object]]:
        ...


class LocalEngine:
    """In this process, one shard after the other (the reference for the distributed ones)."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(self, job, todo, parts_dir):
        from .worker import ShardRunner

        runner = ShardRunner(job, self.threads)
        for i, items in todo:
            try:
                yield i, runner.run(i, items, parts_dir)
            except Exception as exc:  # noqa: BLE001 - recorded in the manifest
                yield i, exc


def parts_folder(output: str) -> str:
    """Where a job's manifest and part files live: next to the output, `<output>.parts/`."""
    return os.fspath(output) + ".parts"


def run_job(job: dict, shards: list, output: str, engine: Engine, *,
            progress: Callable[[str], None] | None = None, _stop_after: int | None = None) -> dict:
    """Run every shard not done yet, then merge into `output`. Returns a summary: shards,
    ran (this run), skipped (done before), failed, errors ([input, reason] from the manifest),
    images, people, output, manifest path.

    A shard whose worker raised (not a bad input: those are recorded and the shard goes on)
    is marked failed and the merge is not written: run again to retry it. `_stop_after`
    (tests) interrupts the run after that many shards, as Ctrl-C would."""
    say = progress or (lambda msg: None)
    parts = parts_folder(output)
    man = Manifest(parts, job, shards)
    todo = man.todo()
    skipped = len(shards) - len(todo)
    if skipped:
        say(f"cliff: resuming: {skipped} of {len(shards)} shards done before, {len(todo)} to run")
    ran = failed = 0
    if todo:
        for i, res in engine.run(job, [(i, shards[i]) for i in todo], parts):
            if isinstance(res, BaseException):
                failed += 1
                man.record_failure(i, f"{type(res).__name__}: {res}")
                say(f"cliff: shard {i} failed: {type(res).__name__}: {res}")
            else:
                man.record(i, res)
                ran += 1
                for inp, why in res.get("errors", []):
                    say(f"cliff: skipped {inp}: {why}")
            if _stop_after is not None and ran + failed >= _stop_after:
                raise KeyboardInterrupt
    summary = {"shards": len(shards), "ran": ran, "skipped": skipped, "failed": failed,
               "errors": man.errors(), "output": os.fspath(output), "manifest": man.path,
               "engine": engine.name}
    if failed or man.todo():
        left = man.todo()
        raise RuntimeError(f"{len(left)} of {len(shards)} shards did not finish (first: shard "
                           f"{left[0]}: {man.shards[left[0]].get('error', 'not run')}); run the same "
                           f"command again to retry them (done shards are kept in {parts})")
    loaded = (read_part(os.path.join(parts, man.shards[i]["part"])) for i in range(len(shards)))
    checked = (_check_part(job, man.shards[i], p) for i, p in enumerate(loaded))
    if job["kind"] == "predict":
        if sum(s["counts"].get("images", 0) for s in man.shards) == 0:
            raise OSError(f"no readable image or video among the inputs ({len(summary['errors'])} skipped)")
        images, people = merge_predict(checked, output, job.get("pose_format", "aa"))
    else:
        res = merge_annotate(checked, output)
        images = sum(s["counts"].get("images", 0) for s in man.shards)
        people = int(len(res["pose"]))
        if people == 0 and summary["errors"]:
            first = summary["errors"][0]
            raise OSError(f"no usable input: every image or annotation with people was skipped "
                          f"(first: {first[0]}: {first[1]})")
    man.set(merged=os.path.abspath(output), images=images, people=people)
    summary.update(images=images, people=people)
    return summary


def _check_part(job: dict, shard: dict, part: tuple[dict, dict]) -> tuple[dict, dict]:
    """Every input of the shard is accounted for exactly once: processed or an error."""
    arrays, meta = part
    items = shard["items"]
    if job["kind"] == "predict" and all(it[0] == "image" for it in items):
        names = meta["names"]
        if len(names) + len(meta["errors"]) != len(items):
            raise RuntimeError(f"shard {shard['index']}: {len(items)} inputs but {len(names)} results "
                               f"and {len(meta['errors'])} errors in its part file")
    return arrays, meta


def say_stderr(msg: str) -> None:
    print(msg, file=sys.stderr)
