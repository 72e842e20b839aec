"""Sharding, the manifest, per-shard output files and the merge: the engine-independent half
of dataset-scale runs (Ray and Dask share it; see docs/scale.md).

A **job** is a JSON-serialisable dict describing what every shard runs (``kind`` 'predict' or
'annotate', the model files, the options). Its **shards** are contiguous slices of the inputs:

    predict:  ["image", path] items (folders expanded in sorted order, as `cliff predict` does;
              a dataset index file lists them) and ["video", path, start, stop] frame ranges;
    annotate: [start, stop) ranges of the keypoint file's entries (the dataset index).

Each shard's worker writes ``<parts>/part-NNNNNN.npz`` atomically (temporary name, fsync,
rename); only the driver writes ``<parts>/manifest.json`` (also atomically), after a shard's
result came back. A shard is *done* when the manifest says so and its part file is there with
the recorded size; everything else is (re)done on the next run. The merge reads the done
parts in shard order and writes exactly the arrays a single-process run writes. A shard
that is retried by the engine overwrites the same part file, and the merge reads each shard
once, so no input can appear twice; the merge also checks that every shard accounts for every
one of its inputs (processed or recorded as an error).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Iterable

import numpy as np

from ..io.atomic import write_atomic

MANIFEST = "manifest.json"
FORMAT = 1
INDEX_EXTS = (".txt", ".lst")


# ---- inputs and shards ----------------------------------------------------------------------

def read_index(path: str) -> list[str]:
    """A dataset index file: one image or video path per line ('#' comments and blank lines
    ignored); relative paths are taken relative to the index file's folder."""
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            s = line.strip()
            if s and not s.startswith("#"):
                out.append(s if os.path.isabs(s) else os.path.join(base, s))
    return out


def expand_inputs(paths: list[str]) -> list[str]:
    """`cliff predict`'s inputs in its order: folders expanded (sorted), files as given, and a
    dataset index file (.txt/.lst) replaced by the paths it lists."""
    from ..io.images import list_inputs

    out: list[str] = []
    for p in paths:
        if os.path.isfile(p) and p.lower().endswith(INDEX_EXTS):
            out.extend(list_inputs(read_index(p)))
        else:
            out.extend(list_inputs([p]))
    return out


def video_frame_count(path: str) -> int | None:
    """Exact frame count of a video (ffmpeg decodes it once, without keeping frames), or None
    when it cannot be counted (the video then becomes one shard)."""
    try:
        import imageio_ffmpeg

        return int(imageio_ffmpeg.count_frames_and_secs(path)[0])
    except Exception:  # noqa: BLE001 - any failure: fall back to one shard for the video
        return None


def predict_shards(inputs: list[str], images_per_shard: int = 64,
                   frames_per_shard: int = 256) -> list[list[list]]:
    """Shards of `cliff predict` inputs: consecutive images grouped by `images_per_shard`,
    each video split into frame ranges of `frames_per_shard` (a video whose frames cannot be
    counted is one shard). Input order is kept."""
    from ..io.images import is_video

    if images_per_shard < 1 or frames_per_shard < 1:
        raise ValueError("images_per_shard and frames_per_shard: expected >= 1")
    shards: list[list[list]] = []
    group: list[list] = []
    for p in inputs:
        if not is_video(p):
            group.append(["image", p])
            if len(group) == images_per_shard:
                shards.append(group)
                group = []
            continue
        if group:
            shards.append(group)
            group = []
        n = video_frame_count(p)
        if n is None:
            shards.append([["video", p, 0, None]])
        else:
            for s in range(0, max(n, 1), frames_per_shard):
                # the last range is open-ended: a count that is off by a frame loses nothing
                stop = s + frames_per_shard if s + frames_per_shard < n else None
                shards.append([["video", p, s, stop]])
    if group:
        shards.append(group)
    return shards


def range_shards(n: int, per_shard: int) -> list[list[int]]:
    """[start, stop) ranges covering 0..n."""
    if per_shard < 1:
        raise ValueError(f"per_shard: expected >= 1, got {per_shard}")
    return [[s, min(s + per_shard, n)] for s in range(0, n, per_shard)]


# ---- files written atomically ---------------------------------------------------------------

_atomic_write = write_atomic  # (path, write(fh)): cliff.io.atomic


def write_json_atomic(path: str, obj: Any) -> None:
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    _atomic_write(path, lambda fh: fh.write(data))


def write_part(path: str, arrays: dict, meta: dict) -> int:
    """Write a shard's arrays + JSON metadata atomically; returns the file size in bytes."""
    out = dict(arrays)
    out["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _atomic_write(path, lambda fh: np.savez(fh, **out))
    return os.path.getsize(path)


def read_part(path: str) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(bytes(z["__meta__"]).decode())
    return arrays, meta


def part_name(index: int) -> str:
    return f"part-{index:06d}.npz"


# ---- the manifest ---------------------------------------------------------------------------

def fingerprint(job: dict, shards: list) -> str:
    """Identity of a job: what every shard computes (job options, model files' sizes and
    modification times, the shard list). A manifest with another fingerprint belongs to
    another job."""
    files = {}
    for k in ("ckpt", "smpl", "boxes_file", "keypoints"):
        p = job.get(k)
        if p and os.path.exists(p):
            st = os.stat(p)
            files[k] = [os.path.abspath(p), st.st_size, st.st_mtime_ns]
    public = {k: v for k, v in job.items() if not k.startswith("_") and k != "threads_by_host"}
    blob = json.dumps([FORMAT, public, files, shards], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Manifest:
    """The job's record, ``<parts>/manifest.json``: fingerprint, shards (their items, status,
    part file and size, attempts, per-input errors, counts). Written only by the driver,
    atomically after every change."""

    def __init__(self, folder: str, job: dict, shards: list):
        self.folder = folder
        self.path = os.path.join(folder, MANIFEST)
        self.fp = fingerprint(job, shards)
        os.makedirs(folder, exist_ok=True)
        old = None
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as fh:
                try:
                    old = json.load(fh)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}: unreadable manifest ({exc}); remove the folder "
                                     "to start over") from None
            if old.get("fingerprint") != self.fp:
                raise ValueError(
                    f"{self.path}: a manifest of another job (other inputs, options or model "
                    f"files) is in the way; remove {folder} to start over, or use another -o")
        if old is None:
            old = {"format": FORMAT, "fingerprint": self.fp, "kind": job["kind"],
                   "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": 0,
                   "shards": [{"index": i, "items": s, "status": "pending", "attempts": 0}
                              for i, s in enumerate(shards)]}
        self.data = old
        self.data["runs"] = int(self.data.get("runs", 0)) + 1
        self.save()

    @property
    def shards(self) -> list[dict]:
        return self.data["shards"]

    def is_done(self, i: int) -> bool:
        s = self.shards[i]
        if s["status"] != "done":
            return False
        p = os.path.join(self.folder, s["part"])
        return os.path.exists(p) and os.path.getsize(p) == s["bytes"]

    def todo(self) -> list[int]:
        return [i for i in range(len(self.shards)) if not self.is_done(i)]

    def record(self, i: int, result: dict) -> None:
        """A shard's worker result: {part, bytes, errors [[input, reason]], counts, ...}."""
        s = self.shards[i]
        s.update(status="done", part=result["part"], bytes=result["bytes"],
                 errors=result.get("errors", []), counts=result.get("counts", {}),
                 worker=result.get("worker", ""), seconds=result.get("seconds", 0.0))
        s["attempts"] = int(s.get("attempts", 0)) + 1
        self.save()

    def record_failure(self, i: int, error: str) -> None:
        s = self.shards[i]
        s.update(status="failed", error=error)
        s["attempts"] = int(s.get("attempts", 0)) + 1
        self.save()

    def set(self, **kw) -> None:
        self.data.update(kw)
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def errors(self) -> list[tuple[str, str]]:
        return [tuple(e) for s in self.shards for e in s.get("errors", [])]


# ---- merge ----------------------------------------------------------------------------------

def merge_predict(parts: Iterable[tuple[dict, dict]], npz_path: str, pose_format: str) -> tuple[int, int]:
    """Parts (arrays, meta) in shard order -> the `cliff predict` .npz (ResultWriter's own
    close(), so keys, shapes, dtypes and values are the single-process ones). Returns
    (images, people)."""
    from ..io.results import ResultWriter

    w = ResultWriter(npz_path, os.path.dirname(os.path.abspath(npz_path)), None,
                     pose_format=pose_format)
    for arrays, meta in parts:
        names = list(meta["names"])
        det = arrays["detection_all"].copy()
        det[:, 0] += len(w.names)  # image index over the whole job
        w.names.extend(names)
        if len(det):
            for k in w.rows:
                w.rows[k].append(det if k == "detection_all" else arrays[k])
    w.close()
    return w.num_images, w.num_people


def merge_annotate(parts: Iterable[tuple[dict, dict]], output: str) -> dict:
    """Parts in shard order -> the `cliff annotate` .npz (annotator's own concatenation and
    atomic writer). Returns the merged arrays."""
    from ..annotate.annotator import _concat, save_npz_atomic

    records = [arrays for arrays, meta in parts if len(arrays["pose"])]
    result = _concat(records)
    save_npz_atomic(output, result)
    return result
