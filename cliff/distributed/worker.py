"""What runs on a worker: a ShardRunner holds the loaded model and body (once per Ray actor /
Dask worker process) and turns one shard into one part file (see shards.py).

Bad inputs never stop a shard: an unreadable image or video, a corrupt file, an annotation
the annotator rejects, is recorded as ``[input, reason]`` in the result (and so in the
manifest) and the shard goes on.
"""
from __future__ import annotations

import os
import socket
import time
from itertools import islice

import numpy as np

from .shards import part_name, write_part


class ShardRunner:
    """job: the job dict (shards.py); threads: this worker's thread count (None: all cores)."""

    def __init__(self, job: dict, threads: int | None = None):
        self.job = job
        self.threads = threads
        self._est = None
        self._boxes = None
        self._ann = None

    # -- models, loaded once per process ---------------------------------------------------

    def estimator(self):
        if self._est is None:
            from ..pipeline import Estimator

            j = self.job
            self._est = Estimator(j["ckpt"], j["smpl"], backbone=j.get("backbone"),
                                  precision=j.get("precision", "fp32"),
                                  batch_size=int(j.get("batch_size", 8)), threads=self.threads)
            if j.get("boxes_file"):
                from ..io.boxes import load_boxes
                self._boxes = load_boxes(j["boxes_file"])
        return self._est

    def annotator(self):
        if self._ann is None:
            from ..annotate import annotator as ann
            from ..annotate.fit import FitBody
            from ..io import load_smpl
            from ..model import load_model

            j = self.job
            model = load_model(j["ckpt"], threads=self.threads)
            body = FitBody.from_smpl(load_smpl(j["smpl"]), 10)
            entries = ann.load_keypoints(j["keypoints"])
            self._ann = (model, body, entries)
        return self._ann

    # -- one shard -------------------------------------------------------------------------

    def run(self, index: int, items: list, parts_dir: str) -> dict:
        """Process shard `index` (its items) into parts_dir/part-NNNNNN.npz. Returns the
        manifest record: part, bytes, errors, counts, worker, seconds."""
        t0 = time.perf_counter()
        if self.job["kind"] == "predict":
            arrays, meta, errors = self._predict(index, items)
        elif self.job["kind"] == "annotate":
            arrays, meta, errors = self._annotate(index, items)
        else:
            raise ValueError(f"job kind: expected 'predict' or 'annotate', got {self.job['kind']!r}")
        meta["errors"] = errors
        name = part_name(index)
        size = write_part(os.path.join(parts_dir, name), arrays, meta)
        return {"part": name, "bytes": size, "errors": errors, "counts": meta.get("counts", {}),
                "worker": f"{socket.gethostname()}:{os.getpid()}",
                "seconds": time.perf_counter() - t0}

    def _fault(self, index: int) -> None:
        """Test hook (tests/test_distributed.py): with job['_crash_once'] = [marker path, shard],
        the first worker that reaches the middle of that shard creates the marker and dies at
        once (os._exit), as a killed worker would; the engine must retry the shard."""
        spec = self.job.get("_crash_once")
        if spec and int(spec[1]) == index and not os.path.exists(spec[0]):
            with open(spec[0], "w") as fh:
                fh.write(f"{os.getpid()}\n")
            os._exit(3)

    def _frames(self, index: int, items: list, errors: list):
        from ..io.images import iter_video, read_image

        for n, it in enumerate(items):
            if n == len(items) // 2:
                self._fault(index)
            kind, path = it[0], it[1]
            try:
                if kind == "image":
                    yield path, read_image(path)
                else:
                    start, stop = int(it[2]), it[3]
                    yield from islice(iter_video(path), start, None if stop is None else int(stop))
            except OSError as exc:
                msg = str(exc)
                errors.append([path, msg[len(path) + 2:] if msg.startswith(path + ": ") else msg])

    def _predict(self, index: int, items: list):
        from ..io.boxes import boxes_for
        from ..io.results import ResultWriter

        est = self.estimator()
        j = self.job
        errors: list = []
        names: list[str] = []

        def feed():
            for name, image in self._frames(index, items, errors):
                xyxy = None
                if self._boxes is not None:
                    xyxy = boxes_for(self._boxes, name)
                    if xyxy is None:
                        xyxy = np.zeros((0, 4), np.float32)
                names.append(name)
                yield (image, xyxy)

        w = ResultWriter(os.devnull, "", est.faces, pose_format=j.get("pose_format", "aa"))
        K = tuple(j["K"]) if j.get("K") else None
        for i, res in enumerate(est.run_many(feed(), focal=j.get("focal"), K=K)):
            w.add(names[i], res)
        shapes = {"pose": (72,) if w.pose_format == "aa" else (24, 3, 3), "shape": (10,),
                  "global_t": (3,), "pred_joints": (45, 3), "focal_l": (), "detection_all": (8,)}
        arrays = {k: (np.concatenate(r).astype(np.float32) if r else np.zeros((0, *shapes[k]), np.float32))
                  for k, r in w.rows.items()}
        meta = {"names": w.names, "counts": {"images": w.num_images, "people": w.num_people,
                                             "errors": len(errors)}}
        return arrays, meta, errors

    def _annotate(self, index: int, items: list):
        from ..annotate import annotator as ann
        from ..annotate.keypoints import boxes_from_keypoints

        model, body, entries = self.annotator()
        j = self.job
        start, stop = int(items[0]), int(items[1])
        boxes_all = [b for _, _, b in entries]
        mixed = any(b is None for b in boxes_all) and not all(b is None for b in boxes_all)
        predictor = ann.default_predictor(model)
        records, errors, skipped = [], [], []
        for i in range(start, stop):
            if i == (start + stop) // 2:
                self._fault(index)
            name, kp, bx = entries[i]
            if mixed and bx is None:  # as `cliff annotate` does for a mix
                bx = boxes_from_keypoints(np.nan_to_num(kp))
            path = os.path.join(j["images"], name)
            try:
                res = ann.annotate([path], [kp], smpl=body, predictor=predictor,
                                   boxes=[bx], imgnames=[name],
                                   focal=j.get("focal"), loss=j.get("loss", "full"),
                                   min_keypoints=int(j.get("min_keypoints", 4)), progress=False,
                                   max_iter=int(j.get("max_iter", 30)), robust=j.get("robust", "gm"),
                                   **j.get("guard", {}))
            except (OSError, ValueError, TypeError) as exc:  # nothing usable in this image
                errors.append([path, str(exc)])
                continue
            for _, p, why in res["input_errors"]:
                errors.append([path if p < 0 else f"{name} person {p}", why])
            skipped.extend([i, p, why] for _, p, why in res["skipped"])
            low = res["fit_confidence"] < float(j.get("min_confidence", 0.0))
            if low.any():  # --min-confidence: not written (as `cliff annotate` does)
                res.update({k: v[~low] for k, v in res.items() if k not in ("skipped", "input_errors")})
            if len(res["pose"]):
                records.append({k: v for k, v in res.items() if k not in ("skipped", "input_errors")})
        arrays = ann._concat(records)
        meta = {"skipped": skipped, "counts": {"images": stop - start, "people": int(len(arrays["pose"])),
                                               "errors": len(errors)}}
        return arrays, meta, errors
