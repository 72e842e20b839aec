"""Benchmarks: the paper's evaluation protocols on the user's own copies of 3DPW, Human3.6M, EMDB.

    import cliff
    res = cliff.evaluate("3dpw", data="3dpw_test.npz", images="3DPW/",
                         ckpt="hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt", smpl_dir="data/smpl",
                         output="eval-3dpw")
    res["overall"]      # {"pa_mpjpe": ..., "mpjpe": ..., "pve": ...} in mm

``cliff.evaluate`` is this module and can be called as the function :func:`evaluate`;
``cliff.evaluate.metrics`` holds the metric functions, ``cliff.evaluate.datasets`` the file
readers, ``cliff.evaluate.protocols`` the protocols. See docs/evaluate.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import types
from typing import Any, Callable

import numpy as np

from . import datasets, metrics, protocols
from .protocols import BENCHMARKS, Bodies, Item, Options

__all__ = ["evaluate", "markdown_table", "estimator_predictor", "metrics", "datasets",
           "protocols", "Item", "Options", "Bodies", "BENCHMARKS", "TITLES", "PAPER"]

FORMAT = 1

TITLES = {"3dpw": "3DPW (test)", "h36m": "Human3.6M (protocol 2)", "emdb": "EMDB (EMDB-1)"}

#: The CLIFF paper's 3DPW results for the released checkpoints (mm): what a run with the real
#: files should reproduce.
PAPER = {
    "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt": {"pa_mpjpe": 43.0, "mpjpe": 69.0, "pve": 81.2},
    "res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt": {"pa_mpjpe": 45.7, "mpjpe": 72.0, "pve": 85.3},
}

UNITS = {"mpjpe": "mm", "pa_mpjpe": "mm", "pve": "mm", "mve": "mm", "jitter": "10 m/s³"}


def _half_image(img: np.ndarray) -> np.ndarray:
    """Downscale by 2 with the 2x2 mean (Pillow's reduce)."""
    from PIL import Image

    return np.asarray(Image.fromarray(img).reduce(2))


def estimator_predictor(est) -> Callable[[list[Item]], list[dict]]:
    """A predictor running a :class:`cliff.Estimator` on items: each image is read when its
    batch runs (never all in memory), cropped around the item's box with the estimator's
    rescale, with the item's camera. Returns per item {"rotmat", "betas", "t_full"}."""
    from ..io.images import read_image

    def predict(items: list[Item]) -> list[dict]:
        out: list[dict] = []
        start = 0
        while start < len(items):                       # one camera per run_many call
            stop = start + 1
            while stop < len(items) and items[stop].K == items[start].K:
                stop += 1
            group = items[start:stop]
            K = group[0].K
            if K is not None and group[0].half:
                K = tuple(0.5 * float(v) for v in K)

            def feed(group=group):
                for it in group:
                    img = read_image(it.image)
                    box = np.asarray(it.xyxy, np.float64)[None]
                    focal = it.focal
                    if it.half:
                        img, box = _half_image(img), box * 0.5
                        focal = None if focal is None else 0.5 * focal
                    yield (img, box, focal) if focal is not None else (img, box)

            for r in est.run_many(feed(), K=K):
                out.append({"rotmat": r["rotmat"][0], "betas": r["betas"][0], "t_full": r["t_full"][0]})
            start = stop
        return out

    return predict


def _file_id(path: str) -> list:
    return [os.path.basename(path), os.path.getsize(path)]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "_"


def _write_atomic(path: str, text: str) -> None:
    from ..io.atomic import write_atomic
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def _json_clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _fmt(v: Any, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def markdown_table(results: dict, *, per_sequence: bool = True) -> str:
    """The results as Markdown: the overall row in the paper's column order, then one row per
    sequence."""
    b = results["benchmark"]
    cols = BENCHMARKS[b].table
    head = "| Model | " + " | ".join(f"{label} ↓" for _, label in cols) + " | frames |"
    sep = "|---" * (len(cols) + 2) + "|"
    ov = results["overall"]
    lines = [f"## {TITLES[b]}", "", head, sep,
             f"| {results['model']} | " + " | ".join(_fmt(ov.get(k)) for k, _ in cols)
             + f" | {results['frames']} |"]
    paper = PAPER.get(results.get("config", {}).get("model", [None])[0]) if b == "3dpw" else None
    if paper:
        lines.append("| paper | " + " | ".join(_fmt(paper.get(k)) for k, _ in cols) + " | – |")
    units = ", ".join(sorted({UNITS[k] for k, _ in cols}, key=len))
    lines += ["", f"Units: {units}. Options: "
              + ", ".join(f"{k}={v}" for k, v in results["config"]["options"].items()), ""]
    if per_sequence:
        lines += ["### Per sequence", "",
                  "| sequence | frames | " + " | ".join(label for _, label in cols) + " |",
                  "|---" * (len(cols) + 2) + "|"]
        for s, r in results["sequences"].items():
            lines.append(f"| {s} | {r['frames']} | " + " | ".join(_fmt(r.get(k)) for k, _ in cols) + " |")
        lines.append("")
    return "\n".join(lines)


def evaluate(benchmark: str, data: Any, images: Any = None, ckpt: Any = None, smpl_dir: Any = None,
             *, output: Any = None, J_regressor: Any = None, sequences: Any = None,
             limit: int | None = None, batch_size: int = 16, backbone: str | None = None,
             precision: str = "fp32", focal: Any = "auto", boxes: str = "file",
             box_rescale: float | None = None, half_res: bool = False, pelvis: str = "hips",
             subset: str = "emdb1", fps: float = 30.0, models: dict | None = None,
             predictor: Callable[[list[Item]], list[dict]] | None = None,
             predictor_name: str | None = None, progress: bool = True) -> dict:
    """Run one benchmark protocol and return its metrics.

    benchmark: "3dpw", "h36m" or "emdb". data: ``3dpw_test.npz`` / ``h36m_valid_protocol2.npz``
    / an EMDB ``*_data.pkl`` or a folder of them. images: the folder the file's image names are
    relative to (3DPW's root with ``imageFiles/``, the Human3.6M images' parent; EMDB: its root,
    default next to each pkl). ckpt: a CLIFF checkpoint (or a loaded :class:`cliff.Model`).
    smpl_dir: folder with ``SMPL_NEUTRAL/MALE/FEMALE`` (.pkl or .npz) and, there or in its parent,
    ``J_regressor_h36m.npy`` (or pass ``J_regressor``). sequences: 3DPW's
    ``sequenceFiles/test`` (intrinsics, keypoint boxes).

    output: folder for ``results.json``, ``results.md`` and ``sequences/<name>.json`` (per-frame
    errors); a sequence whose file exists with the same configuration is not run again
    (resumable). limit: evaluate only the first ``limit`` people (a quick look).
    focal, boxes, box_rescale, half_res, pelvis, subset, fps: see :class:`Options`.
    predictor: instead of a checkpoint, a callable taking a list of :class:`Item` and returning
    one dict per item with ``rotmat`` (24, 3, 3) or ``pose`` (72,), and ``betas`` (10,) -
    e.g. another model's predictions; name it with ``predictor_name`` (part of the resume key).

    Returns {"benchmark", "model", "frames", "overall": {metric: value}, "sequences": {name:
    {"frames", metric: value}}, "config"}; errors in mm, EMDB's jitter in 10 m/s^3.
    """
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark: expected one of {sorted(BENCHMARKS)}, got {benchmark!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit: expected a positive integer, got {limit!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    if (ckpt is None) == (predictor is None):
        raise ValueError("ckpt and predictor: give exactly one of them")
    opts = Options(focal=focal, boxes=boxes, box_rescale=box_rescale, half_res=bool(half_res),
                   pelvis=pelvis, subset=subset, fps=float(fps))
    bodies = Bodies(smpl_dir, models=models, J_regressor=J_regressor)
    cls = BENCHMARKS[benchmark]
    if benchmark == "3dpw":
        bench = cls(data, images, bodies, opts, sequences=sequences)
    else:
        if sequences is not None:
            raise ValueError("sequences: only 3DPW has sequence files")
        bench = cls(data, images, bodies, opts)

    from ..model import Model
    if predictor is not None:
        model_id: list = [predictor_name or getattr(predictor, "__name__", "predictor"), "predictor"]
        model_name = model_id[0]
    elif isinstance(ckpt, Model):
        model_id = [f"Model:{ckpt.backbone}", ckpt.num_params]
        model_name = f"CLIFF {ckpt.backbone}"
    else:
        ckpt = os.fspath(ckpt)
        if not os.path.isfile(ckpt):
            raise FileNotFoundError(f"ckpt: no such file {ckpt!r}")
        model_id = _file_id(ckpt)
        model_name = f"CLIFF ({os.path.basename(ckpt)})"
    options = dataclasses.asdict(opts)
    options["box_rescale"] = bench.rescale
    if benchmark != "emdb":
        options.pop("subset"), options.pop("fps")
    else:
        options.pop("pelvis"), options.pop("boxes")
    config = {"format": FORMAT, "benchmark": benchmark, "model": model_id,
              "precision": precision if predictor is None else None,
              "data": _file_id(bench.data_path) if os.path.isfile(bench.data_path) else bench.data_path,
              "bodies": bench.fingerprint(), "options": options,
              "sequence_files": sequences is not None}
    config = _json_clean(config)

    plan, left = [], limit
    for seq, n in bench.sequences():
        if left is not None:
            n = min(n, left)
            left -= n
        if n > 0:
            plan.append((seq, n))
        if left == 0:
            break

    out_dir = os.fspath(output) if output is not None else None
    if out_dir is not None:
        os.makedirs(os.path.join(out_dir, "sequences"), exist_ok=True)

    est_holder: list = []

    def get_predictor():
        if predictor is not None:
            return predictor
        if not est_holder:
            from ..pipeline import Estimator
            # the model needs smpl only for vertices it returns; pass the neutral body
            est_holder.append(Estimator(ckpt, bodies.model("neutral"), backbone=backbone,
                                        precision=precision, batch_size=batch_size,
                                        rescale=bench.rescale))
        return estimator_predictor(est_holder[0])

    from tqdm import tqdm

    per_seq: dict[str, dict] = {}
    bar = tqdm(total=sum(n for _, n in plan), unit="person", desc=f"cliff evaluate {benchmark}",
               disable=not progress, leave=False)
    try:
        for seq, n in plan:
            path = None if out_dir is None else os.path.join(out_dir, "sequences", _safe(seq) + ".json")
            cached = _load_cached(path, config, n)
            if cached is not None:
                per_seq[seq] = cached
                bar.update(n)
                continue
            sc = bench.scorer(seq)
            pred = get_predictor()
            batch: list[Item] = []
            for it in bench.items(seq, n):
                batch.append(it)
                if len(batch) == batch_size:
                    _score(sc, pred, batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                _score(sc, pred, batch)
                bar.update(len(batch))
            r = sc.finish()
            r.update(sequence=seq, count=n, config=config)
            r = _json_clean(r)
            if path is not None:
                _write_atomic(path, json.dumps(r))
            per_seq[seq] = r
    finally:
        bar.close()
        for e in est_holder:
            e.close()

    results = _summarise(benchmark, model_name, config, per_seq)
    if out_dir is not None:
        _write_atomic(os.path.join(out_dir, "results.json"), json.dumps(results, indent=1))
        _write_atomic(os.path.join(out_dir, "results.md"), markdown_table(results))
    return results


def _score(sc, pred, batch: list[Item]) -> None:
    preds = pred(batch)
    if len(preds) != len(batch):
        raise ValueError(f"predictor: returned {len(preds)} results for {len(batch)} items")
    sc.add(batch, preds)


def _load_cached(path: str | None, config: dict, count: int) -> dict | None:
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
    except (OSError, ValueError):
        return None                                     # unreadable: run the sequence again
    if not isinstance(r, dict) or r.get("config") != config or r.get("count") != count:
        return None
    return r


def _summarise(benchmark: str, model_name: str, config: dict, per_seq: dict[str, dict]) -> dict:
    keys = BENCHMARKS[benchmark].keys
    overall: dict[str, Any] = {}
    for k in keys:
        vals = [v for r in per_seq.values() for v in r["per_frame"][k]]
        overall[k] = float(np.mean(vals)) if vals else None
    if benchmark == "emdb":                     # EMDB: the mean of the sequences' jitters
        j = [r["metrics"]["jitter"] for r in per_seq.values() if r["metrics"].get("jitter") is not None]
        overall["jitter"] = float(np.mean(j)) if j else None
    seqs = {s: {"frames": r["frames"], **r["metrics"]} for s, r in per_seq.items()}
    return _json_clean({"benchmark": benchmark, "model": model_name,
                        "frames": int(sum(r["frames"] for r in per_seq.values())),
                        "overall": overall, "sequences": seqs, "config": config})


class _CallableModule(types.ModuleType):
    """``cliff.evaluate(...)`` calls :func:`evaluate`; ``cliff.evaluate.metrics`` etc. stay
    reachable as attributes of the module."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
